import { ACK, SYN, tcpdumpFlags as flagText } from '../net/flags.js';
import { listeningAt } from './live-facts.js';
import { endpoint } from '../net/addr.js';
import { TUPLE_DOC, base, endedHere, listenerNow, ms, passiveSent, segText } from './live-helpers.js';
import type { Cause } from './types.js';
import type { WireFacts } from './wire-facts.js';
import { WIRE_BASE_DOC, WIRE_DOC, answersSyn, ep, packetText, passive, who, wireBase } from './wire-helpers.js';

/** A side whose FIN was acknowledged answers a segment without data as if it had no socket. */
function droppedAfterFin(w: WireFacts): boolean {
  return w.sender.finAcked && w.answered !== null && w.answered.len === 0 && w.answered.frame > w.sender.finFrame;
}

export const connectionForgotten: Cause = {
  id: 'connection-forgotten',
  title: 'this host no longer knows the connection',
  group: 'passive',
  map: ['P1', 'P3a'],
  happened:
    'A segment of an established connection arrived, but this host has no socket for it any more: the connection was closed or reset here (the history says how, when it saw it), or the process or host restarted. A listener answered (or nobody did) with an RST; for the peer the connection is reset.',
  why: 'Without a socket, tcp_v4_rcv() answers non-SYN segments with an RST (NO_SOCKET); if a listener owns the port, tcp_rcv_state_process() in LISTEN rejects the ACK (reason TCP_FLAGS). RFC 9293 3.10.7.1.',
  evidence: {
    ended: 'how and when this host ended the connection (from the history), if seen',
    ended_ago_ms: 'milliseconds since then',
    old_pid: 'process that owned the old connection, if known',
    listener_pid: 'process listening on the port now, if any',
    listener_comm: 'its name',
    segment: 'flags of the triggering segment',
    ...TUPLE_DOC,
  },
  recognized:
    'an RST to a non-SYN segment with no connection socket: NO_SOCKET (high when the history saw the connection end here or the listener restart, medium otherwise), or TCP_FLAGS from a LISTEN socket when the history saw the connection end or the listener restart.',
  fix: 'The peer is talking to a connection this side dropped: find why it was dropped (the history names it; restarts, crashes, SOCK_DESTROY). The peer should reconnect on ECONNRESET. If it happens right after restarts, drain connections before stopping the service.',
  match(f) {
    const t = f.tuple;
    if (!passiveSent(f) || !t || !f.seg || f.seg.syn) return null;
    const viaListener = f.e.state === 'LISTEN' && (!f.reason || f.reason === 'TCP_FLAGS');
    const noSock = !f.e.socket && (!f.reason || f.reason === 'NO_SOCKET');
    if (!viaListener && !noSock) return null;
    const ended = endedHere(f);
    const restartedHere =
      f.listener.episodes.some((ep) => ep.closed_ns !== null && ep.closed_ns < f.e.mono_ns) && listeningAt(f.listener, f.e.mono_ns, f.tuple?.laddr);
    // from a listener without history, a stray ACK has other explanations (expired handshake, bad syncookie)
    if (viaListener && !ended && !restartedHere) return null;
    const l = viaListener ? { pid: f.e.owner?.pid ?? null, comm: f.e.owner?.comm ?? null } : listenerNow(f);
    const restarted = f.listener.episodes.some((ep) => ep.closed_ns !== null && ep.closed_ns < f.e.mono_ns) && listeningAt(f.listener, f.e.mono_ns);
    const oldOwner = [...f.conn.states].reverse().find((x) => x.owner)?.owner ?? null;
    const why = ended
      ? `its socket here ended ${ms(f.e.mono_ns - ended.at)} ms earlier (${ended.how}${ended.pid ? ` by pid ${ended.pid} (${ended.comm})` : ''})`
      : restarted
        ? 'the listener on this port was restarted since'
        : 'this host has no socket for it (closed, reset or restarted before tcpwhy watched)';
    const answered = viaListener
      ? `the listener${l?.pid ? ` (pid ${l.pid} ${l.comm})` : ''} answered with an RST`
      : l
        ? `no socket matched it (a listener, pid ${l.pid ?? '?'}, exists on the port)`
        : 'no listener either';
    return {
      confidence: ended || restarted ? 'high' : 'medium',
      summary: `${endpoint(t.raddr, t.rport)} sent ${segText(f)} on a connection to :${t.lport} that this host no longer knows: ${why}; ${answered}`,
      evidence: {
        ended: ended ? ended.how : null,
        ended_ago_ms: ended ? ms(f.e.mono_ns - ended.at) : null,
        old_pid: oldOwner?.pid ?? null,
        listener_pid: l?.pid ?? null,
        listener_comm: l?.comm ?? null,
        segment: f.e.segment?.flags ?? null,
        ...base(f),
      },
    };
  },
  wire: {
    recognized:
      "a passive RST answering a non-SYN segment from a side that had not closed the connection: it has no socket for it (restarted, reply that missed NAT, lost state); high when the side had reset the connection itself before (a segment that reached it after its own RST, closed or not); low when it had closed, its FIN was acknowledged, and it answers the peer's FIN or ACK so (its state dropped early).",
    // accept-queue-overflow-silent: a handshake the server dropped (accept queue full) and let
    // expire looks like this when the capture shows no SYN-ACK sent again after the client's
    // ACK (seen once in the lab's 6.1 guest under emulation)
    alike: ['stray-ack-to-listener', 'nat-not-applied', 'nat-backend-changed', 'ehash-lookup-race', 'accept-queue-overflow-silent'],
    evidence: { ...WIRE_BASE_DOC, segment: WIRE_DOC.segment, own_reset_frame: "frame of the sender's own earlier RST on the connection, if any" },
    test(w) {
      if (!passive(w) || answersSyn(w)) return null;
      // a side that reset the connection has no socket for it, whether it had closed or not
      if (w.sender.rstFrame > 0) return 'high';
      // closed, its FIN acknowledged, and the peer's FIN or ACK (no data: that is data-after-close) finds no socket
      if (w.sender.finSeq >= 0) return droppedAfterFin(w) ? 'low' : null;
      return w.handshake === 'established' || w.sender.packets > 0 ? 'medium' : 'low';
    },
    explain(w) {
      const a = w.answered;
      const seen = w.handshake === 'established' || w.sender.packets > 0;
      const what = a ? packetText(a) : 'a segment';
      const summary =
        w.sender.rstFrame === 0 && w.sender.finSeq >= 0
          ? `${who(w)} had closed (FIN frame ${w.sender.finFrame}, acknowledged) and answered ${what} as a connection it no longer had: it dropped the connection's state before the peer closed${w.stack.mayBeLinux ? ' (on Linux: TIME_WAIT bucket table full, net.ipv4.tcp_max_tw_buckets and TcpExt.TCPTimeWaitOverflow, or too many orphans)' : ''}`
          : w.role === 'client' && a !== null && (a.flags & (SYN | ACK)) === (SYN | ACK) && w.sender.rstFrame === 0
            ? `${who(w)} answered the SYN-ACK to its SYN (frame ${a.frame}) with a reset: it had no socket for the connection, the SYN came from a raw socket (a SYN scan such as nmap -sS) or the connecting socket was gone (connect() given up)`
            : w.sender.rstFrame > 0
              ? `${who(w)} had reset the connection itself (frame ${w.sender.rstFrame}); ${what} reached it after that reset and was answered with another`
              : seen
                ? `${who(w)} answered ${what} of a connection it never closed with a reset: it no longer knew the connection`
                : `${ep(w.from)} answered ${what} for a connection it has no trace of in the capture with a reset`;
      return {
        summary,
        evidence: { ...wireBase(w), segment: a ? flagText(a.flags) : null, own_reset_frame: w.sender.rstFrame || null },
        proof: [...(a ? [a.frame] : []), ...(w.sender.rstFrame ? [w.sender.rstFrame] : [])],
      };
    },
  },
};
