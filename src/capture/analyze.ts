// Offline analysis of a capture: read, decode, track connections, explain each
// RST with the catalogue's causes (through the wire rules), count loss. Resets
// and connection reports stream out through callbacks as they are decided, so
// a capture of any size is analyzed in bounded memory; the totals come back
// at the end.
import { causeById } from '../diagnose/catalogue.js';
import type { Confidence, EvidenceValue } from '../diagnose/types.js';
import { escapeText } from '../events/text.js';
import { addrKey, addrText, endpoint } from '../net/addr.js';
import { ACK, RST, SYN, tcpdumpFlags } from '../net/flags.js';
import { decodeTcp, linktypeName, newSegment } from './decode.js';
import { readCapture } from './reader.js';
import { packetAt } from './ring.js';
import { decodeRstPayload } from './rst-payload.js';
import { BURST_SECONDS, needsLookahead, WIRE_RULES } from './rules.js';
import { LOSS_DUPACK, LOSS_FAST, LOSS_OOO, LOSS_RETRANS, LOSS_SPURIOUS, LOSS_ZEROWIN, Tracker, type Conn, type Direction } from './track.js';
import type { ReadSummary, SkipReason, TcpSegment } from './types.js';
import { freeze, kindText, newWireFacts, wireFacts, type WireFacts, type WirePacket } from './wire.js';

/** Capture seconds a reset's verdict waits for what follows it (a burst of resets, a leaked NAT port). */
const DEFER_SECONDS = 0.1;
/**
 * Resets waiting at most: beyond this the oldest is decided with what is
 * known. Capture time decides when a wait is over, and a capture whose clock
 * stands still (Simple Packet Blocks carry no time; a broken or hostile
 * capture may repeat one) would otherwise hold every active reset to its end.
 */
const MAX_PENDING = 1 << 16;
/** Bytes of an RST's payload kept for decoding (the report gives the whole length). */
const PAYLOAD_KEEP = 4096;
/** Resets per endpoint a burst counts at most (a listener's queue is far smaller). */
const BURST_KEEP = 4096;

export interface CaptureVerdict {
  id: string;
  title: string;
  confidence: Confidence;
  summary: string;
  evidence: Record<string, EvidenceValue>;
  fix: string;
  /** causes the capture cannot tell from this one */
  alternatives: string[];
}

export interface LadderRow {
  frame: number;
  /** seconds since the capture's first frame */
  t: number;
  /** 'client' | 'server' (or 'a' | 'b' when the capture missed the handshake) sent it */
  from: string;
  flags: string;
  seq: number;
  ack: number;
  len: number;
  win: number;
  /** retransmission, dup-ack, zero-window ... */
  notes: string[];
}

export interface ResetReport {
  frame: number;
  /** seconds since the epoch (capture clock) */
  time: number;
  family: 'ipv4' | 'ipv6';
  conn: number;
  sender: string;
  receiver: string;
  role: 'client' | 'server' | null;
  kind: 'active' | 'passive' | 'unknown';
  kind_why: string;
  flags: string;
  seq: number;
  ack: number;
  win: number;
  ttl: number;
  answers: { frame: number; flags: string; seq: number; ack: number; len: number } | null;
  cause: CaptureVerdict;
  /** frames that show the cause */
  proof: number[];
  /** what the RST carried: an IETF diagnostic payload (draft-ietf-tcpm-rst-diagnostic-payload), text, or bytes; text is escaped */
  payload: PayloadReport | null;
  ladder?: LadderRow[];
}

export interface PayloadReport {
  len: number;
  format: 'ietf-diagnostic' | 'text' | 'binary';
  reason_code: number | null;
  reason_name: string | null;
  pen: number | null;
  /** the description or text, escaped */
  text: string | null;
  hex: string | null;
}

export interface LossCounts {
  retransmissions: number;
  fast_retransmissions: number;
  spurious_retransmissions: number;
  out_of_order: number;
  dup_acks: number;
  zero_windows: number;
  syn_retransmits: number;
}

export interface ConnReport {
  id: number;
  /** the tuple's connection number: 2 and up when a new SYN reused the ports */
  generation: number;
  family: 'ipv4' | 'ipv6';
  /** client = the side that sent the SYN; when the capture missed it, the higher port */
  client: string;
  server: string;
  roles_known: boolean;
  first_frame: number;
  duration_s: number;
  handshake: string;
  packets: { client: number; server: number };
  bytes: { client: number; server: number };
  resets: number;
  loss: { client: LossCounts; server: LossCounts };
  /** first frames with a loss sign, per sender */
  loss_frames: { client: number[]; server: number[] };
}

export interface ConnFilter {
  a: { addr: string; port: number };
  b: { addr: string; port: number } | null;
}

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

export interface Analysis {
  read: ReadSummary;
  frames: number;
  tcp_segments: number;
  skipped: Partial<Record<SkipReason, number>>;
  connections: number;
  resets: number;
  by_cause: Array<{ id: string; title: string; count: number; confidence: Record<Confidence, number>; first_frame: number }>;
  by_kind: Record<'active' | 'passive' | 'unknown', number>;
  handshakes: { completed: number; refused: number; unanswered: number; midstream: number };
  loss: LossCounts;
  /** connections with loss signs */
  lossy_connections: number;
  first_time: number;
  last_time: number;
}

const zeroLoss = (): LossCounts => ({ retransmissions: 0, fast_retransmissions: 0, spurious_retransmissions: 0, out_of_order: 0, dup_acks: 0, zero_windows: 0, syn_retransmits: 0 });

function lossOf(d: Direction): LossCounts {
  return {
    retransmissions: d.retrans,
    fast_retransmissions: d.fastRetrans,
    spurious_retransmissions: d.spurious,
    out_of_order: d.outOfOrder,
    dup_acks: d.dupAcks,
    zero_windows: d.zeroWindows,
    syn_retransmits: d.synRetrans,
  };
}

/** Adds a direction's loss signs to the totals; returns how many it had. */
function addLoss(t: LossCounts, d: Direction): number {
  t.retransmissions += d.retrans;
  t.fast_retransmissions += d.fastRetrans;
  t.spurious_retransmissions += d.spurious;
  t.out_of_order += d.outOfOrder;
  t.dup_acks += d.dupAcks;
  t.zero_windows += d.zeroWindows;
  t.syn_retransmits += d.synRetrans;
  return d.retrans + d.outOfOrder + d.dupAcks + d.zeroWindows + d.synRetrans;
}

/** Active resets per sender endpoint, by time: a listener closing resets its queue at once. */
class Bursts {
  private readonly times = new Map<string, { t: number[]; head: number }>();

  add(from: { addr: string; port: number }, time: number): void {
    const k = from.addr + String.fromCharCode(from.port);
    let e = this.times.get(k);
    if (!e) {
      if (this.times.size > 65536) this.times.clear();
      this.times.set(k, (e = { t: [], head: 0 }));
    }
    // forget what is too old to matter (the lookahead is shorter than a second)
    while (e.head < e.t.length && time - e.t[e.head]! > 1) e.head++;
    if (e.head > 1024 && e.head * 2 > e.t.length) {
      e.t = e.t.slice(e.head);
      e.head = 0;
    }
    if (e.t.length - e.head >= BURST_KEEP) e.head++;
    e.t.push(time);
  }

  /** resets from this endpoint within BURST_SECONDS of `time` (sorted times: binary search) */
  count(from: { addr: string; port: number }, time: number): number {
    const e = this.times.get(from.addr + String.fromCharCode(from.port));
    if (!e) return 1;
    const lower = (x: number) => {
      let lo = e.head;
      let hi = e.t.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (e.t[mid]! < x) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    return Math.max(1, lower(time + BURST_SECONDS + 1e-9) - lower(time - BURST_SECONDS));
  }
}

export function lossNotes(loss: number): string[] {
  const n: string[] = [];
  if (loss & LOSS_FAST) n.push('fast retransmission');
  else if (loss & LOSS_SPURIOUS) n.push('spurious retransmission');
  else if (loss & LOSS_RETRANS) n.push('retransmission');
  if (loss & LOSS_OOO) n.push('out of order');
  if (loss & LOSS_DUPACK) n.push('dup ack');
  if (loss & LOSS_ZEROWIN) n.push('zero window');
  if (loss & 64) n.push('keepalive');
  if (loss & 128) n.push('SYN retransmission');
  return n;
}

/** Parses --conn: "ADDR:PORT" or "ADDR:PORT-ADDR:PORT" (IPv6 in brackets). */
export function parseConnFilter(text: string): ConnFilter | null {
  const one = (s: string) => {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
    if (!m) return null;
    const addr = addrKey(m[1]!);
    const port = Number(m[2]);
    if (!addr || port > 65535) return null;
    return { addr, port };
  };
  const parts = text.split(/-(?=[[\d])/);
  if (parts.length > 2) return null;
  const a = one(parts[0]!);
  const b = parts.length === 2 ? one(parts[1]!) : null;
  if (!a || (parts.length === 2 && !b)) return null;
  return { a, b };
}

function connMatches(f: ConnFilter, c: Conn): boolean {
  const is = (e: { addr: string; port: number }, s: number) => c.addr[s] === e.addr && c.port[s] === e.port;
  if (!f.b) return is(f.a, 0) || is(f.a, 1);
  return (is(f.a, 0) && is(f.b, 1)) || (is(f.a, 1) && is(f.b, 0));
}

function payloadReport(b: Buffer, len: number): PayloadReport | null {
  const p = decodeRstPayload(b, 0, b.length);
  if (!p) return null;
  const text = p.description ?? p.text;
  return {
    len,
    format: p.format,
    reason_code: p.reasonCode ?? null,
    reason_name: p.reasonName ?? null,
    pen: p.pen ?? null,
    text: text === undefined ? null : escapeText(text),
    hex: p.hex ?? null,
  };
}

export async function analyzeCapture(file: string, opts: AnalyzeOptions = {}): Promise<Analysis> {
  const seg: TcpSegment = newSegment();
  const skipped: Partial<Record<SkipReason, number>> = {};
  type CauseCount = { id: string; title: string; count: number; confidence: Record<Confidence, number>; first_frame: number };
  const byCause = new Map<string, CauseCount>();
  // each rule's entry of byCause, found once (rules of one cause share it)
  const ruleAgg: Array<CauseCount | undefined> = [];
  const byKind = { active: 0, passive: 0, unknown: 0 };
  const handshakes = { completed: 0, refused: 0, unanswered: 0, midstream: 0 };
  const loss = zeroLoss();
  let lossy = 0;
  let tcpSegments = 0;
  let resets = 0;
  let firstTime = 0;
  let lastSec = 0;
  let lastNsec = 0;
  let currentFrameBuf: Buffer | null = null;
  const filter = opts.conn ?? null;

  // resets wait DEFER_SECONDS of capture time for what follows them
  const pending: WireFacts[] = [];
  // the facts of a reset decided at once: filled again for every reset
  const scratch = newWireFacts();
  let pendingHead = 0;
  const bursts = new Bursts();

  // who sent a packet, as ladders name the sides
  const sideLabel = (l: { clientSide: number; rolesKnown: boolean }, side: number) => (side === l.clientSide ? (l.rolesKnown ? 'client' : 'a') : l.rolesKnown ? 'server' : 'b');

  const ladderRows = (l: { clientSide: number; rolesKnown: boolean }, rows: WirePacket[]): LadderRow[] =>
    rows.map((p) => ({
      frame: p.frame,
      t: p.time - firstTime,
      from: sideLabel(l, p.side),
      flags: tcpdumpFlags(p.flags),
      seq: p.seq,
      ack: p.ack,
      len: p.len,
      win: p.win,
      notes: lossNotes(p.loss),
    }));

  // with a limit, the reports of the lowest frames so far, in frame order: a
  // reset decided late (after its wait) may come before ones already reported
  const limit = opts.reportLimit;
  const kept: ResetReport[] = [];
  const wantReport = (frame: number) =>
    opts.onReset !== undefined && (limit === undefined || kept.length < limit || (limit > 0 && frame < kept[kept.length - 1]!.frame));

  const decide = (w: WireFacts): void => {
    if (w.kind === 'active') w.burst = bursts.count(w.from, w.rst.time);
    // only the NAT rule reads them, for a passive reset by the server of an established connection
    if (w.role === 'server' && w.kind === 'passive' && w.handshake === 'established') w.leakedPorts = tracker.otherPorts(w.to.addr, w.to.port, w.from.addr, w.from.port);
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
    let agg = ruleAgg[at];
    if (!agg) {
      agg = byCause.get(rule.id);
      if (!agg) byCause.set(rule.id, (agg = { id: rule.id, title: causeById(rule.id)!.title, count: 0, confidence: { high: 0, medium: 0, low: 0 }, first_frame: w.rst.frame }));
      ruleAgg[at] = agg;
    }
    agg.count++;
    agg.confidence[confidence]++;
    if (w.rst.frame < agg.first_frame) agg.first_frame = w.rst.frame;
    byKind[w.kind]++;
    if (!wantReport(w.rst.frame)) return;
    const x = rule.explain(w);
    const cause = causeById(rule.id)!;
    const a = w.answered;
    const report: ResetReport = {
      frame: w.rst.frame,
      time: w.rst.time,
      family: w.family === 4 ? 'ipv4' : 'ipv6',
      conn: w.connId,
      sender: endpoint(addrText(w.from.addr), w.from.port),
      receiver: endpoint(addrText(w.to.addr), w.to.port),
      role: w.role,
      kind: w.kind,
      kind_why: kindText(w),
      flags: tcpdumpFlags(w.rst.flags),
      seq: w.rst.seq,
      ack: w.rst.ack,
      win: w.rst.win,
      ttl: w.rst.ttl,
      answers: a ? { frame: a.frame, flags: tcpdumpFlags(a.flags), seq: a.seq, ack: a.ack, len: a.len } : null,
      cause: { id: rule.id, title: cause.title, confidence, summary: x.summary, evidence: x.evidence, fix: cause.fix, alternatives: rule.alike },
      proof: [...new Set(x.proof)].sort((p, q) => p - q),
      payload: w.payload ? payloadReport(w.payload, w.rst.len) : null,
    };
    if (w.ladder) report.ladder = ladderRows(w, w.ladder);
    if (limit === undefined) {
      opts.onReset!(report);
      return;
    }
    let slot = kept.length;
    while (slot > 0 && kept[slot - 1]!.frame > report.frame) slot--;
    kept.splice(slot, 0, report);
    if (kept.length > limit) kept.pop();
  };

  // a wait is over DEFER_SECONDS after the reset, or at once when the capture's
  // clock went back by as much (it cannot be trusted to end the wait)
  const due = (w: WireFacts, time: number) => time - w.rst.time > DEFER_SECONDS || w.rst.time - time > DEFER_SECONDS;

  const flushUntil = (time: number): void => {
    while (pendingHead < pending.length && (due(pending[pendingHead]!, time) || pending.length - pendingHead > MAX_PENDING)) {
      const w = pending[pendingHead]!;
      pending[pendingHead++] = undefined as unknown as WireFacts;
      decide(w);
    }
    if (pendingHead === pending.length) {
      pending.length = 0;
      pendingHead = 0;
    } else if (pendingHead > 4096 && pendingHead * 2 > pending.length) {
      pending.splice(0, pendingHead);
      pendingHead = 0;
    }
  };

  const tracker: Tracker = new Tracker({
    onReset(c, side, s, frame, time) {
      if (filter && !connMatches(filter, c)) return;
      resets++;
      const payload = s.captured > 0 && currentFrameBuf ? Buffer.from(currentFrameBuf.subarray(s.payloadOff, s.payloadOff + Math.min(s.captured, PAYLOAD_KEEP))) : null;
      const w = wireFacts(c, side, s, frame, time, opts.ladder === true, payload, scratch);
      // only a refused SYN asks whether the endpoint accepted connections before
      if (w.answered && (w.answered.flags & (SYN | ACK)) === SYN) w.acceptedBefore = tracker.acceptedAt(w.from.addr, w.from.port);
      if (w.kind === 'active') bursts.add(w.from, time);
      if (!needsLookahead(w)) {
        decide(w);
        return;
      }
      // the verdict waits for the packets after the reset: freeze what it reads now
      pending.push(freeze(w));
    },
    onConnDone(c) {
      if (filter && !connMatches(filter, c)) return;
      if (c.handshake === 'established') handshakes.completed++;
      else if (c.handshake === 'refused') handshakes.refused++;
      else if (c.handshake === 'syn') handshakes.unanswered++;
      else if (c.handshake === 'midstream') handshakes.midstream++;
      const lossyConn = addLoss(loss, c.d[0]) + addLoss(loss, c.d[1]) > 0;
      if (lossyConn) lossy++;
      // a refused handshake is told in full by its reset's report
      if (!opts.onConn || (!lossyConn && (c.resets === 0 || c.handshake === 'refused') && c.handshake !== 'syn')) return;
      const cs = c.clientSide();
      opts.onConn({
        id: c.id,
        generation: c.gen,
        family: c.family === 4 ? 'ipv4' : 'ipv6',
        client: endpoint(addrText(c.addr[cs]!), c.port[cs]!),
        server: endpoint(addrText(c.addr[1 - cs]!), c.port[1 - cs]!),
        roles_known: c.client >= 0,
        first_frame: c.firstFrame,
        duration_s: c.lastTime - c.firstTime,
        handshake: c.handshake,
        packets: { client: c.d[cs]!.packets, server: c.d[1 - cs]!.packets },
        bytes: { client: c.d[cs]!.bytes, server: c.d[1 - cs]!.bytes },
        resets: c.resets,
        loss: { client: lossOf(c.d[cs]!), server: lossOf(c.d[1 - cs]!) },
        loss_frames: { client: c.d[cs]!.lossFrames ?? [], server: c.d[1 - cs]!.lossFrames ?? [] },
      });
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
      if (pendingHead < pending.length && (due(pending[pendingHead]!, time) || pending.length - pendingHead > MAX_PENDING)) flushUntil(time);
      if (seg.flags & RST) currentFrameBuf = f.buf;
      const c = tracker.segment(seg, f.index);
      if (filter && opts.onConnPacket && connMatches(filter, c)) {
        {
          const p = packetAt(c.ring, c.newest());
          const cs = c.clientSide();
          opts.onConnPacket({ id: c.id, row: ladderRows({ clientSide: cs, rolesKnown: c.client >= 0 }, [p])[0]!, client: endpoint(addrText(c.addr[cs]!), c.port[cs]!), server: endpoint(addrText(c.addr[1 - cs]!), c.port[1 - cs]!) });
        }
      }
    },
    opts.onProgress ? { onProgress: opts.onProgress } : {},
  );
  flushUntil(Infinity);
  tracker.end();
  for (const r of kept) opts.onReset!(r);
  return {
    read,
    frames: read.frames,
    tcp_segments: tcpSegments,
    skipped,
    connections: tracker.connections,
    resets,
    by_cause: [...byCause.values()].sort((a, b) => b.count - a.count || a.first_frame - b.first_frame),
    by_kind: byKind,
    handshakes,
    loss,
    lossy_connections: lossy,
    first_time: firstTime,
    last_time: tcpSegments ? lastSec + lastNsec / 1e9 : 0,
  };
}

export { linktypeName };
