// Debian kernel packages for the matrix: found and downloaded with apt from
// Debian's archive through a private apt configuration (the suites a kernel
// needs need not be in this machine's sources, and the machine's apt state
// is left alone), unpacked with dpkg-deb, with modules.dep made by depmod so
// that the guest's modprobe (veth, nftables, conntrack) works.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AptSuite, KernelSpec } from './kernels.js';

export interface KernelFiles {
  /** the package that was installed into `root` */
  package: string;
  version: string;
  /** uname -r of the kernel */
  release: string;
  /** the unpacked package: boot/, lib/modules/RELEASE/ */
  root: string;
  vmlinuz: string;
  config: string;
  modules: string;
}

/** A step of the harness that could not be done, said plainly. */
export class HarnessError extends Error {}

// The index of a suite set is fetched at most once per run, and reused for a day.
const LISTS_MAX_AGE_MS = 24 * 3600 * 1000;

function aptDir(cacheDir: string, suites: AptSuite[]): { dir: string; opts: string[] } {
  const name = suites.map((s) => s.suite).join('+');
  const dir = path.join(cacheDir, 'apt', name);
  mkdirSync(path.join(dir, 'lists', 'partial'), { recursive: true });
  mkdirSync(path.join(dir, 'cache', 'archives', 'partial'), { recursive: true });
  const sources = path.join(dir, 'sources.list');
  writeFileSync(sources, suites.map((s) => `deb ${s.uri} ${s.suite} main\n`).join(''));
  return {
    dir,
    opts: [
      '-o',
      `Dir::Etc::SourceList=${sources}`,
      '-o',
      `Dir::Etc::SourceParts=${path.join(dir, 'no-parts')}`,
      '-o',
      `Dir::State::Lists=${path.join(dir, 'lists')}`,
      '-o',
      `Dir::Cache=${path.join(dir, 'cache')}`,
      // root downloads into our own directory; apt's _apt user could not write there
      '-o',
      'APT::Sandbox::User=root',
      '-qq',
    ],
  };
}

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 << 20 });
  if (r.error) throw new HarnessError(`${cmd} ${args.slice(-2).join(' ')}: ${r.error.message}`);
  if (r.status !== 0)
    throw new HarnessError(
      `${cmd} ${args.filter((a) => !a.startsWith('Dir::') && a !== '-o').join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(-800)}`,
    );
  return r.stdout;
}

const updated = new Set<string>();

function aptUpdate(apt: { dir: string; opts: string[] }, force: boolean): void {
  if (updated.has(apt.dir) && !force) return;
  const lists = path.join(apt.dir, 'lists');
  const fresh = readdirSync(lists).some((f) => f.endsWith('_Packages') && Date.now() - statSync(path.join(lists, f)).mtimeMs < LISTS_MAX_AGE_MS);
  if (force || !fresh) run('apt-get', [...apt.opts, 'update'], { timeoutMs: 300_000 });
  updated.add(apt.dir);
}

/** dpkg's order of two versions. */
function versionGt(a: string, b: string): boolean {
  return spawnSync('dpkg', ['--compare-versions', a, 'gt', b]).status === 0;
}

/** The newest package of the spec the suites offer: [name, version]. */
function newestPackage(apt: { opts: string[] }, spec: KernelSpec): [string, string] {
  const names = run('apt-cache', [...apt.opts, 'pkgnames', 'linux-image-'])
    .split('\n')
    .filter((n) => spec.package.test(n));
  let best: [string, string] | null = null;
  for (const name of names) {
    const v = /^Version: (\S+)$/m.exec(run('apt-cache', [...apt.opts, 'show', '--no-all-versions', name]))?.[1];
    if (v && (!best || versionGt(v, best[1]))) best = [name, v];
  }
  if (!best) throw new HarnessError(`no package matching ${spec.package} in ${spec.suites.map((s) => s.suite).join(', ')}`);
  return best;
}

/**
 * The kernel of `spec`, unpacked under cacheDir/kernels/PACKAGE_VERSION (kept
 * between runs: about 400 MB each; `make clean` removes build/).
 */
export function fetchKernel(spec: KernelSpec, cacheDir: string, log: (m: string) => void): KernelFiles {
  const apt = aptDir(cacheDir, spec.suites);
  aptUpdate(apt, false);
  const [pkg, version] = newestPackage(apt, spec);
  const root = path.join(cacheDir, 'kernels', `${pkg}_${version}`);
  const done = path.join(root, '.unpacked');
  if (!existsSync(done)) {
    const debs = path.join(cacheDir, 'debs');
    mkdirSync(debs, { recursive: true });
    let deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb') && f.includes(version.replace(/:/g, '%3a')));
    if (!deb) {
      log(`downloading ${pkg} ${version}`);
      try {
        run('apt-get', [...apt.opts, 'download', `${pkg}=${version}`], { cwd: debs });
      } catch {
        // the index may name a file the mirror has dropped since: refresh and retry once
        aptUpdate(apt, true);
        run('apt-get', [...apt.opts, 'download', `${pkg}=${version}`], { cwd: debs });
      }
      deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
      if (!deb) throw new HarnessError(`apt-get download ${pkg} left no .deb in ${debs}`);
    }
    log(`unpacking ${deb}`);
    const tmp = `${root}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    run('dpkg-deb', ['-x', path.join(debs, deb), tmp]);
    const rel = readdirSync(path.join(tmp, 'lib', 'modules'))[0];
    if (!rel) throw new HarnessError(`${deb} has no lib/modules/RELEASE`);
    run('depmod', ['-b', tmp, rel]);
    rmSync(root, { recursive: true, force: true });
    renameSync(tmp, root);
    writeFileSync(done, `${pkg} ${version}\n`);
  }
  const release = readdirSync(path.join(root, 'lib', 'modules'))[0]!;
  const files = {
    package: pkg,
    version,
    release,
    root,
    vmlinuz: path.join(root, 'boot', `vmlinuz-${release}`),
    config: path.join(root, 'boot', `config-${release}`),
    modules: path.join(root, 'lib', 'modules', release),
  };
  for (const f of [files.vmlinuz, files.config]) if (!existsSync(f)) throw new HarnessError(`${pkg} has no ${path.basename(f)}`);
  return files;
}

/** Modules in load order (dependencies first), from each module's `depends=`. */
export function moduleClosure(modulesDir: string, wanted: string[]): string[] {
  const builtin = new Set(
    (existsSync(path.join(modulesDir, 'modules.builtin')) ? execFileSync('cat', [path.join(modulesDir, 'modules.builtin')], { encoding: 'utf8' }) : '')
      .split('\n')
      .map((l) => path.basename(l).replace(/\.ko$/, '').replace(/-/g, '_')),
  );
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko(\.xz|\.zst|\.gz)?$/.test(e.name)) files.set(e.name.replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_'), p);
    }
  };
  walk(path.join(modulesDir, 'kernel'));
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    const key = name.replace(/-/g, '_');
    if (seen.has(key) || builtin.has(key)) return;
    seen.add(key);
    const file = files.get(key);
    if (!file) throw new HarnessError(`module ${name} is neither built in nor in ${modulesDir}`);
    const deps = execFileSync('modinfo', ['-F', 'depends', file], { encoding: 'utf8' }).trim();
    for (const d of deps ? deps.split(',') : []) visit(d);
    order.push(file);
  };
  for (const w of wanted) visit(w);
  return order;
}
