import { DROP_DOC, dropEvidence, isDrop, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

export const unclassifiedDrop: Cause = {
  id: 'unclassified-drop',
  title: 'Segment dropped for a reason no rule recognizes',
  group: 'drop',
  map: [],
  happened:
    'The kernel dropped a TCP segment and gave a reason that no entry of this catalogue covers, or none at all (NOT_SPECIFIED; kernels before 5.17 give no reason): the location and stack name the code that dropped it.',
  why: 'kfree_skb_reason() with a reason tcpwhy has no rule for, or kfree_skb() without one.',
  evidence: { ...DROP_DOC },
  recognized: 'any drop that no other entry recognized (the catch-all of drops; low).',
  fix: 'Read the location (and the stack with --stacks) and the kernel source of that function; dropwatch or `perf trace -e skb:kfree_skb` show the same location.',
  loss(f) {
    if (!isDrop(f)) return null;
    return {
      confidence: 'low',
      summary: `${segmentText(f)} was dropped (${f.e.reason}${f.e.location ? ` in ${f.e.location}` : ''})`,
      evidence: dropEvidence(f),
    };
  },
};
