// Which BPF programs to load on this kernel. Pure: features in, for each role
// (sent RSTs, received RSTs, socket state changes) the hooks that can fill
// it, best first. The tracer loads the best of every role at once and, if the
// kernel refuses that set, probes each role's hooks on their own, so that one
// program a kernel refuses costs only its own role (src/kernel/tracer.ts).
// Tested with the feature shapes of older kernels (test/unit/plan.test.ts) and
// on real ones (make test-kernels).
import type { KernelFeatures } from './features.js';
import { SetupError, UsageError } from './errors.js';

/** Kinds of kernel hook, as `--hooks` names them. */
export const HOOK_FAMILIES = ['tp_btf', 'tracepoint', 'fentry', 'kprobe'] as const;
export type HookFamily = (typeof HOOK_FAMILIES)[number];

export type Role = 'send' | 'receive' | 'state' | 'drop' | 'retransmit' | 'error';

/** What `watch --events` may choose: resets and the three kinds of loss events. */
export const EVENT_KINDS = ['resets', 'drops', 'retransmits', 'errors'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** One way to fill a role: programs that load and attach together. */
export interface HookOption {
  role: Role;
  /** what the user reads, e.g. "fentry/tcp_v4_send_reset,tcp_v6_send_reset,tcp_send_active_reset" */
  name: string;
  family: HookFamily;
  programs: string[];
  /** send: every sent RST is seen (false: no-socket and TIME_WAIT RSTs are missed) */
  complete: boolean;
  /** send: the tp_btf program may read the reason argument */
  reasonArg: boolean;
  /** drop: parameters of the typed kfree_skb tracepoint (ctx included) */
  dropParams?: number;
}

export interface RoleOptions {
  role: Role;
  /** without it tcpwhy cannot run; the other roles degrade */
  required: boolean;
  /** what is lost when no hook of the role loads */
  without: string;
  options: HookOption[];
}

/** What was chosen: one option per role that has one. */
export interface Plan {
  /** short name shown to the user: the options' names joined */
  name: string;
  hooks: HookOption[];
  programs: string[];
  /** the tp_btf send program may read the reason argument */
  sendTpHasReason: boolean;
  /** every sent RST is seen (false: no-socket and TIME_WAIT RSTs are missed) */
  completeSends: boolean;
  /** received RSTs are seen */
  receives: boolean;
  /** socket state changes are seen (owners, history) */
  states: boolean;
  /** parameters of the typed kfree_skb tracepoint the drop program reads (0: not loaded) */
  dropParams: number;
  /** which loss roles have a hook */
  drops: boolean;
  retransmits: boolean;
  errors: boolean;
}

const option = (role: Role, family: HookFamily, name: string, programs: string[], extra: Partial<HookOption> = {}): HookOption => ({
  role,
  family,
  name,
  programs,
  complete: true,
  reasonArg: false,
  ...extra,
});

/**
 * From 6.10 the tcp_send_reset tracepoint fires for every reset and has a reason
 * argument (ctx + sk + skb + reason = 4 parameters). Before, it skipped resets
 * sent without a full socket, so fentry or kprobes on the functions that build
 * resets are preferred there, and the tracepoint is the last resort.
 */
export function sendOptions(f: KernelFeatures): HookOption[] {
  const tpExists = f.tpParams.sendReset > 0;
  const tpComplete = f.tpParams.sendReset >= 4 || f.sendRecordHasReason;
  const fallbackFuncs = f.funcs.tcp_v4_send_reset && f.funcs.tcp_send_active_reset;
  const v6 = f.funcs.tcp_v6_send_reset;
  const fallback = (family: 'fentry' | 'kprobe'): HookOption =>
    option('send', family, `${family}/tcp_v4_send_reset${v6 ? ',tcp_v6_send_reset' : ''},tcp_send_active_reset`, [
      `${family}_v4_send_reset`,
      ...(v6 ? [`${family}_v6_send_reset`] : []),
      `${family}_active_reset`,
    ]);
  const tps: HookOption[] = tpExists
    ? [
        option('send', 'tp_btf', 'tp_btf/tcp_send_reset', ['tp_btf_send_reset'], { complete: tpComplete, reasonArg: f.tpParams.sendReset >= 4 }),
        option('send', 'tracepoint', 'tracepoint/tcp/tcp_send_reset', ['tp_send_reset'], { complete: tpComplete }),
      ]
    : [];
  if (tpComplete) return tps;
  return [...(fallbackFuncs ? [fallback('fentry'), fallback('kprobe')] : []), ...tps];
}

/** Typed tracepoint first, plain second; which first depends on the family asked for. */
function tracepointOptions(
  role: Role,
  exists: boolean,
  typed: string | string[],
  plain: string | string[],
  name: string,
  prefer?: HookFamily,
  category = name.startsWith('inet_') ? 'sock' : 'tcp',
  extra: Partial<HookOption> = {},
): HookOption[] {
  if (!exists) return [];
  const names = name.split(',');
  const t = option(role, 'tp_btf', names.map((n) => `tp_btf/${n}`).join(','), [typed].flat(), extra);
  const p = option(role, 'tracepoint', names.map((n) => `tracepoint/${category}/${n}`).join(','), [plain].flat());
  if (prefer === 'tracepoint' || prefer === 'kprobe') return [p, t];
  return [t, p];
}

/**
 * The hooks of each role on this kernel, best first. `prefer` (--hooks)
 * restricts sent RSTs to one family and puts plain or typed tracepoints
 * first for the other roles, as that family goes with.
 */
export function hookOptions(f: KernelFeatures, prefer?: HookFamily, events: ReadonlySet<EventKind> = new Set(EVENT_KINDS)): RoleOptions[] {
  const sends = sendOptions(f);
  if (!sends.length) {
    throw new SetupError(
      'this kernel has neither the tcp:tcp_send_reset tracepoint nor the functions tcpwhy can hook instead (tcp_v4_send_reset, tcp_send_active_reset)',
      'tcpwhy needs Linux 4.15 or later with BTF; upgrade the kernel',
    );
  }
  const chosenSends = prefer ? sends.filter((s) => s.family === prefer) : sends;
  if (!chosenSends.length) {
    throw new UsageError(
      `--hooks ${prefer}: this kernel offers no ${prefer} hook for sent RSTs; it has ${[...new Set(sends.map((s) => s.family))].join(', ')}`,
    );
  }
  const loss: RoleOptions[] = [];
  if (events.has('drops')) {
    loss.push({
      role: 'drop',
      required: false,
      without: 'dropped segments are not visible',
      options: tracepointOptions('drop', f.tpParams.kfreeSkb > 0, 'tp_btf_kfree_skb', 'tp_kfree_skb', 'kfree_skb', prefer, 'skb', {
        dropParams: f.tpParams.kfreeSkb,
      }),
    });
  }
  if (events.has('retransmits')) {
    loss.push({
      role: 'retransmit',
      required: false,
      without: 'retransmissions are not visible',
      options: tracepointOptions(
        'retransmit',
        f.tpParams.retransmitSkb > 0 && f.tpParams.retransmitSynack > 0,
        ['tp_btf_retransmit_skb', 'tp_btf_retransmit_synack'],
        ['tp_retransmit_skb', 'tp_retransmit_synack'],
        'tcp_retransmit_skb,tcp_retransmit_synack',
        prefer,
      ),
    });
  }
  if (events.has('errors')) {
    loss.push({
      role: 'error',
      required: false,
      without: 'the errors applications see (timeouts) are not visible',
      options: tracepointOptions('error', f.tpParams.skError > 0, 'tp_btf_sk_error', 'tp_sk_error', 'inet_sk_error_report', prefer),
    });
  }
  const resets = events.has('resets');
  return [
    ...(resets ? [{ role: 'send' as const, required: true, without: '', options: chosenSends }] : []),
    ...(resets
      ? [
          {
            role: 'receive' as const,
            required: false,
            without: 'received RSTs are not visible',
            options: tracepointOptions('receive', f.tpParams.receiveReset > 0, 'tp_btf_receive_reset', 'tp_receive_reset', 'tcp_receive_reset', prefer),
          },
        ]
      : []),
    {
      role: 'state',
      required: false,
      without: 'socket state changes are not visible: no socket owners for softirq RSTs, no history for the diagnosis',
      options: tracepointOptions('state', f.tpParams.setState > 0, 'tp_btf_set_state', 'tp_set_state', 'inet_sock_set_state', prefer),
    },
    ...loss,
  ];
}

/** The plan made of one option per role. */
export function composePlan(hooks: HookOption[]): Plan {
  const send = hooks.find((h) => h.role === 'send');
  return {
    name: hooks.map((h) => h.name).join(' + '),
    hooks,
    programs: hooks.flatMap((h) => h.programs),
    sendTpHasReason: send?.reasonArg ?? false,
    completeSends: send?.complete ?? false,
    receives: hooks.some((h) => h.role === 'receive'),
    states: hooks.some((h) => h.role === 'state'),
    dropParams: hooks.find((h) => h.role === 'drop' && h.family === 'tp_btf')?.dropParams ?? 0,
    drops: hooks.some((h) => h.role === 'drop'),
    retransmits: hooks.some((h) => h.role === 'retransmit'),
    errors: hooks.some((h) => h.role === 'error'),
  };
}

/** The first choice: the best option of every role. */
export function preferredPlan(roles: RoleOptions[]): Plan {
  return composePlan(roles.flatMap((r) => (r.options[0] ? [r.options[0]] : [])));
}

export function parseHookFamily(v: string): HookFamily {
  if ((HOOK_FAMILIES as readonly string[]).includes(v)) return v as HookFamily;
  throw new UsageError(`--hooks must be one of ${HOOK_FAMILIES.join(', ')}, not ${JSON.stringify(v)}`);
}

/** A hook that could not be used, and why. */
export interface Attempt {
  role: Role;
  hook: string;
  error: string;
  /** what the loader threw */
  cause: unknown;
}

/** What choosing the hooks found. */
export interface HookChoice {
  /** null: no hook for sent RSTs loads, tcpwhy cannot run */
  plan: Plan | null;
  /** hooks that were tried and failed, and why */
  attempts: Attempt[];
  /** optional roles left without a hook, and what that costs */
  missing: Array<{ role: Role; without: string }>;
}

/**
 * Chooses the hooks: the best of every role at once; if the kernel refuses
 * that set, each role's options are tried on their own (load and attach,
 * then unload) and the first that works is kept, so a program the kernel
 * refuses costs its own role, not the others. `tryPlan` returns the error
 * of a plan that does not load or attach; `first` marks the first try, which
 * the caller may keep loaded when it works (the usual case: one load).
 */
export function chooseHooks(roles: RoleOptions[], tryPlan: (p: Plan, first: boolean) => Error | undefined): HookChoice {
  const unfilled = (rs: RoleOptions[]) => rs.filter((r) => !r.required).map((r) => ({ role: r.role, without: r.without }));
  const first = preferredPlan(roles);
  if (!tryPlan(first, true)) return { plan: first, attempts: [], missing: unfilled(roles.filter((r) => !r.options.length)) };
  const attempts: Attempt[] = [];
  const chosen: HookOption[] = [];
  const empty: RoleOptions[] = [];
  for (const r of roles) {
    const ok = r.options.find((o) => {
      const err = tryPlan(composePlan([o]), false);
      if (err) attempts.push({ role: r.role, hook: o.name, error: err.message, cause: err });
      return !err;
    });
    if (ok) chosen.push(ok);
    else if (r.required) return { plan: null, attempts, missing: [] };
    else empty.push(r);
  }
  return { plan: composePlan(chosen), attempts, missing: unfilled(empty) };
}
