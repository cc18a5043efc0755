// Helpers the loss rules share (the `loss` of a cause module): how they read
// a drop, a retransmission or an error, name its connection and process, and
// find the firewall rule that may have dropped a segment.
import type { LossFacts } from './loss-facts.js';
import type { NatRule } from '../host/types.js';
import { endpoint } from '../net/addr.js';
import { escapeText } from '../events/text.js';

export const isDrop = (f: LossFacts) => f.e.type === 'drop';
export const isRetransmit = (f: LossFacts) => f.e.type === 'retransmit';
export const isError = (f: LossFacts) => f.e.type === 'error';

/** A drop whose kernel reason is one of these names. */
export const droppedFor = (f: LossFacts, reasons: ReadonlySet<string>) => isDrop(f) && reasons.has(f.e.reason);

export const LOSS_TUPLE_DOC = { local: 'local endpoint (for a received segment: its destination)', remote: 'remote endpoint' };
export const DROP_DOC = {
  reason: "the kernel's drop reason",
  location: 'the kernel function that dropped the segment',
  segment: 'the dropped segment (flags and length)',
  ...LOSS_TUPLE_DOC,
  // a retransmission after such a drop carries its cause (src/diagnose/loss.ts)
  kind: 'a retransmission after the drop: why TCP resent (SYN, SYNACK, RTO, FAST, PROBE)',
  retransmits: 'a retransmission after the drop: consecutive unanswered retransmissions',
  total_retrans: 'a retransmission after the drop: all retransmissions of the connection',
  drop_netns: 'a retransmission after the drop: the namespace where the drop happened',
  drop_detail: 'a retransmission after the drop: the rule the drop verdict named, or null',
  drops_seen: 'a retransmission after the drop: drops of the connection seen so far',
};

/** The connection the event is about, seen from its namespace. */
export function tupleOf(f: LossFacts): { laddr: string; lport: number; raddr: string; rport: number } | null {
  return f.e.packet ?? f.e.socket;
}

export function lossBase(f: LossFacts) {
  const t = tupleOf(f);
  return { local: t ? endpoint(t.laddr, t.lport) : null, remote: t ? endpoint(t.raddr, t.rport) : null };
}

export function dropEvidence(f: LossFacts) {
  const g = f.e.segment;
  return {
    reason: f.e.reason,
    location: f.e.location,
    segment: g ? `${g.flags || 'quoted'}${g.len ? ` ${g.len} bytes` : ''}` : null,
    ...lossBase(f),
  };
}

/** "SYN from 192.0.2.1:40122 to 198.51.100.2:7000" (a received segment) or "... from us to ..." */
export function segmentText(f: LossFacts): string {
  const t = tupleOf(f);
  const g = f.e.segment;
  const what = g?.flags ? `${g.flags}${g.len ? ` with ${g.len} bytes` : ''}` : 'a segment';
  if (!t) return what;
  return f.e.direction === 'in'
    ? `${what} from ${endpoint(t.raddr, t.rport)} to ${endpoint(t.laddr, t.lport)}`
    : `${what} from ${endpoint(t.laddr, t.lport)} to ${endpoint(t.raddr, t.rport)}`;
}

/** "pid 812 (curl)", or what is known instead. */
export function lossWho(f: LossFacts): string {
  const o = f.e.owner;
  return o ? `pid ${o.pid} (${o.comm})` : 'a process tcpwhy did not see open the socket';
}

/** The rule's text as a verdict may quote it (rules are read from tools: untrusted text). */
export function ruleText(r: NatRule): string {
  return escapeText(r.text);
}

const inRange = (p: number, r?: [number, number]) => !r || (p >= r[0] && p <= r[1]);
const addrIs = (a: string, want?: string) => !want || want === a || want.startsWith(`${a}/`) || (want.includes('/') && cidrHas(want, a));

/** Whether an IPv4 CIDR holds an address (IPv6 CIDRs: only the exact prefix text). */
function cidrHas(cidr: string, a: string): boolean {
  const [net, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const v4 = (x: string) => x.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  if (!net || net.includes(':') || a.includes(':') || !(bits >= 0 && bits <= 32)) return false;
  return Math.floor(v4(net) / 2 ** (32 - bits)) === Math.floor(v4(a) / 2 ** (32 - bits));
}

/**
 * The firewall rules of the namespace that drop or reject this segment:
 * those whose port and address matches cover it (the segment's destination
 * port and address; its source address for `saddr`). Rules with conditions
 * the host context cannot express (extraMatches) still count: they are the
 * likeliest, and the verdict quotes them whole.
 */
export function dropRulesFor(f: LossFacts): NatRule[] {
  const t = tupleOf(f);
  if (!t || !f.host) return [];
  // the segment's destination: ours when it came in
  const [dst, dport, src] = f.e.direction === 'in' ? [t.laddr, t.lport, t.raddr] : [t.raddr, t.rport, t.laddr];
  const icmp = f.e.icmp !== null;
  return f.host.rules.filter((r) => {
    if (r.action !== 'drop' && r.action !== 'reject') return false;
    if (icmp) return r.proto === 'icmp';
    if (r.proto && r.proto !== 'tcp') return false;
    return inRange(dport, r.dport) && addrIs(dst, r.daddr) && addrIs(src, r.saddr);
  });
}

export const ms = (ns: number) => Math.round(ns / 1e6);
export const secs = (ns: number) => `${(ns / 1e9).toFixed(ns < 1e10 ? 1 : 0)} s`;

/**
 * What this host saw of the connection before the event, in words: "6 SYNs
 * sent again; 7 dropped by netns 4026532173: the firewall rule ..." (the
 * drops' own verdicts name the rule, route or queue).
 */
export function storyText(f: LossFacts): string {
  const st = f.story;
  const parts: string[] = [];
  const r = st.retrans;
  const retr = Object.entries(r)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k === 'SYN' ? 'SYN' : k === 'SYNACK' ? 'SYN-ACK' : k} retransmission${n > 1 ? 's' : ''}`);
  if (retr.length) parts.push(retr.join(', '));
  if (st.drops.length) {
    const byCause = new Map<string, { n: number; detail: string | null; netns: number }>();
    for (const d of st.drops) {
      const k = `${d.cause}\0${d.detail ?? ''}\0${d.netns}`;
      const v = byCause.get(k) ?? { n: 0, detail: d.detail, netns: d.netns };
      v.n++;
      byCause.set(k, v);
    }
    for (const [k, v] of byCause) {
      const cause = k.split('\0')[0];
      parts.push(`${v.n} segment${v.n > 1 ? 's' : ''} dropped in netns ${v.netns} (${cause}${v.detail ? `: ${v.detail}` : ''})`);
    }
  }
  return parts.length ? parts.join('; ') : 'no drop or retransmission of it was seen on this host';
}

/** The most frequent drop of the story: what most likely ate the segments. */
export function mainDrop(f: LossFacts) {
  const counts = new Map<string, number>();
  let best: LossFacts['story']['drops'][number] | null = null;
  let bestN = 0;
  for (const d of f.story.drops) {
    const k = `${d.cause}\0${d.detail ?? ''}`;
    const n = (counts.get(k) ?? 0) + 1;
    counts.set(k, n);
    if (n > bestN) {
      bestN = n;
      best = d;
    }
  }
  return best ? { drop: best, count: bestN } : null;
}

export const STORY_DOC = {
  story: 'what this host saw of the connection before: retransmissions by kind, drops by cause and namespace',
  retransmits: 'consecutive unanswered retransmissions at the event',
  total_retrans: 'all retransmissions of the connection',
  duration: 'from the first event of the connection seen to this one',
  pid: 'process owning the socket',
  comm: 'its name',
  ...LOSS_TUPLE_DOC,
};

export function storyEvidence(f: LossFacts) {
  return {
    story: storyText(f),
    retransmits: f.e.tcp?.retransmits ?? null,
    total_retrans: f.e.tcp?.total_retrans ?? null,
    duration: secs(Math.max(0, f.e.mono_ns - f.story.first_ns)),
    pid: f.e.owner?.pid ?? null,
    comm: f.e.owner?.comm ?? null,
    ...lossBase(f),
  };
}

/** "pid 812 (curl) 192.0.2.1:40122 -> 198.51.100.2:7000" */
export function connText(f: LossFacts): string {
  const t = tupleOf(f);
  const who = f.e.owner ? `pid ${f.e.owner.pid} (${f.e.owner.comm}) ` : '';
  return t ? `${who}${endpoint(t.laddr, t.lport)} -> ${endpoint(t.raddr, t.rport)}` : who.trim() || 'a connection';
}
