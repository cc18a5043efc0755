// What the live diagnosis (src/diagnose/) hands the live rules of the cause
// registry: the facts around one RST, the views of this host's history they
// read, and the questions rules ask of those views. Here, not in diagnose/,
// so that the rules depend on these shapes and the engine implements them:
// the registry never imports the engine that reads it.
import type { RstEvent } from '../events/event.js';
import type { HostSnapshot } from '../host/types.js';
import type { SeenDrop } from './loss-facts.js';

/** Everything a rule may look at for one RST. */
export interface Facts {
  e: RstEvent;
  /** the kernel's reason, null when it gave none (or only NOT_SPECIFIED) */
  reason: string | null;
  /** whether the kernel stack is known and contains this function */
  stackHas(fn: string): boolean;
  hasStack: boolean;
  /** this connection's history on this host (state changes, earlier RSTs) */
  conn: ConnView;
  /** history of another tuple in the event's namespace (e.g. the NAT-translated one) */
  historyOf(t: { laddr: string; lport: number; raddr: string; rport: number }): ConnView;
  /** for received RSTs: the RST another namespace of this host sent on this connection */
  sentByPeer: SentReset | null;
  /** for received RSTs: an RST this namespace sent on the same connection at the same moment */
  sentHere: SentReset | null;
  /**
   * for received RSTs: the connection's segment another namespace of this
   * host dropped just before (a firewall's REJECT drops the segment and
   * sends the RST in its place), with the drop's verdict
   */
  droppedByPeer: SeenDrop | null;
  /** what happened to listeners on the local port of the event */
  listener: ListenerView;
  /** the namespace's host context (listeners, rules, sysctls, counters); undefined if it could not be read */
  host: HostSnapshot | undefined;
  kernel: KernelFacts;
  /** the tuple the RST is about, seen from this host (the packet's, else the socket's) */
  tuple: { laddr: string; lport: number; raddr: string; rport: number } | null;
  /** segment flags of a passive RST's trigger */
  seg: { syn: boolean; ack: boolean; fin: boolean; rst: boolean; len: number } | null;
}

export interface KernelFacts {
  /** running kernel release, e.g. [6, 18] */
  version: [number, number];
}

export interface StateRecord {
  mono_ns: number;
  old: string;
  new: string;
  pid: number;
  comm: string;
  owner: { pid: number; comm: string } | null;
}

export interface ResetRecord {
  mono_ns: number;
  direction: 'sent' | 'received';
  kind: 'active' | 'passive' | null;
  cause: string | null;
}

export interface ConnView {
  /** state changes of this connection's sockets on this host, oldest first */
  states: readonly StateRecord[];
  /** RSTs on this connection, oldest first */
  resets: readonly ResetRecord[];
}

export interface ListenEpisode {
  laddr: string;
  /** monotonic ns of listen(), null if it was listening before the history started */
  opened_ns: number | null;
  closed_ns: number | null;
  /** the process that called listen() */
  owner: { pid: number; comm: string } | null;
  /** the task that closed it (the exiting process, for a process that died) */
  closer: { pid: number; comm: string } | null;
}

export interface ListenerView {
  /** listen() ... close() episodes on this port, oldest first */
  episodes: readonly ListenEpisode[];
}

/** A sent RST remembered so that its reception elsewhere on this host can name it. */
export interface SentReset {
  netns: number;
  mono_ns: number;
  cause: string;
  summary: string;
}

/** IPv4-mapped IPv6 addresses name the same IPv4 endpoint. */
export function plainAddr(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/**
 * Whether a listener bound to `bound` accepts segments for `dst`: the same
 * address, or the wildcard of its family (`::` taken as dual-stack, as Linux
 * binds it by default; `*` is ss's dual-stack wildcard).
 */
export function listenerAccepts(bound: string, dst: string | undefined): boolean {
  if (dst === undefined) return true;
  const b = plainAddr(bound);
  const d = plainAddr(dst);
  if (b === d || b === '*') return true;
  const v4 = !d.includes(':');
  if (b === '0.0.0.0') return v4;
  return b === '::';
}

/** The listener episode covering a moment, if any (on an address that accepts `dst`, when given). */
export function listeningAt(v: ListenerView, atNs: number, dst?: string): ListenEpisode | null {
  for (let i = v.episodes.length - 1; i >= 0; i--) {
    const ep = v.episodes[i]!;
    if (!listenerAccepts(ep.laddr, dst)) continue;
    const opened = ep.opened_ns === null || ep.opened_ns <= atNs;
    const notClosed = ep.closed_ns === null || ep.closed_ns > atNs;
    if (opened && notClosed) return ep;
  }
  return null;
}

/** The newest listener episode that ended before a moment (on an address that accepts `dst`, when given). */
export function closedBefore(v: ListenerView, atNs: number, dst?: string): ListenEpisode | null {
  for (let i = v.episodes.length - 1; i >= 0; i--) {
    const ep = v.episodes[i]!;
    if (!listenerAccepts(ep.laddr, dst)) continue;
    if (ep.closed_ns !== null && ep.closed_ns <= atNs) return ep;
  }
  return null;
}
