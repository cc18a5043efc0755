import { DROP_DOC, dropEvidence, dropRulesFor, droppedFor, ruleText, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

const NETFILTER = new Set(['NETFILTER_DROP']);

export const conntrackDrop: Cause = {
  id: 'conntrack-drop',
  title: 'Segment dropped by connection tracking (table full, or INVALID state)',
  group: 'drop',
  map: [],
  happened:
    'Connection tracking could not or would not track the segment: its table was full (new connections are dropped until entries expire), or the segment did not fit the tracked connection (state INVALID, e.g. outside the window conntrack saw) and a "ct state invalid drop" rule dropped it.',
  why: 'nf_conntrack_in() returns NF_DROP when init_conntrack() cannot allocate an entry past net.netfilter.nf_conntrack_max ("nf_conntrack: table full, dropping packet"); tcp_in_window() marks segments INVALID, which rules commonly drop. Both free the packet with reason NETFILTER_DROP.',
  evidence: {
    ...DROP_DOC,
    conntrack_count: 'entries in the namespace table',
    conntrack_max: 'its limit',
    stat_drop: 'conntrack statistics: drops (table full)',
    stat_invalid: 'conntrack statistics: INVALID packets',
    rule: 'the ct state invalid rule, when that is the one',
  },
  recognized:
    'a drop with reason NETFILTER_DROP in a namespace whose conntrack table is at its limit or whose conntrack statistics count drops (high), or whose matching rule is a `ct state invalid` drop (high).',
  fix: 'Table full: raise net.netfilter.nf_conntrack_max (and nf_conntrack_buckets), shorten timeouts, or exempt the traffic (notrack). INVALID: find why segments fall outside the tracked window (asymmetric routing, a middlebox, window scaling); net.netfilter.nf_conntrack_tcp_be_liberal=1 tolerates it.',
  loss(f) {
    if (!droppedFor(f, NETFILTER)) return null;
    const ct = f.host?.conntrack;
    const evidence = {
      ...dropEvidence(f),
      conntrack_count: ct?.count ?? null,
      conntrack_max: ct?.max ?? null,
      stat_drop: ct?.stats['drop'] ?? null,
      stat_invalid: ct?.stats['invalid'] ?? null,
      rule: null as string | null,
    };
    const invalid = dropRulesFor(f).find((r) => r.ctState?.includes('invalid'));
    if (invalid) {
      return {
        confidence: 'high',
        summary: `conntrack found ${segmentText(f)} INVALID and the rule "${ruleText(invalid)}" dropped it`,
        evidence: { ...evidence, rule: ruleText(invalid) },
      };
    }
    const full = ct && ct.count !== null && ct.max !== null && ct.max > 0 && ct.count >= ct.max;
    if (full || (ct && (ct.stats['drop'] ?? 0) > 0 && !dropRulesFor(f).length)) {
      return {
        confidence: full ? 'high' : 'medium',
        summary: `the conntrack table ${full ? `is full (${ct!.count}/${ct!.max} entries)` : `drops packets (${ct!.stats['drop']} so far)`}: ${segmentText(f)} was dropped`,
        evidence,
      };
    }
    return null;
  },
};
