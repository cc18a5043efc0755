import { DROP_DOC, STORY_DOC, connText, dropEvidence, dropRulesFor, isDrop, isError, ruleText, segmentText, storyEvidence, storyText } from './loss-helpers.js';

const UNREACH = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);
import { SYN } from '../net/flags.js';
import type { Cause } from './types.js';
import type { WireLossFacts } from './wire-loss-facts.js';
import { ICMP_DOC, LOSS_BASE_DOC, firewallCode, icmpErrno, icmpEvidence, icmpText, lossBase, meWho, peerWho } from './wire-loss-helpers.js';

/** What the side did after the error, as far as the capture shows it. */
function outcome(l: WireLossFacts): string {
  const u = l.unreach!;
  const syn = u.quotedFlags !== -1 && (u.quotedFlags & SYN) !== 0;
  if (l.connId === null) return 'the capture holds no packet of the flow itself';
  if (syn && u.synsAfter === 0 && l.handshake === 'syn')
    return `it sent no SYN after it: on Linux connect() fails at once with ${icmpErrno(u)} (a connecting socket takes any destination unreachable as final)`;
  if (syn) return `it kept sending SYNs after it (${u.synsAfter}): the error did not reach its socket, or the stack ignored it`;
  if (u.after > 0)
    return `it kept sending (${u.after} packet(s) after it): an established connection takes the error as soft and retransmits until it times out, then reports ${icmpErrno(u)} instead of ETIMEDOUT`;
  return 'it sent nothing after it';
}

export const icmpUnreachable: Cause = {
  id: 'icmp-unreachable',
  title: 'ICMP destination unreachable about a TCP flow',
  group: 'drop',
  map: [],
  happened:
    "A router, a firewall or the destination host could not (or would not) deliver one of the connection's packets, dropped it and said so with an ICMP (or ICMPv6) destination unreachable quoting the packet: no route, host unreachable (no ARP/neighbour answer), port unreachable or administratively prohibited (a firewall's reject rule).",
  why: "tcp_v4_err() / tcp_v6_err() match the quoted header to the socket. A socket in SYN_SENT takes the error as final: connect() fails at once with the mapped errno (EHOSTUNREACH, ENETUNREACH, ECONNREFUSED, EACCES; icmp_err_convert[], icmpv6_err_convert()). An established socket takes it as soft (RFC 1122 4.2.3.9): it keeps retransmitting and, if it times out, reports this errno instead of ETIMEDOUT (immediately with IP_RECVERR). A TCP stack answers a closed port with an RST, not ICMP: a port unreachable or an administrative prohibition about TCP comes from a firewall rule (iptables REJECT's default, nft `reject`).",
  evidence: {
    ...STORY_DOC,
    ...DROP_DOC,
    icmp_type: 'ICMP type of a dropped error',
    icmp_code: 'its code',
    icmp_from: 'who sent it',
    rule: 'the firewall rule that dropped the ICMP error, or null',
  },
  recognized:
    'live: see the drop events (the router or firewall that dropped the packet, when it is this host) and the error the application saw (EHOSTUNREACH, ENETUNREACH, ECONNREFUSED).',
  fix: 'Ask the address that sent the ICMP: a router without a route (check routes and the next hop there), a host that does not answer ARP/neighbour discovery (down, or on the wrong subnet or VLAN), or a firewall rule that rejects the flow (port unreachable or admin prohibited: `nft list ruleset` / `iptables -L -v -n` on that box, and open the port or point the client elsewhere).',
  loss(f) {
    if (isError(f) && UNREACH.has(f.e.reason)) {
      return {
        confidence: 'high',
        summary: `${connText(f)}: the application saw ${f.e.reason}: ${f.e.reason === 'ENETUNREACH' || f.e.reason === 'ENETDOWN' ? 'no route to the network' : 'the host is unreachable'} (an ICMP error from the path, or no neighbour answer); ${storyText(f)}`,
        evidence: { ...storyEvidence(f), reason: f.e.reason, location: null, segment: null, icmp_type: null, icmp_code: null, icmp_from: null },
      };
    }
    const ic = f.e.icmp;
    if (!isDrop(f) || !ic || (f.e.family === 'ipv4' ? ic.type !== 3 : ic.type !== 1)) return null;
    const rule = dropRulesFor(f)[0];
    return {
      confidence: 'high',
      summary: `an ICMP destination-unreachable error (type ${ic.type} code ${ic.code}) from ${ic.from} about ${segmentText(f)} was dropped (${f.e.reason}${rule ? `, rule "${ruleText(rule)}"` : ''}): the sender is not told and waits for its timeout`,
      evidence: { ...storyEvidence(f), ...dropEvidence(f), icmp_type: ic.type, icmp_code: ic.code, icmp_from: ic.from, rule: rule ? ruleText(rule) : null },
    };
  },
  wireLoss: {
    recognized:
      'an ICMP destination unreachable (ICMPv6 destination unreachable) that quotes a TCP segment of a flow, matched to the flow by the quoted addresses and ports; says who sent it, the code in words, and what the sender did after it (a SYN that was not sent again: the connect failed at once). Fragmentation needed is mtu-black-hole instead. High: the packet itself names the cause.',
    alike: [],
    evidence: {
      ...LOSS_BASE_DOC,
      ...ICMP_DOC,
      errno: 'the error Linux gives the socket for it',
      firewall: 'the code is what firewalls send when they reject TCP (port unreachable, administratively prohibited)',
      quoted_seq: 'sequence number of the quoted segment',
      sent_after: 'packets the endpoint sent on the flow after the first error',
    },
    test: (l) => (l.unreach === null ? null : 'high'),
    explain: (l) => {
      const u = l.unreach!;
      const fw = firewallCode(u);
      return {
        summary: `${icmpText(u)} about ${meWho(l)} -> ${peerWho(l)}${fw ? ' (what a firewall reject rule sends)' : ''}; ${outcome(l)}`,
        evidence: { ...lossBase(l), ...icmpEvidence(u), errno: icmpErrno(u), firewall: fw, quoted_seq: u.quotedSeq, sent_after: u.after },
        proof: [u.frame],
      };
    },
  },
};
