// The lines of `tcpwhy analyze --json` that carry a verdict. A verdict names
// its cause by id with what is particular to this RST (confidence, summary,
// evidence, what it cannot rule out); the cause's title, description and fix
// are the catalogue's, given once by `tcpwhy explain --json` (a flood would
// repeat them on every line).
import type { CaptureVerdict, LossReport, ResetReport, StormFinding, UnansweredFinding } from '../capture/analyze.js';

export interface CauseRef {
  id: string;
  confidence: CaptureVerdict['confidence'];
  summary: string;
  evidence: CaptureVerdict['evidence'];
  alternatives: string[];
}

export const causeRef = (v: CaptureVerdict): CauseRef => ({
  id: v.id,
  confidence: v.confidence,
  summary: v.summary,
  evidence: v.evidence,
  alternatives: v.alternatives,
});

export const resetLine = (r: ResetReport): string => JSON.stringify({ type: 'reset', ...r, cause: causeRef(r.cause) });

export const lossLine = (l: LossReport): string => JSON.stringify({ type: 'loss', ...l, cause: causeRef(l.cause) });

export function stormLine(f: StormFinding): string {
  const { first, ...rest } = f;
  const { cause, ...firstRst } = first;
  return JSON.stringify({ type: 'storm', ...rest, cause: causeRef(cause), first: firstRst });
}

export const unansweredLine = (f: UnansweredFinding): string => JSON.stringify({ type: 'unanswered', ...f });
