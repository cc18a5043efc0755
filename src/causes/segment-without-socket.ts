import { DROP_DOC, dropEvidence, droppedFor, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

const NO_SOCKET = new Set(['NO_SOCKET', 'SOCKET_CLOSE', 'QUEUE_PURGE']);

export const segmentWithoutSocket: Cause = {
  id: 'segment-without-socket',
  title: 'Segment dropped: no socket to take it (an RST to a closed connection, or data of a closed socket)',
  group: 'drop',
  map: [],
  happened:
    'A segment arrived for a connection this namespace no longer has, and the kernel could not answer it with a reset (a reset never answers a reset); or a socket closed with segments still queued. (A segment to no socket that is answered with an RST is reported as that RST, not as a drop.)',
  why: 'tcp_v4_rcv() / tcp_v6_rcv() find no socket and, for an RST, drop it silently (NO_SOCKET); closing a socket purges its queues (SOCKET_CLOSE, QUEUE_PURGE on newer kernels).',
  evidence: { ...DROP_DOC },
  recognized: 'a drop with reason NO_SOCKET of an RST or of an ICMP error, or SOCKET_CLOSE / QUEUE_PURGE (high).',
  fix: 'Usually benign: the peer reset a connection this side had already closed. Many of them: look for connections closed on one side only (idle timeouts that differ between client, proxies and server).',
  loss(f) {
    if (!droppedFor(f, NO_SOCKET)) return null;
    return { confidence: 'high', summary: `${segmentText(f)} found no socket (${f.e.reason})`, evidence: dropEvidence(f) };
  },
};
