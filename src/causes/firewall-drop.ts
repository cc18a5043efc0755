import { DROP_DOC, dropEvidence, dropRulesFor, droppedFor, lossWho, ruleText, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

const NETFILTER = new Set(['NETFILTER_DROP']);

export const firewallDrop: Cause = {
  id: 'firewall-drop',
  title: 'Segment dropped by a firewall rule',
  group: 'drop',
  map: [],
  happened:
    'A netfilter rule (nftables or iptables) in this namespace dropped or rejected the segment. A dropped SYN makes the client retry until connect() times out; a dropped data segment is retransmitted; a REJECT answers with an RST or an ICMP error instead.',
  why: 'nf_hook_slow() frees a packet whose verdict is NF_DROP with kfree_skb_reason(NETFILTER_DROP) (kernels 5.19+; before, the drop has no reason). nft "reject" and iptables REJECT send their answer and then drop the packet the same way.',
  evidence: { ...DROP_DOC, rule: 'the rule that matches the segment (from the namespace ruleset), or null', rules: 'how many drop or reject rules match it' },
  recognized:
    "a drop with reason NETFILTER_DROP; the verdict quotes the namespace's drop or reject rule whose port and address matches cover the segment (high), or says no such rule was found (medium: conntrack, a set, or a rule the host context cannot read). Conntrack table full and INVALID drops have their own entries.",
  fix: 'Check the rule and its counters (nft list ruleset; iptables -L -v -n); allow the traffic if it is wanted, or make the client fail fast (reject with tcp reset instead of drop).',
  loss(f) {
    if (!droppedFor(f, NETFILTER)) return null;
    const rules = dropRulesFor(f);
    const r = rules[0];
    const what = segmentText(f);
    const owner = f.e.owner ? ` of ${lossWho(f)}` : '';
    if (!r) {
      return {
        confidence: 'medium',
        summary: `netfilter dropped ${what}${owner}; no drop or reject rule covering it was found in the namespace's ruleset`,
        evidence: { ...dropEvidence(f), rule: null, rules: 0 },
      };
    }
    const verb = r.action === 'reject' ? `rejected (${r.rejectWith ?? 'icmp'})` : 'dropped';
    return {
      confidence: 'high',
      summary: `the firewall rule "${ruleText(r)}" ${verb} ${what}${owner}`,
      evidence: { ...dropEvidence(f), rule: ruleText(r), rules: rules.length },
    };
  },
};
