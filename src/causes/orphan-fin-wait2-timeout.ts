import { TUPLE_DOC, activeSent, base, sysctl } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, WIRE_DOC, active, secs, who, wireBase } from './wire-helpers.js';

/** An orphaned FIN_WAIT2 socket lives net.ipv4.tcp_fin_timeout (60 s by default): a reset this long after the FIN was acked is that timer. */
const FIN_TIMEOUT_S = 50;

export const orphanFinWait2Timeout: Cause = {
  id: 'orphan-fin-wait2-timeout',
  title: 'orphaned FIN_WAIT2 timed out',
  group: 'active',
  map: ['A9'],
  happened: 'The application had closed the socket; the peer acknowledged the FIN but never closed its side, and the FIN_WAIT2 timer ran out.',
  why: 'tcp_keepalive_timer() resets an orphaned FIN_WAIT2 socket after net.ipv4.tcp_fin_timeout (reason TCP_STATE).',
  evidence: { tcp_fin_timeout: 'net.ipv4.tcp_fin_timeout of the namespace (s)', ...TUPLE_DOC },
  recognized: 'an active RST from tcp_keepalive_timer in state FIN_WAIT2.',
  fix: 'The peer application does not close its side: fix it to close on EOF; tcp_fin_timeout bounds how long this host waits.',
  match(f) {
    if (!activeSent(f) || !f.stackHas('tcp_keepalive_timer') || f.e.state !== 'FIN_WAIT2') return null;
    if (f.reason && f.reason !== 'TCP_STATE') return null;
    return {
      confidence: 'high',
      summary: `the peer never closed its side; the orphaned FIN_WAIT2 socket timed out after tcp_fin_timeout (${sysctl(f, 'net.ipv4.tcp_fin_timeout') ?? '?'} s)`,
      evidence: { tcp_fin_timeout: sysctl(f, 'net.ipv4.tcp_fin_timeout'), ...base(f) },
    };
  },
  wire: {
    recognized: `an active RST from a side whose FIN was acknowledged, with no FIN from the peer, at least ${FIN_TIMEOUT_S} s later (the orphaned FIN_WAIT2 timer).`,
    alike: ['fin-wait2-linger-negative'],
    evidence: { ...WIRE_BASE_DOC, fin_frame: WIRE_DOC.fin_frame },
    test(w) {
      if (!active(w) || w.sender.finSeq < 0 || !w.sender.finAcked || w.peer.finSeq >= 0) return null;
      return w.rst.time - w.sender.lastTime < FIN_TIMEOUT_S && w.rst.time - w.peer.lastTime < FIN_TIMEOUT_S ? null : 'medium';
    },
    explain: (w) => ({
      summary: `${who(w)} closed (FIN frame ${w.sender.finFrame}), the peer never closed its side, and ${secs(w.rst.time - w.peer.lastTime)} later the FIN_WAIT2 timer reset the connection`,
      evidence: { ...wireBase(w), fin_frame: w.sender.finFrame },
      proof: [w.sender.finFrame],
    }),
  },
};
