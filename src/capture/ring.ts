// The packet ring: each connection keeps its last Ring.packets packets in
// slots of two typed arrays it shares with many connections (written for
// every packet of a capture, so nothing is allocated per packet). A packet is
// 36 bytes: its frame number and capture time as doubles, and the rest packed
// in five 32-bit words. Twelve doubles a packet (96 bytes) made the ring
// 1.5 KB of a connection's 2.8 KB: a capture of many connections is bound by
// the memory each new one touches, and by how many fit in the memory budget.
//
// This file is the one place that knows the layout: everything else reads a
// packet through the accessors below, by its slot number (Conn.ringAt).
import type { WirePacket } from '../causes/wire-facts.js';
import type { TcpSegment } from './types.js';

export type { WirePacket };

export const enum Ring {
  /** packets kept per connection (a power of two: slots wrap by masking) */
  packets = 16,
  /** doubles per packet: frame, time */
  f = 2,
  /** 32-bit words per packet: seq, ack, len, window | ttl << 16 | flags << 24, (IP ID + 1) | side << 17 | ts << 18 | loss << 19 */
  u = 5,
}

/** Where a connection's packets live: its slots are [ringBase, ringBase + Ring.packets) of both arrays. */
export interface RingSlots {
  readonly rf: Float64Array;
  readonly ru: Uint32Array;
}

export const ringFrame = (c: RingSlots, p: number): number => c.rf[p * Ring.f]!;
export const ringTime = (c: RingSlots, p: number): number => c.rf[p * Ring.f + 1]!;
export const ringSeq = (c: RingSlots, p: number): number => c.ru[p * Ring.u]!;
export const ringAck = (c: RingSlots, p: number): number => c.ru[p * Ring.u + 1]!;
export const ringPayload = (c: RingSlots, p: number): number => c.ru[p * Ring.u + 2]!;
export const ringWin = (c: RingSlots, p: number): number => c.ru[p * Ring.u + 3]! & 0xffff;
export const ringTtl = (c: RingSlots, p: number): number => (c.ru[p * Ring.u + 3]! >>> 16) & 0xff;
export const ringFlags = (c: RingSlots, p: number): number => c.ru[p * Ring.u + 3]! >>> 24;
export const ringIpId = (c: RingSlots, p: number): number => (c.ru[p * Ring.u + 4]! & 0x1ffff) - 1;
/** the side (0 or 1) that sent it */
export const ringSide = (c: RingSlots, p: number): number => (c.ru[p * Ring.u + 4]! >>> 17) & 1;
/** the segment had a timestamp option */
export const ringTs = (c: RingSlots, p: number): boolean => ((c.ru[p * Ring.u + 4]! >>> 18) & 1) === 1;
/** loss signs of the packet (LOSS_* bits of track.ts) */
export const ringLoss = (c: RingSlots, p: number): number => (c.ru[p * Ring.u + 4]! >>> 19) & 0xff;

/**
 * Writes the segment into slot `p`. The numbers come from the segment's and
 * the clock's fields, not arguments: a double (a seq or ack above 2^31, a
 * capture time) passed to a call that is not inlined is boxed, an allocation
 * per packet. IP ID is -1 for IPv6 (stored + 1); len is the TCP payload from
 * the IP lengths, below 2^32; window and TTL are the 16- and 8-bit header fields.
 */
export function ringWrite(c: RingSlots, p: number, frame: number, clock: { now: number }, side: number, seg: TcpSegment, loss: number): void {
  const f = p * Ring.f;
  c.rf[f] = frame;
  c.rf[f + 1] = clock.now;
  const u = p * Ring.u;
  const ru = c.ru;
  ru[u] = seg.seq;
  ru[u + 1] = seg.ack;
  ru[u + 2] = seg.len;
  ru[u + 3] = (seg.win & 0xffff) | ((seg.ttl & 0xff) << 16) | ((seg.flags & 0xff) << 24);
  ru[u + 4] = ((seg.ipId + 1) & 0x1ffff) | (side << 17) | (seg.hasTs ? 1 << 18 : 0) | ((loss & 0xff) << 19);
}

export function newPacket(): WirePacket {
  return { frame: 0, time: 0, side: 0, flags: 0, seq: 0, ack: 0, len: 0, win: 0, ttl: 0, ipId: 0, ts: false, loss: 0 };
}

/** The packet in slot `p` of `c`'s ring, filled into `into` (a new object unless given). */
export function packetAt(c: RingSlots, p: number, into: WirePacket = newPacket()): WirePacket {
  into.frame = ringFrame(c, p);
  into.time = ringTime(c, p);
  into.side = ringSide(c, p);
  into.flags = ringFlags(c, p);
  into.seq = ringSeq(c, p);
  into.ack = ringAck(c, p);
  into.len = ringPayload(c, p);
  into.win = ringWin(c, p);
  into.ttl = ringTtl(c, p);
  into.ipId = ringIpId(c, p);
  into.ts = ringTs(c, p);
  into.loss = ringLoss(c, p);
  return into;
}
