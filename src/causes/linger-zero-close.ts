import { OWNER_DOC, TUPLE_DOC, activeSent, base, ownerEvidence, tupleText, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, active, who, wireBase } from './wire-helpers.js';

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
      'an active RST explained by nothing above: no unanswered data, probes or FIN (close() with SO_LINGER 0; `ss -K` and connect(AF_UNSPEC) look the same on the wire).',
    alike: ['socket-destroyed', 'disconnect-abort', 'listener-closed-with-pending'],
    evidence: WIRE_BASE_DOC,
    test: (w) => (active(w) ? 'low' : null),
    explain: (w) => ({
      summary: `${who(w)} aborted the connection with nothing pending on the wire: close() with SO_LINGER 0, or the socket was destroyed (ss -K)`,
      evidence: wireBase(w),
      proof: [],
    }),
  },
};
