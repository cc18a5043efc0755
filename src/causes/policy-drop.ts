import { DROP_DOC, dropEvidence, droppedFor, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

const POLICY = new Set([
  'TC_EGRESS',
  'TC_INGRESS',
  'BPF_CGROUP_EGRESS',
  'XDP',
  'SOCKET_FILTER',
  'SECURITY_HOOK',
  'XFRM_POLICY',
  'TC_CHAIN_NOTFOUND',
  'TC_COOKIE_ERROR',
  'TC_RECLASSIFY_LOOP',
]);

export const policyDrop: Cause = {
  id: 'policy-drop',
  title: 'Segment dropped by a tc filter, a BPF program, IPsec policy or an LSM',
  group: 'drop',
  map: [],
  happened:
    'A programmable filter outside netfilter dropped the segment: a tc filter or action, an XDP or cgroup BPF program (CNI plugins such as Cilium or Calico use these for network policy), an IPsec policy that requires encryption, or a security module.',
  why: 'tc_classify() results TC_ACT_SHOT (TC_INGRESS / TC_EGRESS), a cgroup skb program returning 0 (BPF_CGROUP_EGRESS), XDP_DROP, xfrm policy checks (XFRM_POLICY), security_sock_rcv_skb() (SECURITY_HOOK).',
  evidence: { ...DROP_DOC },
  recognized:
    'a drop with reason TC_INGRESS, TC_EGRESS, BPF_CGROUP_EGRESS, XDP, SOCKET_FILTER, SECURITY_HOOK or XFRM_POLICY (high: the reason names the layer; not which program).',
  fix: 'List the filters: `tc filter show dev <dev> ingress|egress`, `bpftool net` and `bpftool cgroup tree` for BPF programs, `ip xfrm policy` for IPsec; in Kubernetes, the network policies that select the pod.',
  loss(f) {
    if (!droppedFor(f, POLICY)) return null;
    return {
      confidence: 'high',
      summary: `${segmentText(f)} was dropped by ${f.e.reason.startsWith('TC_') ? 'a tc filter' : f.e.reason === 'XFRM_POLICY' ? 'an IPsec policy' : f.e.reason === 'SECURITY_HOOK' ? 'a security module' : 'a BPF program'} (${f.e.reason})`,
      evidence: dropEvidence(f),
    };
  },
};
