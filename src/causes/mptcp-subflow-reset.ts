import { TUPLE_DOC, base } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, who, wireBase } from './wire-helpers.js';

/** MP_TCPRST reason codes (RFC 8684 3.6) */
const REASONS = [
  'unspecified error',
  'MPTCP-specific error',
  'lack of resources',
  'administratively prohibited',
  'too much outstanding data',
  'unacceptable performance',
  'middlebox interference',
];
const reasonText = (r: number) => REASONS[r] ?? `reason ${r}`;

export const mptcpSubflowReset: Cause = {
  id: 'mptcp-subflow-reset',
  title: 'MPTCP subflow reset',
  group: 'active',
  map: ['A11'],
  happened: 'MPTCP reset one of its subflows.',
  why: 'MPTCP subflow error paths send resets with MPTCP_* reasons (RFC 8684 MP_TCPRST).',
  evidence: { reason: 'the MPTCP reason', ...TUPLE_DOC },
  recognized: 'a reason starting with MPTCP_.',
  fix: 'See the reason and the MPTCP MIB counters (nstat | grep MPTcp).',
  match(f) {
    if (f.e.direction !== 'sent' || !f.reason?.startsWith('MPTCP')) return null;
    return { confidence: 'high', summary: `MPTCP reset a subflow (${f.reason})`, evidence: { reason: f.reason, ...base(f) } };
  },
  wire: {
    recognized: 'an RST carrying the MPTCP MP_TCPRST option (RFC 8684 3.6), whatever its shape: its reason code says why the subflow was reset.',
    alike: [],
    evidence: {
      ...WIRE_BASE_DOC,
      mptcp_reason:
        'the MP_TCPRST reason code (0 unspecified, 1 MPTCP-specific error, 2 lack of resources, 3 administratively prohibited, 4 too much outstanding data, 5 unacceptable performance, 6 middlebox interference)',
      transient: 'the T flag: the error is temporary and the subflow may be tried again',
    },
    test: (w) => (w.mptcpReason >= 0 ? 'high' : null),
    explain: (w) => ({
      summary: `${who(w)} reset an MPTCP subflow: MP_TCPRST reason ${w.mptcpReason} (${reasonText(w.mptcpReason)})${w.mptcpTransient ? ', transient: the subflow may be retried' : ''}`,
      evidence: { ...wireBase(w), mptcp_reason: w.mptcpReason, transient: w.mptcpTransient },
      proof: [],
    }),
  },
};
