import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chooseHooks, composePlan, hookOptions, parseHookFamily, preferredPlan, sendOptions, type EventKind, type Plan } from '../../src/kernel/plan.js';
import type { KernelFeatures } from '../../src/kernel/features.js';
import { SetupError, UsageError } from '../../src/kernel/errors.js';
import { verifierSays } from '../../src/kernel/tracer.js';

function features(over: {
  tpParams?: Partial<KernelFeatures['tpParams']>;
  funcs?: Partial<KernelFeatures['funcs']>;
  sendRecordHasReason?: boolean;
}): KernelFeatures {
  return {
    btfPath: '/sys/kernel/btf/vmlinux',
    customBtf: false,
    tpParams: { sendReset: 4, receiveReset: 2, setState: 4, kfreeSkb: -1, retransmitSkb: -1, retransmitSynack: -1, skError: -1, ...over.tpParams },
    sendRecordHasReason: over.sendRecordHasReason ?? false,
    funcs: { tcp_v4_send_reset: true, tcp_v6_send_reset: true, tcp_send_active_reset: true, ...over.funcs },
    reasons: new Map([
      [0, 'NOT_SPECIFIED'],
      [1, 'NO_SOCKET'],
    ]),
    dropReasons: new Map(),
  };
}

// Linux 6.18: tcp_send_reset(ctx, sk, skb, reason), tcp_receive_reset(ctx, sk), inet_sock_set_state(ctx, sk, old, new)
const K6_18 = features({ tpParams: { sendReset: 4, receiveReset: 2, setState: 4 }, sendRecordHasReason: true });
// Linux 5.15 and 6.1: tcp_send_reset(ctx, sk, skb), no reason in the record
const K6_1 = features({ tpParams: { sendReset: 3, receiveReset: 2, setState: 4 } });
const K5_15 = K6_1;
/** the reset roles alone (`--events resets`): what the tests below choose among */
const RESETS = new Set<EventKind>(['resets']);
// the loss tracepoints: kfree_skb(ctx, skb, location, reason, rx_sk) from 6.11, without rx_sk before
const LOSS_6_18 = { kfreeSkb: 5, retransmitSkb: 4, retransmitSynack: 3, skError: 2 };
const LOSS_6_1 = { kfreeSkb: 4, retransmitSkb: 3, retransmitSynack: 3, skError: 2 };

const programsOf = (roles: ReturnType<typeof hookOptions>, role: string) => roles.find((r) => r.role === role)!.options.map((o) => o.programs);

describe('sendOptions', () => {
  test('6.18: only the tracepoints, tp_btf first, both complete', () => {
    const s = sendOptions(K6_18);
    assert.deepEqual(
      s.map((o) => [o.name, o.programs, o.complete, o.family, o.reasonArg]),
      [
        ['tp_btf/tcp_send_reset', ['tp_btf_send_reset'], true, 'tp_btf', true],
        ['tracepoint/tcp/tcp_send_reset', ['tp_send_reset'], true, 'tracepoint', false],
      ],
    );
  });

  test('a record reason alone makes the tracepoint complete', () => {
    const s = sendOptions(features({ tpParams: { sendReset: 3 }, sendRecordHasReason: true }));
    assert.deepEqual(
      s.map((o) => o.name),
      ['tp_btf/tcp_send_reset', 'tracepoint/tcp/tcp_send_reset'],
    );
    assert.ok(s.every((o) => o.complete));
    // three parameters: no reason argument to read
    assert.ok(s.every((o) => !o.reasonArg));
  });

  test('5.15 and 6.1: fentry, kprobe, then the incomplete tracepoints', () => {
    for (const k of [K5_15, K6_1]) {
      const s = sendOptions(k);
      assert.deepEqual(
        s.map((o) => [o.name, o.programs, o.complete, o.family]),
        [
          [
            'fentry/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset',
            ['fentry_v4_send_reset', 'fentry_v6_send_reset', 'fentry_active_reset'],
            true,
            'fentry',
          ],
          [
            'kprobe/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset',
            ['kprobe_v4_send_reset', 'kprobe_v6_send_reset', 'kprobe_active_reset'],
            true,
            'kprobe',
          ],
          ['tp_btf/tcp_send_reset', ['tp_btf_send_reset'], false, 'tp_btf'],
          ['tracepoint/tcp/tcp_send_reset', ['tp_send_reset'], false, 'tracepoint'],
        ],
      );
    }
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
    assert.deepEqual(
      noActive.map((o) => o.name),
      ['tp_btf/tcp_send_reset', 'tracepoint/tcp/tcp_send_reset'],
    );
    const noV4 = sendOptions(features({ tpParams: { sendReset: 3 }, funcs: { tcp_v4_send_reset: false } }));
    assert.deepEqual(
      noV4.map((o) => o.name),
      ['tp_btf/tcp_send_reset', 'tracepoint/tcp/tcp_send_reset'],
    );
  });

  test('no tcp_v6_send_reset in BTF: fallbacks without the v6 program', () => {
    const s = sendOptions(features({ tpParams: { sendReset: 3 }, funcs: { tcp_v6_send_reset: false } }));
    assert.deepEqual(
      s.slice(0, 2).map((o) => [o.name, o.programs]),
      [
        ['fentry/tcp_v4_send_reset,tcp_send_active_reset', ['fentry_v4_send_reset', 'fentry_active_reset']],
        ['kprobe/tcp_v4_send_reset,tcp_send_active_reset', ['kprobe_v4_send_reset', 'kprobe_active_reset']],
      ],
    );
  });
});

describe('hookOptions: the roles and their options', () => {
  test('6.18: typed tracepoints first, plain second', () => {
    const roles = hookOptions(K6_18, undefined, RESETS);
    assert.deepEqual(
      roles.map((r) => [r.role, r.required]),
      [
        ['send', true],
        ['receive', false],
        ['state', false],
      ],
    );
    assert.deepEqual(programsOf(roles, 'receive'), [['tp_btf_receive_reset'], ['tp_receive_reset']]);
    assert.deepEqual(programsOf(roles, 'state'), [['tp_btf_set_state'], ['tp_set_state']]);
    const plan = preferredPlan(roles);
    assert.deepEqual(plan.programs, ['tp_btf_send_reset', 'tp_btf_receive_reset', 'tp_btf_set_state']);
    assert.deepEqual([plan.sendTpHasReason, plan.completeSends, plan.receives, plan.states], [true, true, true, true]);
    assert.ok(
      !roles
        .flatMap((r) => r.options)
        .flatMap((o) => o.programs)
        .some((p) => /^(fentry|kprobe|fexit|kretprobe)/.test(p)),
    );
  });

  test('6.1: fentry sends, then typed tracepoints', () => {
    const plan = preferredPlan(hookOptions(K6_1, undefined, RESETS));
    assert.deepEqual(plan.programs, ['fentry_v4_send_reset', 'fentry_v6_send_reset', 'fentry_active_reset', 'tp_btf_receive_reset', 'tp_btf_set_state']);
    assert.deepEqual([plan.sendTpHasReason, plan.completeSends], [false, true]);
  });

  test('--hooks kprobe: kprobe sends, plain tracepoints first (untyped like the kprobes)', () => {
    const roles = hookOptions(K6_1, 'kprobe', RESETS);
    assert.deepEqual(programsOf(roles, 'send'), [['kprobe_v4_send_reset', 'kprobe_v6_send_reset', 'kprobe_active_reset']]);
    assert.deepEqual(programsOf(roles, 'receive'), [['tp_receive_reset'], ['tp_btf_receive_reset']]);
    assert.deepEqual(programsOf(roles, 'state'), [['tp_set_state'], ['tp_btf_set_state']]);
  });

  test('--hooks tracepoint: plain tracepoints only, which miss RSTs sent without a socket before 6.10', () => {
    const roles = hookOptions(K6_1, 'tracepoint', RESETS);
    assert.deepEqual(programsOf(roles, 'send'), [['tp_send_reset']]);
    const plan = preferredPlan(roles);
    assert.deepEqual(plan.programs, ['tp_send_reset', 'tp_receive_reset', 'tp_set_state']);
    assert.equal(plan.completeSends, false);
  });

  test('--hooks with a family the kernel lacks for sends: a usage error naming what it has', () => {
    assert.throws(
      () => hookOptions(K6_18, 'kprobe', RESETS),
      (e: unknown) => e instanceof UsageError && /no kprobe hook/.test(e.message) && /tp_btf, tracepoint/.test(e.message),
    );
    assert.throws(() => parseHookFamily('ebpf'), UsageError);
    assert.equal(parseHookFamily('fentry'), 'fentry');
  });

  test('no tracepoint and no functions: SetupError with a fix', () => {
    const f = features({
      tpParams: { sendReset: -1, receiveReset: -1, setState: -1 },
      funcs: { tcp_v4_send_reset: false, tcp_v6_send_reset: false, tcp_send_active_reset: false },
    });
    assert.throws(
      () => hookOptions(f, undefined, RESETS),
      (e: unknown) => e instanceof SetupError && /tcp_send_reset/.test(e.message) && e.fix.length > 0,
    );
  });

  test('no receive tracepoint: the role has no option, the plan no receive program', () => {
    for (const base of [K6_18, K5_15]) {
      const roles = hookOptions({ ...base, tpParams: { ...base.tpParams, receiveReset: -1 } });
      assert.deepEqual(programsOf(roles, 'receive'), []);
      const plan = preferredPlan(roles);
      assert.equal(plan.receives, false);
      assert.ok(plan.states);
    }
  });
});

describe('hookOptions: drops, retransmissions and errors', () => {
  test('6.18, every kind of event: the loss roles follow the reset roles, typed first, the drop program reads rx_sk', () => {
    const roles = hookOptions(features({ tpParams: LOSS_6_18 }));
    assert.deepEqual(
      roles.map((r) => [r.role, r.required]),
      [
        ['send', true],
        ['receive', false],
        ['state', false],
        ['drop', false],
        ['retransmit', false],
        ['error', false],
      ],
    );
    assert.deepEqual(programsOf(roles, 'drop'), [['tp_btf_kfree_skb'], ['tp_kfree_skb']]);
    assert.deepEqual(programsOf(roles, 'retransmit'), [
      ['tp_btf_retransmit_skb', 'tp_btf_retransmit_synack'],
      ['tp_retransmit_skb', 'tp_retransmit_synack'],
    ]);
    const plan = preferredPlan(roles);
    assert.equal(plan.dropParams, 5);
    assert.deepEqual([plan.drops, plan.retransmits, plan.errors], [true, true, true]);
    assert.equal(roles.find((r) => r.role === 'drop')!.options[0]!.name, 'tp_btf/kfree_skb');
    assert.equal(roles.find((r) => r.role === 'drop')!.options[1]!.name, 'tracepoint/skb/kfree_skb');
  });

  test('6.1: the typed drop program reads the reason but no receiving socket', () => {
    assert.equal(preferredPlan(hookOptions(features({ tpParams: { ...LOSS_6_1, sendReset: 3 } }))).dropParams, 4);
  });

  test('--events drops: no reset hooks, the state role stays (owners), only the drop role is added', () => {
    const roles = hookOptions(features({ tpParams: LOSS_6_18 }), undefined, new Set<EventKind>(['drops']));
    assert.deepEqual(
      roles.map((r) => r.role),
      ['state', 'drop'],
    );
    const c = chooseHooks(roles, () => undefined);
    assert.deepEqual(c.plan!.programs, ['tp_btf_set_state', 'tp_btf_kfree_skb']);
  });

  test('a kernel without the loss tracepoints: those roles are missing, said with their cost', () => {
    const c = chooseHooks(hookOptions(K6_1), () => undefined);
    assert.deepEqual(
      c.missing.map((m) => m.role),
      ['drop', 'retransmit', 'error'],
    );
  });
});

describe('chooseHooks: one refused program costs only its role', () => {
  const names = (p: Plan | null) => p?.programs ?? null;
  const refusing = (bad: (p: string) => boolean) => {
    const tried: string[][] = [];
    const fn = (plan: Plan) => {
      tried.push(plan.programs);
      return plan.programs.some(bad) ? Object.assign(new Error(`refused ${plan.programs.find(bad)}`), { errno: 22 }) : undefined;
    };
    return { tried, fn };
  };

  test('the preferred set loads: one try, nothing missing', () => {
    const { tried, fn } = refusing(() => false);
    const c = chooseHooks(hookOptions(K6_18, undefined, RESETS), fn);
    assert.deepEqual(names(c.plan), ['tp_btf_send_reset', 'tp_btf_receive_reset', 'tp_btf_set_state']);
    assert.equal(tried.length, 1);
    assert.deepEqual(c.attempts, []);
    assert.deepEqual(c.missing, []);
  });

  test("6.1 with fentry refused (like this machine's policy): kprobes for sends, the typed tracepoints kept", () => {
    const { tried, fn } = refusing((p) => p.startsWith('fentry'));
    const c = chooseHooks(hookOptions(K6_1, undefined, RESETS), fn);
    assert.deepEqual(names(c.plan), ['kprobe_v4_send_reset', 'kprobe_v6_send_reset', 'kprobe_active_reset', 'tp_btf_receive_reset', 'tp_btf_set_state']);
    assert.deepEqual(
      c.attempts.map((a) => [a.role, a.hook]),
      [['send', 'fentry/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset']],
    );
    assert.ok(c.plan!.completeSends);
    // the preferred set, then each role on its own: fentry (refused), kprobe, typed receive, typed state
    assert.equal(tried.length, 5);
  });

  test('typed receive refused: the plain one serves, the sends keep fentry', () => {
    const { fn } = refusing((p) => p === 'tp_btf_receive_reset');
    const c = chooseHooks(hookOptions(K6_1, undefined, RESETS), fn);
    assert.deepEqual(names(c.plan), ['fentry_v4_send_reset', 'fentry_v6_send_reset', 'fentry_active_reset', 'tp_receive_reset', 'tp_btf_set_state']);
  });

  test('an optional role with nothing that loads is missing, said with its cost', () => {
    const { fn } = refusing((p) => p.includes('set_state'));
    const c = chooseHooks(hookOptions(K6_1, undefined, RESETS), fn);
    assert.ok(c.plan && !c.plan.states && c.plan.receives && c.plan.completeSends);
    assert.deepEqual(
      c.missing.map((m) => m.role),
      ['state'],
    );
    assert.match(c.missing[0]!.without, /owner/);
  });

  test('no hook for sent RSTs loads: no plan, every attempt listed', () => {
    const { fn } = refusing((p) => p.includes('send_reset') || p.includes('active_reset'));
    const c = chooseHooks(hookOptions(K6_1, undefined, RESETS), fn);
    assert.equal(c.plan, null);
    assert.deepEqual(
      c.attempts.map((a) => a.hook.split('/')[0]),
      ['fentry', 'kprobe', 'tp_btf', 'tracepoint'],
    );
  });

  test('composePlan names a plan by its hooks', () => {
    const roles = hookOptions(K6_1, undefined, RESETS);
    const p = composePlan([roles[0]!.options[1]!, roles[2]!.options[1]!]);
    assert.equal(p.name, 'kprobe/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset + tracepoint/sock/inet_sock_set_state');
    assert.deepEqual([p.receives, p.states], [false, true]);
  });
});

describe('verifierSays: why a kernel refused a program, for the user', () => {
  test("the verifier's last line, not the instructions it walked nor libbpf's own lines", () => {
    const log = [
      "libbpf: prog 'fentry_v4_send_reset': BPF program load failed: Invalid argument",
      "libbpf: prog 'fentry_v4_send_reset': -- BEGIN PROG LOAD LOG --",
      'reg type unsupported for arg#0 function fentry_v4_send_reset#24',
      '0: R1=ctx(off=0,imm=0) R10=fp0',
      '; int BPF_PROG(fentry_v4_send_reset, const struct sock *sk, struct sk_buff *skb)',
      '0: (79) r6 = *(u64 *)(r1 +0)',
      '12: (85) call bpf_get_socket_cookie#46',
      'unknown func bpf_get_socket_cookie#46',
      'processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
      '-- END PROG LOAD LOG --',
      "libbpf: prog 'fentry_v4_send_reset': failed to load: -22",
    ].join('\n');
    assert.equal(verifierSays(log), 'unknown func bpf_get_socket_cookie#46');
    assert.equal(
      verifierSays("0: R1=ctx() R10=fp0\nR2 invalid mem access 'scalar'\nprocessed 3 insns\n-- END PROG LOAD LOG --\n"),
      "R2 invalid mem access 'scalar'",
    );
    // refused before verification (EPERM): no log, nothing made up
    assert.equal(verifierSays("libbpf: prog 'x': BPF program load failed: Operation not permitted\n"), null);
    assert.equal(verifierSays(undefined), null);
  });
});
