import { DROP_DOC, dropEvidence, droppedFor, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

const QUEUE = new Set([
  'QDISC_DROP',
  'QDISC_OVERLIMIT',
  'QDISC_CONGESTED',
  'CAKE_FLOOD',
  'FQ_BAND_LIMIT',
  'FQ_HORIZON_LIMIT',
  'FQ_FLOW_LIMIT',
  'DUALPI2_STEP_DROP',
  'CPU_BACKLOG',
  'FULL_RING',
]);

const UNNAMED = new Set(['NOT_SPECIFIED', 'NO_REASON']);

export const qdiscDrop: Cause = {
  id: 'qdisc-drop',
  title: 'Segment dropped by a full queue (qdisc, device or CPU backlog)',
  group: 'drop',
  map: [],
  happened:
    'A queue on the path inside this host was full: the traffic-control queue discipline of an interface (a shaper such as tbf, fq limits, cake), the per-CPU input backlog, or a device ring. The sender retransmits and slows down.',
  why: 'qdisc enqueue functions drop past their limit (QDISC_DROP / QDISC_OVERLIMIT, fq and cake their own reasons); enqueue_to_backlog() drops past net.core.netdev_max_backlog (CPU_BACKLOG).',
  evidence: { ...DROP_DOC },
  recognized:
    "a drop with a queueing reason (QDISC_*, FQ_*, CAKE_FLOOD, CPU_BACKLOG, FULL_RING) (high), or without a reason in a qdisc's enqueue function or the device queue (medium).",
  fix: 'Find the queue: `tc -s qdisc show` (dropped, overlimits) for qdiscs, /proc/net/softnet_stat for the CPU backlog. Raise the limit if bursts are short, or shape earlier; a full shaper means the traffic exceeds the configured rate.',
  loss(f) {
    // a qdisc's own frees without a reason (tbf's segments of a GSO packet; 6.1's qdiscs)
    const unnamed = droppedFor(f, UNNAMED) && /^(\w+_enqueue|\w*qdisc\w*|__dev_xmit_skb|__dev_queue_xmit)\+/.test(f.e.location ?? '');
    if (!droppedFor(f, QUEUE) && !unnamed) return null;
    return {
      confidence: unnamed ? 'medium' : 'high',
      summary: `a full queue dropped ${segmentText(f)} (${f.e.reason})`,
      evidence: dropEvidence(f),
    };
  },
};
