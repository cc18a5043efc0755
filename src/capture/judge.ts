// The reset judge: gives each reset of a capture its cause, through the wire
// rules. A reset whose verdict depends on what follows it (a burst of resets,
// a leaked NAT port) waits a little capture time. The judge counts verdicts by
// cause and kind; the full verdict (summary, evidence, proof) is made only for
// the resets its sink wants reported.
//
// What it needs to know about other connections it asks an EndpointHistory
// (the tracker is one), never the tracker's internals. The rules, the causes
// and the verdict's type are read here and nowhere else in capture/.
import { causeById, WIRE_RULES } from '../causes/index.js';
import { BURST_SECONDS, needsLookahead } from '../causes/wire-helpers.js';
import type { Confidence, Verdict } from '../events/verdict.js';
import { ACK, SYN } from '../net/flags.js';
import { Bursts } from './bursts.js';
import type { WireFacts } from '../causes/wire-facts.js';
import { freeze } from './wire.js';

/** Capture seconds a reset's verdict waits for what follows it (a burst of resets, a leaked NAT port). */
const DEFER_SECONDS = 0.1;
/**
 * Resets waiting at most: beyond this the oldest is decided with what is
 * known. Capture time decides when a wait is over, and a capture whose clock
 * stands still (Simple Packet Blocks carry no time; a broken or hostile
 * capture may repeat one) would otherwise hold every active reset to its end.
 */
const MAX_PENDING = 1 << 16;

/** A capture's verdict always names the causes it cannot tell apart (maybe none). */
export type CaptureVerdict = Verdict & { alternatives: string[] };

export interface CauseCount {
  id: string;
  title: string;
  count: number;
  confidence: Record<Confidence, number>;
  first_frame: number;
}

/** What the judge asks about the capture beyond the reset's own connection. */
export interface EndpointHistory {
  /** handshakes the endpoint answered with a SYN-ACK so far */
  acceptedAt(addr: string, port: number): { count: number; lastFrame: number } | null;
  /** ports of `addr` other than `port` that `peer`:`peerPort` talked to in flows seen only mid-connection */
  otherPorts(peer: string, peerPort: number, addr: string, port: number): number[];
}

export interface VerdictSink {
  /**
   * whether the reset at this frame is to be reported (its full verdict made);
   * every decided reset is asked about, with its facts and its rule's cause id
   * (a storm of alike resets is counted here and reported once)
   */
  wants(frame: number, w: WireFacts, causeId: string, confidence: Confidence): boolean;
  /** the verdict of a reset wants() asked for; `proof`: frames that show it, sorted */
  verdict(w: WireFacts, cause: CaptureVerdict, proof: number[]): void;
}

export class ResetJudge {
  /** verdicts by kind of reset */
  readonly byKind = { active: 0, passive: 0, unknown: 0 };
  private readonly byCause = new Map<string, CauseCount>();
  // each rule's entry of byCause, found once (rules of one cause share it)
  private readonly ruleAgg: Array<CauseCount | undefined> = [];
  // resets wait DEFER_SECONDS of capture time for what follows them
  private readonly pending: WireFacts[] = [];
  private head = 0;
  private readonly bursts = new Bursts(BURST_SECONDS);

  constructor(
    private readonly history: EndpointHistory,
    private readonly sink: VerdictSink,
  ) {}

  /**
   * A reset as its connection shows it at the moment it is seen. `w` may be
   * filled again for the next reset: what must wait is frozen here.
   */
  reset(w: WireFacts): void {
    // only a refused SYN asks whether the endpoint accepted connections before
    if (w.answered && (w.answered.flags & (SYN | ACK)) === SYN) w.acceptedBefore = this.history.acceptedAt(w.from.addr, w.from.port);
    if (w.kind === 'active') this.bursts.add(w.from, w.rst.time);
    if (!needsLookahead(w)) {
      this.decide(w);
      return;
    }
    // the verdict waits for the packets after the reset: freeze what it reads now
    this.pending.push(freeze(w));
  }

  /** Whether a reset waits; only then is the clock worth telling (advance()). */
  waiting(): boolean {
    return this.head < this.pending.length;
  }

  /** The capture reached `time`: decides the resets whose wait is over. */
  advance(time: number): void {
    if (this.head < this.pending.length && (this.due(this.pending[this.head]!, time) || this.pending.length - this.head > MAX_PENDING)) this.flushUntil(time);
  }

  /** The capture ended: decides every reset still waiting. */
  finish(): void {
    this.flushUntil(Infinity);
  }

  /** Verdict counts by cause, the most frequent first. */
  causes(): CauseCount[] {
    return [...this.byCause.values()].sort((a, b) => b.count - a.count || a.first_frame - b.first_frame);
  }

  // a wait is over DEFER_SECONDS after the reset, or at once when the capture's
  // clock went back by as much (it cannot be trusted to end the wait)
  private due(w: WireFacts, time: number): boolean {
    return time - w.rst.time > DEFER_SECONDS || w.rst.time - time > DEFER_SECONDS;
  }

  private flushUntil(time: number): void {
    const pending = this.pending;
    while (this.head < pending.length && (this.due(pending[this.head]!, time) || pending.length - this.head > MAX_PENDING)) {
      const w = pending[this.head]!;
      pending[this.head++] = undefined as unknown as WireFacts;
      this.decide(w);
    }
    if (this.head === pending.length) {
      pending.length = 0;
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > pending.length) {
      pending.splice(0, this.head);
      this.head = 0;
    }
  }

  private decide(w: WireFacts): void {
    if (w.kind === 'active') w.burst = this.bursts.count(w.from, w.rst.time);
    // only the NAT rule reads them, for a passive reset by the server of an established connection
    if (w.role === 'server' && w.kind === 'passive' && w.handshake === 'established')
      w.leakedPorts = this.history.otherPorts(w.to.addr, w.to.port, w.from.addr, w.from.port);
    let at = WIRE_RULES.length - 1;
    let confidence: Confidence = 'low';
    for (let i = 0; i < WIRE_RULES.length; i++) {
      const c = WIRE_RULES[i]!.test(w);
      if (c === null) continue;
      at = i;
      confidence = c;
      break;
    }
    const rule = WIRE_RULES[at]!;
    let agg = this.ruleAgg[at];
    if (!agg) {
      agg = this.byCause.get(rule.id);
      if (!agg)
        this.byCause.set(
          rule.id,
          (agg = { id: rule.id, title: causeById(rule.id)!.title, count: 0, confidence: { high: 0, medium: 0, low: 0 }, first_frame: w.rst.frame }),
        );
      this.ruleAgg[at] = agg;
    }
    agg.count++;
    agg.confidence[confidence]++;
    if (w.rst.frame < agg.first_frame) agg.first_frame = w.rst.frame;
    this.byKind[w.kind]++;
    if (!this.sink.wants(w.rst.frame, w, rule.id, confidence)) return;
    const x = rule.explain(w);
    const cause = causeById(rule.id)!;
    this.sink.verdict(
      w,
      { id: rule.id, title: cause.title, confidence, summary: x.summary, evidence: x.evidence, fix: cause.fix, alternatives: rule.alike },
      [...new Set(x.proof)].sort((p, q) => p - q),
    );
  }
}
