import { OWNER_DOC, TUPLE_DOC, activeSent, base, closedFrom, noReason, ownerEvidence, tupleText, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, WIRE_DOC, active, secs, who, wireBase } from './wire-helpers.js';

export const finWait2LingerNegative: Cause = {
  id: 'fin-wait2-linger-negative',
  title: 'closed with TCP_LINGER2 < 0',
  group: 'active',
  map: ['A3'],
  happened: "The socket was closed while in FIN_WAIT2 with TCP_LINGER2 set to a negative value, which tells the kernel not to wait for the peer's FIN.",
  why: '__tcp_close() sends an RST for FIN_WAIT2 sockets whose linger2 is negative (reason TCP_ABORT_ON_LINGER, counter TCPAbortOnLinger).',
  evidence: { ...OWNER_DOC, state: 'socket state at the RST', closed_from: 'the state the socket left for CLOSE just before the RST (history)', ...TUPLE_DOC },
  recognized:
    'reason TCP_ABORT_ON_LINGER; without a reason (older kernels): an active RST from __tcp_close (not tcp_disconnect) right after the socket went FIN_WAIT2 -> CLOSE, nothing unread (medium: the orphan or memory limit takes the same path, TcpExt.TCPAbortOnLinger tells them apart).',
  fix: 'Remove the negative TCP_LINGER2 setsockopt if the peer should see a clean close; to bound FIN_WAIT2 time use a positive TCP_LINGER2 or net.ipv4.tcp_fin_timeout.',
  match(f) {
    if (!activeSent(f)) return null;
    const from = closedFrom(f);
    const byR = f.reason === 'TCP_ABORT_ON_LINGER';
    const byHistory =
      noReason(f) && from === 'FIN_WAIT2' && !(f.e.queues?.rcv_unread ?? 0) && (!f.hasStack || (f.stackHas('__tcp_close') && !f.stackHas('tcp_disconnect')));
    if (!byR && !byHistory) return null;
    return {
      confidence: byR ? 'high' : 'medium',
      summary: `${whoOwns(f)} closed a FIN_WAIT2 socket with TCP_LINGER2 < 0 (${tupleText(f)})${byR ? '' : '; without a reason from this kernel, the orphan or memory limit would look the same (TcpExt.TCPAbortOnLinger counts this cause)'}`,
      evidence: { ...ownerEvidence(f), state: f.e.state, closed_from: from, ...base(f) },
    };
  },
  wire: {
    recognized:
      'an active RST from a side whose FIN the peer acknowledged, before the peer closed its side, soon after (close() in FIN_WAIT2 with TCP_LINGER2 < 0), from a sender that may be Linux.',
    alike: ['orphan-fin-wait2-timeout'],
    evidence: { ...WIRE_BASE_DOC, fin_frame: WIRE_DOC.fin_frame },
    test: (w) => (w.stack.mayBeLinux && active(w) && w.sender.finSeq >= 0 && w.sender.finAcked && w.peer.finSeq < 0 ? 'medium' : null),
    explain: (w) => ({
      summary: `${who(w)} had sent its FIN (frame ${w.sender.finFrame}), the peer acknowledged it without closing, and ${secs(w.rst.time - w.sender.finTime)} later the sender reset instead of waiting in FIN_WAIT2`,
      evidence: { ...wireBase(w), fin_frame: w.sender.finFrame },
      proof: [w.sender.finFrame],
    }),
  },
};
