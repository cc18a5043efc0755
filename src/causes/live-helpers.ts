// Helpers the live rules share (the `match` of a cause module): how they read
// the facts of an event, name its process and endpoints, and the evidence
// several causes carry.
import type { Facts } from '../causes/live-facts.js';
import { listenerAccepts, listeningAt } from './live-facts.js';
import { endpoint } from '../net/addr.js';
import { escapeText } from '../events/text.js';

export const s = (ns: number) => `${(ns / 1e9).toFixed(ns < 1e10 ? 1 : 0)} s`;

/** "pid 4121 (nginx)", or what is known instead. */
export function whoOwns(f: Facts): string {
  const o = f.e.owner;
  return o ? `pid ${o.pid} (${o.comm})` : 'a process tcpwhy did not see open the socket';
}

// Evidence that many entries share: each helper below fills the names its
// *_DOC documents, so an entry spreads both and they cannot drift apart.
export const OWNER_DOC = { pid: 'process that owned the socket', comm: 'its name' };
export const TUPLE_DOC = { local: 'local endpoint', remote: 'remote endpoint' };
export const LISTENER_DOC = {
  listener_pid: 'process owning the listener',
  listener_comm: 'its name',
  queue_len: 'connections waiting for accept() at the RST',
  backlog: 'the accept queue limit (listen() backlog capped by net.core.somaxconn)',
};

export function ownerEvidence(f: Facts) {
  return { pid: f.e.owner?.pid ?? null, comm: f.e.owner?.comm ?? null };
}

export function listenerEvidence(f: Facts) {
  return {
    listener_pid: f.e.owner?.pid ?? null,
    listener_comm: f.e.owner?.comm ?? null,
    queue_len: f.e.accept_queue?.len ?? null,
    backlog: f.e.accept_queue?.max ?? null,
  };
}

export function tupleText(f: Facts): string {
  const t = f.tuple;
  return t ? `${endpoint(t.laddr, t.lport)} <- ${endpoint(t.raddr, t.rport)}` : '-';
}

export function base(f: Facts) {
  return { local: f.tuple ? endpoint(f.tuple.laddr, f.tuple.lport) : null, remote: f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : null };
}

export const activeSent = (f: Facts) => f.e.direction === 'sent' && f.e.kind === 'active';
export const passiveSent = (f: Facts) => f.e.direction === 'sent' && f.e.kind === 'passive';
export const received = (f: Facts) => f.e.direction === 'received';
/** a reason, or none on this kernel: rules then fall back to state and stack */
export const noReason = (f: Facts) => f.reason === null;
export const sysctl = (f: Facts, k: string): string | null => f.host?.sysctls[k] ?? null;
export const counter = (f: Facts, k: string): number | null => f.host?.counters[k] ?? null;
export const ms = (ns: number) => Math.round(ns / 1e6);

export function segText(f: Facts): string {
  const g = f.e.segment;
  return g ? `${g.flags}${g.len ? ` with ${g.len} bytes` : ''}` : 'a segment';
}

/** Evidence strength: the kernel's reason makes a verdict certain; its absence (older kernels) lowers it. */
export const byReason = (f: Facts) => (f.reason ? 'high' : 'medium') as 'high' | 'medium';

/**
 * The kernel found no socket for the segment: its reason says NO_SOCKET, or
 * (kernels without reasons, whose fallback hooks see these RSTs) the RST was
 * sent without a socket from tcp_v4_rcv / tcp_v6_rcv, which do that only when
 * the lookup failed (TIME_WAIT and request sockets are passed to the sender).
 */
/** The RST came from tcp_v4_do_rcv()/tcp_v6_do_rcv(): tcp_rcv_state_process() refused the segment for a full socket. */
export const doRcv = (f: Facts) => f.stackHas('tcp_v4_do_rcv') || f.stackHas('tcp_v6_do_rcv');

export const noSocketPath = (f: Facts) =>
  f.reason === 'NO_SOCKET' || (noReason(f) && !f.e.socket && f.hasStack && (f.stackHas('tcp_v4_rcv') || f.stackHas('tcp_v6_rcv')));

/** Listeners on the event's local port: from the history, else the host snapshot. */
export function listenerNow(f: Facts): { pid: number | null; comm: string | null; from: 'history' | 'host' } | null {
  const t = f.tuple;
  if (!t) return null;
  const ep = listeningAt(f.listener, f.e.mono_ns, t.laddr);
  if (ep) return { pid: ep.owner?.pid ?? null, comm: ep.owner?.comm ?? null, from: 'history' };
  // the history knows this port: it says nobody listens now
  if (f.listener.episodes.length) return null;
  const l = f.host?.listeners.find((x) => x.lport === t.lport && hostListenerAccepts(x.laddr, t.laddr));
  // names from `ss` are untrusted text, like the events' (which the decoder escapes)
  if (l) return { pid: l.processes[0]?.pid ?? null, comm: l.processes[0] ? escapeText(l.processes[0].comm) : null, from: 'host' };
  return null;
}

/** ss's view: `::` is IPv6-only there (a dual-stack socket shows as `*`). */
export function hostListenerAccepts(bound: string, dst: string): boolean {
  return bound === '::' ? dst.includes(':') && !dst.startsWith('::ffff:') : listenerAccepts(bound, dst);
}

/** Listeners on the port that do not accept the segment's address (bound elsewhere), for the verdict's text. */
export function listenersElsewhere(f: Facts): string[] {
  const t = f.tuple;
  if (!t) return [];
  const fromHistory = f.listener.episodes.filter((ep) => ep.closed_ns === null && !listenerAccepts(ep.laddr, t.laddr)).map((ep) => ep.laddr);
  const fromHost = (f.host?.listeners ?? []).filter((l) => l.lport === t.lport && !hostListenerAccepts(l.laddr, t.laddr)).map((l) => l.laddr);
  return [...new Set([...fromHistory, ...fromHost])].map((a) => endpoint(a, t.lport));
}

/** Whether the host snapshot could read what a rule relies on. */
export function hostRead(f: Facts, section: RegExp): boolean {
  return f.host !== undefined && !f.host.errors.some((e) => section.test(e));
}

/** NAT rules whose match covers the local port of the event (before translation). */
export function natRulesFor(f: Facts, port: number) {
  return (f.host?.rules ?? [])
    .filter(
      (r) => (r.action === 'redirect' || r.action === 'dnat') && (!r.proto || r.proto === 'tcp') && (!r.dport || (port >= r.dport[0] && port <= r.dport[1])),
    )
    .map(safeRule);
}

/** A rule with its text made safe to print (rule comments are anyone's text). */
export function safeRule<R extends { text: string }>(r: R): R {
  return { ...r, text: escapeText(r.text) };
}

/**
 * The state the socket left for CLOSE just before this RST, when the history
 * saw that change (the kernel sets TCP_CLOSE, then sends the RST, in the same
 * call): kernels without reasons leave it the only sign of the path taken.
 */
export function closedFrom(f: Facts): string | null {
  const st = f.conn.states;
  for (let i = st.length - 1; i >= 0; i--) {
    const x = st[i]!;
    if (x.mono_ns > f.e.mono_ns) continue;
    return x.new === 'CLOSE' && f.e.mono_ns - x.mono_ns < 1e9 ? x.old : null;
  }
  return null;
}

/** The connection's last socket on this host, and how it ended, if the history saw it end. */
export function endedHere(f: Facts): { at: number; how: string; pid: number; comm: string } | null {
  const st = f.conn.states;
  for (let i = st.length - 1; i >= 0; i--) {
    const x = st[i]!;
    if (x.mono_ns > f.e.mono_ns) continue;
    if (x.new === 'CLOSE' || x.new === 'TIME_WAIT') {
      return { at: x.mono_ns, how: `${x.old} -> ${x.new}`, pid: x.pid, comm: x.comm };
    }
  }
  for (let i = f.conn.resets.length - 1; i >= 0; i--) {
    const r = f.conn.resets[i]!;
    if (r.mono_ns < f.e.mono_ns && r.direction === 'sent' && r.kind === 'active') {
      return { at: r.mono_ns, how: `reset by this host (${r.cause ?? 'unknown cause'})`, pid: 0, comm: '' };
    }
  }
  return null;
}
