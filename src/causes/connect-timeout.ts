import { STORY_DOC, connText, isError, mainDrop, secs as liveSecs, storyEvidence } from './loss-helpers.js';
import { ACK, SYN } from '../net/flags.js';
import type { Cause } from './types.js';
import type { WireLossFacts } from './wire-loss-facts.js';
import { LOSS_BASE_DOC, icmpText, lossBase, meWho, peerWho, round1 } from './wire-loss-helpers.js';
import { secs } from './wire-helpers.js';

/** An unreachable error about the client's SYN that it obeyed: it sent no SYN after it (the connect failed at once, icmp-unreachable tells it). */
const obeyedIcmp = (l: WireLossFacts) =>
  l.unreach !== null && l.unreach.quotedFlags !== -1 && (l.unreach.quotedFlags & (SYN | ACK)) === SYN && l.unreach.synsAfter === 0;

/** The client stopped sending SYNs: the capture went on past the next retry's time (Linux doubles the wait each time, and waits once more after its last SYN). */
const gaveUp = (l: WireLossFacts) => l.endTime - l.me.lastSynTime > 2 * l.me.synGap;

export const connectTimeout: Cause = {
  id: 'connect-timeout',
  title: 'connect timed out: SYNs never answered',
  group: 'outcome',
  map: [],
  happened:
    'A client sent a SYN and then the same SYN again and again, and nothing came back: no SYN-ACK, no RST, no ICMP error that reached it. After its last retry the kernel gave up and connect() failed with ETIMEDOUT ("Connection timed out").',
  why: "tcp_retransmit_timer() sends the SYN again with the retransmission timeout doubled each time (1 s, 2 s, 4 s ... from TCP_TIMEOUT_INIT, RFC 6298 2.1 and 5.5; from 6.5 the first net.ipv4.tcp_syn_linear_timeouts retries, 4 by default, are 1 s apart) until net.ipv4.tcp_syn_retries retries (6 by default: 7 SYNs, about 127 s) or the socket's TCP_SYNCNT or TCP_USER_TIMEOUT; then tcp_write_err() reports ETIMEDOUT (counter TCPAbortOnTimeout). Something on the path or on the server dropped the SYNs (or the SYN-ACKs): a firewall DROP rule, a server whose SYN and accept queues are full (SYN cookies off), a route to nowhere, a host that is down with no router to say so.",
  evidence: { ...STORY_DOC, syns: 'SYN retransmissions seen', what_ate_them: 'the drop this host saw most often on the connection (cause and rule), or null' },
  recognized:
    'an error report ETIMEDOUT on a connection whose retransmissions were SYNs (or still in SYN_SENT); the story names the drops this host saw of them (high with a drop seen, medium without: the SYNs or their answers were lost outside this host).',
  fix: 'Find what ate the SYNs: on the server, `nft list ruleset` / `iptables -L -v -n` for a DROP on the port, `nstat -az TcpExtListenOverflows TcpExtListenDrops` for full queues, `ss -ltn` for the listener; on the path, `traceroute -T -p PORT`; a capture on the server shows whether the SYNs arrive. A firewall that should refuse the port can do it with `reject with tcp reset` instead, so that clients fail at once instead of after two minutes.',
  loss(f) {
    if (!isError(f) || f.e.reason !== 'ETIMEDOUT') return null;
    const syns = f.story.retrans['SYN'] ?? 0;
    if (!syns && f.e.state !== 'SYN_SENT') return null;
    const main = mainDrop(f);
    const ate = main
      ? `${main.count} of them dropped in netns ${main.drop.netns} (${main.drop.cause}${main.drop.detail ? `: ${main.drop.detail}` : ''})`
      : 'no drop of them was seen on this host: the SYNs or the answers were lost beyond it';
    return {
      confidence: main ? 'high' : 'medium',
      summary: `${connText(f)}: ${syns + 1} SYNs, ${ate}; connect() timed out (ETIMEDOUT) after ${liveSecs(Math.max(0, f.e.mono_ns - f.story.first_ns))}`,
      evidence: { ...storyEvidence(f), syns, what_ate_them: main ? `${main.drop.cause}${main.drop.detail ? `: ${main.drop.detail}` : ''}` : null },
    };
  },
  wireLoss: {
    recognized:
      'a client that sent its SYN more than once (the same ISN: a retransmission) and got no SYN-ACK or RST for it; high when the capture goes on past the time of its next retry (it gave up), medium when the capture ends sooner (it may still have been trying). An ICMP destination unreachable about the SYN that the client obeyed (no SYN after it) is icmp-unreachable instead.',
    alike: [],
    evidence: {
      ...LOSS_BASE_DOC,
      syns: 'SYNs the client sent (the first and its retransmissions)',
      over_s: 'seconds from the first SYN to the last',
      first_syn: 'frame of the first SYN',
      last_syn: 'frame of the last SYN',
      gave_up: 'the capture went on past the time of the next retry without one: the client stopped trying',
      icmp: 'an ICMP error about the SYNs that the capture holds but the client did not act on, in words; null when none',
    },
    test: (l) => (l.role !== 'client' || l.handshake !== 'syn' || l.me.syns < 2 || obeyedIcmp(l) ? null : gaveUp(l) ? 'high' : 'medium'),
    explain: (l) => {
      const m = l.me;
      const over = m.lastSynTime - m.firstSynTime;
      const u = l.unreach;
      const icmp = u ? icmpText(u) : null;
      const end = gaveUp(l)
        ? 'it stopped trying: connect() timed out (ETIMEDOUT)'
        : `none answered by the capture's end, ${secs(l.endTime - m.lastSynTime)} after the last: the client may still have been retrying`;
      return {
        summary: `${meWho(l)} sent ${m.syns} SYNs to ${peerWho(l)} over ${secs(over)}, never answered; ${end}${icmp ? `; the capture holds an ${icmp} about them that the client did not act on` : ''}`,
        evidence: { ...lossBase(l), syns: m.syns, over_s: round1(over), first_syn: m.firstSynFrame, last_syn: m.lastSynFrame, gave_up: gaveUp(l), icmp },
        proof: u ? [m.firstSynFrame, m.lastSynFrame, u.frame] : [m.firstSynFrame, m.lastSynFrame],
      };
    },
  },
};
