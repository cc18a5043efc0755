// The sequence analysis state of connections refused by a reset, kept after
// the tracker let them go, for the client's next SYN on the same tuple (and
// of connections whose SYNs nobody answered for a generation: track.ts rotate).
//
// A refused handshake is finished at once (track.ts: a SYN flood must not
// fill the tables), so the client's SYN sent again with the same ISN opens a
// new connection. Wireshark keeps one conversation for it (a SYN whose seq is
// the conversation's base seq is the same conversation, and is marked a
// retransmission: packet-tcp.c, dissect_tcp()); this memory lets the new
// connection start from the refused one's analysis state so the tracker marks
// it the same way. A fixed table of slots, the tuple hashed to one: a newer
// refusal that lands on the same slot replaces the older one (that retry then
// goes unmarked: docs/capture.md, "Differences from Wireshark").

/** slots (a power of two) */
const SLOTS = 4096;

/** The analysis fields of one direction (track.ts Direction, an* fields), in the order they are kept. */
export interface AnState {
  anSeen: boolean;
  anBase: number;
  anNext: number;
  anNextTime: number;
  anMaxToAck: number;
  anAck: number;
  anWin: number;
  anDupAcks: number;
  anKeepalive: boolean;
}

/**
 * A connection's tuple as the tracker keys it (track.ts Conn): IPv4 in k0-k2,
 * IPv6 in k0-k8.
 */
export interface TupleKey {
  family: 4 | 6;
  k0: number;
  k1: number;
  k2: number;
  k3: number;
  k4: number;
  k5: number;
  k6: number;
  k7: number;
  k8: number;
}

/** int32s of a slot's key */
const KEY = 9;

const PER_SIDE = 9;
/** per slot: the SYN's side, its ISN, the handshake RTT (µs), then both directions' fields */
const STRIDE = 3 + 2 * PER_SIDE;

export class RefusedRetries {
  /** per slot: the family of the tuple it holds, 0 when free */
  private readonly used = new Uint8Array(SLOTS);
  private readonly k = new Int32Array(SLOTS * KEY);
  private readonly v = new Float64Array(SLOTS * STRIDE);

  /**
   * The slot of a tuple. IPv6 tuples hash as the string key they once were
   * (side 0's address as 16-bit groups, its port, then side 1's), so a
   * refusal displaces the same others as before.
   */
  private slot(t: TupleKey): number {
    let h: number;
    if (t.family === 4) h = (Math.imul(t.k0 ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(t.k1, 0xc2b2ae35) ^ t.k2) | 0;
    else {
      h = Math.imul(0x9e3779b9, 0x85ebca6b);
      h = groups(groups(groups(groups(h, t.k0), t.k1), t.k2), t.k3);
      h = Math.imul(h ^ (t.k8 >>> 16), 0x01000193);
      h = groups(groups(groups(groups(h, t.k4), t.k5), t.k6), t.k7);
      h = Math.imul(h ^ (t.k8 & 0xffff), 0x01000193);
    }
    h ^= h >>> 15;
    return h & (SLOTS - 1);
  }

  private holds(s: number, t: TupleKey): boolean {
    const k = this.k;
    const o = s * KEY;
    if (this.used[s] !== t.family || k[o] !== t.k0 || k[o + 1] !== t.k1 || k[o + 2] !== t.k2) return false;
    return t.family === 4 || (k[o + 3] === t.k3 && k[o + 4] === t.k4 && k[o + 5] === t.k5 && k[o + 6] === t.k6 && k[o + 7] === t.k7 && k[o + 8] === t.k8);
  }

  /** A connection refused by a reset is let go: its tuple, its SYN's side and ISN, RTT, and both directions' analysis state. */
  remember(t: TupleKey, side: number, isn: number, rttUs: number, d0: AnState, d1: AnState): void {
    const s = this.slot(t);
    this.used[s] = t.family;
    const k = this.k;
    const o = s * KEY;
    k[o] = t.k0;
    k[o + 1] = t.k1;
    k[o + 2] = t.k2;
    k[o + 3] = t.k3;
    k[o + 4] = t.k4;
    k[o + 5] = t.k5;
    k[o + 6] = t.k6;
    k[o + 7] = t.k7;
    k[o + 8] = t.k8;
    const v = this.v;
    const at = s * STRIDE;
    v[at] = side;
    v[at + 1] = isn;
    v[at + 2] = rttUs;
    put(v, at + 3, d0);
    put(v, at + 3 + PER_SIDE, d1);
  }

  /**
   * A new connection on the tuple opened by a SYN from `side` with ISN `isn`:
   * when it retries a remembered refusal, the refused one's state is copied
   * into d0 and d1 and its RTT returned; else -1. The entry is used up either
   * way (a SYN with another ISN starts another conversation).
   */
  recall(t: TupleKey, side: number, isn: number, d0: AnState, d1: AnState): number {
    const s = this.slot(t);
    if (!this.holds(s, t)) return -1;
    this.used[s] = 0;
    const v = this.v;
    const at = s * STRIDE;
    if (v[at] !== side || v[at + 1] !== isn) return -1;
    get(v, at + 3, d0);
    get(v, at + 3 + PER_SIDE, d1);
    return v[at + 2]!;
  }

  /** Any other new connection on the tuple: the conversation the memory was for is over. */
  forget(t: TupleKey): void {
    const s = this.slot(t);
    if (this.holds(s, t)) this.used[s] = 0;
  }
}

/** The hash step of slot() over a word's two 16-bit groups, high first. */
function groups(h: number, w: number): number {
  return Math.imul(Math.imul(h ^ (w >>> 16), 0x01000193) ^ (w & 0xffff), 0x01000193);
}

function put(v: Float64Array, at: number, d: AnState): void {
  v[at] = d.anSeen ? 1 : 0;
  v[at + 1] = d.anBase;
  v[at + 2] = d.anNext;
  v[at + 3] = d.anNextTime;
  v[at + 4] = d.anMaxToAck;
  v[at + 5] = d.anAck;
  v[at + 6] = d.anWin;
  v[at + 7] = d.anDupAcks;
  v[at + 8] = d.anKeepalive ? 1 : 0;
}

function get(v: Float64Array, at: number, d: AnState): void {
  d.anSeen = v[at] === 1;
  d.anBase = v[at + 1]!;
  d.anNext = v[at + 2]!;
  d.anNextTime = v[at + 3]!;
  d.anMaxToAck = v[at + 4]!;
  d.anAck = v[at + 5]!;
  d.anWin = v[at + 6]!;
  d.anDupAcks = v[at + 7]!;
  d.anKeepalive = v[at + 8] === 1;
}
