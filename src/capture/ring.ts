// The packet ring: each connection keeps its last packets in one Float64Array
// (written for every packet of a capture, so nothing is allocated per packet),
// a fixed number of fields per packet. Every reader and writer names the fields
// through R; both enums are const, so tsc writes the numbers in place and the
// hot path stays plain indexed access.
import type { WirePacket } from '../causes/wire-facts.js';

export type { WirePacket };

export const enum Ring {
  /** packets kept per connection (a power of two: slots wrap by masking) */
  packets = 16,
  /** numbers per packet */
  stride = 12,
  /** numbers per connection: packets * stride */
  size = 192,
}

/** Offset of each field within a packet's slot. */
export const enum R {
  frame = 0,
  time = 1,
  /** the side (0 or 1) that sent it */
  dir = 2,
  flags = 3,
  seq = 4,
  ack = 5,
  len = 6,
  win = 7,
  ttl = 8,
  ipId = 9,
  /** 1 when the segment had a timestamp option */
  ts = 10,
  /** loss signs of the packet (LOSS_* bits) */
  loss = 11,
}

export function newPacket(): WirePacket {
  return { frame: 0, time: 0, side: 0, flags: 0, seq: 0, ack: 0, len: 0, win: 0, ttl: 0, ipId: 0, ts: false, loss: 0 };
}

/** The packet at offset `at` of `ring`, filled into `p` (a new object unless given). */
export function packetAt(ring: Float64Array, at: number, p: WirePacket = newPacket()): WirePacket {
  p.frame = ring[at + R.frame]!;
  p.time = ring[at + R.time]!;
  p.side = ring[at + R.dir]!;
  p.flags = ring[at + R.flags]!;
  p.seq = ring[at + R.seq]!;
  p.ack = ring[at + R.ack]!;
  p.len = ring[at + R.len]!;
  p.win = ring[at + R.win]!;
  p.ttl = ring[at + R.ttl]!;
  p.ipId = ring[at + R.ipId]!;
  p.ts = ring[at + R.ts] === 1;
  p.loss = ring[at + R.loss]!;
  return p;
}
