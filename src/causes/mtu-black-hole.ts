import { DROP_DOC, dropEvidence, dropRulesFor, droppedFor, isDrop, ruleText, segmentText, tupleOf } from './loss-helpers.js';
import { addrText } from '../net/addr.js';
import type { Confidence } from '../events/verdict.js';
import type { Cause } from './types.js';
import type { WireLossFacts } from './wire-loss-facts.js';
import { ICMP_DOC, LOSS_BASE_DOC, icmpEvidence, icmpName, lossBase, meWho, peerWho } from './wire-loss-helpers.js';

/** Too-big packets sent after the error that show it never reached the socket (one may have been on its way already). */
const IGNORED_AFTER = 2;

function testIcmp(l: WireLossFacts): Confidence {
  const t = l.tooBig!;
  if (t.tooBigAfter >= IGNORED_AFTER) return 'high';
  // the sender's packets fit the MTU after it: path MTU discovery worked, no black hole
  if (t.mtu > 0 && t.after > 0 && t.tooBigAfter === 0) return 'low';
  return 'medium';
}

function testStuck(l: WireLossFacts): Confidence | null {
  const s = l.me.stuck;
  if (!s || s.count < 2 || s.fullSizeAcked) return null;
  if (s.shrunkFrame && s.throughFrame) return 'medium';
  // a dead peer also leaves a segment unacknowledged: this one kept sending
  if (s.earlierAcked && s.count >= 3 && l.peer.lastFrame > s.frame) return 'low';
  return null;
}

function explainIcmp(l: WireLossFacts) {
  const t = l.tooBig!;
  const said = `${addrText(t.from)} sent ${icmpName(t)} (frame ${t.frame}${t.count > 1 ? `, ${t.count} in all` : ''})${t.mtu ? ` giving a path MTU of ${t.mtu}` : ' without an MTU'} for ${meWho(l)}'s ${t.quotedLen}-byte packet to ${peerWho(l)}`;
  const after =
    t.tooBigAfter >= IGNORED_AFTER
      ? `it kept sending packets larger than that (${t.tooBigAfter} after the error): the error never reached its socket (dropped between the capture point and the socket, or ignored), a path MTU black hole`
      : t.mtu > 0 && t.after > 0 && t.tooBigAfter === 0
        ? 'its packets fit after it: path MTU discovery worked (only the packets in flight were lost)'
        : t.after === 0
          ? 'it sent no data after it (the capture cannot tell whether it adapted)'
          : `it sent ${t.tooBigAfter} packet(s) larger than that after it`;
  return {
    summary: `${said}; ${after}`,
    evidence: {
      ...lossBase(l),
      shape: 'icmp',
      mtu: t.mtu || null,
      seg_len: t.quotedLen,
      too_big_after: t.tooBigAfter,
      retransmissions: null,
      first_frame: t.frame,
      last_frame: t.lastFrame,
      smaller_frame: null,
      through_frame: null,
      ...icmpEvidence(t),
    },
    proof: [t.frame],
  };
}

function explainStuck(l: WireLossFacts) {
  const s = l.me.stuck!;
  const through = s.shrunkFrame && s.throughFrame;
  const how = through
    ? `it sent the data again in smaller segments (frame ${s.shrunkFrame}) and those were acknowledged (frame ${s.throughFrame})`
    : `everything before it was acknowledged and the ${l.role === 'client' ? 'server' : l.role === 'server' ? 'client' : 'peer'} kept sending`;
  return {
    summary: `${meWho(l)} sent its ${s.len}-byte segment (seq ${s.seq}) ${s.count} more time(s) (frames ${s.frame} to ${s.lastFrame}) and ${peerWho(l)} never acknowledged it, while smaller segments got through: ${how}; no ICMP "too big" is in the capture: an MTU black hole on the path`,
    evidence: {
      ...lossBase(l),
      shape: 'retransmissions',
      mtu: null,
      seg_len: s.len,
      too_big_after: null,
      retransmissions: s.count,
      first_frame: s.frame,
      last_frame: s.lastFrame,
      smaller_frame: s.shrunkFrame || null,
      through_frame: s.throughFrame || null,
      icmp_from: null,
      icmp: null,
      icmp_frame: null,
      icmp_count: 0,
    },
    proof: through ? [s.frame, s.lastFrame, s.shrunkFrame, s.throughFrame] : [s.frame, s.lastFrame],
  };
}

export const mtuBlackHole: Cause = {
  id: 'mtu-black-hole',
  title: 'MTU black hole: full-size packets vanish on the path',
  group: 'drop',
  map: [],
  happened:
    'A link on the path has a smaller MTU than the endpoints (a tunnel, VPN, PPPoE, an overlay network), so full-size packets with DF set cannot pass. The router there drops them and should send ICMP "fragmentation needed" (IPv6: "packet too big") with its MTU; when that ICMP is filtered or never sent, the sender never learns: small packets (the handshake, requests) go through, full-size ones (responses, uploads) are retransmitted until the connection times out. Typical: a TLS handshake or an HTTP response that hangs.',
  why: 'Path MTU discovery (RFC 1191, RFC 8201) depends on that ICMP: tcp_v4_err() / tcp_v6_err() lower the socket\'s MSS (tcp_v4_mtu_reduced(), tcp_sync_mss()) and resend. Without it, the kernel retransmits the same full-size segment with backoff (tcp_retransmit_timer()); only with net.ipv4.tcp_mtu_probing (RFC 4821 packetization layer PMTUD, tcp_mtu_probe()) does it try smaller segments after repeated timeouts. The dropping router counts the packet (IP "FragFails"), the sender counts retransmissions.',
  evidence: {
    ...DROP_DOC,
    mtu: 'the MTU the ICMP error announced, or null',
    icmp_from: 'who sent the ICMP error',
    rule: 'the firewall rule that dropped the ICMP error, or null',
  },
  recognized: 'live: see the drop events (PKT_TOO_BIG or the ICMP dropped by a firewall on this host) and the retransmissions of full-size segments.',
  fix: 'Let ICMP type 3 code 4 (IPv4) and ICMPv6 type 2 through every firewall on the path and on the hosts (never drop all ICMP); or clamp the MSS at the tunnel (`nft add rule inet filter forward tcp flags syn tcp option maxseg size set rt mtu`, iptables `TCPMSS --clamp-mss-to-pmtu`), or lower the interface MTU; `sysctl net.ipv4.tcp_mtu_probing=1` lets Linux senders find the MTU without ICMP. `ping -M do -s SIZE` (`tracepath`) finds the largest size that passes.',
  loss(f) {
    const ic = f.e.icmp;
    const tooBig = ic !== null && ((f.e.family === 'ipv4' && ic.type === 3 && ic.code === 4) || (f.e.family === 'ipv6' && ic.type === 2));
    const pktTooBig = droppedFor(f, new Set(['PKT_TOO_BIG']));
    if (!pktTooBig && !(isDrop(f) && tooBig)) return null;
    const rule = tooBig ? dropRulesFor(f)[0] : undefined;
    const t = tupleOf(f);
    return {
      confidence: 'high',
      summary: pktTooBig
        ? `${segmentText(f)} is larger than the next link's MTU and was dropped (PKT_TOO_BIG); unless the ICMP error that says so reaches the sender, its large segments vanish`
        : `the ICMP error telling ${t ? t.laddr : 'the sender'} that its segments to ${t ? `${t.raddr}:${t.rport}` : 'the peer'} exceed an MTU of ${ic!.mtu ?? '?'} was dropped (${f.e.reason}${rule ? `, rule "${ruleText(rule)}"` : ''}): the sender never learns to send smaller ones (MTU black hole)`,
      evidence: { ...dropEvidence(f), mtu: ic?.mtu ?? null, icmp_from: ic?.from ?? null, rule: rule ? ruleText(rule) : null },
    };
  },
  wireLoss: {
    recognized:
      'an ICMP fragmentation needed (ICMPv6 packet too big) that quotes a TCP segment of a flow, with the MTU it gives: high when the sender kept sending packets larger than that afterwards (the error never reached its socket), low when its packets fit afterwards (path MTU discovery worked), medium when the capture cannot tell. Without such an ICMP: one full-size segment (1000 bytes or more, the largest the sender sent, never acknowledged at that size before) retransmitted by timeout twice or more while smaller segments get through - medium when the sender then re-sent the data in smaller segments and those were acknowledged (Linux tcp_mtu_probing), low when only the data before it got through and the peer kept sending (a peer that vanished looks the same).',
    alike: [],
    evidence: {
      ...LOSS_BASE_DOC,
      shape: '"icmp" (an ICMP too big is in the capture) or "retransmissions" (the full-size segments alone)',
      mtu: 'the path MTU the ICMP gave; null without one',
      seg_len: 'size of the packet that did not pass: the quoted IP length (icmp), or the TCP payload of the segment sent again (retransmissions)',
      too_big_after: 'packets larger than the MTU the endpoint sent after the ICMP; null without one',
      retransmissions: 'times the full-size segment was sent again; null for the icmp shape',
      first_frame: 'the ICMP, or the first retransmission of the full-size segment',
      last_frame: 'the last ICMP, or the last retransmission',
      smaller_frame: 'the first smaller segment sent in its place; null when none',
      through_frame: "the other side's ACK of that smaller segment; null when none",
      ...ICMP_DOC,
    },
    test: (l) => (l.tooBig !== null ? testIcmp(l) : testStuck(l)),
    explain: (l) => (l.tooBig !== null ? explainIcmp(l) : explainStuck(l)),
  },
};
