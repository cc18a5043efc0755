import { TUPLE_DOC, base, natRulesFor, passiveSent, sysctl } from './live-helpers.js';
import type { Cause } from './types.js';

export const natBackendChanged: Cause = {
  id: 'nat-backend-changed',
  title: 'conntrack lost the flow and NAT picked another backend',
  group: 'nat',
  map: ['netfilter: lost conntrack entry'],
  happened:
    'This host NATs the port and conntrack lost the flow (table full, early drop, deletion, timeout). With nf_conntrack_tcp_loose=1 the next segment was NATed anew, possibly to another backend that does not know the connection.',
  why: 'A new conntrack entry re-runs NAT; the backend answers an unknown mid-stream segment with an RST (NO_SOCKET or TCP_FLAGS).',
  evidence: {
    rule: 'the NAT rule',
    tcp_loose: 'net.netfilter.nf_conntrack_tcp_loose',
    conntrack_count: 'nf_conntrack_count',
    conntrack_max: 'nf_conntrack_max',
    early_drop: 'conntrack -S early_drop',
    insert_failed: 'conntrack -S insert_failed',
    drop: 'conntrack -S drop',
    ...TUPLE_DOC,
  },
  recognized:
    'an RST to a non-SYN segment in a namespace with REDIRECT/DNAT rules for the port, nf_conntrack_tcp_loose=1, and conntrack drop counters above 0 (low: the backend may be another host).',
  fix: "Size the conntrack table (nf_conntrack_max, buckets), find who deletes entries, keep idle timeouts above the applications' idle periods.",
  match(f) {
    const t = f.e.packet;
    if (!passiveSent(f) || !t || f.seg?.syn || (f.e.socket && f.e.state !== 'LISTEN')) return null;
    const rules = natRulesFor(f, t.lport);
    const st = f.host?.conntrack?.stats ?? {};
    if (
      !rules.length ||
      sysctl(f, 'net.netfilter.nf_conntrack_tcp_loose') !== '1' ||
      !((st['early_drop'] ?? 0) + (st['insert_failed'] ?? 0) + (st['drop'] ?? 0))
    )
      return null;
    return {
      confidence: 'low',
      summary: `conntrack may have lost this flow (drops counted) and NAT re-mapped it ("${rules[0]!.text}")`,
      evidence: {
        rule: rules[0]!.text,
        tcp_loose: '1',
        conntrack_count: f.host?.conntrack?.count ?? null,
        conntrack_max: f.host?.conntrack?.max ?? null,
        early_drop: st['early_drop'] ?? null,
        insert_failed: st['insert_failed'] ?? null,
        drop: st['drop'] ?? null,
        ...base(f),
      },
    };
  },
};
