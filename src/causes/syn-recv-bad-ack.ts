import { TUPLE_DOC, base, passiveSent } from './live-helpers.js';
import type { Cause } from './types.js';

export const synRecvBadAck: Cause = {
  id: 'syn-recv-bad-ack',
  title: 'unacceptable ACK during the handshake',
  group: 'passive',
  map: ['P3d'],
  happened: 'In SYN_RECV (Fast Open child or simultaneous open) a segment acknowledged data that is too old or was never sent.',
  why: 'tcp_rcv_state_process()/tcp_ack() reject the ACK (reasons TCP_OLD_ACK, TCP_TOO_OLD_ACK, TCP_ACK_UNSENT_DATA).',
  evidence: { reason: 'the kernel reason', ...TUPLE_DOC },
  recognized: 'reason TCP_OLD_ACK, TCP_TOO_OLD_ACK or TCP_ACK_UNSENT_DATA.',
  fix: 'A confused peer or middlebox; capture the handshake (tcpdump) to see which side is wrong.',
  match(f) {
    if (!passiveSent(f) || !['TCP_OLD_ACK', 'TCP_TOO_OLD_ACK', 'TCP_ACK_UNSENT_DATA'].includes(f.reason ?? '')) return null;
    return {
      confidence: 'high',
      summary: `the peer acknowledged data that is too old or was never sent (${f.reason})`,
      evidence: { reason: f.reason, ...base(f) },
    };
  },
};
