// A lab run's capture against its live events: every RST on the wire should
// be one the live watcher saw sent, by the same endpoint, of the same kind,
// with the same cause (or one the capture honestly cannot tell apart from it).
//
// The capture is tcpdump on the server's veth1, so it holds the RSTs of both
// namespaces. A live sent RST with no wire RST is not a disagreement: the
// kernel built it but a netfilter rule (or the device) may drop it before the
// wire (peer-restarted drops the old server's RST on purpose). The reverse, a
// wire RST with no live sent event, is: in the lab nothing but TCP sends RSTs
// (netfilter REJECT would, without the TCP tracepoint, but no case uses it).
import { analyzeCapture, type Analysis, type ResetReport } from '../capture/analyze.js';
import type { RstEvent, Tuple } from '../events/event.js';
import { addrFilterKey, endpoint } from '../net/addr.js';

export type Agreement = 'exact' | 'ambiguous' | 'disagrees';

export interface CaptureMatch {
  reset: ResetReport;
  /** the live sent event of that RST */
  live: RstEvent;
  /**
   * exact: same sender, kind and cause; ambiguous: the live cause is one of
   * the capture's alternatives (the wire cannot tell them apart); disagrees:
   * kind or cause differ (the problem says how)
   */
  agreement: Agreement;
}

export interface CaptureComparison {
  /** capture RSTs paired with their live sent events, in capture order */
  matched: CaptureMatch[];
  /** capture RSTs with no live sent event */
  unmatched: ResetReport[];
  /** live sent events with no RST on the wire (dropped before it: not a problem) */
  unseen: RstEvent[];
  /** disagreements and RSTs nobody saw sent; empty when the capture agrees */
  problems: string[];
  counts: { resets: number; exact: number; ambiguous: number };
}

/** "addr:port" or "[addr]:port" in one form whatever the address's text (IPv6 case, zeros, v4-mapped). */
function endpointKey(text: string): string {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(text);
  if (!m) return text;
  try {
    return `${addrFilterKey(m[1]!).toString('hex')}:${m[2]}`;
  } catch {
    return text;
  }
}

/** The live event's sender and receiver: the packet's tuple for passive RSTs, the socket's for active ones. */
export function liveEnds(e: RstEvent): { sender: string; receiver: string } | null {
  const t: Tuple | null = e.kind === 'passive' ? (e.packet ?? e.socket) : (e.socket ?? e.packet);
  if (!t) return null;
  return { sender: endpoint(t.laddr, t.lport), receiver: endpoint(t.raddr, t.rport) };
}

/** Seconds since the epoch of an event's RFC 3339 time (nanosecond fraction kept), NaN if unreadable. */
function eventSeconds(e: RstEvent): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(e.time);
  if (!m) return NaN;
  return Date.parse(`${m[1]}${m[3]}`) / 1000 + (m[2] ? Number(`0${m[2]}`) : 0);
}

/** Whether the live trigger segment is the one the capture says the RST answers (unknown counts as yes). */
function sameTrigger(r: ResetReport, e: RstEvent): boolean {
  if (e.kind !== 'passive' || !e.segment || !r.answers) return true;
  return e.segment.seq === r.answers.seq && e.segment.ack === r.answers.ack;
}

const causeOf = (e: RstEvent) => e.cause?.id ?? '(not diagnosed)';
const describeReset = (r: ResetReport) => `frame ${r.frame} ${r.sender} -> ${r.receiver} [${r.flags}]`;
const describeLive = (e: RstEvent) => {
  const ends = liveEnds(e);
  return `${ends ? `${ends.sender} -> ${ends.receiver}` : '(no tuple)'} ${e.kind ?? '?'} ${causeOf(e)} (reason ${e.reason ?? 'none'}, state ${e.state ?? 'none'})`;
};

/**
 * Pairs each capture RST with the live SENT event of the same RST: same
 * sender and receiver endpoints, then preferring the same kind and (passive)
 * the same trigger segment, the nearest in time among equals; each live event
 * is used once. Then checks kind and cause of each pair.
 */
export function compareCapture(resets: ResetReport[], events: RstEvent[]): CaptureComparison {
  const sent = events
    .filter((e) => e.direction === 'sent')
    .map((e, order) => {
      const ends = liveEnds(e);
      return { e, order, t: eventSeconds(e), sender: ends ? endpointKey(ends.sender) : '', receiver: ends ? endpointKey(ends.receiver) : '', used: false };
    });
  const ordered = [...resets].sort((a, b) => a.time - b.time || a.frame - b.frame);
  const matched: CaptureMatch[] = [];
  const unmatched: ResetReport[] = [];
  const problems: string[] = [];
  let exact = 0;
  let ambiguous = 0;
  for (const [i, r] of ordered.entries()) {
    const sender = endpointKey(r.sender);
    const receiver = endpointKey(r.receiver);
    const candidates = sent.filter((s) => !s.used && s.sender === sender && s.receiver === receiver);
    // 2: same kind and trigger, 1: same kind, 0: the tuple only
    const score = (s: (typeof sent)[number]) => (s.e.kind === r.kind ? (sameTrigger(r, s.e) ? 2 : 1) : 0);
    const distance = (s: (typeof sent)[number]) => (Number.isFinite(s.t) ? Math.abs(s.t - r.time) : Math.abs(s.order - i));
    const best = candidates.sort((a, b) => score(b) - score(a) || distance(a) - distance(b))[0];
    if (!best) {
      unmatched.push(r);
      problems.push(
        `${describeReset(r)} (${r.kind}, capture: ${r.cause.id}): no live sent event for it` +
          ' (an RST built outside TCP, e.g. by a netfilter REJECT rule, has none)',
      );
      continue;
    }
    best.used = true;
    const e = best.e;
    const why: string[] = [];
    if (r.kind !== e.kind) why.push(`kind: capture ${r.kind}, live ${e.kind ?? 'none'}`);
    else if (!sameTrigger(r, e)) {
      why.push(`trigger: capture answers seq ${r.answers!.seq} ack ${r.answers!.ack}, live segment seq ${e.segment!.seq} ack ${e.segment!.ack}`);
    }
    let agreement: Agreement = 'disagrees';
    const liveCause = e.cause?.id;
    if (!liveCause) why.push('the live event was not diagnosed');
    else if (liveCause === r.cause.id) agreement = 'exact';
    else if (r.cause.alternatives.includes(liveCause)) agreement = 'ambiguous';
    else {
      const alts = r.cause.alternatives.length ? ` (alternatives: ${r.cause.alternatives.join(', ')})` : ' (no alternatives)';
      why.push(`cause: capture ${r.cause.id} [${r.cause.confidence}]${alts}, live ${liveCause}`);
    }
    if (why.length) {
      agreement = 'disagrees';
      problems.push(`${describeReset(r)}: ${why.join('; ')}; live: ${describeLive(e)}`);
    } else if (agreement === 'exact') exact++;
    else ambiguous++;
    matched.push({ reset: r, live: e, agreement });
  }
  const unseen = sent.filter((s) => !s.used).map((s) => s.e);
  return { matched, unmatched, unseen, problems, counts: { resets: ordered.length, exact, ambiguous } };
}

/** Reads and analyzes a recording, then compares it with the run's live events. A damaged capture is a problem too. */
export async function checkCapture(file: string, events: RstEvent[]): Promise<CaptureComparison & { analysis: Analysis }> {
  const resets: ResetReport[] = [];
  const analysis = await analyzeCapture(file, { onReset: (r) => resets.push(r) });
  const cmp = compareCapture(resets, events);
  if (analysis.read.error) cmp.problems.unshift(`the capture is damaged: ${analysis.read.error.message}`);
  return { ...cmp, analysis };
}

/**
 * The match of the RST a live event is about: a sent event's own RST; for a
 * received event, the RST its peer sent on the connection (the match whose
 * sender is the event's remote end and whose receiver its local end, the
 * nearest in time). null when the capture has none.
 */
export function matchFor(cmp: Pick<CaptureComparison, 'matched'>, e: RstEvent): CaptureMatch | null {
  if (e.direction === 'sent') return cmp.matched.find((m) => m.live === e) ?? null;
  const t = e.socket ?? e.packet;
  if (!t) return null;
  const sender = endpointKey(endpoint(t.raddr, t.rport));
  const receiver = endpointKey(endpoint(t.laddr, t.lport));
  const when = eventSeconds(e);
  const cands = cmp.matched.filter((m) => endpointKey(m.reset.sender) === sender && endpointKey(m.reset.receiver) === receiver);
  if (!Number.isFinite(when)) return cands[0] ?? null;
  return cands.sort((a, b) => Math.abs(a.reset.time - when) - Math.abs(b.reset.time - when))[0] ?? null;
}

/** "3/3 (2 exact, 1 ambiguous)": the capture RSTs whose sender, kind and cause agree with the live verdicts. */
export function agreementText(cmp: CaptureComparison): string {
  const agree = cmp.counts.exact + cmp.counts.ambiguous;
  return `${agree}/${cmp.counts.resets} (${cmp.counts.exact} exact, ${cmp.counts.ambiguous} ambiguous)`;
}
