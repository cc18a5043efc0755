// The cause catalogue as JSON (`tcpwhy explain --json`): the text of every
// cause once, so that `tcpwhy analyze --json` can name causes by id.
import { CAUSES, LOSS_CAUSES } from '../causes/index.js';
import type { Cause, EvidenceDocs } from '../causes/types.js';

export interface CauseJson {
  id: string;
  /** reset: an RST's cause; loss: a drop or what the application saw */
  kind: 'reset' | 'loss';
  group: Cause['group'];
  title: string;
  /** rows of the map of the kernel's RSTs (../shared/docs/kernel-rst-map.md) */
  map: string[];
  happened: string;
  why: string;
  fix: string;
  /** how the live rule (`tcpwhy watch`) recognizes it, and the evidence names its verdicts carry */
  live: { recognized: string; evidence: EvidenceDocs };
  /** how a capture (`tcpwhy analyze`) shows it; null: it has no packet pattern of its own */
  capture: { finding: 'reset' | 'loss'; recognized: string; alike: string[]; evidence: EvidenceDocs } | null;
}

export function causeJson(c: Cause): CauseJson {
  const rule = c.wire ?? c.wireLoss;
  return {
    id: c.id,
    kind: LOSS_CAUSES.includes(c) ? 'loss' : 'reset',
    group: c.group,
    title: c.title,
    map: c.map,
    happened: c.happened,
    why: c.why,
    fix: c.fix,
    live: { recognized: c.recognized, evidence: c.evidence },
    capture: rule ? { finding: c.wire ? 'reset' : 'loss', recognized: rule.recognized, alike: rule.alike, evidence: rule.evidence } : null,
  };
}

export const catalogueJson = (): { causes: CauseJson[] } => ({ causes: [...CAUSES, ...LOSS_CAUSES].map(causeJson) });
