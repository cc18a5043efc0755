import { STORY_DOC, connText, isError, storyEvidence } from './loss-helpers.js';
import type { Cause } from './types.js';

const RESET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

export const resetSeenByApp: Cause = {
  id: 'reset-seen-by-app',
  title: 'The application saw its connection reset (ECONNREFUSED, ECONNRESET, EPIPE)',
  group: 'outcome',
  map: [],
  happened:
    'The socket reported the reset it received to its application: connect() failed with ECONNREFUSED (an RST answered the SYN), read() or write() with ECONNRESET, or EPIPE (reset after the peer closed). The RST event just before it (direction received) says why the RST was sent.',
  why: 'tcp_reset() sets sk_err by state (SYN_SENT: ECONNREFUSED; CLOSE_WAIT: EPIPE; otherwise ECONNRESET) and reports it (inet_sk_error_report).',
  evidence: { ...STORY_DOC },
  recognized: "an error report ECONNREFUSED, ECONNRESET or EPIPE (high: the errno is the kernel's).",
  fix: 'See the verdict of the received RST on the same connection (tcpwhy watch shows it just before).',
  loss(f) {
    if (!isError(f) || !RESET.has(f.e.reason)) return null;
    return {
      confidence: 'high',
      summary: `${connText(f)}: the application saw ${f.e.reason}: the connection was reset (see the received RST)`,
      evidence: storyEvidence(f),
    };
  },
};
