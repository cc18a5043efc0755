import { endpoint } from '../net/addr.js';
import { TUPLE_DOC, base, passiveSent, segText } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, WIRE_DOC, packetText, passive, who, wireBase } from './wire-helpers.js';

export const timeWaitReject: Cause = {
  id: 'time-wait-reject',
  title: 'segment rejected by a TIME_WAIT socket',
  group: 'passive',
  map: ['P2'],
  happened: 'A segment reached a connection in TIME_WAIT that it does not fit: new data, a FIN out of place, or a SYN that cannot reuse the connection.',
  why: 'tcp_timewait_state_process() returns TCP_TW_RST (reason TCP_TIMEWAIT_SOCKET).',
  evidence: { segment: 'flags of the triggering segment', ...TUPLE_DOC },
  recognized: 'reason TCP_TIMEWAIT_SOCKET, or a passive RST from a TIME_WAIT socket.',
  fix: "The peer keeps talking on a connection this host finished: check the peer's close handling, or port reuse by the client (timestamps help the kernel accept a new SYN).",
  match(f) {
    if (!passiveSent(f) || (f.reason !== 'TCP_TIMEWAIT_SOCKET' && f.e.state !== 'TIME_WAIT')) return null;
    return {
      confidence: f.reason ? 'high' : 'medium',
      summary: `${segText(f)} from ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : '?'} hit a connection in TIME_WAIT`,
      evidence: { segment: f.e.segment?.flags ?? null, ...base(f) },
    };
  },
  wire: {
    recognized:
      'a passive RST from the side that closed first, after both FINs were exchanged and acknowledged, answering new data or a FIN (a socket in TIME_WAIT).',
    alike: [],
    evidence: { ...WIRE_BASE_DOC, fin_frame: WIRE_DOC.fin_frame, peer_fin_frame: "frame of the peer's FIN" },
    test(w) {
      if (!passive(w) || w.sender.finSeq < 0 || w.peer.finSeq < 0 || !w.sender.finAcked || !w.peer.finAcked) return null;
      return w.sender.finFrame > w.peer.finFrame ? null : 'medium';
    },
    explain: (w) => ({
      summary: `${who(w)} had closed first and both FINs were acknowledged (TIME_WAIT); it answered ${w.answered ? packetText(w.answered) : 'a later segment'} with a reset`,
      evidence: { ...wireBase(w), fin_frame: w.sender.finFrame, peer_fin_frame: w.peer.finFrame },
      proof: [w.sender.finFrame, w.peer.finFrame, ...(w.answered ? [w.answered.frame] : [])],
    }),
  },
};
