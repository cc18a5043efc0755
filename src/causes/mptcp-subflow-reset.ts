import { TUPLE_DOC, base } from './live-helpers.js';
import type { Cause } from './types.js';

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
};
