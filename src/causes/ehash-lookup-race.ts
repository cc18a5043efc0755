import { TUPLE_DOC, base, passiveSent, tupleText } from './live-helpers.js';
import type { Cause } from './types.js';

export const ehashLookupRace: Cause = {
  id: 'ehash-lookup-race',
  title: 'handshake lookup race (kernel bug)',
  group: 'race',
  map: ['races: ehash lookup'],
  happened:
    'The segment arrived in the microseconds in which the kernel was replacing the half-open request by the new connection in its hash table; the lookup on another CPU found neither and the segment drew an RST although the connection exists.',
  why: 'inet_ehash_insert() removed the request socket before adding the full socket; fixed in 6.19 ("inet: Avoid ehash lookup race in inet_ehash_insert()") and stable backports.',
  evidence: {
    established_gap_us: 'microseconds between the RST and the connection becoming ESTABLISHED on this host',
    segment: 'flags of the triggering segment',
    kernel: 'running kernel version',
    ...TUPLE_DOC,
  },
  recognized:
    'an RST to a non-SYN segment (NO_SOCKET, or TCP_FLAGS from the listener) for a tuple whose socket became ESTABLISHED on this host within 2 ms of it, before or after, and was not closed before it.',
  fix: 'Upgrade to a kernel with the fix (6.19, or a stable release carrying it). Clients retry; rare unless connection rates are very high.',
  match(f) {
    const t = f.e.packet;
    if (!passiveSent(f) || !t || !f.seg || f.seg.syn || (f.e.socket && f.e.state !== 'LISTEN')) return null;
    const est = f.conn.states.find((x) => x.new === 'ESTABLISHED' && x.old === 'SYN_RECV' && Math.abs(x.mono_ns - f.e.mono_ns) < 2e6);
    if (!est) return null;
    const closedBetween = f.conn.states.some((x) => x.new === 'CLOSE' && x.mono_ns > est.mono_ns && x.mono_ns < f.e.mono_ns);
    if (closedBetween) return null;
    const fixed = f.kernel.version[0] > 6 || (f.kernel.version[0] === 6 && f.kernel.version[1] >= 19);
    return {
      confidence: fixed ? 'medium' : 'high',
      summary: `the connection ${tupleText(f)} became ESTABLISHED ${Math.round(Math.abs(est.mono_ns - f.e.mono_ns) / 1e3)} us ${est.mono_ns <= f.e.mono_ns ? 'before' : 'after'} this RST: the ehash lookup race`,
      evidence: {
        established_gap_us: Math.round((f.e.mono_ns - est.mono_ns) / 1e3),
        segment: f.e.segment?.flags ?? null,
        kernel: f.kernel.version.join('.'),
        ...base(f),
      },
    };
  },
};
