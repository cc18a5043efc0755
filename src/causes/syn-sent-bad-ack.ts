import { TUPLE_DOC, base, byReason, noReason, ownerEvidence, passiveSent, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';

export const synSentBadAck: Cause = {
  id: 'syn-sent-bad-ack',
  title: 'bad ACK to a connecting socket',
  group: 'passive',
  map: ['P3b'],
  happened:
    'While this host was connecting (SYN_SENT), a segment acknowledged something it never sent: a stale connection of the peer with the same ports, or a middlebox.',
  why: 'tcp_rcv_synsent_state_process(): an ACK outside (snd_una, snd_nxt] gets an RST (RFC 9293 3.10.7.3; reason TCP_INVALID_ACK_SEQUENCE).',
  evidence: { segment: 'flags of the triggering segment', pid: 'process connecting', comm: 'its name', ...TUPLE_DOC },
  recognized: 'reason TCP_INVALID_ACK_SEQUENCE, or a passive RST from a SYN_SENT socket.',
  fix: 'Usually the peer still has an old connection with these ports (it answers the SYN with an ACK for the old one); the RST clears it and the retry works. If it persists, look for NAT reusing ports.',
  match(f) {
    if (!passiveSent(f) || (f.reason !== 'TCP_INVALID_ACK_SEQUENCE' && !(noReason(f) && f.e.state === 'SYN_SENT'))) return null;
    return {
      confidence: byReason(f),
      summary: `${whoOwns(f)} was connecting and got an ACK for something it never sent`,
      evidence: { segment: f.e.segment?.flags ?? null, ...ownerEvidence(f), ...base(f) },
    };
  },
};
