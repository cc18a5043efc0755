// An open-addressing hash table from an IPv6 4-tuple (nine 32-bit numbers:
// the two addresses as four words each, then both ports in one) to a value,
// Table4's sibling. A Map keyed by a string built per packet (18 chars of
// addresses and ports) cost more than the rest of tracking an IPv6 segment;
// here the key stays in integers. Linear probing with backward-shift deletion
// (no tombstones), grown at half full. A slot's nine words sit side by side,
// so a lookup compares them in one or two cache lines.
//
// forEach goes in table order, as Table4's does: the tracker orders what it
// finishes by connection number itself (track.ts rotate, end).

/** int32s per slot */
const K = 9;

/**
 * Whether endpoint (a, port pa) sorts before endpoint (b, port pb) as their
 * keys do as strings (TcpSegment.srcKey + String.fromCharCode(port)): by 16-bit
 * groups, then the port, all unsigned, which is the words' unsigned order.
 * Equal endpoints do not.
 */
export function before6(a0: number, a1: number, a2: number, a3: number, pa: number, b0: number, b1: number, b2: number, b3: number, pb: number): boolean {
  if (a0 !== b0) return a0 >>> 0 < b0 >>> 0;
  if (a1 !== b1) return a1 >>> 0 < b1 >>> 0;
  if (a2 !== b2) return a2 >>> 0 < b2 >>> 0;
  if (a3 !== b3) return a3 >>> 0 < b3 >>> 0;
  return pa < pb;
}

export class Table6<V> {
  private bits: number;
  private mask: number;
  private keys: Int32Array;
  private vals: Array<V | undefined>;
  size = 0;

  /** a random start for the hash: a capture crafted to collide in one table cannot know it */
  private readonly seed = (Math.random() * 0x100000000) | 0;

  /** `bits`: log2 of the first number of slots (IPv4-only captures pay little for an empty table) */
  constructor(bits = 12) {
    this.bits = bits;
    this.mask = (1 << bits) - 1;
    this.keys = new Int32Array(K << bits);
    this.vals = new Array<V | undefined>(1 << bits).fill(undefined);
  }

  private slot(a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number, p: number): number {
    let h = Math.imul(p ^ this.seed, 0x9e3779b1);
    h = Math.imul(h ^ a0 ^ (h >>> 15), 0x85ebca77);
    h = Math.imul(h ^ a1 ^ (h >>> 13), 0xc2b2ae3d);
    h = Math.imul(h ^ a2 ^ (h >>> 15), 0x27d4eb2f);
    h = Math.imul(h ^ a3 ^ (h >>> 13), 0x165667b1);
    h = Math.imul(h ^ b0 ^ (h >>> 15), 0x85ebca77);
    h = Math.imul(h ^ b1 ^ (h >>> 13), 0xc2b2ae3d);
    h = Math.imul(h ^ b2 ^ (h >>> 15), 0x27d4eb2f);
    h = Math.imul(h ^ b3 ^ (h >>> 13), 0x9e3779b1);
    return (h ^ (h >>> 16)) & this.mask;
  }

  /** Whether slot i holds this key (the ports first: connections between the same two hosts differ there). */
  private holds(i: number, a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number, p: number): boolean {
    const k = this.keys;
    const o = i * K;
    return (
      k[o + 8] === p &&
      k[o + 3] === a3 &&
      k[o + 7] === b3 &&
      k[o] === a0 &&
      k[o + 1] === a1 &&
      k[o + 2] === a2 &&
      k[o + 4] === b0 &&
      k[o + 5] === b1 &&
      k[o + 6] === b2
    );
  }

  get(a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number, p: number): V | undefined {
    const vals = this.vals;
    for (let i = this.slot(a0, a1, a2, a3, b0, b1, b2, b3, p); ; i = (i + 1) & this.mask) {
      const v = vals[i];
      if (v === undefined) return undefined;
      if (this.holds(i, a0, a1, a2, a3, b0, b1, b2, b3, p)) return v;
    }
  }

  set(a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number, p: number, v: V): void {
    if ((this.size + 1) * 2 > this.vals.length) this.grow();
    const vals = this.vals;
    const k = this.keys;
    for (let i = this.slot(a0, a1, a2, a3, b0, b1, b2, b3, p); ; i = (i + 1) & this.mask) {
      const o = i * K;
      if (vals[i] === undefined) {
        k[o] = a0;
        k[o + 1] = a1;
        k[o + 2] = a2;
        k[o + 3] = a3;
        k[o + 4] = b0;
        k[o + 5] = b1;
        k[o + 6] = b2;
        k[o + 7] = b3;
        k[o + 8] = p;
        vals[i] = v;
        this.size++;
        return;
      }
      if (this.holds(i, a0, a1, a2, a3, b0, b1, b2, b3, p)) {
        vals[i] = v;
        return;
      }
    }
  }

  delete(a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number, p: number): boolean {
    const vals = this.vals;
    const k = this.keys;
    const mask = this.mask;
    let i = this.slot(a0, a1, a2, a3, b0, b1, b2, b3, p);
    for (; ; i = (i + 1) & mask) {
      if (vals[i] === undefined) return false;
      if (this.holds(i, a0, a1, a2, a3, b0, b1, b2, b3, p)) break;
    }
    // backward shift: move later entries of the run into the hole when their home allows it
    let hole = i;
    for (let j = (i + 1) & mask; vals[j] !== undefined; j = (j + 1) & mask) {
      const o = j * K;
      const home = this.slot(k[o]!, k[o + 1]!, k[o + 2]!, k[o + 3]!, k[o + 4]!, k[o + 5]!, k[o + 6]!, k[o + 7]!, k[o + 8]!);
      // j may move to hole if home is not in (hole, j] cyclically
      if (hole <= j ? home <= hole || home > j : home <= hole && home > j) {
        k.copyWithin(hole * K, o, o + K);
        vals[hole] = vals[j];
        hole = j;
      }
    }
    vals[hole] = undefined;
    this.size--;
    return true;
  }

  /** Calls fn with every value (in table order); fn must not change the table. */
  forEach(fn: (v: V) => void): void {
    const vals = this.vals;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v !== undefined) fn(v);
    }
  }

  clear(): void {
    this.vals.fill(undefined);
    this.size = 0;
  }

  private grow(): void {
    const { keys, vals } = this;
    this.bits++;
    const n = 1 << this.bits;
    this.mask = n - 1;
    this.keys = new Int32Array(K * n);
    this.vals = new Array<V | undefined>(n).fill(undefined);
    this.size = 0;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v === undefined) continue;
      const o = i * K;
      this.set(keys[o]!, keys[o + 1]!, keys[o + 2]!, keys[o + 3]!, keys[o + 4]!, keys[o + 5]!, keys[o + 6]!, keys[o + 7]!, keys[o + 8]!, v);
    }
  }
}
