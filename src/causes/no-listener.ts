import { endpoint } from '../net/addr.js';
import { hostRead, listenerNow, listenersElsewhere, noSocketPath, passiveSent } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, answersSyn, ep, passive, wireBase } from './wire-helpers.js';

export const noListener: Cause = {
  id: 'no-listener',
  title: 'nothing listens on the port',
  group: 'passive',
  map: ['P1'],
  happened:
    'A client tried to connect to a port where no process listens (and none did while tcpwhy watched). The kernel refuses the connection with an RST; the client sees ECONNREFUSED.',
  why: 'tcp_v4_rcv()/tcp_v6_rcv() find no socket for the SYN and answer per RFC 9293 3.10.7.1 (reason NO_SOCKET): seq 0, ACK of the SYN.',
  evidence: {
    port: 'the port asked for',
    listeners_checked: 'where the absence of a listener comes from (history, host listeners)',
    bound_elsewhere: 'listeners on this port bound to another address (e.g. 127.0.0.1 only), if any',
  },
  recognized:
    "an RST with no socket (NO_SOCKET, or none given by older kernels) to a SYN, with no listener on the port in the history nor in the namespace's listening sockets (high when the host listeners were read and the kernel said NO_SOCKET or, without reasons, sent it without a socket from tcp_v4_rcv/tcp_v6_rcv).",
  fix: 'Start the service, or point the client at the right host and port; check that the service listens on this address (ss -tlnp) and in this network namespace. A client probing ports (scanner, health check on a wrong port) shows many of these.',
  sameForShape: true,
  match(f) {
    const t = f.tuple;
    if (!passiveSent(f) || f.e.socket || !t || (f.reason && f.reason !== 'NO_SOCKET')) return null;
    if (f.seg && !f.seg.syn) return null;
    if (listenerNow(f)) return null;
    const known = hostRead(f, /^ss|listen/i);
    const elsewhere = listenersElsewhere(f);
    // the same for every SYN to this port (the diagnosis reuses it in floods): the event has the client's address
    return {
      confidence: noSocketPath(f) && known ? 'high' : 'medium',
      summary: `nothing listens on ${endpoint(t.laddr, t.lport)} in this namespace${elsewhere.length ? ` (a listener on ${elsewhere.join(', ')} does not accept this address)` : ''}: the connection was refused (ECONNREFUSED)`,
      evidence: {
        port: t.lport,
        listeners_checked: known ? 'history and host listeners' : 'history only (host listeners unavailable)',
        bound_elsewhere: elsewhere.length ? elsewhere.join(', ') : null,
      },
    };
  },
  wire: {
    recognized: 'a passive RST+ACK answering a SYN (seq 0, ack = SYN + 1): nothing listened on the port.',
    alike: ['listener-gone', 'netfilter-reject'],
    evidence: WIRE_BASE_DOC,
    test: (w) => (passive(w) && answersSyn(w) ? 'medium' : null),
    explain: (w) => ({
      summary: `${ep(w.from)} refused the SYN of ${ep(w.to)} (frame ${w.answered!.frame}): nothing listens on port ${w.from.port}`,
      evidence: wireBase(w),
      // a listener that went away before the capture began looks the same
      proof: [w.answered!.frame],
    }),
  },
};
