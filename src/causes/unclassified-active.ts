import { kindText } from './wire-facts.js';
import { activeSent, ownerEvidence, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, WIRE_DOC, ep, wireBase } from './wire-helpers.js';

export const unclassifiedActive: Cause = {
  id: 'unclassified-active',
  title: 'active reset, no rule matched',
  group: 'fallback',
  map: [],
  happened: 'This host aborted a connection for a reason the catalogue does not recognize from these facts.',
  why: 'tcp_send_active_reset() was called; the reason and the stack say from where.',
  evidence: {
    reason: 'the kernel reason',
    state: 'socket state',
    stack_top: 'the first kernel frames',
    pid: 'process that owned the socket',
    comm: 'its name',
  },
  recognized: 'any active RST that no entry above matched.',
  fix: 'Read the reason and the stack (tcpwhy watch --stacks) and see docs/causes.md; please report it so the catalogue can learn it.',
  match(f) {
    if (!activeSent(f)) return null;
    return {
      confidence: 'low',
      summary: `the host aborted ${whoOwns(f)}'s connection (reason ${f.e.reason ?? 'none'}, state ${f.e.state ?? '?'}): no rule recognized it`,
      evidence: { reason: f.e.reason, state: f.e.state, stack_top: (f.e.stack ?? []).slice(0, 3).join(' < ') || null, ...ownerEvidence(f) },
    };
  },
  wire: {
    recognized: 'any other RST.',
    alike: [],
    evidence: { ...WIRE_BASE_DOC, shape: WIRE_DOC.shape },
    test: () => 'low',
    explain: (w) => ({
      summary: `${ep(w.from)} reset the connection (${kindText(w)}); no rule recognized it`,
      evidence: { ...wireBase(w), shape: kindText(w) },
      proof: [],
    }),
  },
};
