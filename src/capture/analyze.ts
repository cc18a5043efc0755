// Offline analysis of a capture: read, decode, track connections (track.ts),
// judge each RST with the catalogue's causes (judge.ts, through the wire
// rules), report resets and connections (report.ts). Resets and connection
// reports stream out through callbacks as they are decided, so a capture of
// any size is analyzed in bounded memory; the totals come back at the end.
import { connMatches, flowMatches, type ConnFilter } from './conn-filter.js';
import { decodeTcp, linktypeName, newIcmpQuote, newSegment } from './decode.js';
import { ResetJudge } from './judge.js';
import { LossJudge } from './loss-judge.js';
import { readCapture } from './reader.js';
import type { CaptureSource } from './source.js';
import {
  connEnds,
  connReport,
  ConnTotals,
  ladderRow,
  lossReport,
  ReportLimit,
  resetReport,
  type Analysis,
  type ConnReport,
  type LadderRow,
  type LossReport,
  type ResetReport,
} from './report.js';
import { packetAt } from './ring.js';
import { StormGrouper, type StormFinding } from './storms.js';
import { UnansweredGrouper, unanswered, type UnansweredFinding } from './unanswered.js';
import { RST } from '../net/flags.js';
import { Tracker } from './track.js';
import { skipNote } from './encap.js';
import type { SkipReason, TcpSegment } from './types.js';
import { newWireFacts, wireFacts } from './wire.js';

export { parseConnFilter, type ConnFilter } from './conn-filter.js';
export { STORM_GAP_SECONDS, STORM_MAX_OPEN, STORM_MIN, type StormFinding } from './storms.js';
export type { UnansweredFinding } from './unanswered.js';
export type { CaptureVerdict } from './judge.js';
export {
  lossNotes,
  type Analysis,
  type ConnReport,
  type LadderRow,
  type LossCounts,
  type LossReport,
  type PayloadReport,
  type ResetReport,
} from './report.js';

/** Bytes of an RST's payload kept for decoding (the report gives the whole length). */
const PAYLOAD_KEEP = 4096;

export interface AnalyzeOptions {
  /** keep the last packets before each reset (ResetReport.ladder) */
  ladder?: boolean;
  /** only this connection's packets count (resets and loss of others are skipped) */
  conn?: ConnFilter | null;
  onReset?(r: ResetReport): void;
  /**
   * Alike resets (same cause and endpoint, STORM_MIN or more without a gap
   * of STORM_GAP_SECONDS: storms.ts) come here as one finding instead of
   * one onReset each; without it every reset goes to onReset. With
   * reportLimit, the limit counts findings and single resets alike
   */
  onStorm?(f: StormFinding): void;
  /**
   * With onStorm: the first reset of each group goes to onReset as soon as it
   * is decided (the rest when the group closes), as on a stream (reportAsDecided)
   */
  firstAtOnce?: boolean;
  /** connections with a reset, loss or a failed handshake, when they end */
  onConn?(r: ConnReport): void;
  /**
   * Connections whose SYNs nobody answered, to one server endpoint with no gap
   * over STORM_GAP_SECONDS, STORM_MIN or more: one finding here instead of an
   * onConn each (unanswered.ts); smaller groups go to onConn when they close
   */
  onUnanswered?(f: UnansweredFinding): void;
  /** onConn gets only the connections with loss signs (the text report lists the lossiest; a flood of unanswered SYNs builds no report each) */
  onConnLossyOnly?: boolean;
  /**
   * loss causes named (a connect that timed out, a zero window, an ICMP error
   * about a flow, an MTU black hole), when their connection ends; with
   * reportLimit, only those of the first that many flows (by first frame),
   * at the end in frame order
   */
  onLoss?(r: LossReport): void;
  /**
   * Report only the first this many resets of the capture (by frame; all are
   * still counted), handed to onReset at the end in frame order; default: every
   * reset, as soon as it is decided
   */
  reportLimit?: number;
  /** every packet of connections matching `conn`, for its ladder */
  onConnPacket?(c: { id: number; row: LadderRow; client: string; server: string }): void;
  /**
   * With reportLimit: the first reportLimit resets (and loss findings) as they
   * are decided, handed out at once, rather than the first by frame at the end
   * (a stream, whose end may never come)
   */
  reportAsDecided?: boolean;
  /**
   * A live stream: when no packet came for this many milliseconds (wall
   * clock), the resets waiting for what follows them are decided, as if the
   * capture's clock had gone on with the wall clock
   */
  idleMs?: number;
  onProgress?(doneBytes: number, totalBytes: number): void;
  /** stops the reading: what was read is analyzed and summed up */
  signal?: AbortSignal;
  /** ConnReport.loss_frames lists every frame with a loss sign (within a bound), not the first 5 per direction */
  allLossFrames?: boolean;
}

/** The first `limit` reports as they come (AnalyzeOptions.reportAsDecided). */
class FirstDecided<T> {
  private n = 0;
  constructor(
    private readonly limit: number,
    private readonly out: (r: T) => void,
  ) {}
  wants(_frame: number): boolean {
    return this.n < this.limit;
  }
  add(r: T): void {
    // a storm's first reset is judged in full even past the limit (it gives the storm its verdict): not listed
    if (this.n >= this.limit) return;
    this.n++;
    this.out(r);
  }
  reports(): readonly T[] {
    return [];
  }
}

export async function analyzeCapture(input: string | CaptureSource, opts: AnalyzeOptions = {}): Promise<Analysis> {
  const seg: TcpSegment = newSegment();
  const icmp = newIcmpQuote();
  const skipped: Partial<Record<SkipReason, number>> = {};
  const unsupported: Record<string, number> = {};
  let tcpSegments = 0;
  let resets = 0;
  let firstTime = 0;
  let lastSec = 0;
  let lastNsec = 0;
  // a clock that runs backwards: the earliest and latest times are found at its steps back
  // (the earliest follows a step back, the latest precedes one), so an ordered capture pays one compare
  let stepsBack = 0;
  let minTime = 0;
  let maxTime = 0;
  let currentFrameBuf: Buffer | null = null;
  const filter = opts.conn ?? null;
  const onStorm = opts.onStorm;
  // a reset or a storm finding, as the limit keeps them (a finding's frame is its first RST's)
  const item = (r: ResetReport | StormFinding) => ('first' in r ? onStorm!(r) : opts.onReset!(r));
  const onReset: ((r: ResetReport | StormFinding) => void) | undefined = opts.onReset && (onStorm ? item : (r) => opts.onReset!(r as ResetReport));
  const limit =
    opts.reportLimit === undefined || !onReset
      ? null
      : opts.reportAsDecided
        ? new FirstDecided<ResetReport | StormFinding>(opts.reportLimit, onReset)
        : new ReportLimit<ResetReport | StormFinding>(opts.reportLimit);
  const reported = (r: ResetReport | StormFinding) => {
    if (limit) limit.add(r);
    else onReset!(r);
  };
  const storms =
    onReset && onStorm
      ? new StormGrouper({ reset: reported, storm: reported }, { firstAtOnce: opts.firstAtOnce === true || opts.reportAsDecided === true })
      : null;
  const conns = new ConnTotals();
  const unansweredGroups =
    opts.onUnanswered && opts.onConn ? new UnansweredGrouper({ conn: (r) => opts.onConn!(r), finding: (f) => opts.onUnanswered!(f) }) : null;
  const onLoss = opts.onLoss;
  const lossLimit =
    opts.reportLimit === undefined || !onLoss
      ? null
      : opts.reportAsDecided
        ? new FirstDecided<LossReport>(opts.reportLimit, onLoss)
        : new ReportLimit<LossReport>(opts.reportLimit);
  const loss = new LossJudge({
    wants: (frame) => onLoss !== undefined && (lossLimit === null || lossLimit.wants(frame)),
    finding(l, cause, proof) {
      const report = lossReport(l, cause, proof);
      if (lossLimit) lossLimit.add(report);
      else onLoss!(report);
    },
  });
  // the facts of a reset decided at once: filled again for every reset
  const scratch = newWireFacts();

  const tracker: Tracker = new Tracker(
    {
      onReset(c, side, s, frame, time) {
        if (filter && !connMatches(filter, c)) return;
        resets++;
        const payload =
          s.captured > 0 && currentFrameBuf ? Buffer.from(currentFrameBuf.subarray(s.payloadOff, s.payloadOff + Math.min(s.captured, PAYLOAD_KEEP))) : null;
        judge.reset(wireFacts(c, side, s, frame, time, opts.ladder === true, payload, scratch));
      },
      onConnDone(c) {
        if (filter && !connMatches(filter, c)) return;
        if (unansweredGroups && unanswered(c)) {
          conns.add(c, false);
          if (unansweredGroups.note(c)) unansweredGroups.hold(connReport(c));
        } else {
          const r = conns.add(c, opts.onConn !== undefined, opts.onConnLossyOnly === true);
          if (r) opts.onConn!(r);
        }
        loss.conn(c, tracker.now);
      },
    },
    { allLossFrames: opts.allLossFrames === true },
  );

  const judge = new ResetJudge(tracker, {
    // grouped, every reset is counted in its group; the limit applies to what the groups hand out
    wants: storms
      ? (frame, w, id, confidence) => storms.note(w, id, confidence, limit === null || limit.wants(frame))
      : (frame) => onReset !== undefined && (limit === null || limit.wants(frame)),
    verdict(w, cause, proof) {
      const report = resetReport(w, cause, proof, firstTime);
      if (storms) storms.report(report);
      else reported(report);
    },
  });

  // a stream gone quiet: the resets waiting for later packets are decided by the wall clock
  let framesAtTick = -1;
  let quietSince = 0;
  const idleMs = opts.idleMs;
  const idle =
    idleMs === undefined
      ? null
      : setInterval(
          () => {
            if (tcpSegments !== framesAtTick) {
              framesAtTick = tcpSegments;
              quietSince = Date.now();
              return;
            }
            if (Date.now() - quietSince < idleMs) return;
            const now = tracker.now + (Date.now() - quietSince) / 1000;
            if (judge.waiting()) judge.advance(now);
            storms?.advance(now);
            unansweredGroups?.advance(now);
          },
          Math.max(10, idleMs / 4),
        );
  idle?.unref();
  let read;
  try {
    read = await readCapture(
      input,
      (f) => {
        const why = decodeTcp(f, seg, icmp);
        if (why !== null) {
          skipped[why] = (skipped[why] ?? 0) + 1;
          if (why === 'encapsulation' || why === 'unknown-linktype') unsupported[skipNote] = (unsupported[skipNote] ?? 0) + 1;
          if (icmp.found) {
            const time = (tracker.now = f.sec + f.nsec / 1e9);
            if (
              tracker.icmp(icmp, f.index) === null &&
              (!filter || flowMatches(filter, { addr: icmp.srcKey, port: icmp.sport }, { addr: icmp.dstKey, port: icmp.dport }))
            )
              loss.untracked(icmp, f.index, time);
          }
          return;
        }
        tcpSegments++;
        // times kept as numbers in the tracker's field and as whole seconds and
        // nanoseconds here: a double kept in a variable of this closure is a new
        // heap number for every packet
        const time = (tracker.now = f.sec + f.nsec / 1e9);
        if (tcpSegments === 1) firstTime = minTime = maxTime = time;
        else if (f.sec < lastSec || (f.sec === lastSec && f.nsec < lastNsec)) {
          stepsBack++;
          const before = lastSec + lastNsec / 1e9;
          if (before > maxTime) maxTime = before;
          if (time < minTime) minTime = time;
        }
        lastSec = f.sec;
        lastNsec = f.nsec;
        if (judge.waiting()) judge.advance(time);
        // open storm groups close after a quiet gap: checking now and then bounds what they hold
        if ((tcpSegments & 1023) === 0) {
          storms?.advance(time);
          unansweredGroups?.advance(time);
        }
        if (seg.flags & RST) currentFrameBuf = f.buf;
        tracker.wirePayload = f.origlen - (seg.payloadOff - f.off);
        const c = tracker.segment(seg, f.index);
        if (filter && opts.onConnPacket && connMatches(filter, c)) {
          const row = ladderRow({ clientSide: c.clientSide(), rolesKnown: c.client >= 0 }, packetAt(c, c.newest()), firstTime);
          opts.onConnPacket({ id: c.id, row, ...connEnds(c) });
        }
      },
      { onProgress: opts.onProgress, signal: opts.signal },
    );
  } finally {
    if (idle) clearInterval(idle);
  }
  judge.finish();
  storms?.finish();
  tracker.end();
  unansweredGroups?.finish();
  if (limit) for (const r of limit.reports()) onReset!(r);
  if (lossLimit) for (const r of lossLimit.reports()) onLoss!(r);
  return {
    read,
    frames: read.frames,
    tcp_segments: tcpSegments,
    skipped,
    skipped_unsupported: unsupported,
    connections: tracker.connections,
    resets,
    by_cause: judge.causes(),
    storms: storms ? { findings: storms.findings, resets: storms.resets, closed_early: storms.closedEarly } : null,
    unanswered_groups: unansweredGroups
      ? { findings: unansweredGroups.findings, connections: unansweredGroups.connections, closed_early: unansweredGroups.closedEarly }
      : null,
    by_kind: judge.byKind,
    handshakes: conns.handshakes,
    loss: conns.loss,
    lossy_connections: conns.lossy,
    loss_frames_omitted: conns.lossFramesOmitted,
    loss_findings: loss.findings,
    loss_by_cause: loss.causes(),
    first_time: firstTime,
    last_time: tcpSegments ? lastSec + lastNsec / 1e9 : 0,
    time_span: tcpSegments ? Math.max(maxTime, lastSec + lastNsec / 1e9) - minTime : 0,
    clock_steps_back: stepsBack,
    forgotten_open: tracker.forgottenOpen,
    quiet_kept_max: tracker.generationSize,
  };
}

export { linktypeName };
