import { LOSS_TUPLE_DOC, connText, isRetransmit, lossBase } from './loss-helpers.js';
import type { Cause } from './types.js';

const KIND: Record<string, string> = {
  RTO: 'the retransmission timer fired',
  FAST: 'duplicate ACKs or SACK reported a hole',
  PROBE: 'a tail loss probe',
  SYN: 'no SYN-ACK came',
  SYNACK: "the client's ACK did not come",
};

export const lossBeyondHost: Cause = {
  id: 'loss-beyond-host',
  title: 'Retransmission: the segment or its acknowledgment was lost outside this host',
  group: 'drop',
  map: [],
  happened:
    'TCP sent a segment again, and no drop of it (or of its acknowledgment) happened anywhere tcpwhy can see on this host: the loss is on the network path or at the peer (a congested link, a policer, a firewall or a full queue elsewhere), or the acknowledgment was only late (a spurious retransmission).',
  why: "tcp_retransmit_timer() (RTO: nothing acknowledged within the retransmission timeout), tcp_fastretrans_alert() (duplicate ACKs or SACK: a hole), tcp_send_loss_probe() (a tail loss probe), tcp_retransmit_synack(). Retransmissions after a drop this host saw carry that drop's cause instead.",
  evidence: {
    kind: 'why TCP resent: RTO, FAST, PROBE, SYN or SYNACK',
    retransmits: 'consecutive unanswered retransmissions',
    total_retrans: 'all retransmissions of the connection',
    rto_ms: 'the retransmission timeout',
    srtt_us: 'smoothed round-trip time',
    ...LOSS_TUPLE_DOC,
  },
  recognized:
    'a retransmission with no drop of the connection seen on this host before it (medium: a drop in a namespace or program tcpwhy does not watch would look the same).',
  fix: "Find the lossy hop: compare both ends' RetransSegs, look at interface and qdisc drops on the path (tc -s qdisc, ip -s link), and capture at both ends (tcpwhy analyze flags the loss). Many RTO retransmissions with few fast ones mean whole windows are lost (a policer, a black hole).",
  loss(f) {
    if (!isRetransmit(f)) return null;
    const t = f.e.tcp;
    return {
      confidence: 'medium',
      summary: `${connText(f)}: segment sent again (${f.e.reason}: ${KIND[f.e.reason] ?? 'resent'}${t ? `, retry ${t.retransmits}, ${t.total_retrans} in all` : ''}); no drop of it was seen on this host`,
      evidence: {
        kind: f.e.reason,
        retransmits: t?.retransmits ?? null,
        total_retrans: t?.total_retrans ?? null,
        rto_ms: t?.rto_ms ?? null,
        srtt_us: t?.srtt_us ?? null,
        ...lossBase(f),
      },
    };
  },
};
