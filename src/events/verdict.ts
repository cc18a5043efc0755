// What a diagnosis hands out, live (`watch`) and from a capture (`analyze`).
// A leaf module: events, diagnose and capture all name these types, and it
// imports nothing so that none of them depends on another through it.

export type Confidence = 'high' | 'medium' | 'low';
export type EvidenceValue = string | number | boolean | null;

/** A cause of the registry, filled in for one RST: an event's `cause`, a capture report's `cause`. */
export interface Verdict {
  id: string;
  title: string;
  confidence: Confidence;
  summary: string;
  evidence: Record<string, EvidenceValue>;
  fix: string;
  /** causes the capture cannot tell from this one (capture verdicts only: the live host sees more) */
  alternatives?: string[];
}
