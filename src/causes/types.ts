// The shape of a cause module (src/causes/<id>.ts): what docs/causes.md and
// `tcpwhy explain` say about the cause, and the rules that recognize it live
// (on the host's facts) and in a capture (on the packets).
import type { WireFacts } from './wire-facts.js';
import type { Facts } from '../causes/live-facts.js';
import type { LossFacts } from './loss-facts.js';
import type { WireLossFacts } from './wire-loss-facts.js';
import type { Confidence, EvidenceValue } from '../events/verdict.js';

export type CauseGroup = 'active' | 'passive' | 'received' | 'netfilter' | 'nat' | 'race' | 'fallback' | 'drop' | 'outcome';

/** Evidence names and what each means: the keys a verdict's `evidence` may hold. */
export type EvidenceDocs = Record<string, string>;

/** A live rule's answer when it recognizes an event. */
export interface Match {
  confidence: Confidence;
  summary: string;
  evidence: Record<string, EvidenceValue>;
}

/** A wire rule's words for a reset it recognized. */
export interface WireExplanation {
  summary: string;
  evidence: Record<string, EvidenceValue>;
  /** frames that show it (besides the RST) */
  proof: number[];
}

/**
 * How `tcpwhy analyze` recognizes the cause in a capture. `test` is cheap and
 * gives the confidence; `explain` builds the words and is only called for
 * resets that are reported (a capture may hold millions).
 */
export interface WireRule {
  /** how the rule recognizes the cause in a capture, for docs/causes.md */
  recognized: string;
  /** causes that look the same on the wire: the capture cannot rule them out */
  alike: string[];
  /** the evidence names its verdicts carry */
  evidence: EvidenceDocs;
  /** the confidence when the rule recognizes the reset, else null */
  test(w: WireFacts): Confidence | null;
  explain(w: WireFacts): WireExplanation;
}

/**
 * How `tcpwhy analyze` names a loss cause (groups 'drop' and 'outcome') in a
 * capture: a loss finding, not a reset. It is asked about each side of every
 * finished connection that shows a sign of loss, and about each ICMP error
 * whose flow the capture lacks; every rule that recognizes one gives its own
 * finding. `explain` is only called for findings that are reported.
 */
export interface WireLossRule {
  /** how the rule recognizes the cause in a capture, for docs/causes.md */
  recognized: string;
  /** causes that look the same on the wire: the capture cannot rule them out */
  alike: string[];
  /** the evidence names its findings carry */
  evidence: EvidenceDocs;
  /** the confidence when the rule recognizes the cause on this side of the flow, else null */
  test(l: WireLossFacts): Confidence | null;
  explain(l: WireLossFacts): WireExplanation;
}

/** One cause: its facts, and the rules that recognize it. */
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
  /** the evidence names a live verdict carries */
  evidence: EvidenceDocs;
  /** how the live rule recognizes it, in words, or why it cannot (for docs/causes.md) */
  recognized: string;
  fix: string;
  /**
   * The verdict depends on nothing but the SYN-to-no-socket shape key of
   * src/diagnose/flood.ts (namespace, reason, local endpoint, host snapshot,
   * listener history): it may be reused for every event of that shape.
   */
  sameForShape?: boolean;
  /** the live rule (`tcpwhy watch`); null when it does not apply. Absent: live events cannot show the cause */
  match?(f: Facts): Match | null;
  /** the wire rule (`tcpwhy analyze`); absent: the cause has no packet pattern of its own */
  wire?: WireRule;
  /** the wire rule for a loss finding (`tcpwhy analyze`), for causes of groups 'drop' and 'outcome' */
  wireLoss?: WireLossRule;
  /**
   * The live rule for a drop, a retransmission or an error the application
   * saw (causes of groups 'drop' and 'outcome': LOSS_CAUSES in index.ts);
   * null when it does not apply.
   */
  loss?(f: LossFacts): Match | null;
}
