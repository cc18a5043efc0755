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

const PER_SIDE = 9;
/** per slot: the SYN's side, its ISN, the handshake RTT (µs), then both directions' fields */
const STRIDE = 3 + 2 * PER_SIDE;

export class RefusedRetries {
  private readonly used = new Uint8Array(SLOTS);
  private readonly k = new Int32Array(SLOTS * 3);
  private readonly key6: string[] = new Array<string>(SLOTS).fill('');
  private readonly v = new Float64Array(SLOTS * STRIDE);

  private slot(k0: number, k1: number, k2: number, key: string): number {
    let h = (Math.imul(k0 ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(k1, 0xc2b2ae35) ^ k2) | 0;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    h ^= h >>> 15;
    return h & (SLOTS - 1);
  }

  private holds(s: number, k0: number, k1: number, k2: number, key: string): boolean {
    return this.used[s] === 1 && this.k[s * 3] === k0 && this.k[s * 3 + 1] === k1 && this.k[s * 3 + 2] === k2 && this.key6[s] === key;
  }

  /** A connection refused by a reset is let go: its SYN's side and ISN, RTT, and both directions' analysis state. */
  remember(k0: number, k1: number, k2: number, key: string, side: number, isn: number, rttUs: number, d0: AnState, d1: AnState): void {
    const s = this.slot(k0, k1, k2, key);
    this.used[s] = 1;
    this.k[s * 3] = k0;
    this.k[s * 3 + 1] = k1;
    this.k[s * 3 + 2] = k2;
    this.key6[s] = key;
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
  recall(k0: number, k1: number, k2: number, key: string, side: number, isn: number, d0: AnState, d1: AnState): number {
    const s = this.slot(k0, k1, k2, key);
    if (!this.holds(s, k0, k1, k2, key)) return -1;
    this.used[s] = 0;
    this.key6[s] = '';
    const v = this.v;
    const at = s * STRIDE;
    if (v[at] !== side || v[at + 1] !== isn) return -1;
    get(v, at + 3, d0);
    get(v, at + 3 + PER_SIDE, d1);
    return v[at + 2]!;
  }

  /** Any other new connection on the tuple: the conversation the memory was for is over. */
  forget(k0: number, k1: number, k2: number, key: string): void {
    const s = this.slot(k0, k1, k2, key);
    if (this.holds(s, k0, k1, k2, key)) {
      this.used[s] = 0;
      this.key6[s] = '';
    }
  }
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
