// The loss lab's cases: each loss scenario (loss-scenarios.ts: the situation,
// made real) with what tcpwhy must say of it live: which events, with which
// causes and facts, and the kernel counters that must agree. Kernels differ in
// what they report (6.1 has no TCP_LISTEN_OVERFLOW, no receiving socket in a
// drop, no retransmission that a qdisc dropped): each check asks for what
// every supported kernel shows, and more where the kernel says it.
import type { LossEvent, LossType } from '../events/loss-event.js';
import type { RstEvent } from '../events/event.js';
import type { Family, LossRun, LossScenario } from './loss-scenarios.js';
import { lossScenario } from './loss-scenarios.js';

/** What one run of a loss case gave, as its checks see it. */
export interface LossOutcome {
  family: Family;
  run: LossRun;
  loss: LossEvent[];
  resets: RstEvent[];
}

export interface LossCase {
  name: string;
  scenario: LossScenario;
  /** the cause that explains the case: the first expectation's */
  expectedCause: string;
  /** what must be there; each returns problems (empty: fine) */
  checks: Array<(o: LossOutcome) => string[]>;
}

interface Want {
  type: LossType;
  cause: string;
  /** where: the client's, server's or router's namespace */
  at: 'client' | 'server' | 'router';
  /** evidence (or summary) that must name a fact of the run */
  names?: (o: LossOutcome) => string[];
  /** the errno of an error */
  reason?: string;
  /** at least this many */
  min?: number;
}

function netnsOf(o: LossOutcome, at: Want['at']): number | undefined {
  return at === 'router' ? o.run.router?.netns : o.run[at].netns;
}

const text = (e: LossEvent) => `${e.cause?.summary ?? ''} ${JSON.stringify(e.cause?.evidence ?? {})}`;

/** The events a want asks for must be there, with their cause and the facts named. */
function want(w: Want): (o: LossOutcome) => string[] {
  return (o) => {
    const netns = netnsOf(o, w.at);
    const of = o.loss.filter((e) => e.type === w.type && e.netns === netns && (!w.reason || e.reason === w.reason));
    const hits = of.filter((e) => e.cause?.id === w.cause);
    const seen = [...new Set(of.map((e) => `${e.reason}->${e.cause?.id}`))].join(', ') || 'none';
    if (hits.length < (w.min ?? 1))
      return [`expected ${w.min ?? 1}+ ${w.type}${w.reason ? ` ${w.reason}` : ''} events with cause ${w.cause} in the ${w.at}'s namespace; saw: ${seen}`];
    const problems: string[] = [];
    for (const fact of w.names?.(o) ?? []) {
      if (!hits.some((e) => text(e).includes(fact))) problems.push(`no ${w.cause} verdict names ${JSON.stringify(fact)} (first: ${hits[0]!.cause?.summary})`);
    }
    return problems;
  };
}

/** A kernel counter of the run must be at least `min`, or equal a count of events. */
function counter(at: string, name: string, check: (n: number, o: LossOutcome) => string | null): (o: LossOutcome) => string[] {
  return (o) => {
    const n = o.run.witness[at]?.[name];
    if (n === undefined) return [`the run did not read ${at} ${name}`];
    const p = check(n, o);
    return p ? [`${at} ${name} = ${n}: ${p}`] : [];
  };
}

const atLeast = (min: number) => (n: number) => (n >= min ? null : `expected at least ${min}`);
const rule = (o: LossOutcome) => [String(o.run.facts['rule'])];
const count = (o: LossOutcome, type: LossType, reason: string, netns: number) =>
  o.loss.filter((e) => e.type === type && e.reason === reason && e.netns === netns).length;

function define(name: string, checks: LossCase['checks'], expectedCause: string): LossCase {
  return { name, scenario: lossScenario(name), expectedCause, checks };
}

export const LOSS_CASES: LossCase[] = [
  define(
    'firewall-drop',
    [
      want({ type: 'drop', cause: 'firewall-drop', at: 'server', names: rule }),
      want({ type: 'retransmit', cause: 'firewall-drop', at: 'client', names: rule }),
      want({ type: 'error', reason: 'ETIMEDOUT', cause: 'connect-timeout', at: 'client', names: rule }),
      // every SYN retransmission the kernel counted is an event
      counter('client', 'TCPSynRetrans', (n, o) => {
        const seen = count(o, 'retransmit', 'SYN', o.run.client.netns);
        return n === seen ? null : `${seen} SYN retransmissions seen`;
      }),
    ],
    'firewall-drop',
  ),
  define(
    'firewall-reject',
    [
      want({ type: 'drop', cause: 'firewall-drop', at: 'server', names: rule }),
      (o) => {
        const rst = o.resets.find((e) => e.direction === 'received' && e.netns === o.run.client.netns);
        if (!rst) return ['no received RST in the client namespace'];
        const c = rst.cause;
        if (c?.id !== 'netfilter-reject') return [`the received RST: ${c?.id}, expected netfilter-reject (${c?.summary})`];
        const problems: string[] = [];
        if (c.evidence['netns'] !== o.run.server.netns) problems.push(`netfilter-reject names netns ${String(c.evidence['netns'])}, not the server's`);
        if (!String(c.evidence['rule']).includes(String(o.run.facts['rule']))) problems.push(`netfilter-reject names rule ${String(c.evidence['rule'])}`);
        return problems;
      },
      want({ type: 'error', reason: 'ECONNREFUSED', cause: 'reset-seen-by-app', at: 'client' }),
    ],
    'netfilter-reject',
  ),
  define(
    'accept-queue-full',
    [
      // 6.11+: the overflowed ACK's drop names the listener; every kernel: the SYN-ACK sent again to a full queue
      (o) => {
        const hits = o.loss.filter((e) => e.netns === o.run.server.netns && e.cause?.id === 'accept-queue-full');
        if (!hits.length)
          return [
            `no accept-queue-full verdict in the server namespace; saw ${[...new Set(o.loss.filter((e) => e.netns === o.run.server.netns).map((e) => `${e.type} ${e.reason}->${e.cause?.id}`))].join(', ')}`,
          ];
        return hits.some((e) => e.cause?.evidence['listener_pid'] === o.run.server.pid)
          ? []
          : [`no accept-queue-full verdict names the listener pid ${o.run.server.pid}`];
      },
      counter('server', 'ListenOverflows', atLeast(1)),
      want({ type: 'error', reason: 'ETIMEDOUT', cause: 'connect-timeout', at: 'client' }),
    ],
    'accept-queue-full',
  ),
  define(
    'lossy-link',
    [
      want({ type: 'drop', cause: 'firewall-drop', at: 'server', names: rule }),
      want({ type: 'retransmit', cause: 'firewall-drop', at: 'client' }),
      // TSO: one event per retransmitted skb, the counter counts segments
      counter('client', 'RetransSegs', (n, o) => {
        const seen = o.loss.filter((e) => e.type === 'retransmit' && e.netns === o.run.client.netns).length;
        return seen >= 1 && seen <= n ? null : `${seen} retransmission events`;
      }),
    ],
    'firewall-drop',
  ),
  define(
    'qdisc-overflow',
    [
      want({ type: 'drop', cause: 'qdisc-drop', at: 'client' }),
      want({ type: 'retransmit', cause: 'qdisc-drop', at: 'client' }),
      counter('client', 'QdiscDropped', atLeast(1)),
    ],
    'qdisc-drop',
  ),
  define(
    'zero-window',
    [
      want({ type: 'drop', cause: 'zero-window', at: 'server' }),
      counter('server', 'TCPToZeroWindowAdv', atLeast(1)),
      counter('client', 'TCPWinProbe', atLeast(2)),
    ],
    'zero-window',
  ),
  define(
    'rp-filter',
    [
      want({ type: 'drop', cause: 'rp-filter', at: 'server' }),
      want({ type: 'error', reason: 'ETIMEDOUT', cause: 'connect-timeout', at: 'client', names: () => ['rp-filter'] }),
      counter('server', 'IPReversePathFilter', (n, o) => {
        const seen = count(o, 'drop', 'IP_RPFILTER', o.run.server.netns);
        return n === seen ? null : `${seen} IP_RPFILTER drops seen`;
      }),
    ],
    'rp-filter',
  ),
  define(
    'mtu-black-hole',
    [
      want({ type: 'drop', cause: 'mtu-black-hole', at: 'router' }),
      want({ type: 'drop', cause: 'mtu-black-hole', at: 'client', names: rule }),
      want({ type: 'error', reason: 'ETIMEDOUT', cause: 'retransmission-timeout', at: 'client', names: () => ['mtu-black-hole'] }),
    ],
    'mtu-black-hole',
  ),
];

export function lossCase(name: string): LossCase {
  const c = LOSS_CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no loss case named ${name}`);
  return c;
}
