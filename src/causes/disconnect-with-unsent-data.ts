import { OWNER_DOC, TUPLE_DOC, activeSent, base, ownerEvidence, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';

export const disconnectWithUnsentData: Cause = {
  id: 'disconnect-with-unsent-data',
  title: 'disconnected with data not yet sent',
  group: 'active',
  map: ['A6'],
  happened: 'The socket was disconnected in CLOSING or LAST_ACK while written data had not been sent.',
  why: 'tcp_disconnect() resets instead of losing the data silently (reason TCP_DISCONNECT_WITH_DATA).',
  evidence: { ...OWNER_DOC, unsent_bytes: 'bytes written but not sent', ...TUPLE_DOC },
  recognized: 'reason TCP_DISCONNECT_WITH_DATA.',
  fix: 'Let writes drain before disconnecting (wait for the socket to become writable / SIOCOUTQ to reach 0).',
  match(f) {
    if (!activeSent(f) || f.reason !== 'TCP_DISCONNECT_WITH_DATA') return null;
    return {
      confidence: 'high',
      summary: `${whoOwns(f)} disconnected with ${f.e.queues?.snd_unsent ?? '?'} bytes not yet sent`,
      evidence: { ...ownerEvidence(f), unsent_bytes: f.e.queues?.snd_unsent ?? null, ...base(f) },
    };
  },
};
