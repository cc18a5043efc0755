import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { planCandidates, sendOptions, type Plan } from '../../src/kernel/plan.js';
import type { KernelFeatures } from '../../src/kernel/features.js';
import { SetupError } from '../../src/kernel/errors.js';

function features(over: {
  tpParams?: Partial<KernelFeatures['tpParams']>;
  funcs?: Partial<KernelFeatures['funcs']>;
  sendRecordHasReason?: boolean;
}): KernelFeatures {
  return {
    btfPath: '/sys/kernel/btf/vmlinux',
    customBtf: false,
    tpParams: { sendReset: 4, receiveReset: 2, setState: 4, ...over.tpParams },
    sendRecordHasReason: over.sendRecordHasReason ?? false,
    funcs: { tcp_v4_send_reset: true, tcp_v6_send_reset: true, tcp_send_active_reset: true, ...over.funcs },
    reasons: new Map([
      [0, 'NOT_SPECIFIED'],
      [1, 'NO_SOCKET'],
    ]),
  };
}

// Linux 6.18: tcp_send_reset(ctx, sk, skb, reason), tcp_receive_reset(ctx, sk), inet_sock_set_state(ctx, sk, old, new)
const K6_18 = features({ tpParams: { sendReset: 4, receiveReset: 2, setState: 4 }, sendRecordHasReason: true });
// Linux 5.15: tcp_send_reset(ctx, sk, skb), no reason in the record
const K5_15 = features({ tpParams: { sendReset: 3, receiveReset: 2, setState: 4 }, sendRecordHasReason: false });

const names = (ps: Plan[]) => ps.map((p) => p.name);
const allPrograms = (ps: Plan[]) => ps.flatMap((p) => p.programs);

describe('sendOptions', () => {
  test('6.18: only the tracepoints, tp_btf first, both complete', () => {
    const s = sendOptions(K6_18);
    assert.deepEqual(
      s.map((o) => [o.name, o.programs, o.complete, o.btfTyped]),
      [
        ['tp_btf/tcp_send_reset', ['tp_btf_send_reset'], true, true],
        ['tracepoint/tcp/tcp_send_reset', ['tp_send_reset'], true, false],
      ],
    );
  });

  test('a record reason alone makes the tracepoint complete', () => {
    const s = sendOptions(features({ tpParams: { sendReset: 3 }, sendRecordHasReason: true }));
    assert.deepEqual(s.map((o) => o.name), ['tp_btf/tcp_send_reset', 'tracepoint/tcp/tcp_send_reset']);
    assert.ok(s.every((o) => o.complete));
  });

  test('5.15: fentry, kprobe, then the incomplete tracepoints', () => {
    const s = sendOptions(K5_15);
    assert.deepEqual(
      s.map((o) => [o.name, o.programs, o.complete, o.btfTyped]),
      [
        ['fentry/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset', ['fentry_v4_send_reset', 'fentry_v6_send_reset', 'fentry_active_reset'], true, true],
        ['kprobe/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset', ['kprobe_v4_send_reset', 'kprobe_v6_send_reset', 'kprobe_active_reset'], true, false],
        ['tp_btf/tcp_send_reset', ['tp_btf_send_reset'], false, true],
        ['tracepoint/tcp/tcp_send_reset', ['tp_send_reset'], false, false],
      ],
    );
  });

  test('no tracepoint and no functions: nothing', () => {
    const f = features({
      tpParams: { sendReset: -1 },
      funcs: { tcp_v4_send_reset: false, tcp_v6_send_reset: false, tcp_send_active_reset: false },
    });
    assert.deepEqual(sendOptions(f), []);
  });

  test('fallback needs both tcp_v4_send_reset and tcp_send_active_reset', () => {
    const noActive = sendOptions(features({ tpParams: { sendReset: 3 }, funcs: { tcp_send_active_reset: false } }));
    assert.deepEqual(noActive.map((o) => o.name), ['tp_btf/tcp_send_reset', 'tracepoint/tcp/tcp_send_reset']);
    const noV4 = sendOptions(features({ tpParams: { sendReset: 3 }, funcs: { tcp_v4_send_reset: false } }));
    assert.deepEqual(noV4.map((o) => o.name), ['tp_btf/tcp_send_reset', 'tracepoint/tcp/tcp_send_reset']);
  });
});

describe('planCandidates', () => {
  test('(a) kernel 6.18: tp_btf send with reason first, then plain tracepoint; no fentry/kprobe', () => {
    const plans = planCandidates(K6_18);
    assert.deepEqual(plans, [
      {
        name: 'tp_btf/tcp_send_reset',
        programs: ['tp_btf_send_reset', 'tp_btf_receive_reset', 'tp_btf_set_state'],
        sendTpHasReason: true,
        completeSends: true,
        receives: true,
      },
      {
        name: 'tp_btf/tcp_send_reset',
        programs: ['tp_btf_send_reset', 'tp_receive_reset', 'tp_set_state'],
        sendTpHasReason: true,
        completeSends: true,
        receives: true,
      },
      {
        name: 'tracepoint/tcp/tcp_send_reset',
        programs: ['tp_send_reset', 'tp_receive_reset', 'tp_set_state'],
        sendTpHasReason: false,
        completeSends: true,
        receives: true,
      },
    ]);
    assert.ok(!allPrograms(plans).some((p) => p.startsWith('fentry') || p.startsWith('kprobe')));
  });

  test('(b) 5.15-like kernel: fentry, kprobe, then tracepoints with completeSends false', () => {
    const plans = planCandidates(K5_15);
    assert.deepEqual(names(plans), [
      'fentry/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset',
      'fentry/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset',
      'kprobe/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset',
      'kprobe/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset',
      'tp_btf/tcp_send_reset',
      'tp_btf/tcp_send_reset',
      'tracepoint/tcp/tcp_send_reset',
    ]);
    assert.deepEqual(plans[0]!.programs, [
      'fentry_v4_send_reset',
      'fentry_v6_send_reset',
      'fentry_active_reset',
      'tp_btf_receive_reset',
      'tp_btf_set_state',
    ]);
    assert.deepEqual(plans[1]!.programs, [
      'fentry_v4_send_reset',
      'fentry_v6_send_reset',
      'fentry_active_reset',
      'tp_receive_reset',
      'tp_set_state',
    ]);
    assert.deepEqual(plans[2]!.programs, [
      'kprobe_v4_send_reset',
      'kprobe_v6_send_reset',
      'kprobe_active_reset',
      'tp_btf_receive_reset',
      'tp_btf_set_state',
    ]);
    assert.deepEqual(plans[6]!.programs, ['tp_send_reset', 'tp_receive_reset', 'tp_set_state']);
    assert.deepEqual(
      plans.map((p) => p.completeSends),
      [true, true, true, true, false, false, false],
    );
    // three parameters: the tracepoint has no reason argument
    assert.ok(plans.every((p) => p.sendTpHasReason === false));
    assert.ok(plans.every((p) => p.receives));
  });

  test('(c) no tcp_v6_send_reset in BTF: fallback plans without the v6 program', () => {
    const plans = planCandidates(features({ tpParams: { sendReset: 3 }, funcs: { tcp_v6_send_reset: false } }));
    assert.equal(plans[0]!.name, 'fentry/tcp_v4_send_reset,tcp_send_active_reset');
    assert.deepEqual(plans[0]!.programs.slice(0, 2), ['fentry_v4_send_reset', 'fentry_active_reset']);
    const kprobe = plans.find((p) => p.name.startsWith('kprobe/'));
    assert.ok(kprobe);
    assert.equal(kprobe.name, 'kprobe/tcp_v4_send_reset,tcp_send_active_reset');
    assert.deepEqual(kprobe.programs.slice(0, 2), ['kprobe_v4_send_reset', 'kprobe_active_reset']);
    assert.ok(!allPrograms(plans).some((p) => p.includes('v6')));
    assert.ok(!names(plans).some((n) => n.includes('v6')));
  });

  test('only the functions (no tracepoint): fentry and kprobe plans only', () => {
    const plans = planCandidates(features({ tpParams: { sendReset: -1 } }));
    assert.ok(plans.length > 0);
    assert.ok(plans.every((p) => p.name.startsWith('fentry/') || p.name.startsWith('kprobe/')));
    assert.ok(plans.every((p) => p.completeSends && !p.sendTpHasReason));
    assert.ok(!allPrograms(plans).some((p) => p.endsWith('send_reset') && p.startsWith('tp')));
  });

  test('(d) no tracepoint and no functions: SetupError with a fix', () => {
    const f = features({
      tpParams: { sendReset: -1, receiveReset: -1, setState: -1 },
      funcs: { tcp_v4_send_reset: false, tcp_v6_send_reset: false, tcp_send_active_reset: false },
    });
    assert.throws(
      () => planCandidates(f),
      (e: unknown) => e instanceof SetupError && /tcp_send_reset/.test(e.message) && e.fix.length > 0,
    );
  });

  test('(e) no receive tracepoint: receives false, no receive programs', () => {
    for (const base of [K6_18, K5_15]) {
      const f = { ...base, tpParams: { ...base.tpParams, receiveReset: -1 } };
      const plans = planCandidates(f);
      assert.ok(plans.length > 0);
      assert.ok(plans.every((p) => p.receives === false));
      assert.ok(!allPrograms(plans).some((p) => p.includes('receive')));
      // set_state programs are still planned
      assert.ok(plans.every((p) => p.programs.some((x) => x.endsWith('set_state'))));
    }
  });

  test('no inet_sock_set_state: no set_state programs', () => {
    const plans = planCandidates({ ...K6_18, tpParams: { ...K6_18.tpParams, setState: -1 } });
    assert.ok(!allPrograms(plans).some((p) => p.includes('set_state')));
    assert.ok(plans.every((p) => p.receives));
  });

  test('every plan starts with its send programs', () => {
    for (const f of [K6_18, K5_15]) {
      const sends = sendOptions(f);
      for (const p of planCandidates(f)) {
        const s = sends.find((o) => o.name === p.name);
        assert.ok(s, p.name);
        assert.deepEqual(p.programs.slice(0, s.programs.length), s.programs);
      }
    }
  });
});
