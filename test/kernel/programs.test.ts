// Program selection on this kernel, and the fallback programs for older
// kernels: they must pass the verifier wherever this kernel lets them load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { native, type NativeError } from '../../src/native.js';
import { bpfObjectPath } from '../../src/paths.js';
import { probeKernel } from '../../src/kernel/features.js';
import { planCandidates } from '../../src/kernel/plan.js';

/** dist/ of this build (this file runs as dist/test/kernel/programs.test.js) */
const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('this kernel (6.10+): typed tracepoints with reasons, complete coverage, reasons named from BTF', () => {
  const f = probeKernel();
  const [first] = planCandidates(f);
  assert.ok(first);
  assert.deepEqual(first.programs, ['tp_btf_send_reset', 'tp_btf_receive_reset', 'tp_btf_set_state']);
  assert.equal(first.sendTpHasReason, true);
  assert.equal(first.completeSends, true);
  assert.ok(planCandidates(f).every((p) => !p.programs.some((n) => n.startsWith('kprobe') || n.startsWith('fentry'))));
  // names come from the running kernel; these two exist in every kernel with reasons
  assert.ok([...f.reasons.values()].includes('NO_SOCKET'));
  assert.ok([...f.reasons.values()].includes('TCP_ABORT_ON_CLOSE'));
});

function tryLoad(programs: string[]): NativeError | undefined {
  try {
    const s = native().open(bpfObjectPath, { programs, config: { withStacks: 1 } });
    native().close(s);
    return undefined;
  } catch (e) {
    return e as NativeError;
  }
}

// Plain tracepoints attach through perf_event_open with the event id that
// tracefs gives. A machine may not have tracefs mounted (this one, without
// systemd, does not): the attach runs in a child with a private mount
// namespace where tracefs is mounted, so the host's mounts stay as they are.
test('plain tracepoint programs load and attach (tracefs mounted in a private mount namespace)', () => {
  const script = `
    import { native } from ${JSON.stringify(pathToFileURL(path.join(distRoot, 'src/native.js')).href)};
    import { bpfObjectPath } from ${JSON.stringify(pathToFileURL(path.join(distRoot, 'src/paths.js')).href)};
    const s = native().open(bpfObjectPath, { programs: ['tp_send_reset', 'tp_receive_reset', 'tp_set_state'], config: {} });
    try { console.log(JSON.stringify(native().attach(s).sort())); } finally { native().close(s); }`;
  const r = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', 'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing && exec "$0" --input-type=module -e "$1"', process.execPath, script],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['tp_receive_reset', 'tp_send_reset', 'tp_set_state']);
});

test('kprobe fallbacks pass the verifier (this kernel has no kprobes to attach them to)', () => {
  const err = tryLoad(['kprobe_v4_send_reset', 'kprobe_v6_send_reset', 'kprobe_active_reset']);
  assert.equal(err, undefined, `${err?.message}\n${err?.libbpf}`);
  const s = native().open(bpfObjectPath, { programs: ['kprobe_v4_send_reset'], config: {} });
  try {
    assert.throws(() => native().attach(s), /cannot attach kprobe_v4_send_reset/);
  } finally {
    native().close(s);
  }
});

test('fentry fallbacks: refused by this kernel before verification, not rejected by the verifier', () => {
  const err = tryLoad(['fentry_v4_send_reset', 'fentry_v6_send_reset', 'fentry_active_reset']);
  if (err === undefined) return; // a kernel that allows fentry verified them: fine
  // A verifier rejection prints the instruction log ("R1 ...", "processed N insns");
  // this kernel refuses the program type with EPERM before any of that.
  assert.equal(err.errno, 1, `${err.message}\n${err.libbpf}`);
  assert.doesNotMatch(err.libbpf ?? '', /processed \d+ insns|invalid mem access|R\d+ /);
});
