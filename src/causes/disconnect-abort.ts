import { OWNER_DOC, TUPLE_DOC, activeSent, base, ownerEvidence, tupleText, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';

export const disconnectAbort: Cause = {
  id: 'disconnect-abort',
  title: 'connection disconnected by the application',
  group: 'active',
  map: ['A5'],
  happened: 'The application disconnected a live connection without closing the socket, typically connect() with AF_UNSPEC; the kernel aborts it with an RST.',
  why: 'tcp_disconnect() sends an RST when the old state was ESTABLISHED, CLOSE_WAIT, FIN_WAIT1/2 or SYN_RECV (reason TCP_STATE).',
  evidence: { ...OWNER_DOC, ...TUPLE_DOC },
  recognized: 'an active RST with tcp_disconnect on the stack and neither __tcp_close nor inet_csk_listen_stop.',
  fix: 'Check why the application disconnects (connect(AF_UNSPEC) to reuse a socket); close() normally if the peer should see a FIN.',
  match(f) {
    if (!activeSent(f) || !f.stackHas('tcp_disconnect') || f.stackHas('__tcp_close') || f.stackHas('inet_csk_listen_stop')) return null;
    return {
      confidence: 'high',
      summary: `${whoOwns(f)} disconnected the connection (connect(AF_UNSPEC) or similar) (${tupleText(f)})`,
      evidence: { ...ownerEvidence(f), ...base(f) },
    };
  },
};
