import { OWNER_DOC, TUPLE_DOC, base, ownerEvidence, received, safeRule, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';

export const netfilterReject: Cause = {
  id: 'netfilter-reject',
  title: 'RST made by a firewall REJECT rule',
  group: 'netfilter',
  map: ['netfilter REJECT'],
  happened: "A firewall rule on this host rejects this traffic with a TCP reset: the RST did not come from the peer's TCP stack.",
  why: 'iptables REJECT --reject-with tcp-reset and nftables "reject with tcp reset" build the RST in nf_send_reset() (nf_reject_ipv4.c/nf_reject_ipv6.c), like a passive reset, without the TCP tracepoints: tcpwhy sees it arrive.',
  evidence: {
    rule: 'the rule that rejects with a reset',
    netns: 'the namespace whose firewall rejected the segment (when it is one of this host: the drop was seen)',
    ...OWNER_DOC,
    state: 'socket state',
    ...TUPLE_DOC,
  },
  recognized:
    'a received RST whose segment another namespace of this host dropped with NETFILTER_DROP just before (that firewall made the RST; high, with its rule when the drop verdict named one), or, not sent by a namespace of this host that tcpwhy saw, in a namespace whose output chain has a REJECT-with-tcp-reset rule covering the remote port and address (medium: the rule may not be the one that matched).',
  fix: 'Check the rule (and its counters: nft list ruleset / iptables -L -v); allow the traffic if it is wanted.',
  match(f) {
    if (!received(f) || !f.tuple) return null;
    const port = f.tuple.rport;
    // the peer's own stack sent it (seen on this host): not a firewall
    if (f.sentByPeer) return null;
    // another namespace's firewall dropped the segment and answered in its place
    const d = f.droppedByPeer;
    if (d) {
      return {
        confidence: d.detail ? 'high' : 'medium',
        summary: `the firewall of network namespace ${d.netns} rejected ${d.syn ? 'the SYN' : 'a segment'} of ${whoOwns(f)} and sent this RST in its place${d.detail ? `: ${d.detail}` : ''}; the peer's TCP never saw it`,
        evidence: { rule: d.rule, netns: d.netns, ...ownerEvidence(f), state: f.e.state, ...base(f) },
      };
    }
    const daddr = f.tuple.raddr;
    const found = (f.host?.rules ?? []).find(
      (x) =>
        x.action === 'reject' &&
        (x.rejectWith ?? '').includes('reset') &&
        /output/i.test(x.chain) &&
        (!x.dport || (port >= x.dport[0] && port <= x.dport[1])) &&
        (!x.daddr || x.daddr === daddr || x.daddr.startsWith(`${daddr}/`)),
    );
    if (!found) return null;
    const r = safeRule(found);
    return {
      confidence: 'medium',
      summary: `a firewall rule on this host rejects the traffic of ${whoOwns(f)} with a reset: "${r.text}"`,
      evidence: { rule: r.text, netns: f.e.netns, ...ownerEvidence(f), state: f.e.state, ...base(f) },
    };
  },
};
