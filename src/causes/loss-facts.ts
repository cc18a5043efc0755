// What the live diagnosis hands the loss rules of the cause registry (drops,
// retransmissions, errors the application saw): the event, and what this host
// saw before on the same connection. Filled in by src/diagnose/loss.ts.
import type { LossEvent } from '../events/loss-event.js';
import type { HostSnapshot } from '../host/types.js';

/** A drop this host saw on a connection, remembered for the connection's story. */
export interface SeenDrop {
  mono_ns: number;
  netns: number;
  reason: string;
  /** the cause the drop was given */
  cause: string;
  /** the rule, route or queue the verdict named, when it named one */
  detail: string | null;
  /** the firewall rule's text, when the verdict quoted one */
  rule: string | null;
  /** whether the dropped segment was a SYN */
  syn: boolean;
}

/** What this host saw of one connection (both ends, in any namespace). */
export interface ConnStory {
  /** the newest drops (a bounded number) */
  drops: readonly SeenDrop[];
  /** every drop seen, also those no longer in `drops` */
  dropped: number;
  /** retransmissions by kind (SYN, SYNACK, RTO, FAST, PROBE) */
  retrans: Readonly<Record<string, number>>;
  first_ns: number;
}

export interface LossFacts {
  e: LossEvent;
  /** the namespace's host context; undefined if it could not be read */
  host: HostSnapshot | undefined;
  /** the connection's story so far (drops and retransmissions seen on this host) */
  story: ConnStory;
}
