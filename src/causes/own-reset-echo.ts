import { OWNER_DOC, ownerEvidence, received } from './live-helpers.js';
import type { Cause } from './types.js';

export const ownResetEcho: Cause = {
  id: 'own-reset-echo',
  title: "this host's own reset, reported on its socket",
  group: 'received',
  map: ['received', 'P3e'],
  happened:
    'No RST arrived: this host reset the connection itself (it sent an RST in the same instant) and its TCP stack also ended its own socket through tcp_reset(), which fires the receive-reset tracepoint. See the sent RST for the cause.',
  why: 'Some abort paths (data after close in FIN_WAIT1/FIN_WAIT2) call tcp_reset() on the local socket and then send an RST to the peer; tcp:tcp_receive_reset fires for the first.',
  evidence: { sent_cause: 'the cause of the RST this host sent', ...OWNER_DOC, state: 'socket state' },
  recognized: 'a received-RST event on a socket for whose connection the same namespace sent an RST within 1 ms.',
  fix: "Nothing to fix here: follow the sent RST's verdict.",
  match(f) {
    if (!received(f) || !f.sentHere) return null;
    return {
      confidence: 'high',
      summary: `not an RST from the peer: this host reset the connection itself (${f.sentHere.cause}) and its stack reported it on the socket`,
      evidence: { sent_cause: f.sentHere.cause, ...ownerEvidence(f), state: f.e.state },
    };
  },
};
