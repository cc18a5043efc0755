// What the live diagnosis hands the live rules of the cause registry
// (src/causes/): the facts around one RST.
import type { RstEvent } from '../events/event.js';
import type { HostSnapshot } from '../host/types.js';
import type { ConnView, ListenerView, SentReset } from './history.js';

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
