// The loss judge: names the loss causes of the catalogue (their wire loss
// rules, WIRE_LOSS_ORDER) on each side of every finished connection that
// shows a sign of one, and on ICMP errors about flows the capture has no
// packet of. Findings are counted by cause; the full finding (summary,
// evidence, proof) is made only for those its sink wants reported.
import { WIRE_LOSS_ORDER } from '../causes/index.js';
import type { IcmpSeen, LossSideFacts, StuckSegment, WireLossFacts } from '../causes/wire-loss-facts.js';
import type { Confidence } from '../events/verdict.js';
import type { CaptureVerdict, CauseCount } from './judge.js';
import { SYN } from '../net/flags.js';
import { ringFlags, ringFrame, ringSide, ringTime } from './ring.js';
import type { Conn, Direction, IcmpRecord } from './track.js';
import type { IcmpQuote } from './types.js';

export interface LossSink {
  /** whether a finding about the flow whose first frame is this is to be reported */
  wants(frame: number): boolean;
  finding(l: WireLossFacts, cause: CaptureVerdict, proof: number[]): void;
}

/** Whether a finished connection shows anything a loss rule reads (most show nothing: no facts are built for them). */
function worthAsking(c: Conn): boolean {
  const a = c.d0;
  const b = c.d1;
  return (
    c.unreach !== null ||
    c.tooBig !== null ||
    (c.handshake === 'syn' && a.synRetrans + b.synRetrans > 0) ||
    a.zeroWindows + b.zeroWindows > 0 ||
    (a.lx !== null && a.lx.bhCount >= 2) ||
    (b.lx !== null && b.lx.bhCount >= 2)
  );
}

function stuckOf(d: Direction): StuckSegment | null {
  const x = d.lx;
  if (x === null || x.bhCount === 0) return null;
  return {
    seq: x.bhSeq,
    len: x.bhLen,
    count: x.bhCount,
    frame: x.bhFrame,
    time: x.bhTime,
    lastFrame: x.bhLastFrame,
    lastTime: x.bhLastTime,
    earlierAcked: x.bhEarlierAcked,
    fullSizeAcked: x.bhMaxAcked,
    shrunkFrame: x.bhShrunkFrame,
    throughFrame: x.bhThroughFrame,
  };
}

/**
 * A side's SYNs as the connection's last packets show them (a connection
 * whose SYNs went unanswered holds little else): the first, the last, and the
 * wait before the last. The first SYN of a connection it opened is its first packet.
 */
function synsOf(c: Conn, side: number): { firstFrame: number; firstTime: number; lastFrame: number; lastTime: number; gap: number } {
  const out = { firstFrame: 0, firstTime: 0, lastFrame: 0, lastTime: 0, gap: 0 };
  for (let i = c.ringLen - 1; i >= 0; i--) {
    const at = c.ringAt(i);
    if (ringSide(c, at) !== side || !(ringFlags(c, at) & SYN)) continue;
    if (out.firstFrame === 0) {
      out.firstFrame = ringFrame(c, at);
      out.firstTime = ringTime(c, at);
    } else out.gap = ringTime(c, at) - out.lastTime;
    out.lastFrame = ringFrame(c, at);
    out.lastTime = ringTime(c, at);
  }
  if (c.client === side && c.handshake === 'syn') {
    out.firstFrame = c.firstFrame;
    out.firstTime = c.firstTime;
  }
  return out;
}

function sideOf(c: Conn, s: number): LossSideFacts {
  const d = c.dir(s);
  const x = d.lx;
  const syn = d.syns ? synsOf(c, s) : null;
  return {
    addr: c.addrOf(s),
    port: c.portOf(s),
    packets: d.packets,
    lastFrame: d.lastFrame,
    lastTime: d.lastTime,
    retransmissions: d.retrans,
    syns: d.syns,
    firstSynFrame: syn?.firstFrame ?? 0,
    firstSynTime: syn?.firstTime ?? 0,
    lastSynFrame: syn?.lastFrame ?? 0,
    lastSynTime: syn?.lastTime ?? 0,
    synGap: syn?.gap ?? 0,
    zeroWindows: d.zeroWindows,
    zwFirstFrame: x?.zwFirstFrame ?? 0,
    zwFirstTime: x?.zwFirstTime ?? 0,
    zwLongest: x?.zwLongest ?? 0,
    zwOpenSince: x?.zwSince ?? -1,
    zwReopenFrame: x?.zwReopenFrame ?? 0,
    zwProbes: x?.zwProbes ?? 0,
    maxLen: d.maxLen,
    stuck: stuckOf(d),
  };
}

/** A side the capture has no packet of. */
function noPackets(addr: string, port: number): LossSideFacts {
  return {
    addr,
    port,
    packets: 0,
    lastFrame: 0,
    lastTime: 0,
    retransmissions: 0,
    syns: 0,
    firstSynFrame: 0,
    firstSynTime: 0,
    lastSynFrame: 0,
    lastSynTime: 0,
    synGap: 0,
    zeroWindows: 0,
    zwFirstFrame: 0,
    zwFirstTime: 0,
    zwLongest: 0,
    zwOpenSince: -1,
    zwReopenFrame: 0,
    zwProbes: 0,
    maxLen: 0,
    stuck: null,
  };
}

function seen(r: IcmpRecord, family: 4 | 6): IcmpSeen {
  return {
    frame: r.frame,
    time: r.time,
    count: r.count,
    lastFrame: r.lastFrame,
    family,
    type: r.type,
    code: r.code,
    from: r.from,
    mtu: r.mtu,
    quotedSeq: r.quotedSeq,
    quotedFlags: r.quotedFlags,
    quotedLen: r.quotedLen,
    after: r.after,
    synsAfter: r.synsAfter,
    tooBigAfter: r.tooBigAfter,
  };
}

/** Whether an ICMP error reports a packet too big rather than an unreachable destination. */
export const tooBigQuote = (q: IcmpQuote) => (q.family === 4 ? q.code === 4 : q.type === 2);

export class LossJudge {
  private readonly byCause = new Map<string, CauseCount>();
  findings = 0;

  constructor(private readonly sink: LossSink) {}

  /** A connection is finished (at capture time `now`): every rule on each of its sides. */
  conn(c: Conn, now: number): void {
    if (!worthAsking(c)) return;
    for (const s of [0, 1]) {
      const other = 1 - s;
      const rec = (r: IcmpRecord | null) => (r !== null && r.side === s ? seen(r, c.family) : null);
      this.judge({
        connId: c.id,
        family: c.family,
        rolesKnown: c.client >= 0,
        handshake: c.handshake,
        role: c.client < 0 ? null : s === c.client ? 'client' : 'server',
        me: sideOf(c, s),
        peer: sideOf(c, other),
        firstFrame: c.firstFrame,
        lastFrame: Math.max(c.d0.lastFrame, c.d1.lastFrame),
        lastTime: c.lastTime,
        endTime: Math.max(now, c.lastTime),
        unreach: rec(c.unreach),
        tooBig: rec(c.tooBig),
      });
    }
  }

  /** An ICMP error about a flow no tracked connection has (frame `frame`, capture time `time`). */
  untracked(q: IcmpQuote, frame: number, time: number): void {
    const i: IcmpSeen = {
      frame,
      time,
      count: 1,
      lastFrame: frame,
      family: q.family,
      type: q.type,
      code: q.code,
      from: q.fromKey,
      mtu: q.mtu,
      quotedSeq: q.seq,
      quotedFlags: q.flags,
      quotedLen: q.quotedLen,
      after: 0,
      synsAfter: 0,
      tooBigAfter: 0,
    };
    const big = tooBigQuote(q);
    this.judge({
      connId: null,
      family: q.family,
      rolesKnown: false,
      handshake: null,
      role: null,
      me: noPackets(q.srcKey, q.sport),
      peer: noPackets(q.dstKey, q.dport),
      firstFrame: frame,
      lastFrame: frame,
      lastTime: time,
      endTime: time,
      unreach: big ? null : i,
      tooBig: big ? i : null,
    });
  }

  /** Findings by cause, the most frequent first. */
  causes(): CauseCount[] {
    return [...this.byCause.values()].sort((a, b) => b.count - a.count || a.first_frame - b.first_frame);
  }

  private judge(l: WireLossFacts): void {
    for (const cause of WIRE_LOSS_ORDER) {
      const rule = cause.wireLoss!;
      const confidence: Confidence | null = rule.test(l);
      if (confidence === null) continue;
      const frame = l.firstFrame;
      this.findings++;
      let agg = this.byCause.get(cause.id);
      if (!agg)
        this.byCause.set(cause.id, (agg = { id: cause.id, title: cause.title, count: 0, confidence: { high: 0, medium: 0, low: 0 }, first_frame: frame }));
      agg.count++;
      agg.confidence[confidence]++;
      if (frame < agg.first_frame) agg.first_frame = frame;
      if (!this.sink.wants(frame)) continue;
      const x = rule.explain(l);
      const proof = [...new Set(x.proof)].filter((f) => f > 0).sort((p, q) => p - q);
      this.sink.finding(
        l,
        { id: cause.id, title: cause.title, confidence, summary: x.summary, evidence: x.evidence, fix: cause.fix, alternatives: rule.alike },
        proof,
      );
    }
  }
}
