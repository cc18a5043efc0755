import { STORY_DOC, connText, isError, storyEvidence, storyText } from './loss-helpers.js';
import type { Cause } from './types.js';

export const unclassifiedError: Cause = {
  id: 'unclassified-error',
  title: 'The application saw an error no rule recognizes',
  group: 'outcome',
  map: [],
  happened:
    "A TCP socket reported an error to its application that no other entry covers (for example EPROTO, EMSGSIZE, or an error an ICMP message carried); the errno and the connection's story are given.",
  why: 'sk_error_report() with sk_err set by tcp_v4_err() / tcp_v6_err() (ICMP), tcp_done_with_error() or a protocol error.',
  evidence: { ...STORY_DOC },
  recognized: 'any error report that no other entry recognized (the catch-all of errors; low).',
  fix: 'Look up the errno for the call the application made (man 2 connect, recv, send) and the story of drops and retransmissions.',
  loss(f) {
    if (!isError(f)) return null;
    return { confidence: 'low', summary: `${connText(f)}: the application saw ${f.e.reason}; ${storyText(f)}`, evidence: storyEvidence(f) };
  },
};
