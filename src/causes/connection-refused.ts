import { endpoint } from '../net/addr.js';
import { TUPLE_DOC, base, ownerEvidence, received, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';

export const connectionRefused: Cause = {
  id: 'connection-refused',
  title: 'connection refused by the peer',
  group: 'received',
  map: ['received'],
  happened:
    'This host tried to connect and the peer answered the SYN with an RST: nothing listens there (or a firewall rejects). The application gets ECONNREFUSED.',
  why: 'tcp_rcv_synsent_state_process() accepts an RST that acknowledges the SYN and reports ECONNREFUSED (tcp_reset()).',
  evidence: {
    pid: 'process that was connecting',
    comm: 'its name',
    peer_cause: "the cause the peer's side was diagnosed with, when the peer is on this host",
    ...TUPLE_DOC,
  },
  recognized: 'a received RST on a socket in SYN_SENT.',
  fix: 'Check that the service runs and listens on the address and port the client uses (ss -tlnp there), and firewalls on the way.',
  match(f) {
    if (!received(f) || f.e.state !== 'SYN_SENT') return null;
    const peer = f.sentByPeer;
    return {
      confidence: 'high',
      summary: `${whoOwns(f)} was refused by ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : 'the peer'} (ECONNREFUSED)${peer ? `; on the peer: ${peer.summary}` : ''}`,
      evidence: { ...ownerEvidence(f), peer_cause: peer?.cause ?? null, ...base(f) },
    };
  },
};
