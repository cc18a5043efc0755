import { TUPLE_DOC, base, passiveSent, tupleText } from './live-helpers.js';
import type { Cause } from './types.js';

export const timewaitTransitionRace: Cause = {
  id: 'timewait-transition-race',
  title: 'TIME_WAIT transition race (kernel bug)',
  group: 'race',
  map: ['races: TIME_WAIT twin'],
  happened:
    'A FIN or ACK arrived while the kernel was replacing the closing socket by its TIME_WAIT socket; the lookup found neither and the segment drew an RST.',
  why: 'inet_twsk_hashdance_schedule() had the same gap as the handshake insert; fixed in the same series (6.19).',
  evidence: {
    gap_us: "microseconds between the RST and the socket's move to TIME_WAIT",
    segment: 'flags of the triggering segment',
    kernel: 'running kernel version',
    ...TUPLE_DOC,
  },
  recognized:
    'a NO_SOCKET RST to a FIN for a tuple whose socket moved to TIME_WAIT (-> CLOSE from FIN_WAIT2/CLOSING, or TIME_WAIT) within 2 ms, with no RST of this host closing it.',
  fix: 'Upgrade to a kernel with the fix; harmless in most protocols (the connection was ending).',
  match(f) {
    const t = f.e.packet;
    if (!passiveSent(f) || !t || !f.seg || f.seg.syn || f.e.socket) return null;
    if (f.reason && f.reason !== 'NO_SOCKET') return null;
    if (!f.seg.fin) return null;
    const tw = f.conn.states.find(
      (x) => (x.new === 'TIME_WAIT' || (x.new === 'CLOSE' && (x.old === 'FIN_WAIT2' || x.old === 'CLOSING'))) && Math.abs(x.mono_ns - f.e.mono_ns) < 2e6,
    );
    if (!tw) return null;
    // a close by a reset (A3, A9, data after close) is no TIME_WAIT transition
    if (f.conn.resets.some((r) => r.direction === 'sent' && Math.abs(r.mono_ns - tw.mono_ns) < 2e6)) return null;
    const fixed = f.kernel.version[0] > 6 || (f.kernel.version[0] === 6 && f.kernel.version[1] >= 19);
    return {
      confidence: fixed ? 'medium' : 'high',
      summary: `the connection ${tupleText(f)} moved to TIME_WAIT ${Math.round(Math.abs(tw.mono_ns - f.e.mono_ns) / 1e3)} us from this RST: the TIME_WAIT hash race`,
      evidence: { gap_us: Math.round((f.e.mono_ns - tw.mono_ns) / 1e3), segment: f.e.segment?.flags ?? null, kernel: f.kernel.version.join('.'), ...base(f) },
    };
  },
};
