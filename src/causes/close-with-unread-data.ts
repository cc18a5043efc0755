import { OWNER_DOC, TUPLE_DOC, activeSent, base, noReason, ownerEvidence, tupleText, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, active, peerWho, who, wireBase } from './wire-helpers.js';

export const closeWithUnreadData: Cause = {
  id: 'close-with-unread-data',
  title: 'closed with unread data',
  group: 'active',
  map: ['A1'],
  happened:
    'The application closed its socket while received data was still waiting to be read. The kernel does not pretend the data was delivered: it aborts the connection with an RST instead of a FIN.',
  why: 'RFC 2525 section 2.17 and RFC 9293 ask a host that closes with unread data to send an RST, so the peer learns the data was lost. Kernel path: __tcp_close() counts the unread bytes, sets TCP_CLOSE and calls tcp_send_active_reset() (reason TCP_ABORT_ON_CLOSE on 6.12+, counter TCPAbortOnClose).',
  evidence: { ...OWNER_DOC, unread_bytes: 'bytes received and never read', state: 'socket state at the RST', ...TUPLE_DOC },
  recognized:
    'reason TCP_ABORT_ON_CLOSE; without a reason (older kernels): an active RST with unread bytes in the receive queue and __tcp_close on the stack, which checks unread data before any other way it resets (high; medium without a stack).',
  fix: 'Read (or drain) what the peer sent before close(), or make the protocol say when the peer may stop sending (e.g. wait for its FIN, use shutdown(SHUT_WR) then read to EOF). If the early close is intended, the RST is harmless but the peer sees ECONNRESET.',
  match(f) {
    if (!activeSent(f)) return null;
    if (f.stackHas('inet_csk_listen_stop')) return null; // a child the listener never handed out
    const unread = f.e.queues?.rcv_unread ?? null;
    const byR = f.reason === 'TCP_ABORT_ON_CLOSE';
    const byFacts =
      noReason(f) &&
      (unread ?? 0) > 0 &&
      (!f.hasStack || f.stackHas('__tcp_close')) &&
      !(f.e.linger?.on && f.e.linger.seconds === 0 && f.stackHas('tcp_disconnect'));
    if (!byR && !byFacts) return null;
    // __tcp_close() checks unread data before every other way it resets: with it on the stack, certain
    return {
      confidence: byR || f.stackHas('__tcp_close') ? 'high' : 'medium',
      summary: `${whoOwns(f)} closed the socket with ${unread ?? 'unread'} bytes unread, so the kernel reset the connection (${tupleText(f)})`,
      evidence: { ...ownerEvidence(f), unread_bytes: unread, state: f.e.state, ...base(f) },
    };
  },
  wire: {
    recognized:
      'an active RST from a side that received data after its own last data (the data it had not answered, very likely unread when the application closed).',
    alike: ['linger-zero-close', 'socket-destroyed', 'listener-closed-with-pending'],
    evidence: {
      ...WIRE_BASE_DOC,
      peer_data_frame: "frame of the peer's last data segment, which the sender never answered",
      peer_bytes: 'payload bytes the peer sent on the connection in the capture',
    },
    test: (w) => (active(w) && w.peer.lastDataFrame > 0 && w.peer.lastDataFrame >= w.sender.lastDataFrame ? 'medium' : null),
    explain(w) {
      const unacked = w.peer.nextSeq !== w.sender.lastAck;
      return {
        summary: `${who(w)} reset the connection after the ${peerWho(w)} sent it data it never answered (frame ${w.peer.lastDataFrame}${unacked ? ', not even acknowledged' : ''}): closed with unread data`,
        evidence: { ...wireBase(w), peer_data_frame: w.peer.lastDataFrame, peer_bytes: w.peer.bytes },
        proof: [w.peer.lastDataFrame],
      };
    },
  },
};
