import { endpoint } from '../net/addr.js';
import { OWNER_DOC, TUPLE_DOC, activeSent, base, noReason, ownerEvidence, sysctl, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, active, peerWho, secs, who, wireBase } from './wire-helpers.js';

export const keepaliveTimeout: Cause = {
  id: 'keepalive-timeout',
  title: 'keepalive or user timeout: the peer stopped answering',
  group: 'active',
  map: ['A10'],
  happened:
    'The connection was idle, keepalive probes went unanswered (or TCP_USER_TIMEOUT passed with probes out), so the kernel declared the peer dead and reset the connection.',
  why: 'tcp_keepalive_timer() sends an RST once tcp_keepalive_probes probes (or TCP_USER_TIMEOUT) went unanswered and reports ETIMEDOUT (reason TCP_KEEPALIVE_TIMEOUT, counter TCPAbortOnTimeout). RFC 1122 4.2.3.6.',
  evidence: {
    ...OWNER_DOC,
    keepalive_time: 'net.ipv4.tcp_keepalive_time of the namespace (s; sockets may override)',
    keepalive_intvl: 'net.ipv4.tcp_keepalive_intvl (s)',
    keepalive_probes: 'net.ipv4.tcp_keepalive_probes',
    ...TUPLE_DOC,
  },
  recognized:
    "reason TCP_KEEPALIVE_TIMEOUT; without a reason: an active RST from tcp_keepalive_timer on a socket that is not an orphan in FIN_WAIT2 (the timer's only other reset; high).",
  fix: 'The peer (or the path to it) vanished: check that host, and firewalls or NAT that drop idle flows (their timeouts should exceed the keepalive time). Tune keepalive (TCP_KEEPIDLE/INTVL/CNT) to detect it sooner or later as needed.',
  match(f) {
    if (!activeSent(f)) return null;
    const byR = f.reason === 'TCP_KEEPALIVE_TIMEOUT';
    const byStack = noReason(f) && f.stackHas('tcp_keepalive_timer') && f.e.state !== 'FIN_WAIT2';
    if (!byR && !byStack) return null;
    // tcp_keepalive_timer() resets in two places only: an orphan in FIN_WAIT2 (excluded above) and probes run out
    return {
      confidence: 'high',
      summary: `the peer ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : ''} stopped answering keepalive probes: the kernel gave up on ${whoOwns(f)}'s connection`,
      evidence: {
        ...ownerEvidence(f),
        keepalive_time: sysctl(f, 'net.ipv4.tcp_keepalive_time'),
        keepalive_intvl: sysctl(f, 'net.ipv4.tcp_keepalive_intvl'),
        keepalive_probes: sysctl(f, 'net.ipv4.tcp_keepalive_probes'),
        ...base(f),
      },
    };
  },
  wire: {
    recognized: 'an active RST after keepalive probes (segments at snd_una - 1) the peer never answered.',
    alike: [],
    evidence: {
      ...WIRE_BASE_DOC,
      probes: 'keepalive probes the sender sent that the peer never answered',
      silent_s: "seconds from the peer's last packet to the RST",
    },
    test: (w) => (!active(w) || w.probesUnanswered < 1 ? null : w.probesUnanswered >= 2 ? 'high' : 'medium'),
    explain: (w) => ({
      summary: `${who(w)} sent ${w.probesUnanswered} keepalive probe(s) that the ${peerWho(w)} never answered, then gave up (${secs(w.rst.time - w.peer.lastTime)} after the peer's last packet)`,
      evidence: { ...wireBase(w), probes: w.probesUnanswered, silent_s: Math.round((w.rst.time - w.peer.lastTime) * 10) / 10 },
      proof: [w.peer.lastFrame],
    }),
  },
};
