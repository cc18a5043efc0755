import { DROP_DOC, dropEvidence, droppedFor, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

export const rpFilter: Cause = {
  id: 'rp-filter',
  title: 'Segment dropped by reverse-path filtering',
  group: 'drop',
  map: [],
  happened:
    'The segment arrived on an interface that is not the one this namespace would use to reach its source address, and strict reverse-path filtering (rp_filter=1) dropped it. Typical with asymmetric routing, multiple uplinks, or a source address the routes do not cover.',
  why: 'ip_route_input_slow() -> fib_validate_source() fails the check and the packet is freed with reason IP_RPFILTER (IPReversePathFilter counts it).',
  evidence: { ...DROP_DOC, rp_filter: 'net.ipv4.conf.all.rp_filter of the namespace', counter: 'TcpExt.IPReversePathFilter' },
  recognized: 'a drop with reason IP_RPFILTER (high).',
  fix: 'Fix the routing so that replies leave by the interface the traffic arrives on, or use loose mode: sysctl net.ipv4.conf.<dev>.rp_filter=2 (and .all, which takes the maximum).',
  loss(f) {
    if (!droppedFor(f, new Set(['IP_RPFILTER']))) return null;
    return {
      confidence: 'high',
      summary: `reverse-path filtering dropped ${segmentText(f)}: its source is not routed back through the interface it came in on`,
      evidence: {
        ...dropEvidence(f),
        rp_filter: f.host?.sysctls['net.ipv4.conf.all.rp_filter'] ?? null,
        counter: f.host?.counters['TcpExt.IPReversePathFilter'] ?? null,
      },
    };
  },
};
