// TCP connection tracking over a capture: connections keyed by 4-tuple, a
// new generation when a fresh SYN reuses a finished tuple, per-direction
// sequence state, handshake outcome, bytes, FIN/RST, and the loss signs
// (retransmissions, duplicate ACKs, zero windows, out-of-order) counted the
// way Wireshark's tcp.analysis flags count them, so tshark can witness them.
//
// Memory stays bounded: every generation of new connections (a third of the
// connections the heap's budget allows), those untouched since the previous
// turn are finished (reported) and dropped.
import { ACK, FIN, RST, SYN } from '../net/flags.js';
import { Ring, ringWrite } from './ring.js';
import { MidstreamPorts } from './midstream.js';
import { RefusedRetries } from './refused-retry.js';
import { Table4 } from './table4.js';
import { before6, Table6 } from './table6.js';
import type { IcmpQuote, TcpSegment } from './types.js';
import { captureConnectionsBound } from '../memory/budget.js';

// rules.ts reads the flag bits from here

/** seq a < b in 32-bit sequence space */
export const seqLt = (a: number, b: number) => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number) => ((a - b) | 0) <= 0;

/**
 * Wireshark's limits, in microseconds: a segment below the highest sequence
 * number sent less than this after it is out of order, not retransmitted,
 * when the handshake gave no RTT; a retransmission of the segment the other
 * side's duplicate ACKs ask for is fast when it follows the last of them
 * within FAST_US.
 */
const OOO_DEFAULT_US = 3000;
const FAST_US = 20000;
/**
 * Time between two capture times, in whole microseconds, as Wireshark's
 * unsigned nanosecond difference compares it: -1 when `b` is later (Wireshark's
 * difference wraps to a huge number then). Capture times are doubles of
 * seconds since the epoch (about 0.24 µs apart at today's dates), so the
 * difference is rounded to the microsecond: exact for pcap's microsecond
 * timestamps, which is what tcpdump writes.
 */
const usBetween = (a: number, b: number): number => {
  const us = Math.round((a - b) * 1e6);
  return us < 0 ? -1 : us;
};
export const LOSS_RETRANS = 1;
export const LOSS_FAST = 2;
export const LOSS_SPURIOUS = 4;
export const LOSS_OOO = 8;
export const LOSS_DUPACK = 16;
export const LOSS_ZEROWIN = 32;
export const LOSS_KEEPALIVE = 64;
export const LOSS_SYN_RETRANS = 128;

/** Where a loss sign was seen: first few frame numbers per direction, for the report (Tracker.locate). */
export const LOCATE = 5;
/**
 * With every loss frame listed (`analyze --loss-frames`): the frame numbers the
 * live connections may hold in all (8 bytes each); beyond it a direction
 * counts the frames it could not list (Direction.lossOmitted).
 */
export const LOSS_FRAMES_MAX = 1 << 21;

export class Direction {
  /** any packet seen this way */
  seen = false;
  packets = 0;
  /** payload bytes (from the IP lengths) */
  bytes = 0;
  /** ISN from this side's SYN; -1 before */
  synSeq = -1;
  syns = 0;
  synRetrans = 0;
  /** highest seq + length (+SYN/FIN) sent; valid when seen */
  nextSeq = 0;
  /** last ACK value this side sent (-1 before any) */
  lastAck = -1;
  // Wireshark's per-direction sequence analysis state (tcp_analyze_seq_flow_info_t),
  // apart from nextSeq and lastAck above because its rules differ in ways the
  // wire rules must not inherit: every segment counts, RSTs and segments
  // without ACK included, and a zero window probe does not advance it
  /** a segment of this direction went through the analysis (anNext is valid) */
  anSeen = false;
  /** Wireshark's base_seq: the first SYN's seq, else the first seq - 1 or the other side's first ack - 1 (-1: none yet) */
  anBase = -1;
  /** highest seq + length (+SYN/FIN) sent, zero window probes excepted; valid when anSeen */
  anNext = 0;
  /**
   * Wireshark's maxseqtobeacked: the end of the segments sent without a gap
   * (0: none yet). A SYN sent again goes back to it, undoing what a segment
   * far ahead (a stray ACK, an RST with the ACK's seq) did to anNext
   */
  anMaxToAck = 0;
  /** capture time of the segment that last raised anNext */
  anNextTime = 0;
  /** ack field and raw window of this side's last segment, whatever its flags (window -1: none yet) */
  anAck = 0;
  anWin = -1;
  /** duplicate ACKs in a row for anAck */
  anDupAcks = 0;
  /** this side's last segment was a keepalive (its peer's ACK of it is not a duplicate ACK) */
  anKeepalive = false;
  /** seq of this side's FIN (-1: none), and its frame */
  finSeq = -1;
  finFrame = 0;
  finTime = 0;
  rstFrame = 0;
  /** frame of this side's last segment carrying data, and its time */
  lastDataFrame = 0;
  lastDataTime = 0;
  /** header habits, for telling this side's own packets from injected ones */
  ttl = -1;
  ttlVaries = false;
  usesTs = false;
  /** its first SYN's (or SYN-ACK's) option order (TcpSegment.optOrder) and window; -1 before: what tells its stack */
  synOrder = -1;
  synWin = -1;
  lastFrame = 0;
  lastTime = 0;
  // loss signs, Wireshark-style
  retrans = 0;
  fastRetrans = 0;
  spurious = 0;
  outOfOrder = 0;
  dupAcks = 0;
  zeroWindows = 0;
  /** first frames with a loss sign (null until one) */
  lossFrames: number[] | null = null;
  /** frames with a loss sign not listed in lossFrames (every one is listed: the bound LOSS_FRAMES_MAX was reached) */
  lossOmitted = 0;
  /** its FIN was acknowledged by the other side */
  finAcked = false;
  /** largest payload sent (only sizes of BLACK_HOLE_MIN_LEN and up are kept) */
  maxLen = 0;
  /** what the loss findings read beyond the counters; made when the direction first needs it */
  lx: LossExtra | null = null;
  /** Back to a fresh direction's state (kept in step with the fields above by a test). */
  clear(): void {
    this.seen = false;
    this.packets = 0;
    this.bytes = 0;
    this.synSeq = -1;
    this.syns = 0;
    this.synRetrans = 0;
    this.nextSeq = 0;
    this.lastAck = -1;
    this.anSeen = false;
    this.anBase = -1;
    this.anNext = 0;
    this.anMaxToAck = 0;
    this.anNextTime = 0;
    this.anAck = 0;
    this.anWin = -1;
    this.anDupAcks = 0;
    this.anKeepalive = false;
    this.finSeq = -1;
    this.finFrame = 0;
    this.finTime = 0;
    this.rstFrame = 0;
    this.lastDataFrame = 0;
    this.lastDataTime = 0;
    this.ttl = -1;
    this.ttlVaries = false;
    this.usesTs = false;
    this.synOrder = -1;
    this.synWin = -1;
    this.lastFrame = 0;
    this.lastTime = 0;
    this.retrans = 0;
    this.fastRetrans = 0;
    this.spurious = 0;
    this.outOfOrder = 0;
    this.dupAcks = 0;
    this.zeroWindows = 0;
    this.lossFrames = null;
    this.lossOmitted = 0;
    this.finAcked = false;
    this.maxLen = 0;
    this.lx = null;
  }
}

/**
 * A direction's zero window stalls and its runs of full-size retransmissions
 * (what loss-judge.ts reads): made when it first advertises a zero window or
 * sends a segment of BLACK_HOLE_MIN_LEN bytes or more, so that the many
 * connections without either carry one empty field.
 */
export class LossExtra {
  zwFirstFrame = 0;
  zwFirstTime = 0;
  /** start of the zero window stall still open (-1: none), the longest stall that ended (s), the frame that last reopened it */
  zwSince = -1;
  zwLongest = 0;
  zwReopenFrame = 0;
  /** the other side's window probes (and keepalive-shaped probes) while this side's window was zero */
  zwProbes = 0;
  /** seq of the first segment of the largest size sent */
  maxSeq = 0;
  /** the retransmission run in progress: one full-size segment sent again and again */
  runSeq = 0;
  runCount = 0;
  runFrame = 0;
  runTime = 0;
  runEarlierAcked = false;
  runMaxAcked = false;
  /** the longest such run (count 0: none); then a smaller segment at its seq, and the ACK past it */
  bhSeq = 0;
  bhLen = 0;
  bhCount = 0;
  bhFrame = 0;
  bhTime = 0;
  bhLastFrame = 0;
  bhLastTime = 0;
  bhEarlierAcked = false;
  bhMaxAcked = false;
  bhShrunkFrame = 0;
  bhThroughFrame = 0;
}

const extra = (d: Direction): LossExtra => d.lx ?? (d.lx = new LossExtra());

/**
 * ICMP errors of one kind (unreachable, or too big) about the packets one side
 * of a connection sent, and what that side sent after the first of them.
 * Made only when such an error arrives.
 */
export class IcmpRecord {
  count = 1;
  lastFrame: number;
  /** packets with data the side sent after it; those larger than `mtu`; SYNs */
  after = 0;
  tooBigAfter = 0;
  synsAfter = 0;
  constructor(
    /** the side whose packet the ICMP quotes */
    readonly side: number,
    readonly frame: number,
    readonly time: number,
    readonly type: number,
    readonly code: number,
    readonly from: string,
    readonly mtu: number,
    readonly quotedSeq: number,
    readonly quotedFlags: number,
    readonly quotedLen: number,
  ) {
    this.lastFrame = frame;
  }
}

/** Payloads below this are an application's message size rather than a path's limit: no MTU black hole is read from them. */
export const BLACK_HOLE_MIN_LEN = 1000;

import type { Handshake } from '../causes/wire-facts.js';

export type { Handshake };

export class Conn {
  /** sequential id in the capture, and the tuple's generation (1 = first SYN seen) */
  id = 0;
  gen = 1;
  family: 4 | 6 = 4;
  /** side 0 and side 1 endpoints (side 0 is the tuple's canonical first) */
  addr0 = '';
  addr1 = '';
  port0 = 0;
  port1 = 0;
  /**
   * Side 0's and side 1's directions: fields, not a pair in an array, so that
   * reaching one from the connection is one load from memory fewer (the first
   * touch of a connection not seen for a while waits on each)
   */
  readonly d0 = new Direction();
  readonly d1 = new Direction();
  /** the address key and port of `side` (0 or 1) */
  addrOf(side: number): string {
    return side === 0 ? this.addr0 : this.addr1;
  }
  portOf(side: number): number {
    return side === 0 ? this.port0 : this.port1;
  }
  /** the direction of `side` (0 or 1) */
  dir(side: number): Direction {
    return side === 0 ? this.d0 : this.d1;
  }
  /** the side that sent the first SYN; -1 unknown (the capture began mid-connection) */
  client = -1;
  handshake: Handshake = 'none';
  /** frame of the handshake's final ACK (client's first ACK of the SYN-ACK); 0 before */
  establishedFrame = 0;
  /** SYN-ACKs the server sent again after the client's final handshake ACK: the server ignored that ACK */
  synAckAfterAck = 0;
  /** capture time of the last SYN (without ACK), 0 before; and the handshake's RTT from it to the first segment with ACK and without SYN, in µs (0: not known), Wireshark's iRTT */
  synTime = 0;
  firstRttUs = 0;
  firstFrame = 0;
  firstTime = 0;
  lastTime = 0;
  resets = 0;
  /** ICMP unreachable and too-big errors about it (null: none) */
  unreach: IcmpRecord | null = null;
  tooBig: IcmpRecord | null = null;
  /**
   * The last Ring.packets packets (ring.ts), oldest overwritten, in slots
   * [ringBase, ringBase + Ring.packets) of arrays the tracker shares among
   * many connections (typed arrays per connection cost more than the rest of
   * opening one), kept when the object is reused, written for every packet
   * without growing
   */
  readonly rf: Float64Array;
  readonly ru: Uint32Array;
  readonly ringBase: number;
  /** packets in the ring (at most Ring.packets), and the slot the next one goes to */
  ringLen = 0;
  ringNext = 0;
  /** set when tracking gave this connection up (idle past a generation) or the capture ended */
  done = false;
  /** the tracker's generation when a packet last touched it */
  seen = 0;
  /**
   * table key, side 0 first: IPv4 as three numbers (k0, k1 the addresses, k2
   * the ports), IPv6 as nine (k0-k3 and k4-k7 the addresses' words, k8 the ports)
   */
  k0 = 0;
  k1 = 0;
  k2 = 0;
  k3 = 0;
  k4 = 0;
  k5 = 0;
  k6 = 0;
  k7 = 0;
  k8 = 0;

  constructor(rf: Float64Array = new Float64Array(Ring.packets * Ring.f), ru: Uint32Array = new Uint32Array(Ring.packets * Ring.u), ringBase = 0) {
    this.rf = rf;
    this.ru = ru;
    this.ringBase = ringBase;
  }

  /** ring packets oldest first, as slots (ring.ts accessors) */
  ringOrder(): number[] {
    const out: number[] = [];
    for (let i = this.ringLen; i > 0; i--) out.push(this.ringAt(i - 1));
    return out;
  }

  /** ring slot of the packet `back` packets before the newest (0: the newest); back < ringLen */
  ringAt(back: number): number {
    return this.ringBase + ((this.ringNext - 1 - back) & (Ring.packets - 1));
  }

  /** reset, or both sides sent their FIN */
  closed(): boolean {
    return this.resets > 0 || (this.d0.finSeq >= 0 && this.d1.finSeq >= 0);
  }

  /** ring slot of the newest packet */
  newest(): number {
    return this.ringAt(0);
  }

  /** The side reports call the client: the SYN's sender, else the side with the higher port. */
  clientSide(): number {
    return this.client >= 0 ? this.client : this.port0 >= this.port1 ? 0 : 1;
  }

  /** Back to a new connection's state, keeping the objects (see Tracker's pool). */
  reuse(): void {
    this.id = 0;
    this.gen = 1;
    this.family = 4;
    this.client = -1;
    this.handshake = 'none';
    this.establishedFrame = 0;
    this.synAckAfterAck = 0;
    this.synTime = 0;
    this.firstRttUs = 0;
    this.firstFrame = 0;
    this.firstTime = 0;
    this.lastTime = 0;
    this.resets = 0;
    this.unreach = null;
    this.tooBig = null;
    this.ringLen = 0;
    this.ringNext = 0;
    this.done = false;
    this.seen = 0;
    this.d0.clear();
    this.d1.clear();
  }
}

/** A zero window from a direction: a stall starts unless one is open. */
function zeroWindow(d: Direction, frame: number, time: number): void {
  const x = extra(d);
  if (d.zeroWindows === 0) {
    x.zwFirstFrame = frame;
    x.zwFirstTime = time;
  }
  if (x.zwSince < 0) x.zwSince = time;
}

/** A window above zero ends the direction's stall. */
function reopened(x: LossExtra, frame: number, time: number): void {
  const stall = time - x.zwSince;
  if (stall > x.zwLongest) x.zwLongest = stall;
  x.zwSince = -1;
  x.zwReopenFrame = frame;
}

/** What a side sent after an ICMP error about its packets: it kept sending, or sent too much. */
function afterIcmp(c: Conn, side: number, seg: TcpSegment): void {
  const u = c.unreach;
  if (u !== null && u.side === side) {
    u.after++;
    if (seg.flags & SYN) u.synsAfter++;
  }
  const t = c.tooBig;
  if (t !== null && t.side === side && seg.len > 0) {
    t.after++;
    const ipLen = seg.len + 20 + seg.optLen + (seg.family === 4 ? 20 : 40) + seg.ipExtra;
    if (t.mtu > 0 && ipLen > t.mtu) t.tooBigAfter++;
  }
}

/** The k-th largest of a[0, n) (1 <= k <= n), reordering a: quickselect, O(n) expected. */
export function kthLargest(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const want = k - 1;
  while (lo < hi) {
    // median of three as the pivot; larger values to the left
    const mid = (lo + hi) >>> 1;
    const x = a[lo]!;
    const y = a[mid]!;
    const z = a[hi]!;
    const pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! > pivot) i++;
      while (a[j]! < pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return a[want]!;
  }
  return a[want]!;
}

/**
 * Sorts connections by number (the order they opened) in place. The numbers
 * are read once each into a typed array with the position (a comparison sort
 * of the objects read each one's number log n times, every read a cache miss:
 * a tenth of a capture of a million unanswered SYNs); `scratch` is reused.
 */
export function sortById(cs: Conn[], scratch: { ids: Float64Array }): void {
  const n = cs.length;
  if (n < 2) return;
  // id * 2^20 + position stays exact in a double for ids below 2^33 (positions: at most the tracked connections)
  if (n > 1 << 20) {
    cs.sort((a, b) => a.id - b.id);
    return;
  }
  if (scratch.ids.length < n) scratch.ids = new Float64Array(n * 2);
  const keys = scratch.ids.subarray(0, n);
  for (let i = 0; i < n; i++) keys[i] = cs[i]!.id * 1048576 + i;
  keys.sort();
  const copy = cs.slice();
  for (let i = 0; i < n; i++) cs[i] = copy[keys[i]! % 1048576]!;
}

/** Connection rings allocated together (ring.ts): 4096 of them are a 2.3 MB slab. */
const SLAB_CONNS = 4096;

export interface TrackerHooks {
  /** an RST, before it changes the connection: `side` sent it */
  onReset(c: Conn, side: number, seg: TcpSegment, frame: number, time: number): void;
  /** a connection is finished: idle for a generation, superseded by a new SYN, or the capture ended */
  onConnDone(c: Conn): void;
}

/**
 * Connections tracked at once at most, for this process's heap (memory/budget.ts:
 * `tcpwhy analyze` runs with a heap sized for its memory target, bin/tcpwhy).
 * A generation is a third of it: the connections opened in the current one,
 * those touched in the one before, and the open ones kept quiet.
 */
export function generationSize(maxTracked = captureConnectionsBound()): number {
  return Math.max(1024, Math.floor(maxTracked / 3));
}
/** An open connection silent this long (capture time) is finished at a generation change. */
const IDLE_SECONDS = 300;

export class Tracker {
  private readonly t4 = new Table4<Conn>();
  private readonly t6 = new Table6<Conn>();
  /** generation counter and connections opened in the current one */
  private generation = 1;
  private inserts = 0;
  private nextId = 1;
  /** per server endpoint (address key + port): handshakes it answered with SYN-ACK */
  readonly accepted = new Map<string, { count: number; lastFrame: number }>();
  private acceptedOld = new Map<string, { count: number; lastFrame: number }>();
  connections = 0;
  /** open connections, active in the last IDLE_SECONDS, forgotten because more than a generation's worth were */
  forgottenOpen = 0;
  /**
   * Finished connections kept for reuse, all of them: a SYN flood opens and
   * closes one per two packets, and a connection object never given back to
   * the collector costs no collection. The pool never holds more than the
   * most connections tracked at once.
   */
  private readonly pool: Conn[] = [];
  /** the slab the next new connection's ring is cut from, and the rings cut from it */
  private slabF: Float64Array = new Float64Array(0);
  private slabU: Uint32Array = new Uint32Array(0);
  private slabUsed = SLAB_CONNS;
  /** flows first seen mid-connection, by (address, port, peer address): the peer's ports (for spotting a NATed port leaking out) */
  private readonly midstream: MidstreamPorts;

  /** the connection of the previous segment (a finished placeholder at first) */
  private last: Conn = Object.assign(new Conn(), { done: true });

  /** refused connections' analysis state, for the client's SYN sent again */
  private readonly refused = new RefusedRetries();
  /** loss frames listed per direction (Infinity: all, within LOSS_FRAMES_MAX), and how many the live connections hold */
  private readonly locate: number;
  private readonly lossFramesMax: number;
  private lossListed = 0;

  /** new connections per generation (generationSize) */
  readonly generationSize: number;

  constructor(
    private readonly hooks: TrackerHooks,
    opts: { allLossFrames?: boolean; lossFramesMax?: number; maxTracked?: number } = {},
  ) {
    this.locate = opts.allLossFrames ? Infinity : LOCATE;
    this.lossFramesMax = opts.lossFramesMax ?? LOSS_FRAMES_MAX;
    this.generationSize = generationSize(opts.maxTracked);
    this.midstream = new MidstreamPorts(this.generationSize);
  }

  /**
   * The payload bytes the frame of the segment segment() is given next holds
   * on the wire (its original length past the TCP header). The loss signs
   * count no more than that, as Wireshark does: a frame whose IP length claims
   * more (payload stripped before the capture was written) carries none.
   * A small integer, never Infinity: the field stays an integer field.
   */
  wirePayload = 0x7fffffff;

  /**
   * The capture time of the segment segment() is given next (seconds since the
   * epoch). A field rather than an argument: a double passed to a call that is
   * not inlined is boxed, one allocation per packet.
   */
  now = 0;

  /** Tracks one segment (at capture time `now`); returns its connection. */
  segment(seg: TcpSegment, frame: number): Conn {
    const time = this.now;
    // the key: both endpoints, lower one first, as numbers
    let side: number;
    let k0 = 0;
    let k1 = 0;
    let k2 = 0;
    let c: Conn | undefined;
    if (seg.family === 4) {
      const s4 = seg.src4;
      const d4 = seg.dst4;
      side = s4 < d4 || (s4 === d4 && seg.sport < seg.dport) ? 0 : 1;
      k0 = (side === 0 ? s4 : d4) | 0;
      k1 = (side === 0 ? d4 : s4) | 0;
      k2 = side === 0 ? (seg.sport << 16) | seg.dport : (seg.dport << 16) | seg.sport;
      // a transfer's data and ACKs come one after another: the last connection
      // is checked before the table (a tracked connection is never `done`, and
      // no other tracked one has its key)
      const last = this.last;
      c = last.k2 === k2 && last.k0 === k0 && last.k1 === k1 && last.family === 4 && !last.done ? last : this.t4.get(k0, k1, k2);
    } else {
      const s0 = seg.src6a;
      const s1 = seg.src6b;
      const s2 = seg.src6c;
      const s3 = seg.src6d;
      const d0 = seg.dst6a;
      const d1 = seg.dst6b;
      const d2 = seg.dst6c;
      const d3 = seg.dst6d;
      side = before6(s0, s1, s2, s3, seg.sport, d0, d1, d2, d3, seg.dport) ? 0 : 1;
      const a0 = side === 0 ? s0 : d0;
      const a1 = side === 0 ? s1 : d1;
      const a2 = side === 0 ? s2 : d2;
      const a3 = side === 0 ? s3 : d3;
      const b0 = side === 0 ? d0 : s0;
      const b1 = side === 0 ? d1 : s1;
      const b2 = side === 0 ? d2 : s2;
      const b3 = side === 0 ? d3 : s3;
      const p = side === 0 ? (seg.sport << 16) | seg.dport : (seg.dport << 16) | seg.sport;
      // as for IPv4; the ports and the addresses' last words first, where connections differ
      const last = this.last;
      c =
        last.k8 === p &&
        last.k3 === a3 &&
        last.k7 === b3 &&
        last.k0 === a0 &&
        last.k1 === a1 &&
        last.k2 === a2 &&
        last.k4 === b0 &&
        last.k5 === b1 &&
        last.k6 === b2 &&
        last.family === 6 &&
        !last.done
          ? last
          : this.t6.get(a0, a1, a2, a3, b0, b1, b2, b3, p);
    }
    const flags = seg.flags;
    if (c !== undefined && (flags & (SYN | ACK)) === SYN && this.newGeneration(c, side, seg)) {
      const gen = c.gen + 1;
      this.finish(c);
      this.recycle(c);
      c = this.open(seg, side, frame, time);
      c.gen = gen;
      this.put(c, k0, k1, k2, seg, side);
    } else if (c === undefined) {
      c = this.open(seg, side, frame, time);
      this.put(c, k0, k1, k2, seg, side);
      this.retried(c, side, seg);
      c.seen = this.generation;
      if (++this.inserts >= this.generationSize) this.rotate(time);
    }
    c.seen = this.generation;
    this.last = c;
    this.update(c, side, seg, frame);
    if (c.handshake === 'refused' && flags & RST) {
      // a SYN answered by a reset is over: finish it now, so that a flood of
      // them is not kept until the next generation change, and let the object
      // serve the next connection
      const cl = c.client;
      this.refused.remember(c, cl, c.dir(cl).synSeq, c.firstRttUs, c.d0, c.d1);
      this.finish(c);
      this.remove(c);
      this.recycle(c);
    }
    return c;
  }

  /** A new connection: a SYN that retries a refused one (same side, same ISN) takes over its sequence analysis. */
  private retried(c: Conn, side: number, seg: TcpSegment): void {
    if ((seg.flags & (SYN | ACK)) !== SYN) {
      this.refused.forget(c);
      return;
    }
    const rtt = this.refused.recall(c, side, seg.seq, c.d0, c.d1);
    if (rtt > 0) c.firstRttUs = rtt;
  }

  /** Files a new connection under its key: IPv4's as segment() made it, IPv6's from the segment (`side`: its sender's). */
  private put(c: Conn, k0: number, k1: number, k2: number, seg: TcpSegment, side: number): void {
    if (c.family === 4) {
      c.k0 = k0;
      c.k1 = k1;
      c.k2 = k2;
      this.t4.set(k0, k1, k2, c);
    } else {
      const s = side === 0;
      c.k0 = s ? seg.src6a : seg.dst6a;
      c.k1 = s ? seg.src6b : seg.dst6b;
      c.k2 = s ? seg.src6c : seg.dst6c;
      c.k3 = s ? seg.src6d : seg.dst6d;
      c.k4 = s ? seg.dst6a : seg.src6a;
      c.k5 = s ? seg.dst6b : seg.src6b;
      c.k6 = s ? seg.dst6c : seg.src6c;
      c.k7 = s ? seg.dst6d : seg.src6d;
      c.k8 = s ? (seg.sport << 16) | seg.dport : (seg.dport << 16) | seg.sport;
      this.t6.set(c.k0, c.k1, c.k2, c.k3, c.k4, c.k5, c.k6, c.k7, c.k8, c);
    }
  }

  private remove(c: Conn): void {
    if (c.family === 4) {
      if (this.t4.get(c.k0, c.k1, c.k2) === c) this.t4.delete(c.k0, c.k1, c.k2);
    } else if (this.t6.get(c.k0, c.k1, c.k2, c.k3, c.k4, c.k5, c.k6, c.k7, c.k8) === c) this.t6.delete(c.k0, c.k1, c.k2, c.k3, c.k4, c.k5, c.k6, c.k7, c.k8);
  }

  /** A SYN on a known tuple starts a new connection unless it repeats the current one's SYN. */
  private newGeneration(c: Conn, side: number, seg: TcpSegment): boolean {
    const d = c.dir(side);
    if (d.synSeq === seg.seq && c.client === side) return false;
    return c.handshake !== 'none' || d.seen;
  }

  private open(seg: TcpSegment, side: number, frame: number, time: number): Conn {
    let c = this.pool.pop();
    if (c) c.reuse();
    else c = this.newConn();
    c.id = this.nextId++;
    c.family = seg.family;
    if (side === 0) {
      c.addr0 = seg.srcKey;
      c.addr1 = seg.dstKey;
      c.port0 = seg.sport;
      c.port1 = seg.dport;
    } else {
      c.addr0 = seg.dstKey;
      c.addr1 = seg.srcKey;
      c.port0 = seg.dport;
      c.port1 = seg.sport;
    }
    c.firstFrame = frame;
    c.firstTime = time;
    const f = seg.flags;
    if ((f & (SYN | ACK)) === SYN) {
      c.client = side;
      c.handshake = 'syn';
    } else if ((f & (SYN | ACK)) === (SYN | ACK)) {
      c.client = 1 - side;
      c.handshake = 'syn-ack';
    } else {
      c.handshake = 'midstream';
      this.midstream.add(c.addr0, c.port0, c.addr1, c.port1);
      this.midstream.add(c.addr1, c.port1, c.addr0, c.port0);
    }
    this.connections++;
    return c;
  }

  private update(c: Conn, side: number, seg: TcpSegment, frame: number): void {
    const time = this.now;
    const d = c.dir(side);
    const r = c.dir(1 - side);
    const flags = seg.flags;
    const len = seg.len;
    const seq = seg.seq;
    const seglen = len + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
    let loss = 0;

    if (flags & RST) {
      this.hooks.onReset(c, side, seg, frame, time);
      c.resets++;
      d.rstFrame = frame;
    }

    // ---- handshake ----
    if (flags & SYN) {
      if (flags & ACK) {
        if (c.handshake === 'syn' || c.handshake === 'none') c.handshake = 'syn-ack';
        if (d.syns === 0) this.noteAccepted(c, side, frame);
        else if (c.handshake === 'established' && side !== c.client) c.synAckAfterAck++;
      } else if (c.handshake === 'none') c.handshake = 'syn';
      if (d.syns === 0) {
        d.synOrder = seg.optOrder;
        d.synWin = seg.win;
      }
      // (a client's SYN that retries a refused connection repeats the analysis' first seq: Tracker.retried)
      if (d.syns > 0 ? seq === d.synSeq : d.anSeen && seq === d.anBase && !(flags & ACK)) {
        d.synRetrans++;
        loss |= LOSS_SYN_RETRANS;
      }
      d.syns++;
      d.synSeq = seq;
    } else if (flags & RST) {
      // only a reset that acknowledges the SYN refuses it (RFC 9293 3.10.7.3, SYN-SENT): the
      // client's stack ignores any other, such as one injected with a wrong ack
      if (c.handshake === 'syn' && side !== c.client && c.client >= 0 && flags & ACK && seg.ack === (c.dir(c.client).synSeq + 1) >>> 0) c.handshake = 'refused';
    } else if (c.handshake === 'syn-ack' && side === c.client && flags & ACK) {
      c.handshake = 'established';
      c.establishedFrame = frame;
    }

    // ---- loss signs: Wireshark's tcp_analyze_sequence_number(), rule for rule and in its order ----
    // (the flags tshark shows as tcp.analysis.*; docs/capture.md, "Loss")
    const ack = seg.ack;
    const win = seg.win;
    // the payload the frame holds on the wire: a header-only frame whose IP length claims more carries none
    const anLen = len <= this.wirePayload ? len : Math.max(0, this.wirePayload);
    const anSeglen = anLen + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
    // a SYN that repeats the direction's first seq goes back to the end of what it sent without a gap
    // (dissect_tcp(): an RST may carry the seq of an ACK far ahead, Wireshark issue 17616); a base of 0
    // there is Wireshark's "none yet"
    if ((flags & (SYN | ACK)) === SYN && d.anBase === seq) {
      d.anNext = d.anMaxToAck;
      if (d.anMaxToAck === 0) d.anSeen = false;
    }
    if (d.anBase < 0) d.anBase = flags & SYN ? seq : (seq - 1) >>> 0;
    if (r.anBase < 0 && flags & ACK) r.anBase = (ack - 1) >>> 0;
    const known = d.anSeen;
    const anNext = d.anNext;
    // a zero window probe: one byte at the next sequence number while the other side's window is zero;
    // it is none of the signs below and does not advance the sequence
    const probe = anLen === 1 && known && seq === anNext && r.anWin === 0;
    if (!probe) {
      if (win === 0 && !(flags & (SYN | FIN | RST))) {
        zeroWindow(d, frame, time);
        d.zeroWindows++;
        loss |= LOSS_ZEROWIN;
      } else if (d.lx !== null && d.lx.zwSince >= 0 && win !== 0 && !(flags & (SYN | RST))) reopened(d.lx, frame, time);
      if (anLen <= 1 && known && ((seq - anNext + 1) | 0) === 0 && !(flags & (SYN | FIN | RST))) {
        loss |= LOSS_KEEPALIVE;
      }
      // a duplicate ACK repeats this side's previous segment: no data, the same ack and window, seq
      // at the next sequence number; one that answers a keepalive is the keepalive's ACK instead
      if (anLen === 0 && win !== 0 && win === d.anWin && known && seq === anNext && ack === d.anAck && !(flags & (SYN | FIN | RST)) && !r.anKeepalive) {
        d.anDupAcks++;
        d.dupAcks++;
        loss |= LOSS_DUPACK;
      }
    }
    if (ack !== d.anAck) d.anDupAcks = 0;
    // an ACK past the other side's gapless end acknowledges segments the capture missed: the end moves
    // back to that side's next sequence number (Wireshark's "ACKed unseen segment", not counted itself)
    if (flags & ACK && r.anMaxToAck !== 0 && seqLt(r.anMaxToAck, ack) && r.anMaxToAck > r.anNext) r.anMaxToAck = r.anNext;
    // data, SYN or FIN that does not advance the sequence: spurious (all of it was acknowledged
    // already), fast (what the other side's duplicate ACKs asked for), out of order (soon after the
    // segment that raised the sequence: within the handshake's RTT, else 3 ms), or retransmitted
    if (anSeglen > 0 && !(loss & LOSS_KEEPALIVE)) {
      // more than one byte starting one below the next sequence number follows a zero window probe;
      // an ack of 0 is none (a segment without ACK), as Wireshark reads it
      const notAdvanced = known && seqLt(seq, anNext) && !(anLen > 1 && ((anNext - 1 - seq) | 0) === 0);
      if (anLen > 0 && r.anAck !== 0 && seqLe((seq + anLen) >>> 0, r.anAck)) {
        d.retrans++;
        d.spurious++;
        loss |= LOSS_RETRANS | LOSS_SPURIOUS;
      } else if (notAdvanced) {
        const sinceAck = usBetween(time, r.lastTime);
        const sinceNext = usBetween(time, d.anNextTime);
        if (r.anDupAcks >= 2 && r.anAck === seq && sinceAck >= 0 && sinceAck < FAST_US) {
          d.fastRetrans++;
          d.retrans++;
          loss |= LOSS_FAST | LOSS_RETRANS;
        } else if (sinceNext >= 0 && sinceNext < (c.firstRttUs || OOO_DEFAULT_US) && ((seq + anSeglen - anNext) | 0) !== 0) {
          d.outOfOrder++;
          loss |= LOSS_OOO;
        } else {
          d.retrans++;
          loss |= LOSS_RETRANS;
          if (len === d.maxLen && len >= BLACK_HOLE_MIN_LEN) this.fullSizeRetrans(d, r, seq, len, frame);
        }
      }
    }
    // Linux probes a zero window with keepalive-shaped segments, others with one byte
    if (r.lx !== null && r.lx.zwSince >= 0 && (probe || loss & LOSS_KEEPALIVE)) r.lx.zwProbes++;
    if (len > d.maxLen && len >= BLACK_HOLE_MIN_LEN) {
      d.maxLen = len;
      extra(d).maxSeq = seq;
    }
    const dx = d.lx;
    if (dx !== null && dx.bhCount >= 2 && dx.bhShrunkFrame === 0 && seq === dx.bhSeq && len > 0 && len < dx.bhLen) dx.bhShrunkFrame = frame;
    if (!probe) {
      const anEnd = (seq + anSeglen) >>> 0;
      if (!known || seqLt(anNext, anEnd)) {
        d.anSeen = true;
        d.anNext = anEnd;
        d.anNextTime = time;
      }
      if (seq === d.anMaxToAck || d.anMaxToAck === 0) d.anMaxToAck = d.anNext;
    }
    d.anAck = ack;
    d.anWin = win;
    d.anKeepalive = (loss & LOSS_KEEPALIVE) !== 0;
    if ((flags & (SYN | ACK)) === SYN) c.synTime = time;
    else if ((flags & (SYN | ACK)) === ACK && c.firstRttUs === 0 && c.synTime !== 0) c.firstRttUs = Math.max(0, usBetween(time, c.synTime));
    if (loss & ~(LOSS_KEEPALIVE | LOSS_SYN_RETRANS)) this.locateLoss(d, frame);

    // ---- sequence state ----
    const end = seq + seglen;
    if (!d.seen) {
      d.seen = true;
      d.nextSeq = end >>> 0;
    } else if (seglen > 0 && seqLt(d.nextSeq, end)) {
      d.nextSeq = end >>> 0;
    }
    if (flags & ACK) {
      d.lastAck = seg.ack;
      if (r.finSeq >= 0 && !r.finAcked && seqLe((r.finSeq + 1) >>> 0, seg.ack)) r.finAcked = true;
      const rx = r.lx;
      if (rx !== null && rx.bhShrunkFrame !== 0 && rx.bhThroughFrame === 0 && seqLt(rx.bhSeq, ack)) rx.bhThroughFrame = frame;
    }
    if (c.unreach !== null || c.tooBig !== null) afterIcmp(c, side, seg);
    if (flags & FIN && d.finSeq < 0) {
      d.finSeq = (seq + len) >>> 0;
      d.finFrame = frame;
      d.finTime = time;
    }
    if (len > 0 && !(flags & RST)) {
      d.bytes += len;
      d.lastDataFrame = frame;
      d.lastDataTime = time;
    }
    if (!(flags & RST)) {
      if (d.ttl < 0) d.ttl = seg.ttl;
      else if (d.ttl !== seg.ttl) d.ttlVaries = true;
      if (seg.hasTs) d.usesTs = true;
    }
    d.packets++;
    d.lastFrame = frame;
    d.lastTime = time;
    c.lastTime = time;

    // ---- ring ----
    const at = c.ringBase + c.ringNext;
    c.ringNext = (c.ringNext + 1) & (Ring.packets - 1);
    if (c.ringLen < Ring.packets) c.ringLen++;
    ringWrite(c, at, frame, this, side, seg, loss);
  }

  /** Lists a frame with a loss sign on its direction: the first LOCATE, or every one within lossFramesMax. */
  private locateLoss(d: Direction, frame: number): void {
    const n = d.lossFrames === null ? 0 : d.lossFrames.length;
    if (n >= this.locate) return;
    if (this.locate === Infinity) {
      if (this.lossListed >= this.lossFramesMax) {
        d.lossOmitted++;
        return;
      }
      this.lossListed++;
    }
    if (d.lossFrames === null) d.lossFrames = [frame];
    else d.lossFrames.push(frame);
  }

  /** A full-size segment sent again by RTO: the runs an MTU black hole shows (one segment, again and again). */
  private fullSizeRetrans(d: Direction, r: Direction, seq: number, len: number, frame: number): void {
    const time = this.now;
    const x = extra(d);
    if (x.runCount > 0 && seq === x.runSeq) x.runCount++;
    else {
      x.runSeq = seq;
      x.runCount = 1;
      x.runFrame = frame;
      x.runTime = time;
      // the other side acknowledged everything before it, and there was data before it
      x.runEarlierAcked = r.lastAck === seq && (d.synSeq < 0 || seq !== (d.synSeq + 1) >>> 0);
      // the first segment of this size got through before (then the path carries the size)
      x.runMaxAcked = r.lastAck !== -1 && x.maxSeq !== seq && seqLe((x.maxSeq + len) >>> 0, r.lastAck);
    }
    if (x.runCount >= x.bhCount) {
      if (x.bhSeq !== x.runSeq || x.bhFrame !== x.runFrame) {
        x.bhShrunkFrame = 0;
        x.bhThroughFrame = 0;
      }
      x.bhSeq = x.runSeq;
      x.bhLen = len;
      x.bhCount = x.runCount;
      x.bhFrame = x.runFrame;
      x.bhTime = x.runTime;
      x.bhLastFrame = frame;
      x.bhLastTime = time;
      x.bhEarlierAcked = x.runEarlierAcked;
      x.bhMaxAcked = x.runMaxAcked;
    }
  }

  /**
   * An ICMP error quoting a segment: recorded on the tracked connection the
   * segment belongs to, which is returned; null when no connection of the
   * capture has it (the capture missed its packets, or it is finished).
   */
  icmp(q: IcmpQuote, frame: number): Conn | null {
    let c: Conn | undefined;
    let side: number;
    if (q.family === 4) {
      const s4 = q.src4;
      const d4 = q.dst4;
      side = s4 < d4 || (s4 === d4 && q.sport < q.dport) ? 0 : 1;
      const k2 = side === 0 ? (q.sport << 16) | q.dport : (q.dport << 16) | q.sport;
      c = this.t4.get((side === 0 ? s4 : d4) | 0, (side === 0 ? d4 : s4) | 0, k2);
    } else {
      side = before6(q.src6a, q.src6b, q.src6c, q.src6d, q.sport, q.dst6a, q.dst6b, q.dst6c, q.dst6d, q.dport) ? 0 : 1;
      c =
        side === 0
          ? this.t6.get(q.src6a, q.src6b, q.src6c, q.src6d, q.dst6a, q.dst6b, q.dst6c, q.dst6d, (q.sport << 16) | q.dport)
          : this.t6.get(q.dst6a, q.dst6b, q.dst6c, q.dst6d, q.src6a, q.src6b, q.src6c, q.src6d, (q.dport << 16) | q.sport);
    }
    if (c === undefined) return null;
    const tooBig = q.family === 4 ? q.code === 4 : q.type === 2;
    const seen = tooBig ? c.tooBig : c.unreach;
    if (seen !== null) {
      seen.count++;
      seen.lastFrame = frame;
      return c;
    }
    const rec = new IcmpRecord(side, frame, this.now, q.type, q.code, q.fromKey, q.mtu, q.seq, q.flags, q.quotedLen);
    if (tooBig) c.tooBig = rec;
    else c.unreach = rec;
    return c;
  }

  private noteAccepted(c: Conn, side: number, frame: number): void {
    this.acceptedVersion++;
    const k = c.addrOf(side) + String.fromCharCode(c.portOf(side));
    let e = this.accepted.get(k);
    if (!e) {
      e = this.acceptedOld.get(k);
      if (e) this.acceptedOld.delete(k);
      else e = { count: 0, lastFrame: 0 };
      this.accepted.set(k, e);
      if (this.accepted.size >= this.generationSize) {
        this.acceptedOld = new Map(this.accepted);
        this.accepted.clear();
      }
    }
    e.count++;
    e.lastFrame = frame;
  }

  /** Ports of `addr` other than `port` that `peer`:`peerPort` exchanged packets with in flows seen only mid-connection. */
  otherPorts(peer: string, peerPort: number, addr: string, port: number): number[] {
    return this.midstream.others(peer, peerPort, addr, port);
  }

  /** Handshakes the endpoint answered with a SYN-ACK before now. */
  acceptedAt(addr: string, port: number): { count: number; lastFrame: number } | null {
    // a SYN flood asks about one endpoint over and over: remember the last answer until a SYN-ACK changes it
    if (addr === this.lastAskAddr && port === this.lastAskPort && this.lastAskVersion === this.acceptedVersion) return this.lastAnswer;
    const k = addr + String.fromCharCode(port);
    const e = this.accepted.get(k) ?? this.acceptedOld.get(k) ?? null;
    this.lastAskAddr = addr;
    this.lastAskPort = port;
    this.lastAskVersion = this.acceptedVersion;
    this.lastAnswer = e ? { ...e } : null;
    return this.lastAnswer;
  }

  private lastAskAddr = '';
  private lastAskPort = -1;
  private lastAskVersion = -1;
  private lastAnswer: { count: number; lastFrame: number } | null = null;
  private acceptedVersion = 0;

  /**
   * Keeps a finished connection object for the next new connection. Nothing
   * refers to a finished connection: the hooks read it during their call,
   * and a reset's facts (WireFacts) keep its number and labels, not the object.
   */
  private recycle(c: Conn): void {
    this.pool.push(c);
  }

  private newConn(): Conn {
    if (this.slabUsed === SLAB_CONNS) {
      this.slabF = new Float64Array(SLAB_CONNS * Ring.packets * Ring.f);
      this.slabU = new Uint32Array(SLAB_CONNS * Ring.packets * Ring.u);
      this.slabUsed = 0;
    }
    return new Conn(this.slabF, this.slabU, this.slabUsed++ * Ring.packets);
  }

  private finish(c: Conn): void {
    if (c.done) return;
    c.done = true;
    this.hooks.onConnDone(c);
    // its listed loss frames are the report's now, no longer the tracker's to bound
    if (this.locate === Infinity) this.lossListed -= (c.d0.lossFrames?.length ?? 0) + (c.d1.lossFrames?.length ?? 0);
  }

  /**
   * A generation's worth of connections was opened: connections no packet
   * touched during it are finished (reported and dropped), unless still open
   * and active in the last IDLE_SECONDS (those stay, up to a generation's
   * worth, so a long quiet connection is not cut by a flood of short ones).
   * A SYN nobody answered for a whole generation is not such a connection: it
   * is finished as unanswered, its analysis state kept with the refused ones'
   * so that its SYN sent again is still a retransmission (a flood of SYNs from
   * random sources kept a generation of them for nothing).
   * When more than that qualify, the most recently active stay: choosing them
   * in table order kept the ones in the table's first slots, which packed
   * that region full and made every lookup there walk a long run.
   */
  private rotate(now: number): void {
    const g = this.generation;
    const keep = this.generationSize;
    const drop: Conn[] = [];
    const idle: Conn[] = [];
    const visit = (c: Conn) => {
      if (c.seen >= g) return;
      if (c.closed()) drop.push(c);
      else if (c.handshake === 'syn' && c.client >= 0 && !c.dir(1 - c.client).seen) {
        const cl = c.client;
        this.refused.remember(c, cl, c.dir(cl).synSeq, c.firstRttUs, c.d0, c.d1);
        drop.push(c);
      } else if (now - c.lastTime < IDLE_SECONDS) idle.push(c);
      else drop.push(c);
    };
    this.t4.forEach(visit);
    this.t6.forEach(visit);
    if (idle.length > keep) {
      // ties at the cut go to the connections opened first, whatever the table's order
      sortById(idle, this);
      // the keep-th latest activity time, found in a copy of the times (a sort of the
      // connections themselves read each one's time again and again, cold, and took half the run)
      if (this.times.length < idle.length) this.times = new Float64Array(idle.length * 2);
      const times = this.times;
      for (let i = 0; i < idle.length; i++) times[i] = idle[i]!.lastTime;
      const cut = kthLargest(times, idle.length, keep);
      let above = 0;
      for (const c of idle) if (c.lastTime > cut) above++;
      let atCut = keep - above;
      for (const c of idle) {
        if (c.lastTime > cut) continue;
        if (c.lastTime === cut && atCut > 0) atCut--;
        else drop.push(c);
      }
      this.forgottenOpen += idle.length - keep;
    }
    // in the order they opened: what they report comes out the same whatever the table's seed
    sortById(drop, this);
    for (const c of drop) {
      this.finish(c);
      this.remove(c);
      this.recycle(c);
    }
    this.generation++;
    this.inserts = 0;
  }

  /** scratch for rotate(): activity times of the open idle connections */
  private times = new Float64Array(0);
  /** scratch for sortById() */
  ids = new Float64Array(0);

  /** The capture ended: finish every connection still tracked, in the order they opened (table order depends on the table's random seed). */
  end(): void {
    const left: Conn[] = [];
    const add = (c: Conn) => left.push(c);
    this.t4.forEach(add);
    this.t6.forEach(add);
    sortById(left, this);
    for (const c of left) this.finish(c);
    this.t4.clear();
    this.t6.clear();
  }
}
