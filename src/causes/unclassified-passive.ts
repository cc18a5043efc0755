import { kindText } from './wire-facts.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, WIRE_DOC, ep, passive, wireBase } from './wire-helpers.js';

export const unclassifiedPassive: Cause = {
  id: 'unclassified-passive',
  title: 'passive reset, no rule matched',
  group: 'fallback',
  map: [],
  happened: 'The stack rejected a segment for a reason the catalogue does not recognize from these facts.',
  why: 'tcp_v4_send_reset()/tcp_v6_send_reset() was called; the reason and the stack say from where.',
  evidence: { reason: 'the kernel reason', state: 'socket state', segment: 'the segment flags', stack_top: 'the first kernel frames' },
  recognized: 'any sent RST that no entry above matched.',
  fix: 'Read the reason and the stack (tcpwhy watch --stacks) and see docs/causes.md; please report it so the catalogue can learn it.',
  match(f) {
    if (f.e.direction !== 'sent') return null;
    return {
      confidence: 'low',
      summary: `the kernel rejected a ${f.e.segment?.flags ?? ''} segment (reason ${f.e.reason ?? 'none'}, state ${f.e.state ?? 'no socket'}): no rule recognized it`,
      evidence: { reason: f.e.reason, state: f.e.state, segment: f.e.segment?.flags ?? null, stack_top: (f.e.stack ?? []).slice(0, 3).join(' < ') || null },
    };
  },
  wire: {
    recognized: 'any other passive RST.',
    alike: [],
    evidence: { ...WIRE_BASE_DOC, shape: WIRE_DOC.shape },
    test: (w) => (passive(w) ? 'low' : null),
    explain: (w) => ({
      summary: `${ep(w.from)} rejected a segment (${kindText(w)}); no rule recognized it`,
      evidence: { ...wireBase(w), shape: kindText(w) },
      proof: [],
    }),
  },
};
