// Runs a kernel-matrix job (job.ts) on the kernel it finds itself on: inside a
// qemu guest (started by guest-init.sh) or natively on the host (run.ts, the
// host's own row of the matrix). Usage: node dist/test/vm/guest.js DIR, where
// DIR holds job.json; result.json is written there after every step, so a
// job cut short by its time limit still says how far it got.
import { spawn } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import path from 'node:path';
import { Tracer } from '../../src/kernel/tracer.js';
import { DEFAULT_KERNEL_BTF, probeKernel } from '../../src/kernel/features.js';
import { HOOK_FAMILIES, type HookFamily } from '../../src/kernel/plan.js';
import { runLab } from '../../src/cli/lab.js';
import type { FamilyProbe, GuestResult, Job, LabResult, ProbeResult, Step, TestsResult } from './job.js';
import { tapFailures } from './tap.js';

const dir = process.argv[2];
if (!dir || !existsSync(path.join(dir, 'job.json'))) {
  console.error('usage: node dist/test/vm/guest.js DIR (with DIR/job.json)');
  process.exit(2);
}
const job = JSON.parse(readFileSync(path.join(dir, 'job.json'), 'utf8')) as Job;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const result: GuestResult = { kernel: job.kernel, release: release(), btfFile: job.btfFile, probe: null, labs: [], tests: null, steps: [], complete: false };
const save = () => writeFileSync(path.join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
const log = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

// A kernel without BTF: tcpwhy does not see /sys/kernel/btf/vmlinux and gets
// the same type information from a file, as from BTFHub.
let btfPath: string | undefined;
if (job.btfFile) {
  btfPath = '/tmp/tcpwhy-vmlinux.btf';
  copyFileSync(DEFAULT_KERNEL_BTF, btfPath);
  process.env['TCPWHY_KERNEL_BTF'] = '/nonexistent/vmlinux';
}

function familyProbe(family: HookFamily | undefined): FamilyProbe & { tracer?: Tracer } {
  const base = { family: family ?? ('auto' as HookFamily), plan: null, programs: [], completeSends: false, error: null };
  try {
    const tracer = Tracer.open({ ...(family ? { hooks: family } : {}), ...(btfPath ? { btfPath } : {}) });
    return { ...base, plan: tracer.plan.name, programs: tracer.attached, completeSends: tracer.plan.completeSends, tracer };
  } catch (e) {
    return { ...base, error: (e as Error).message };
  }
}

function probe(): ProbeResult {
  const f = probeKernel(btfPath);
  // tcpwhy's own choice; on a kernel standing in for one without BTF, the
  // choice such a kernel leaves it (its tp_btf and fentry programs would not load)
  const auto = familyProbe(job.btfFile ? 'kprobe' : undefined);
  const t = auto.tracer;
  auto.tracer?.close();
  delete auto.tracer;
  const families = HOOK_FAMILIES.map((fam) => {
    const p = familyProbe(fam);
    p.tracer?.close();
    delete p.tracer;
    return p;
  });
  return {
    features: {
      tpParams: f.tpParams,
      sendRecordHasReason: f.sendRecordHasReason,
      funcs: { ...f.funcs },
      reasons: f.reasons.size,
      kprobes: existsSync('/sys/bus/event_source/devices/kprobe'),
    },
    auto: {
      ...auto,
      attempts: (t?.attempts ?? []).map((a) => ({ hook: a.hook, error: a.error })),
      missing: (t?.missing ?? []).map((m) => `${m.role}: ${m.without}`),
      sendTpHasReason: t?.plan.sendTpHasReason ?? false,
    },
    families,
  };
}

async function lab(hooks: HookFamily | undefined): Promise<LabResult> {
  const name = hooks ?? 'auto';
  const out = createWriteStream(path.join(dir!, `lab-${name}.log`));
  let plan: string | null = null;
  try {
    let t: Tracer;
    try {
      t = Tracer.open({ ...(hooks ? { hooks } : {}), ...(btfPath ? { btfPath } : {}) });
    } catch (e) {
      // a family this kernel does not have or does not load is no lab to run (the probe says why)
      if (hooks) return { hooks, plan: null, cases: [], error: null, skipped: (e as Error).message.split('\n')[0]! };
      throw e;
    }
    plan = t.plan.name;
    t.close();
    const results = await runLab({ out, ...(hooks ? { hooks } : {}), ...(btfPath ? { btfPath } : {}) });
    return {
      hooks: name,
      plan,
      error: null,
      cases: results.map((r) => ({
        case: r.name,
        family: r.family,
        expected: r.expected,
        diagnosed: r.diagnosed,
        confidence: r.primary?.cause?.confidence ?? null,
        ok: r.ok,
        problems: [...r.problems, ...(r.captureCheck?.problems ?? [])],
        capture: r.captureCheck ? { agree: r.captureCheck.counts.exact + r.captureCheck.counts.ambiguous, resets: r.captureCheck.counts.resets } : null,
        ms: r.ms,
      })),
    };
  } catch (e) {
    return { hooks: name, plan, cases: [], error: (e as Error).message };
  } finally {
    await new Promise((r) => out.end(r));
  }
}

function tests(files: string[]): Promise<TestsResult> {
  const paths = files.map((f) => path.join(root, f));
  const tap = path.join(dir!, 'tests.tap');
  const out = createWriteStream(tap);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', '--test-concurrency=1', '--test-timeout=600000', ...paths], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(out);
    child.stderr.pipe(process.stderr);
    child.on('close', (code) => {
      out.end(() => {
        const text = readFileSync(tap, 'utf8');
        const count = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
        resolve({ files, pass: count('pass'), fail: count('fail'), failures: tapFailures(text), exitCode: code });
      });
    });
  });
}

async function step(s: Step): Promise<void> {
  const name = s.kind === 'lab' ? `lab --hooks ${s.hooks ?? 'auto'}` : s.kind === 'tests' ? `tests (${s.files.length} files)` : s.kind;
  log(`${name}: start`);
  const t0 = Date.now();
  let error: string | null = null;
  try {
    if (s.kind === 'probe') result.probe = probe();
    else if (s.kind === 'lab') {
      const r = await lab(s.hooks);
      result.labs.push(r);
      error = r.error;
    } else result.tests = await tests(s.files);
  } catch (e) {
    error = (e as Error).stack ?? String(e);
  }
  result.steps.push({ step: name, ms: Date.now() - t0, error });
  save();
  log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s${error ? `: ${error}` : ''}`);
}

log(`kernel ${release()}, job ${job.kernel}: ${job.steps.length} steps`);
save();
for (const s of job.steps) await step(s);
result.complete = true;
save();
log('job done');
// nothing of the job may keep the guest (or the host's row) waiting
process.exit(0);
