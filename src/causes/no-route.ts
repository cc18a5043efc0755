import { DROP_DOC, dropEvidence, droppedFor, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

const ROUTE = new Set([
  'IP_NOROUTE',
  'IP_OUTNOROUTES',
  'IP_INNOROUTES',
  'IP_INADDRERRORS',
  'IP_INVALID_DEST',
  'IP_INVALID_SOURCE',
  'IP_LOCAL_SOURCE',
  'IP_LOCALNET',
  'OTHERHOST',
  'IPV6DISABLED',
]);
const NEIGH = new Set(['NEIGH_CREATEFAIL', 'NEIGH_FAILED', 'NEIGH_QUEUEFULL', 'NEIGH_DEAD', 'NEIGH_HH_FILLFAIL']);

export const noRoute: Cause = {
  id: 'no-route',
  title: 'Segment dropped: no route, or the next hop does not answer (neighbour)',
  group: 'drop',
  map: [],
  happened:
    'The namespace could not deliver the segment: no route matches its destination (or source), or the next hop on the link never answered ARP / neighbour discovery, so packets queued for it were dropped.',
  why: 'ip_route_output / ip_route_input fail (IP_NOROUTE, IP_OUTNOROUTES, IP_INNOROUTES, invalid source or destination), or neigh_resolve_output() gives up (NEIGH_FAILED after the probes, NEIGH_QUEUEFULL past unres_qlen).',
  evidence: { ...DROP_DOC, kind: 'route or neighbour' },
  recognized: 'a drop with a routing reason (IP_NOROUTE, IP_OUTNOROUTES, IP_INNOROUTES, IP_INVALID_*, OTHERHOST ...) or a neighbour reason (NEIGH_*) (high).',
  fix: 'Routing: check `ip route get <destination>` in the namespace and add the missing route. Neighbour: check `ip neigh` (FAILED entries), that the next hop is up and on the link, and its ARP / NDP filtering.',
  loss(f) {
    const route = droppedFor(f, ROUTE);
    if (!route && !droppedFor(f, NEIGH)) return null;
    return {
      confidence: 'high',
      summary: route
        ? `${segmentText(f)} was dropped: no usable route (${f.e.reason})`
        : `${segmentText(f)} was dropped: the next hop did not answer neighbour resolution (${f.e.reason})`,
      evidence: { ...dropEvidence(f), kind: route ? 'route' : 'neighbour' },
    };
  },
};
