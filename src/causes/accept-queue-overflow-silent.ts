import { LISTENER_DOC, base, counter, doRcv, listenerEvidence, passiveSent, sysctl, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, WIRE_DOC, who, wireBase } from './wire-helpers.js';

export const acceptQueueOverflowSilent: Cause = {
  id: 'accept-queue-overflow-silent',
  title: 'accept queue overflowed silently, then the handshake expired',
  group: 'passive',
  map: ['P3a', 'P6'],
  happened:
    "The listener's accept queue was full when the client's handshake completed. With tcp_abort_on_overflow=0 the kernel dropped the final ACK (no RST): the client believed it was connected and sent data that nobody answered. When the half-open request expired, the client's next segment reached the listener as a stray ACK and drew this RST.",
  why: 'tcp_check_req() drops the ACK on overflow (ListenOverflows, ListenDrops) and keeps the request until tcp_synack_retries runs out; then tcp_rcv_state_process() in LISTEN answers any ACK with an RST (reason TCP_FLAGS).',
  evidence: {
    ...LISTENER_DOC,
    abort_on_overflow: 'net.ipv4.tcp_abort_on_overflow (0)',
    listen_overflows: 'TcpExt.ListenOverflows of the namespace',
    synack_retries: 'net.ipv4.tcp_synack_retries',
    local: 'listening endpoint',
    remote: 'client endpoint',
  },
  recognized:
    "a passive RST from a LISTEN socket to a segment with ACK (reason TCP_FLAGS or none), while the listener's accept queue is full and the namespace counted listen overflows.",
  fix: 'The application does not accept() fast enough: find why, raise the backlog and net.core.somaxconn. The client sees a connect() that succeeds, then silence (retransmissions), then ECONNRESET; clients should use timeouts.',
  match(f) {
    const q = f.e.accept_queue;
    if (!passiveSent(f) || f.e.state !== 'LISTEN' || !q || !f.seg?.ack || f.seg.syn) return null;
    if (f.reason && f.reason !== 'TCP_FLAGS') return null;
    const overflows = counter(f, 'TcpExt.ListenOverflows');
    if (q.len <= q.max || !overflows || sysctl(f, 'net.ipv4.tcp_abort_on_overflow') === '1') return null;
    // TCP_FLAGS says no more than the stack does: tcp_v4/v6_do_rcv() resetting because a LISTEN
    // socket's tcp_rcv_state_process() refused an ACK (not a request sock's tcp_check_req())
    return {
      confidence: f.reason || (doRcv(f) && !f.stackHas('tcp_check_req')) ? 'high' : 'medium',
      summary: `the accept queue of ${whoOwns(f)} on :${f.tuple?.lport} is full (${q.len}/${q.max}, ${overflows} listen overflows); the client's handshake was dropped silently and expired, so its next segment got an RST`,
      evidence: {
        ...listenerEvidence(f),
        abort_on_overflow: sysctl(f, 'net.ipv4.tcp_abort_on_overflow'),
        listen_overflows: overflows,
        synack_retries: sysctl(f, 'net.ipv4.tcp_synack_retries'),
        ...base(f),
      },
    };
  },
  wire: {
    recognized:
      "the server sent its SYN-ACK again after the client's final handshake ACK (it dropped that ACK: accept queue full, tcp_abort_on_overflow=0), and later reset the connection; the sender may be Linux.",
    alike: [],
    evidence: { ...WIRE_BASE_DOC, handshake_ack: WIRE_DOC.handshake_ack, synack_resent: 'SYN-ACKs the server sent again after that ACK' },
    test: (w) => (w.stack.mayBeLinux && w.role === 'server' && w.synAckAfterAck > 0 ? 'medium' : null),
    explain: (w) => ({
      summary: `${who(w)} ignored the handshake's final ACK (frame ${w.establishedFrame}) and sent its SYN-ACK again ${w.synAckAfterAck} time(s): its accept queue was full; the client's data went unanswered until this reset`,
      evidence: { ...wireBase(w), handshake_ack: w.establishedFrame, synack_resent: w.synAckAfterAck },
      proof: [w.establishedFrame],
    }),
  },
};
