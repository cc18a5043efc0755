import type { Cause } from './types.js';
import type { WireFacts } from './wire-facts.js';
import { STACK_DOC, WIRE_BASE_DOC, WIRE_DOC, packetText, passive, stackText, who, wireBase } from './wire-helpers.js';

/** The answered segment's seq, when it is not the one after the client's SYN (else null). */
function outOfSequence(w: WireFacts): { seq: number; expected: number } | null {
  const a = w.answered!;
  if (w.peer.synSeq < 0) return null;
  const expected = (w.peer.synSeq + 1) >>> 0;
  return a.seq === expected ? null : { seq: a.seq, expected };
}

export const handshakeAckRejected: Cause = {
  id: 'handshake-ack-rejected',
  title: 'the handshake’s final segment rejected by a stack that is not Linux',
  group: 'passive',
  map: [],
  happened:
    'The server (or a device answering for it) answered the client’s segment that completed the handshake with an RST. Its packets show it is not Linux (TTL family, options, how the RST is built), so the Linux reasons for this shape (a full accept queue with tcp_abort_on_overflow=1) do not apply.',
  why: 'RFC 9293 3.10.7.4: in SYN-RECEIVED an unacceptable segment (sequence outside the window, or an unacceptable ACK) is answered; strict stacks, load balancers and firewalls answer with a reset instead of an ACK, and some refuse the connection at this step when they have no room or no backend for it.',
  evidence: {},
  recognized: 'not seen live: tcpwhy watches Linux hosts (the Linux shape is accept-queue-overflow-abort).',
  fix: 'Look at the device that sent it (its TTL family says which kind): if the client’s segment was out of sequence, find why the client sent it so (a client closing during the handshake, a middlebox rewriting sequence numbers); otherwise its connection limits and backends.',
  wire: {
    recognized:
      "a passive RST from the server answering the handshake's final ACK, from a sender whose packets are not Linux's (initial TTL 128 or 255, SYN options in another order, a window in a passive RST).",
    alike: ['middlebox-reset'],
    evidence: {
      ...WIRE_BASE_DOC,
      handshake_ack: WIRE_DOC.handshake_ack,
      stack: STACK_DOC,
      seq: "the answered segment's seq, when it is not the one after the client's SYN (null otherwise)",
      expected_seq: "the seq after the client's SYN, what the server expected (null when the segment had it)",
    },
    test: (w) => (w.role === 'server' && passive(w) && !w.stack.mayBeLinux && w.answered !== null && w.answered.frame === w.establishedFrame ? 'medium' : null),
    explain(w) {
      const bad = outOfSequence(w);
      const why = bad
        ? `its seq ${bad.seq} is not the one after the SYN (${bad.expected}): the segment was out of sequence, which this stack answers with a reset rather than an ACK`
        : 'it refused the connection at the last step (no room or no backend for it)';
      return {
        summary: `${who(w)}, not a Linux stack (${w.stack.signs.join('; ')}), answered the handshake's final segment, ${packetText(w.answered!)}, with a reset: ${why}`,
        evidence: {
          ...wireBase(w),
          handshake_ack: w.answered!.frame,
          stack: stackText(w),
          seq: bad ? bad.seq : null,
          expected_seq: bad ? bad.expected : null,
        },
        proof: [w.answered!.frame],
      };
    },
  },
};
