// What an analysis reports: a reset with its verdict, a connection with its
// loss signs, ladders of packets, RST payloads, and the capture's totals. The
// report keeps only text and numbers: nothing refers to the tracker's objects,
// which it reuses for later connections.
import { escapeText } from '../events/text.js';
import { addrText, endpoint } from '../net/addr.js';
import { tcpdumpFlags } from '../net/flags.js';
import type { CaptureVerdict, CauseCount } from './judge.js';
import { decodeRstPayload } from './rst-payload.js';
import { LOSS_DUPACK, LOSS_FAST, LOSS_OOO, LOSS_RETRANS, LOSS_SPURIOUS, LOSS_ZEROWIN, type Conn, type Direction } from './track.js';
import type { ReadSummary, SkipReason } from './types.js';
import { kindText, type WireFacts, type WirePacket } from '../causes/wire-facts.js';
import type { WireLossFacts } from '../causes/wire-loss-facts.js';

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

/** A loss cause named on one side of a flow (a connection, or the flow of an ICMP error). */
export interface LossReport {
  /** the flow's first frame in the capture (the ICMP's when the capture has no packet of the flow) */
  frame: number;
  family: 'ipv4' | 'ipv6';
  /** the connection's number; null when the capture has only an ICMP error about the flow */
  conn: number | null;
  /** the side the finding is about, and the other */
  endpoint: string;
  peer: string;
  role: 'client' | 'server' | null;
  cause: CaptureVerdict;
  /** frames that show it */
  proof: number[];
}

export function lossReport(l: WireLossFacts, cause: CaptureVerdict, proof: number[]): LossReport {
  return {
    frame: l.firstFrame,
    family: l.family === 4 ? 'ipv4' : 'ipv6',
    conn: l.connId,
    endpoint: endpoint(addrText(l.me.addr), l.me.port),
    peer: endpoint(addrText(l.peer.addr), l.peer.port),
    role: l.role,
    cause,
    proof,
  };
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
  /** first frames with a loss sign, per sender (every one with AnalyzeOptions.allLossFrames) */
  loss_frames: { client: number[]; server: number[] };
  /** with every frame listed: frames with a loss sign left out of loss_frames (the bound was reached); absent when none */
  loss_frames_omitted?: { client: number; server: number };
}

export interface Analysis {
  read: ReadSummary;
  frames: number;
  tcp_segments: number;
  skipped: Partial<Record<SkipReason, number>>;
  /** frames skipped as 'encapsulation' or 'unknown-linktype', by what was not decoded */
  skipped_unsupported: Record<string, number>;
  connections: number;
  resets: number;
  by_cause: CauseCount[];
  /** storm findings made, the resets in them, and groups closed early with too many open (null: resets not grouped) */
  storms: { findings: number; resets: number; closed_early: number } | null;
  /** unanswered findings (unanswered.ts): null when each connection was listed */
  unanswered_groups: { findings: number; connections: number; closed_early: number } | null;
  by_kind: Record<'active' | 'passive' | 'unknown', number>;
  handshakes: { completed: number; refused: number; unanswered: number; midstream: number };
  loss: LossCounts;
  /** connections with loss signs */
  lossy_connections: number;
  /** frames with a loss sign left out of the connections' loss_frames when every one is listed (the bound was reached) */
  loss_frames_omitted: number;
  /** loss causes named (loss findings), and by cause */
  loss_findings: number;
  loss_by_cause: CauseCount[];
  first_time: number;
  last_time: number;
  /** seconds from the earliest TCP segment to the latest (not first to last: a capture's clock may run backwards) */
  time_span: number;
  /** how often a TCP segment's time was earlier than the one before it */
  clock_steps_back: number;
  /** open connections, active in the last 300 s, the tracker forgot because too many were open at once (track.ts) */
  forgotten_open: number;
  /** open quiet connections kept at most (beyond them the quietest are forgotten): a third of the tracker's bound (track.ts generationSize) */
  quiet_kept_max: number;
}

/** Loss signs of one direction that the terminal report counts (fast and spurious retransmissions are retransmissions). */
export const lossTotal = (l: LossCounts) => l.retransmissions + l.out_of_order + l.dup_acks + l.zero_windows + l.syn_retransmits;

const zeroLoss = (): LossCounts => ({
  retransmissions: 0,
  fast_retransmissions: 0,
  spurious_retransmissions: 0,
  out_of_order: 0,
  dup_acks: 0,
  zero_windows: 0,
  syn_retransmits: 0,
});

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

/** Who sent a packet, as ladders name the sides. */
const sideLabel = (l: { clientSide: number; rolesKnown: boolean }, side: number) =>
  side === l.clientSide ? (l.rolesKnown ? 'client' : 'a') : l.rolesKnown ? 'server' : 'b';

export function ladderRow(l: { clientSide: number; rolesKnown: boolean }, p: WirePacket, firstTime: number): LadderRow {
  return {
    frame: p.frame,
    t: p.time - firstTime,
    from: sideLabel(l, p.side),
    flags: tcpdumpFlags(p.flags),
    seq: p.seq,
    ack: p.ack,
    len: p.len,
    win: p.win,
    notes: lossNotes(p.loss),
  };
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

/** A judged reset's report; `firstTime`: the capture's first frame time (ladders count from it). */
export function resetReport(w: WireFacts, cause: CaptureVerdict, proof: number[], firstTime: number): ResetReport {
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
    cause,
    proof,
    payload: w.payload ? payloadReport(w.payload, w.rst.len) : null,
  };
  if (w.ladder) report.ladder = w.ladder.map((p) => ladderRow(w, p, firstTime));
  return report;
}

/** The client's and the server's endpoint of a connection, as reports write them. */
export function connEnds(c: Conn): { client: string; server: string } {
  const cs = c.clientSide();
  return { client: endpoint(addrText(c.addrOf(cs)), c.portOf(cs)), server: endpoint(addrText(c.addrOf(1 - cs)), c.portOf(1 - cs)) };
}

export function connReport(c: Conn): ConnReport {
  const cs = c.clientSide();
  const { client, server } = connEnds(c);
  return {
    id: c.id,
    generation: c.gen,
    family: c.family === 4 ? 'ipv4' : 'ipv6',
    client,
    server,
    roles_known: c.client >= 0,
    first_frame: c.firstFrame,
    duration_s: c.lastTime - c.firstTime,
    handshake: c.handshake,
    packets: { client: c.dir(cs).packets, server: c.dir(1 - cs).packets },
    bytes: { client: c.dir(cs).bytes, server: c.dir(1 - cs).bytes },
    resets: c.resets,
    loss: { client: lossOf(c.dir(cs)), server: lossOf(c.dir(1 - cs)) },
    loss_frames: { client: c.dir(cs).lossFrames ?? [], server: c.dir(1 - cs).lossFrames ?? [] },
    ...(c.d0.lossOmitted + c.d1.lossOmitted > 0 ? { loss_frames_omitted: { client: c.dir(cs).lossOmitted, server: c.dir(1 - cs).lossOmitted } } : {}),
  };
}

/** Handshake outcomes and loss over the finished connections. */
export class ConnTotals {
  readonly handshakes = { completed: 0, refused: 0, unanswered: 0, midstream: 0 };
  readonly loss = zeroLoss();
  lossy = 0;
  /** frames with a loss sign that loss_frames left out (only with every frame listed) */
  lossFramesOmitted = 0;

  /** Counts a finished connection; returns its report when it is worth one (a reset, loss, or a SYN never answered; only loss when lossyOnly). */
  add(c: Conn, wantReport: boolean, lossyOnly = false): ConnReport | null {
    if (c.handshake === 'established') this.handshakes.completed++;
    else if (c.handshake === 'refused') this.handshakes.refused++;
    else if (c.handshake === 'syn') this.handshakes.unanswered++;
    else if (c.handshake === 'midstream') this.handshakes.midstream++;
    const lossyConn = addLoss(this.loss, c.d0) + addLoss(this.loss, c.d1) > 0;
    if (lossyConn) this.lossy++;
    this.lossFramesOmitted += c.d0.lossOmitted + c.d1.lossOmitted;
    // a refused handshake is told in full by its reset's report
    if (!wantReport || (!lossyConn && (lossyOnly || ((c.resets === 0 || c.handshake === 'refused') && c.handshake !== 'syn')))) return null;
    return connReport(c);
  }
}

/**
 * With a limit, the reports of the lowest frames so far, in frame order: a
 * reset decided late (after its wait) may come before ones already reported,
 * and a loss finding is made when its connection ends.
 */
export class ReportLimit<T extends { frame: number } = ResetReport> {
  private readonly kept: T[] = [];

  constructor(private readonly limit: number) {}

  wants(frame: number): boolean {
    const kept = this.kept;
    return kept.length < this.limit || (this.limit > 0 && frame < kept[kept.length - 1]!.frame);
  }

  add(report: T): void {
    const kept = this.kept;
    let slot = kept.length;
    while (slot > 0 && kept[slot - 1]!.frame > report.frame) slot--;
    kept.splice(slot, 0, report);
    if (kept.length > this.limit) kept.pop();
  }

  /** the reports kept, in frame order */
  reports(): readonly T[] {
    return this.kept;
  }
}
