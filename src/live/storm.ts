// Storm accounting. The kernel counts every RST under its storm key (what a
// verdict depends on, without the remote endpoint: struct tcpwhy_storm_key)
// and sends only the first few of each key per interval in full. Each
// interval user space swaps the kernel's table and reads it here: the totals
// (every RST, shown or not), and, for each key whose RSTs were not all shown,
// a storm record that carries the rate and the verdict of the ones shown.
import {
  STORM_KEY_LAYOUT,
  STORM_VAL_LAYOUT,
  PEER_WORDS,
  DIR_RECEIVED,
  KIND_ACTIVE,
  KIND_PASSIVE,
  EV_DROP,
  EV_RETRANS,
  EV_ERROR,
} from '../events/generated/contract.js';
import { dropReasonName, errnoName, retransName, type LossEvent } from '../events/loss-event.js';
import { stateName, type RstEvent } from '../events/event.js';
import type { Verdict } from '../events/verdict.js';
import { formatIPv4, formatIPv6 } from '../net/addr.js';
import { formatTcpFlags } from '../net/flags.js';
import { plainAddr } from '../causes/live-facts.js';
import type { BoundedMap } from '../memory/bounded.js';
import { boundedTable } from '../memory/budget.js';

const KEY = STORM_KEY_LAYOUT.fields;
const VAL = STORM_VAL_LAYOUT.fields;
const RECORD = STORM_KEY_LAYOUT.size + STORM_VAL_LAYOUT.size;
const AF_INET6 = 10;
const PEER_BITS = PEER_WORDS * 64;
/** The segment bits a key keeps: FIN, SYN, RST, ACK; PSH stands for "carried payload". */
const KEY_SEG_BITS = 0x01 | 0x02 | 0x04 | 0x10;
const PSH = 0x08;

/** One key's RSTs over an interval in which not all were shown in full. */
export interface StormRecord {
  type: 'storm';
  /** what was counted: RSTs, or drops, retransmissions or errors */
  event: 'reset' | 'drop' | 'retransmit' | 'error';
  /** wall-clock time of the interval's end (ISO 8601) */
  time: string;
  interval_s: number;
  netns: number;
  /** resets: sent or received; drops: in or out; null for retransmissions and errors */
  direction: 'sent' | 'received' | 'in' | 'out' | null;
  kind: 'active' | 'passive' | null;
  reason: string | null;
  state: string | null;
  family: 'ipv4' | 'ipv6';
  /** the local endpoint; port null when the key's port is the remote one (a client's connections) */
  local: { addr: string; port: number | null };
  /** the service's port when it is the remote one, else null */
  remote_port: number | null;
  /** flags of the segments answered (PSH: they carried payload); null for received RSTs and active ones */
  segment: string | null;
  count: number;
  rate_per_s: number;
  shown: number;
  lost: number;
  /** distinct remote endpoints, estimated (linear counting over 512 bits) */
  /** distinct connections (remote endpoint and local port), estimated */
  peers: number;
  /** more than the estimate can tell: `peers` is a lower bound */
  peers_saturated: boolean;
  /** the first remote endpoint of the interval */
  example_peer: { addr: string; port: number };
  /** the verdict of the last RST of this key shown in full, null if none was */
  cause: Verdict | null;
}

/** What every RST of a session came to, at its end. */
export interface StormTotals {
  sent: number;
  received: number;
  shown: number;
  counted_only: number;
  lost: number;
  /** counted without their key (the interval's key table was full) */
  unkeyed: number;
  by_netns: Record<string, { sent: number; received: number }>;
}

/** What every drop, retransmission and error of a session came to, at its end. */
export interface LossTotals {
  drops: number;
  retransmits: number;
  errors: number;
  shown: number;
  counted_only: number;
  lost: number;
  /** counted without their key (the interval's key table was full) */
  unkeyed: number;
}

/** The segment bits of a key, from an event's segment: FIN, SYN, RST, ACK, and PSH for "carried payload". */
function segKeyBits(e: { packet: unknown; segment: { flags: string; len: number } | null }): number {
  let seg = 0;
  if (e.packet && e.segment) {
    for (const f of e.segment.flags.split('|')) seg |= f === 'FIN' ? 0x01 : f === 'SYN' ? 0x02 : f === 'RST' ? 0x04 : f === 'ACK' ? 0x10 : 0;
    if (e.segment.len > 0) seg |= PSH;
  }
  return seg;
}

/** The key of an event shown in full, as the kernel made it (see fill_storm_key() in bpf/tcpwhy.bpf.c). */
export function stormKeyOfEvent(e: RstEvent): string {
  const t = e.packet ?? e.socket;
  const seg = segKeyBits(e);
  // the service's port: as fill_storm_key() picks it
  const remote = !!e.socket && !!t && t.rport > 0 && t.rport < t.lport;
  const port = t ? (remote ? t.rport : t.lport) : 0;
  return keyString(e.netns, e.direction, e.kind, e.reason, e.state, t ? t.laddr : '', port, remote, seg);
}

/** The key of a loss event shown in full, as fill_storm_key() made it. */
export function stormKeyOfLoss(e: LossEvent): string {
  const t = e.packet ?? e.socket;
  const seg = segKeyBits(e);
  const remote = !!t && lossServiceIsRemote(e, t, seg);
  const port = t ? (remote ? t.rport : t.lport) : 0;
  return keyString(e.netns, `${e.type}:${e.direction}`, null, e.reason, e.state, t ? t.laddr : '', port, remote, seg);
}

const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/** Whether a loss event's key holds the remote port: as service_is_remote() in bpf/tcpwhy.bpf.c. */
function lossServiceIsRemote(e: LossEvent, t: { lport: number; rport: number }, seg: number): boolean {
  if (!e.socket) {
    // the packet's local side is this host's: a received segment came from the remote one
    const fromRemote = e.direction === 'in';
    if ((seg & (SYN | ACK)) === SYN) return !fromRemote;
    if ((seg & (SYN | ACK)) === (SYN | ACK) || seg & RST) return fromRemote;
  }
  return t.rport > 0 && t.rport < t.lport;
}

function keyString(
  netns: number,
  dir: string,
  kind: string | null,
  reason: string | null,
  state: string | null,
  laddr: string,
  port: number,
  remote: boolean,
  seg: number,
): string {
  return `${netns}|${dir}|${kind}|${reason}|${state}|${plainAddr(laddr)}|${remote ? 'r' : 'l'}${port}|${seg}`;
}

/** Distinct values among n hashed into `bits` bits of which `zero` are still 0 (linear counting). */
export function linearCount(zero: number, bits = PEER_BITS): { n: number; saturated: boolean } {
  if (zero === 0) return { n: Math.round(bits * Math.log(bits)), saturated: true };
  // (+ 0: no "-0" when every bit is zero)
  return { n: Math.round(-bits * Math.log(zero / bits)) + 0, saturated: false };
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function readU64(v: DataView, at: number): number {
  return v.getUint32(at + 4, true) * 4294967296 + v.getUint32(at, true);
}

export interface StormContext {
  /** reason code -> name (the kernel's enum sk_rst_reason) */
  reasons: ReadonlyMap<number, string>;
  /** drop reason code -> name (enum skb_drop_reason); none: numbers */
  dropReasons?: ReadonlyMap<number, string>;
  /** wall-clock text of a CLOCK_MONOTONIC time */
  wallTime(monoNs: number): string;
}

/** Namespaces whose totals are kept apart; more fold into "other". */
const NETNS_LIMIT = 4096;

export class StormCounter {
  private readonly totals: Omit<StormTotals, 'by_netns'> = { sent: 0, received: 0, shown: 0, counted_only: 0, lost: 0, unkeyed: 0 };
  private readonly loss: LossTotals = { drops: 0, retransmits: 0, errors: 0, shown: 0, counted_only: 0, lost: 0, unkeyed: 0 };
  private readonly byNetns = new Map<string, { sent: number; received: number }>();
  /** the newest verdict of each key, from the events shown in full */
  private readonly verdicts: BoundedMap<string, Verdict>;

  constructor(
    private readonly ctx: StormContext,
    warn: (msg: string) => void = () => undefined,
  ) {
    this.verdicts = boundedTable('stormVerdicts', warn);
  }

  /** Keys whose newest verdict is remembered. */
  get verdictKeys(): number {
    return this.verdicts.size;
  }

  /** An RST shown in full, diagnosed: its verdict stands for its key's counted ones. */
  noteShown(e: RstEvent): void {
    if (e.cause) this.verdicts.set(stormKeyOfEvent(e), e.cause);
  }

  /** A loss event shown in full, diagnosed: its verdict stands for its key's counted ones. */
  noteLossShown(e: LossEvent): void {
    if (e.cause) this.verdicts.set(stormKeyOfLoss(e), e.cause);
  }

  /** Loss events the kernel counted without a key, since the last call. */
  addUnkeyedLoss(n: number): void {
    this.loss.unkeyed += n;
    this.loss.counted_only += n;
  }

  /** RSTs the kernel counted without a key, since the last call. */
  addUnkeyed(sent: number, received: number): void {
    this.totals.unkeyed += sent + received;
    this.totals.sent += sent;
    this.totals.received += received;
    this.totals.counted_only += sent + received;
  }

  /**
   * At the end: the namespaces of the RSTs counted without a key (the
   * kernel's rows; what its table of them could not hold stays "other").
   */
  addUnkeyedNetns(rows: ReadonlyArray<readonly [number, number, number]>): void {
    let sent = 0;
    let received = 0;
    for (const [netns, dir, count] of rows) {
      // loss events' rows (type * 16 + direction): their type's total, which
      // addUnkeyedLoss could not tell (the kernel counts them together)
      if (dir > DIR_RECEIVED) {
        const type = dir >> 4;
        if (type === EV_DROP) this.loss.drops += count;
        else if (type === EV_RETRANS) this.loss.retransmits += count;
        else if (type === EV_ERROR) this.loss.errors += count;
        continue;
      }
      this.addNetns(netns, dir === DIR_RECEIVED, count);
      if (dir === DIR_RECEIVED) received += count;
      else sent += count;
    }
    const rest = this.totals.unkeyed - sent - received;
    if (rest > 0) {
      // the kernel's table of unkeyed namespaces was full: their direction is known in total only
      const other = this.byNetns.get('other') ?? { sent: 0, received: 0 };
      other.sent += rest;
      this.byNetns.set('other', other);
    }
  }

  /**
   * Reads one interval's table (Tracer.stormSwap()): adds it to the totals and
   * returns the keys whose RSTs were not all shown. Their verdicts are looked
   * up later (storm()): the events shown in full may still be on their way.
   */
  take(buf: ArrayBuffer, intervalS: number): PendingStorm[] {
    const v = new DataView(buf);
    const bytes = new Uint8Array(buf);
    const out: PendingStorm[] = [];
    for (let at = 0; at + RECORD <= buf.byteLength; at += RECORD) {
      const val = at + STORM_KEY_LAYOUT.size;
      const count = readU64(v, val + VAL.count.offset);
      const shown = readU64(v, val + VAL.shown.offset);
      const lost = readU64(v, val + VAL.lost.offset);
      const netns = v.getUint32(at + KEY.netns.offset, true);
      const type = v.getUint8(at + KEY.type.offset);
      if (type >= EV_DROP) {
        if (type === EV_DROP) this.loss.drops += count;
        else if (type === EV_RETRANS) this.loss.retransmits += count;
        else this.loss.errors += count;
        this.loss.shown += shown;
        this.loss.lost += lost;
        this.loss.counted_only += count - shown - lost;
        if (count > shown) out.push(this.decode(v, bytes, at, intervalS));
        continue;
      }
      const received = v.getUint8(at + KEY.direction.offset) === DIR_RECEIVED;
      if (received) this.totals.received += count;
      else this.totals.sent += count;
      this.totals.shown += shown;
      this.totals.lost += lost;
      this.totals.counted_only += count - shown - lost;
      this.addNetns(netns, received, count);
      if (count > shown) out.push(this.decode(v, bytes, at, intervalS));
    }
    return out;
  }

  private addNetns(netns: number, received: boolean, count: number): void {
    let k = String(netns);
    let n = this.byNetns.get(k);
    if (!n) {
      if (this.byNetns.size >= NETNS_LIMIT) k = 'other';
      n = this.byNetns.get(k) ?? { sent: 0, received: 0 };
      this.byNetns.set(k, n);
    }
    if (received) n.received += count;
    else n.sent += count;
  }

  private decode(v: DataView, bytes: Uint8Array, at: number, intervalS: number): PendingStorm {
    const val = at + STORM_KEY_LAYOUT.size;
    const family = v.getUint8(at + KEY.family.offset) === AF_INET6 ? 'ipv6' : 'ipv4';
    const addr = (off: number) => (family === 'ipv6' ? formatIPv6(bytes.subarray(off, off + 16)) : formatIPv4(bytes.subarray(off, off + 4)));
    const reasonCode = v.getInt32(at + KEY.reason.offset, true);
    const kindCode = v.getUint8(at + KEY.kind.offset);
    const seg = v.getUint8(at + KEY.seg_flags.offset);
    let zero = 0;
    for (let w = 0; w < PEER_WORDS; w++) {
      const o = val + VAL.peers.offset + w * 8;
      zero += 64 - popcount32(v.getUint32(o, true)) - popcount32(v.getUint32(o + 4, true));
    }
    const peers = linearCount(zero);
    const count = readU64(v, val + VAL.count.offset);
    const type = v.getUint8(at + KEY.type.offset);
    const event = type === EV_DROP ? 'drop' : type === EV_RETRANS ? 'retransmit' : type === EV_ERROR ? 'error' : 'reset';
    const received = v.getUint8(at + KEY.direction.offset) === DIR_RECEIVED;
    const direction = event === 'reset' ? (received ? 'received' : 'sent') : event === 'drop' ? (received ? 'in' : 'out') : null;
    const kind = kindCode === KIND_ACTIVE ? 'active' : kindCode === KIND_PASSIVE ? 'passive' : null;
    const reason =
      event === 'drop'
        ? dropReasonName(reasonCode, this.ctx.dropReasons ?? new Map())
        : event === 'retransmit'
          ? retransName(reasonCode)
          : event === 'error'
            ? errnoName(reasonCode)
            : reasonCode >= 0
              ? (this.ctx.reasons.get(reasonCode) ?? `REASON_${reasonCode}`)
              : null;
    const state = stateName(v.getUint8(at + KEY.state.offset));
    const laddr = addr(at + KEY.laddr.offset);
    const port = v.getUint16(at + KEY.port.offset, true);
    const remote = v.getUint8(at + KEY.remote_port.offset) === 1;
    const lastNs = readU64(v, val + VAL.last_ns.offset);
    const record: Omit<StormRecord, 'cause'> = {
      type: 'storm',
      event,
      time: this.ctx.wallTime(lastNs),
      interval_s: intervalS,
      netns: v.getUint32(at + KEY.netns.offset, true),
      direction,
      kind,
      reason,
      state,
      family,
      local: { addr: laddr, port: remote ? null : port },
      remote_port: remote ? port : null,
      segment: seg ? formatTcpFlags(seg & (KEY_SEG_BITS | PSH)) : null,
      count,
      rate_per_s: Math.round(count / intervalS),
      shown: readU64(v, val + VAL.shown.offset),
      lost: readU64(v, val + VAL.lost.offset),
      peers: peers.n,
      peers_saturated: peers.saturated,
      example_peer: { addr: addr(val + VAL.raddr.offset), port: v.getUint16(val + VAL.rport.offset, true) },
    };
    const keyDir = event === 'reset' ? (direction as string) : `${event}:${direction}`;
    return { record, key: keyString(record.netns, keyDir, kind, reason, state, laddr, port, remote, seg) };
  }

  /** The record of a pending key, with the newest verdict of its key. */
  storm(p: PendingStorm): StormRecord {
    return { ...p.record, cause: this.verdicts.get(p.key) ?? null };
  }

  summary(): StormTotals {
    return { ...this.totals, by_netns: Object.fromEntries(this.byNetns) };
  }

  lossSummary(): LossTotals {
    return { ...this.loss };
  }
}

export interface PendingStorm {
  record: Omit<StormRecord, 'cause'>;
  key: string;
}
