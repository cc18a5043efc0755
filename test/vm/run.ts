// The kernel matrix (make test-kernels; make test runs its --ci leg): for each
// kernel, download its Debian package, build an initramfs, boot it in qemu on
// this machine's root, and run the job there (test/vm/guest.ts): probe every
// family of hooks, run the lab with tcpwhy's own choice and with each complete
// fallback, run the kernel tests. The host's own kernel is a row too, run
// natively. Results go to build/kernel-matrix/ID/, and --docs writes the
// matrix into docs/kernel-support.md.
//
//   node dist/test/vm/run.js [--ci] [--kernels native,ID,...|all] [--no-native] [--docs] [--timeout-min N] [--tests NAME,...]
//
// --tests runs only the probe and the named kernel tests (storm, loss-cases: test/kernel/NAME.test.ts), no lab: to try a fix on an old kernel in minutes
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { KERNELS, type KernelSpec } from './kernels.js';
import { fetchKernel, HarnessError, type KernelFiles } from './fetch.js';
import { buildInitramfs, BUSYBOX } from './initramfs.js';
import { boot, QEMU } from './qemu.js';
import type { GuestResult, Job, Step } from './job.js';
import { judge, type Leg } from './verdict.js';
import { writeMatrixDocs } from './report.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const matrixDir = path.join(repo, 'build', 'kernel-matrix');
// downloaded and unpacked kernels (about 400 MB each); TCPWHY_KERNEL_CACHE shares them between checkouts
const kernelCache = process.env['TCPWHY_KERNEL_CACHE'] || path.join(repo, 'build');
const t0 = Date.now();
const log = (m: string) => process.stderr.write(`kernels [+${((Date.now() - t0) / 1000).toFixed(0)}s]: ${m}\n`);

/** Kernel tests that exercise hooks and verdicts (capture-witness checks offline analysis against tshark: kernel-independent). */
function kernelTests(): string[] {
  const dir = path.join(repo, 'dist', 'test', 'kernel');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.js') && f !== 'capture-witness.test.js' && existsSync(path.join(repo, 'test', 'kernel', f.replace(/\.js$/, '.ts'))))
    .sort()
    .map((f) => path.join('dist', 'test', 'kernel', f));
}

/** Only these kernel tests (--tests), no lab; null: the whole job. */
let onlyTests: string[] | null = null;

function steps(ci: boolean, spec: KernelSpec | null): Step[] {
  if (onlyTests) {
    const all = kernelTests();
    const files = onlyTests.map(
      (n) =>
        all.find((f) => path.basename(f) === `${n}.test.js`) ?? fail(`no kernel test ${n}; tests: ${all.map((f) => path.basename(f, '.test.js')).join(', ')}`),
    );
    return [{ kind: 'probe' }, { kind: 'tests', files }];
  }
  // a kernel without BTF of its own refuses tp_btf and fentry: kprobes and plain tracepoints are what it runs
  if (spec?.btfFile) return [{ kind: 'probe' }, { kind: 'lab', hooks: 'kprobe' }];
  // the make-test leg: the lab through tcpwhy's own hooks and the kprobe fallback, and every kernel test
  if (ci) return [{ kind: 'probe' }, { kind: 'lab' }, { kind: 'lab', hooks: 'kprobe' }, { kind: 'tests', files: kernelTests() }];
  return [{ kind: 'probe' }, { kind: 'lab' }, { kind: 'lab', hooks: 'kprobe' }, { kind: 'lab', hooks: 'tracepoint' }, { kind: 'tests', files: kernelTests() }];
}

function need(cmd: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status !== 0)
    throw new HarnessError(`${cmd} is missing: install ${pkg} (make deps installs it)`);
}

function prepareDir(id: string): string {
  const dir = path.join(matrixDir, id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The host's own kernel, natively: the job runs in a private mount namespace where tracefs is mounted. */
function runNative(job: Job, dir: string, timeoutMs: number): Promise<{ exitCode: number | null; timedOut: boolean; ms: number }> {
  writeFileSync(path.join(dir, 'job.json'), JSON.stringify(job));
  const started = Date.now();
  const script = 'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; exec "$0" "$1" "$2"';
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, process.execPath, path.join(repo, 'dist/test/vm/guest.js'), dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) =>
    d
      .toString()
      .split('\n')
      .filter(Boolean)
      .forEach((l) => {
        log(`native: ${l}`);
      }),
  );
  child.stderr.on('data', (d: Buffer) => writeFileSync(path.join(dir, 'guest.log'), d, { flag: 'a' }));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, timedOut, ms: Date.now() - started });
    });
  });
}

async function runKernel(spec: KernelSpec, ci: boolean, timeoutMs: number): Promise<Leg> {
  const dir = prepareDir(spec.id);
  let files: KernelFiles;
  try {
    files = fetchKernel(spec, kernelCache, (m) => log(`${spec.id}: ${m}`));
  } catch (e) {
    return {
      id: spec.id,
      title: spec.title,
      package: null,
      release: null,
      native: false,
      result: null,
      ms: 0,
      timedOut: false,
      error: (e as Error).message,
      exitCode: null,
    };
  }
  const initramfs = buildInitramfs(files);
  const job: Job = { kernel: spec.id, btfFile: spec.btfFile ?? false, steps: steps(ci, spec) };
  writeFileSync(path.join(dir, 'job.json'), JSON.stringify(job));
  log(`${spec.id}: booting ${files.package} ${files.version} (${files.release}); at most ${Math.round(timeoutMs / 60000)} min`);
  const r = await boot({ kernel: files, initramfs, repo, outDir: dir, timeoutMs, onLog: (l) => log(`${spec.id}: ${l}`) });
  return {
    id: spec.id,
    title: spec.title,
    package: `${files.package} ${files.version}`,
    release: files.release,
    native: false,
    result: readResult(dir),
    ms: r.ms,
    timedOut: r.timedOut,
    exitCode: r.exitCode,
    error: r.exitCode === null ? `the guest ended without finishing its job${r.timedOut ? ' (time limit)' : ''}; console:\n${r.consoleTail}` : null,
  };
}

function readResult(dir: string): GuestResult | null {
  const f = path.join(dir, 'result.json');
  try {
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as GuestResult) : null;
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      ci: { type: 'boolean' },
      kernels: { type: 'string' },
      'no-native': { type: 'boolean' },
      docs: { type: 'boolean' },
      'timeout-min': { type: 'string' },
      tests: { type: 'string' },
    },
  });
  onlyTests =
    values.tests
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean) ?? null;
  const ci = values.ci ?? false;
  const ids = values.kernels
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // `native` names this machine's own kernel
  const wantNative = !ci && !values['no-native'] && (!ids || ids.includes('all') || ids.includes('native'));
  const specs =
    !ids || ids.includes('all')
      ? KERNELS.filter((k) => !ci || k.ci)
      : ids
          .filter((id) => id !== 'native')
          .map((id) => KERNELS.find((k) => k.id === id) ?? fail(`no kernel ${id}; kernels: native, ${KERNELS.map((k) => k.id).join(', ')}`));
  const timeoutMs = Number(values['timeout-min'] ?? (ci ? 35 : 75)) * 60_000;
  if (process.getuid?.() !== 0) throw new HarnessError('the kernel matrix needs root (BPF, network namespaces, qemu with 9p)');
  for (const [cmd, pkg] of [
    [QEMU, 'qemu-system-x86'],
    [BUSYBOX, 'busybox-static'],
    ['depmod', 'kmod'],
    ['modinfo', 'kmod'],
    ['dpkg-deb', 'dpkg'],
    ['apt-get', 'apt'],
  ] as const)
    need(cmd, pkg);
  for (const f of ['dist/test/vm/guest.js', 'build/tcpwhy.bpf.o', 'native/build/Release/tcpwhy_native.node']) {
    if (!existsSync(path.join(repo, f))) throw new HarnessError(`${f} is missing: build first (make build)`);
  }
  mkdirSync(matrixDir, { recursive: true });
  const legs: Leg[] = [];
  if (wantNative) {
    const dir = prepareDir('native');
    log(`native: this machine's kernel ${release()}`);
    const r = await runNative({ kernel: 'native', btfFile: false, steps: steps(false, null) }, dir, timeoutMs);
    legs.push({
      id: 'native',
      title: "this project's machines (the host, natively)",
      package: null,
      release: release(),
      native: true,
      result: readResult(dir),
      ms: r.ms,
      timedOut: r.timedOut,
      exitCode: r.exitCode,
      error: r.exitCode === 0 ? null : `exit ${r.exitCode}${r.timedOut ? ' (time limit)' : ''}`,
    });
  }
  for (const spec of specs) legs.push(await runKernel(spec, ci, timeoutMs));
  let failed = 0;
  const commit = treeCommit();
  for (const leg of legs) {
    leg.commit = commit;
    writeFileSync(path.join(matrixDir, leg.id, 'leg.json'), `${JSON.stringify({ ...leg, result: undefined }, null, 2)}\n`);
    const v = judge(leg);
    process.stdout.write(`\n${v.lines.join('\n')}\n`);
    if (!v.ok) failed++;
  }
  if (values.docs) {
    const file = writeMatrixDocs(repo, matrixDir);
    log(`matrix written to ${path.relative(repo, file)}`);
  }
  process.stdout.write(`\n${legs.length - failed}/${legs.length} kernels pass (${((Date.now() - t0) / 60000).toFixed(1)} min)\n`);
  return failed ? 1 : 0;
}

/** The commit that ran, marked when the tree had changes; null outside a git checkout. */
function treeCommit(): string | null {
  const r = spawnSync('git', ['-C', repo, 'describe', '--always', '--dirty'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || null : null;
}

function fail(msg: string): never {
  throw new HarnessError(msg);
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`kernels: ${e instanceof HarnessError ? e.message : (e as Error).stack}\n`);
    process.exit(e instanceof HarnessError ? 2 : 1);
  },
);
