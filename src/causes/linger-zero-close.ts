import { OWNER_DOC, TUPLE_DOC, activeSent, base, ownerEvidence, tupleText, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';
import type { WireFacts } from './wire-facts.js';
import { STACK_DOC, WIRE_BASE_DOC, active, peerWho, stackText, who, wireBase } from './wire-helpers.js';

/** The shapes that name an abort by the application (null: none). */
function shapeOf(w: WireFacts): 'right-after-handshake' | 'after-peer-fin' | null {
  if (w.role === 'client' && w.handshake === 'established' && w.sender.lastFrame === w.establishedFrame && w.sender.bytes === 0 && w.peer.bytes === 0)
    return 'right-after-handshake';
  if (w.peer.finSeq >= 0 && w.sender.finSeq < 0 && ((w.sender.lastAck - ((w.peer.finSeq + 1) >>> 0)) | 0) >= 0) return 'after-peer-fin';
  return null;
}

export const lingerZeroClose: Cause = {
  id: 'linger-zero-close',
  title: 'close() with SO_LINGER {on, 0}',
  group: 'active',
  map: ['A2'],
  happened:
    'The application set SO_LINGER with l_onoff=1 and l_linger=0, then closed the socket: that asks the kernel to drop the connection at once with an RST instead of the FIN handshake.',
  why: 'A zero linger time is the documented way to abort (RFC 9293 "ABORT"). Kernel path: __tcp_close() -> tcp_disconnect() -> tcp_send_active_reset() (reason TCP_STATE; the kernel counts it as TCPAbortOnData).',
  evidence: { ...OWNER_DOC, linger_seconds: 'the SO_LINGER time (0)', state: 'socket state at the RST', ...TUPLE_DOC },
  recognized:
    'an active RST from a socket with SO_LINGER on and 0 s, with tcp_disconnect called from __tcp_close on the stack (or, without a stack, reason TCP_STATE / none).',
  fix: 'Usually deliberate (load balancers, proxies and test tools do it to skip TIME_WAIT). If the peer must get all data, do not set a zero linger time; to avoid TIME_WAIT build-up, let the client side close first or reuse connections.',
  match(f) {
    if (!activeSent(f) || !f.e.linger?.on || f.e.linger.seconds !== 0 || f.stackHas('inet_csk_listen_stop')) return null;
    if (f.reason && f.reason !== 'TCP_STATE') return null;
    if (f.hasStack && !(f.stackHas('tcp_disconnect') && (f.stackHas('__tcp_close') || f.stackHas('tcp_close')))) return null;
    return {
      confidence: f.hasStack ? 'high' : 'medium',
      summary: `${whoOwns(f)} closed the socket with SO_LINGER {on, 0}: an abort by design (${tupleText(f)})`,
      evidence: { ...ownerEvidence(f), linger_seconds: 0, state: f.e.state, ...base(f) },
    };
  },
  wire: {
    recognized:
      "an active RST explained by nothing above: no unanswered data, probes or FIN (close() with SO_LINGER 0; `ss -K` and connect(AF_UNSPEC) look the same on the wire). Medium when the shape names the abort: a client that resets right after its handshake ACK with no data either way (a port scan or health check), or a side that acknowledged the peer's FIN and reset instead of closing (an abortive close, common from Windows servers).",
    alike: ['socket-destroyed', 'disconnect-abort', 'listener-closed-with-pending'],
    evidence: { ...WIRE_BASE_DOC, shape: 'the shape that names the abort: "right-after-handshake", "after-peer-fin", or null', stack: STACK_DOC },
    test: (w) => (!active(w) ? null : shapeOf(w) ? 'medium' : 'low'),
    explain(w) {
      const shape = shapeOf(w);
      const how = w.stack.mayBeLinux
        ? 'close() with SO_LINGER 0, or the socket was destroyed (ss -K)'
        : `an abortive close by the application (${w.stack.name === 'windows' ? 'closesocket()' : 'close()'} with SO_LINGER 0; sender ${stackText(w)})`;
      const what =
        shape === 'right-after-handshake'
          ? `${who(w)} reset the connection right after completing its handshake, with no data either way: a port scan (nmap -sT) or a health check that opens and aborts`
          : shape === 'after-peer-fin'
            ? `${who(w)} acknowledged the ${peerWho(w)}'s FIN (frame ${w.peer.finFrame}) and reset instead of closing with its own FIN`
            : `${who(w)} aborted the connection with nothing pending on the wire`;
      return {
        summary: `${what}: ${how}`,
        evidence: { ...wireBase(w), shape, stack: stackText(w) },
        proof: shape === 'after-peer-fin' ? [w.peer.finFrame] : shape ? [w.establishedFrame] : [],
      };
    },
  },
};
