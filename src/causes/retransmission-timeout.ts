import { STORY_DOC, connText, isError, mainDrop, storyEvidence, storyText } from './loss-helpers.js';
import type { Cause } from './types.js';

export const retransmissionTimeout: Cause = {
  id: 'retransmission-timeout',
  title: 'Connection timed out: its retransmissions were never acknowledged',
  group: 'outcome',
  map: [],
  happened:
    "An established connection gave up: TCP retransmitted unacknowledged data (or probed a zero window) until net.ipv4.tcp_retries2 (about 15 minutes by default) or the socket's TCP_USER_TIMEOUT ran out, and the application got ETIMEDOUT. The peer or the path stopped delivering: the peer host died, a firewall or NAT dropped the connection's state, or an MTU black hole ate the large segments.",
  why: 'tcp_write_timeout() -> tcp_write_err() sets sk_err = ETIMEDOUT (or the soft error an ICMP message left, e.g. EHOSTUNREACH) and reports it (inet_sk_error_report), then closes the socket.',
  evidence: { ...STORY_DOC },
  recognized:
    'an error report ETIMEDOUT on a connection that was not in the handshake (its retransmissions were not SYNs); the story names the drops this host saw (high with drops, medium without).',
  fix: 'Find what ate the retransmissions (the story names drops seen here); otherwise capture both ends. For faster detection set TCP_USER_TIMEOUT or keepalives on the socket; for an MTU black hole see mtu-black-hole.',
  loss(f) {
    if (!isError(f) || f.e.reason !== 'ETIMEDOUT' || f.story.retrans['SYN']) return null;
    const main = mainDrop(f);
    return {
      confidence: main ? 'high' : 'medium',
      summary: `${connText(f)}: the connection timed out (ETIMEDOUT) after ${f.e.tcp?.retransmits ?? '?'} unanswered retransmissions; ${storyText(f)}`,
      evidence: storyEvidence(f),
    };
  },
};
