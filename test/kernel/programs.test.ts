// Program selection on this kernel, and the fallback programs for older
// kernels: they must pass the verifier wherever this kernel lets them load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { native, type NativeError } from '../../src/native.js';
import { Tracer, verifierSays } from '../../src/kernel/tracer.js';
import { kernelUnderTest } from '../helpers/kernel.js';

/** dist/ of this build (this file runs as dist/test/kernel/programs.test.js) */
const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('this kernel: the hooks tcpwhy picks follow from its probed features', () => {
  const k = kernelUnderTest();
  const f = k.features;
  const tracer = Tracer.open();
  try {
    const plan = tracer.plan;
    const send = plan.hooks.find((h) => h.role === 'send')!;
    // sent RSTs: the tracepoint where it sees every RST (6.10+), else the functions that build them
    if (f.tpParams.sendReset >= 4 || f.sendRecordHasReason) assert.match(send.family, /^(tp_btf|tracepoint)$/);
    else if (f.funcs.tcp_v4_send_reset && f.funcs.tcp_send_active_reset && (k.kprobes || !tracer.attempts.some((a) => a.hook.startsWith('fentry/')))) {
      assert.match(send.family, /^(fentry|kprobe)$/, `${plan.name}; tried: ${JSON.stringify(tracer.attempts)}`);
    }
    assert.equal(plan.completeSends, send.family === 'fentry' || send.family === 'kprobe' || f.tpParams.sendReset >= 4 || f.sendRecordHasReason);
    assert.equal(plan.sendTpHasReason, send.family === 'tp_btf' && f.tpParams.sendReset >= 4);
    assert.equal(plan.receives, f.tpParams.receiveReset > 0);
    assert.equal(plan.states, f.tpParams.setState > 0);
    // every attached program is one of the plan's, and the plan's are all attached
    assert.deepEqual([...tracer.attached].sort(), [...plan.programs].sort());
    // reasons are named from this kernel; every kernel with reasons has these
    if (k.reasons) {
      assert.ok([...f.reasons.values()].includes('NO_SOCKET'));
      if (k.activeReasons) assert.ok([...f.reasons.values()].includes('TCP_ABORT_ON_CLOSE'));
    }
  } finally {
    tracer.close();
  }
});

function tryLoad(programs: string[]): NativeError | undefined {
  try {
    const s = native().open({ programs, config: {} });
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
/** Every plain tracepoint program: resets, state changes, and the loss roles' (drops, retransmissions, errors). */
const PLAIN = ['tp_send_reset', 'tp_receive_reset', 'tp_set_state', 'tp_kfree_skb', 'tp_retransmit_skb', 'tp_retransmit_synack', 'tp_sk_error'];

test('plain tracepoint programs load and attach (tracefs mounted in a private mount namespace)', () => {
  const script = `
    import { native } from ${JSON.stringify(pathToFileURL(path.join(distRoot, 'src/native.js')).href)};
    const s = native().open({ programs: ${JSON.stringify(PLAIN)}, config: {} });
    try { console.log(JSON.stringify(native().attach(s).sort())); } finally { native().close(s); }`;
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing && exec "$0" --input-type=module -e "$1"',
      process.execPath,
      script,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [...PLAIN].sort());
});

test('kprobe fallbacks pass the verifier, and attach where the kernel has kprobes', () => {
  const programs = ['kprobe_v4_send_reset', 'kprobe_v6_send_reset', 'kprobe_active_reset'];
  const err = tryLoad(programs);
  assert.equal(err, undefined, `${err?.message}\n${err?.libbpf}`);
  const s = native().open({ programs, config: {} });
  try {
    if (kernelUnderTest().kprobes) assert.deepEqual(native().attach(s).sort(), [...programs].sort());
    else assert.throws(() => native().attach(s), /cannot attach kprobe_/);
  } finally {
    native().close(s);
  }
});

test('fentry fallbacks: verified and attached where the kernel allows them; elsewhere refused before verification, or for the cookie helper before 5.12', () => {
  const programs = ['fentry_v4_send_reset', 'fentry_v6_send_reset', 'fentry_active_reset'];
  let s;
  try {
    s = native().open({ programs, config: {} });
  } catch (e) {
    const err = e as NativeError;
    // Before 5.12 tracing programs may not ask for a socket's cookie (5.10: "unknown func
    // bpf_get_socket_cookie#46"): tcpwhy falls back to kprobes there. Any other verifier
    // rejection is a bug of the programs.
    if (verifierSays(err.libbpf)?.includes('bpf_get_socket_cookie')) return;
    // A kernel that refuses the program type says EPERM before any verification.
    assert.equal(err.errno, 1, `${err.message}\n${err.libbpf}`);
    assert.doesNotMatch(err.libbpf ?? '', /processed \d+ insns|invalid mem access|R\d+ /);
    return;
  }
  try {
    assert.deepEqual(native().attach(s).sort(), [...programs].sort());
  } finally {
    native().close(s);
  }
});
