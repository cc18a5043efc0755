import { endpoint } from '../net/addr.js';
import { OWNER_DOC, TUPLE_DOC, base, ownerEvidence, received, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';

export const resetByPeer: Cause = {
  id: 'reset-by-peer',
  title: 'connection reset by the peer',
  group: 'received',
  map: ['received'],
  happened:
    'The peer (or something on the path) reset this connection. The local application that owned the socket gets ECONNRESET on its next read or write (EPIPE on a write after that).',
  why: "tcp_validate_incoming() accepted an in-window RST and tcp_reset() ended the socket. The cause lies on the sender's side: when the sender is on this host, tcpwhy names its diagnosis.",
  evidence: {
    ...OWNER_DOC,
    state: 'socket state when the RST arrived',
    unread_bytes: 'bytes this side had not read yet',
    peer_cause: "the cause the peer's side was diagnosed with, when the peer is on this host",
    ...TUPLE_DOC,
  },
  recognized: 'a received RST on a synchronized connection.',
  fix: 'Look at the peer: run tcpwhy there (or read its verdict here when it is local) — the RST is its decision. On this side, handle ECONNRESET (retry idempotent requests on a new connection).',
  match(f) {
    if (!received(f)) return null;
    const peer = f.sentByPeer;
    return {
      confidence: 'high',
      summary: `${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : 'the peer'} reset the connection of ${whoOwns(f)} (state ${f.e.state ?? '?'}; it will see ECONNRESET)${peer ? `; on the peer: ${peer.summary}` : ''}`,
      evidence: { ...ownerEvidence(f), state: f.e.state, unread_bytes: f.e.queues?.rcv_unread ?? null, peer_cause: peer?.cause ?? null, ...base(f) },
    };
  },
};
