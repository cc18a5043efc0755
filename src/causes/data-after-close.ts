import { endpoint } from '../net/addr.js';
import { OWNER_DOC, TUPLE_DOC, base, doRcv, ms, noReason, ownerEvidence, passiveSent, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';
import type { WireFacts, WirePacket } from './wire-facts.js';
import { WIRE_BASE_DOC, WIRE_DOC, packetText, passive, peerWho, who, wireBase } from './wire-helpers.js';

/**
 * Data the sender never acknowledged, not even by its FIN: it reached the
 * sender after it closed (the capture, nearer the peer, saw it earlier).
 */
function unackedAtFin(w: WireFacts, a: WirePacket): boolean {
  return w.sender.rstFrame === 0 && w.sender.lastAck >= 0 && ((w.sender.lastAck - ((a.seq + a.len) >>> 0)) | 0) < 0;
}

export const dataAfterClose: Cause = {
  id: 'data-after-close',
  title: 'data arrived after the application closed',
  group: 'passive',
  map: ['P3e', 'P3f'],
  happened:
    'The application had closed (or shut down reading) its socket; the peer kept sending data, which nobody would ever read, so the kernel reset the connection.',
  why: 'tcp_rcv_state_process() in FIN_WAIT1/FIN_WAIT2 (or with RCV_SHUTDOWN) resets on new data: RFC 9293 says data for a closed receiver is an error (reason TCP_ABORT_ON_DATA, counter TCPAbortOnData).',
  evidence: {
    closed_by_pid: 'process that closed the socket (from the history)',
    closed_by_comm: 'its name',
    closed_ago_ms: 'how long before the RST the socket was closed',
    data_bytes: 'payload of the segment that drew the RST',
    ...OWNER_DOC,
    ...TUPLE_DOC,
  },
  recognized:
    'reason TCP_ABORT_ON_DATA; without a reason: a passive RST from a socket in FIN_WAIT1/FIN_WAIT2/CLOSE answering a segment with payload (high when tcp_v4_do_rcv/tcp_v6_do_rcv sent it, medium without a stack).',
  fix: "The protocol lets one side close while the other still sends: make the closer read until the peer's FIN (or shutdown(SHUT_WR) first), or make the sender stop when told to.",
  match(f) {
    if (!passiveSent(f)) return null;
    const byR = f.reason === 'TCP_ABORT_ON_DATA';
    const byFacts = noReason(f) && ['FIN_WAIT1', 'FIN_WAIT2', 'CLOSE'].includes(f.e.state ?? '') && (f.seg?.len ?? 0) > 0;
    if (!byR && !byFacts) return null;
    // the application's close (the kernel's own abort sets CLOSE again just before the RST)
    const closed = [...f.conn.states].reverse().find((x) => x.mono_ns <= f.e.mono_ns && (x.new === 'FIN_WAIT1' || x.new === 'LAST_ACK'));
    // without a reason: tcp_v4/v6_do_rcv() resets a closing socket's segment with data only
    // when tcp_rcv_state_process() aborted it for that data (TCPAbortOnData)
    return {
      confidence: byR || doRcv(f) ? 'high' : 'medium',
      summary: `${closed ? `pid ${closed.pid} (${closed.comm}) closed the socket ${ms(f.e.mono_ns - closed.mono_ns)} ms earlier` : `${whoOwns(f)} had closed the socket`}, then ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : 'the peer'} sent ${f.seg?.len ?? '?'} more bytes: the kernel reset the connection`,
      evidence: {
        closed_by_pid: closed?.pid ?? null,
        closed_by_comm: closed?.comm ?? null,
        closed_ago_ms: closed ? ms(f.e.mono_ns - closed.mono_ns) : null,
        data_bytes: f.seg?.len ?? null,
        ...ownerEvidence(f),
        ...base(f),
      },
    };
  },
  wire: {
    recognized:
      'a passive RST from a side that had sent its FIN, answering data the peer sent after that FIN (high), or data sent before it that the side had not acknowledged when it closed: it arrived after the FIN (medium; the capture was taken nearer the peer).',
    alike: [],
    evidence: { ...WIRE_BASE_DOC, fin_frame: WIRE_DOC.fin_frame, data_bytes: 'payload bytes of the segment the RST answers (null when the capture lacks it)' },
    test(w) {
      if (!passive(w) || w.sender.finSeq < 0) return null;
      const a = w.answered;
      if (a && a.len > 0 && a.frame < w.sender.finFrame) return unackedAtFin(w, a) ? 'medium' : null;
      if (a ? a.len === 0 : w.peer.lastDataFrame < w.sender.finFrame) return null;
      return 'high';
    },
    explain: (w) => ({
      summary:
        w.answered && w.answered.frame < w.sender.finFrame
          ? `${who(w)} had closed (FIN, frame ${w.sender.finFrame}) before ${packetText(w.answered)} of the ${peerWho(w)} reached it (its ACKs never covered that data): the data arrived after the close and got a reset`
          : `${who(w)} had closed (FIN, frame ${w.sender.finFrame}); the ${peerWho(w)} kept sending (${w.answered ? packetText(w.answered) : 'data'}) and got a reset`,
      evidence: { ...wireBase(w), fin_frame: w.sender.finFrame, data_bytes: w.answered?.len ?? null },
      proof: [w.sender.finFrame, ...(w.answered ? [w.answered.frame] : [])],
    }),
  },
};
