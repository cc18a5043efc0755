// The shapes the diagnosis works with: a verdict, and the catalogue entries
// that produce verdicts (src/diagnose/catalogue.ts).
import type { RstEvent } from '../events/event.js';
import type { HostSnapshot } from '../host/types.js';
import type { ConnView, ListenerView, SentReset } from './history.js';

export type Confidence = 'high' | 'medium' | 'low';
export type EvidenceValue = string | number | boolean | null;

/** What `cause` holds in an event: the catalogue entry that matched, filled in. */
export interface Verdict {
  id: string;
  title: string;
  confidence: Confidence;
  summary: string;
  evidence: Record<string, EvidenceValue>;
  fix: string;
}

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

/** A rule's answer when it recognizes an event. */
export interface Match {
  confidence: Confidence;
  summary: string;
  evidence: Record<string, EvidenceValue>;
}

export type CauseGroup = 'active' | 'passive' | 'received' | 'netfilter' | 'nat' | 'race' | 'fallback';

/** One catalogue entry: the facts about a cause, and the rule that recognizes it. */
export interface Cause {
  id: string;
  title: string;
  group: CauseGroup;
  /** rows of ../shared/docs/kernel-rst-map.md this entry covers (A1, P3a ...) */
  map: string[];
  /** what happened, for someone who saw the RST */
  happened: string;
  /** why the kernel did it: the kernel path and the RFC */
  why: string;
  /** the evidence fields a verdict carries, by name */
  evidence: Record<string, string>;
  /** how the rule recognizes it, in words (for docs/causes.md) */
  recognized: string;
  fix: string;
  /**
   * The verdict depends on nothing but the SYN-to-no-socket shape key of the
   * engine (namespace, reason, local endpoint, host snapshot, listener
   * history): it may be reused for every event of that shape.
   */
  sameForShape?: boolean;
  /** the rule; null when it does not apply */
  match(f: Facts): Match | null;
}
