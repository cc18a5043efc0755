// Offline analysis of a capture: read, decode, track connections (track.ts),
// judge each RST with the catalogue's causes (judge.ts, through the wire
// rules), report resets and connections (report.ts). Resets and connection
// reports stream out through callbacks as they are decided, so a capture of
// any size is analyzed in bounded memory; the totals come back at the end.
import { connMatches, type ConnFilter } from './conn-filter.js';
import { decodeTcp, linktypeName, newSegment } from './decode.js';
import { ResetJudge } from './judge.js';
import { readCapture } from './reader.js';
import { connEnds, ConnTotals, ladderRow, ReportLimit, resetReport, type Analysis, type ConnReport, type LadderRow, type ResetReport } from './report.js';
import { packetAt } from './ring.js';
import { RST } from '../net/flags.js';
import { Tracker } from './track.js';
import type { SkipReason, TcpSegment } from './types.js';
import { newWireFacts, wireFacts } from './wire.js';

export { parseConnFilter, type ConnFilter } from './conn-filter.js';
export type { CaptureVerdict } from './judge.js';
export { lossNotes, type Analysis, type ConnReport, type LadderRow, type LossCounts, type PayloadReport, type ResetReport } from './report.js';

/** Bytes of an RST's payload kept for decoding (the report gives the whole length). */
const PAYLOAD_KEEP = 4096;

export interface AnalyzeOptions {
  /** keep the last packets before each reset (ResetReport.ladder) */
  ladder?: boolean;
  /** only this connection's packets count (resets and loss of others are skipped) */
  conn?: ConnFilter | null;
  onReset?(r: ResetReport): void;
  /** connections with a reset, loss or a failed handshake, when they end */
  onConn?(r: ConnReport): void;
  /**
   * Report only the first this many resets of the capture (by frame; all are
   * still counted), handed to onReset at the end in frame order; default: every
   * reset, as soon as it is decided
   */
  reportLimit?: number;
  /** every packet of connections matching `conn`, for its ladder */
  onConnPacket?(c: { id: number; row: LadderRow; client: string; server: string }): void;
  onProgress?(doneBytes: number, totalBytes: number): void;
}

export async function analyzeCapture(file: string, opts: AnalyzeOptions = {}): Promise<Analysis> {
  const seg: TcpSegment = newSegment();
  const skipped: Partial<Record<SkipReason, number>> = {};
  let tcpSegments = 0;
  let resets = 0;
  let firstTime = 0;
  let lastSec = 0;
  let lastNsec = 0;
  let currentFrameBuf: Buffer | null = null;
  const filter = opts.conn ?? null;
  const onReset = opts.onReset;
  const limit = opts.reportLimit === undefined || !onReset ? null : new ReportLimit(opts.reportLimit);
  const conns = new ConnTotals();
  // the facts of a reset decided at once: filled again for every reset
  const scratch = newWireFacts();

  const tracker: Tracker = new Tracker({
    onReset(c, side, s, frame, time) {
      if (filter && !connMatches(filter, c)) return;
      resets++;
      const payload =
        s.captured > 0 && currentFrameBuf ? Buffer.from(currentFrameBuf.subarray(s.payloadOff, s.payloadOff + Math.min(s.captured, PAYLOAD_KEEP))) : null;
      judge.reset(wireFacts(c, side, s, frame, time, opts.ladder === true, payload, scratch));
    },
    onConnDone(c) {
      if (filter && !connMatches(filter, c)) return;
      const r = conns.add(c, opts.onConn !== undefined);
      if (r) opts.onConn!(r);
    },
  });

  const judge = new ResetJudge(tracker, {
    wants: (frame) => onReset !== undefined && (limit === null || limit.wants(frame)),
    verdict(w, cause, proof) {
      const report = resetReport(w, cause, proof, firstTime);
      if (limit) limit.add(report);
      else onReset!(report);
    },
  });

  const read = await readCapture(
    file,
    (f) => {
      const why = decodeTcp(f, seg);
      if (why !== null) {
        skipped[why] = (skipped[why] ?? 0) + 1;
        return;
      }
      tcpSegments++;
      // times kept as numbers in the tracker's field and as whole seconds and
      // nanoseconds here: a double kept in a variable of this closure is a new
      // heap number for every packet
      const time = (tracker.now = f.sec + f.nsec / 1e9);
      if (tcpSegments === 1) firstTime = time;
      lastSec = f.sec;
      lastNsec = f.nsec;
      if (judge.waiting()) judge.advance(time);
      if (seg.flags & RST) currentFrameBuf = f.buf;
      const c = tracker.segment(seg, f.index);
      if (filter && opts.onConnPacket && connMatches(filter, c)) {
        const row = ladderRow({ clientSide: c.clientSide(), rolesKnown: c.client >= 0 }, packetAt(c.ring, c.newest()), firstTime);
        opts.onConnPacket({ id: c.id, row, ...connEnds(c) });
      }
    },
    opts.onProgress ? { onProgress: opts.onProgress } : {},
  );
  judge.finish();
  tracker.end();
  if (limit) for (const r of limit.reports()) onReset!(r);
  return {
    read,
    frames: read.frames,
    tcp_segments: tcpSegments,
    skipped,
    connections: tracker.connections,
    resets,
    by_cause: judge.causes(),
    by_kind: judge.byKind,
    handshakes: conns.handshakes,
    loss: conns.loss,
    lossy_connections: conns.lossy,
    first_time: firstTime,
    last_time: tcpSegments ? lastSec + lastNsec / 1e9 : 0,
  };
}

export { linktypeName };
