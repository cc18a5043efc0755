import { DROP_DOC, dropEvidence, droppedFor, lossWho, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

const WINDOW = new Set([
  'TCP_OVERWINDOW',
  'TCP_INVALID_SEQUENCE',
  'TCP_INVALID_END_SEQUENCE',
  'TCP_INVALID_ACK_SEQUENCE',
  'TCP_OLD_SEQUENCE',
  'TCP_OLD_ACK',
  'TCP_TOO_OLD_ACK',
  'TCP_ACK_UNSENT_DATA',
  'TCP_FLAGS',
  'TCP_INVALID_SYN',
  'TCP_ABORT_ON_DATA',
  'TCP_CLOSE',
  'TCP_FASTOPEN',
  'TCP_MINTTL',
]);
const PAWS = new Set(['TCP_RFC7323_PAWS', 'TCP_RFC7323_PAWS_ACK', 'TCP_RFC7323_TW_PAWS', 'TCP_RFC7323_TSECR']);

export const outOfWindow: Cause = {
  id: 'out-of-window',
  title: 'Segment dropped: outside the window, stale, or refused by PAWS',
  group: 'drop',
  map: [],
  happened:
    "The connection's receiver refused the segment: its sequence or acknowledgment number falls outside what it accepts (too far ahead, acknowledging data never sent, too old), its timestamp is older than the last one seen (PAWS), or its flags do not fit the connection's state. Usually the two ends disagree about the connection (a NAT or load balancer mixing connections, a peer that restarted, an attacker's guess).",
  why: 'tcp_validate_incoming() and tcp_ack() in tcp_input.c check RFC 9293 acceptability (TCP_INVALID_SEQUENCE, TCP_OVERWINDOW, TCP_OLD_ACK, TCP_ACK_UNSENT_DATA ...) and RFC 7323 PAWS (TCP_RFC7323_PAWS); an unacceptable segment draws a duplicate ACK (RFC 5961 challenge ACK) and is dropped.',
  evidence: { ...DROP_DOC, paws: 'the timestamp check refused it', pid: 'process owning the socket', comm: 'its name' },
  recognized:
    'a drop with a sequence, acknowledgment, flags or PAWS reason (TCP_INVALID_*, TCP_OVERWINDOW, TCP_OLD_*, TCP_ACK_UNSENT_DATA, TCP_FLAGS, TCP_RFC7323_*) (high).',
  fix: 'Find who sends segments that do not fit: several clients behind one NAT sharing ports (PAWS with timestamps), a load balancer that moved the connection, a peer that restarted. Compare both ends with tcpwhy analyze on a capture.',
  loss(f) {
    const paws = droppedFor(f, PAWS);
    if (!paws && !droppedFor(f, WINDOW)) return null;
    return {
      confidence: 'high',
      summary: `${segmentText(f)} does not fit the connection${f.e.owner ? ` of ${lossWho(f)}` : ''}: ${paws ? 'its timestamp is older than the last seen (PAWS)' : `the receiver refused it (${f.e.reason})`}`,
      evidence: { ...dropEvidence(f), paws, pid: f.e.owner?.pid ?? null, comm: f.e.owner?.comm ?? null },
    };
  },
};
