// An open-addressing hash table from an IPv4 4-tuple (three 32-bit numbers)
// to a value. A JavaScript Map needs a key object or string per lookup, and
// building and hashing a string for every packet cost more than reading and
// decoding the packet; here the key stays in integers. Linear probing with
// backward-shift deletion (no tombstones), grown at half full.

export class Table4<V> {
  private bits = 16;
  private mask = (1 << 16) - 1;
  private k0 = new Int32Array(1 << 16);
  private k1 = new Int32Array(1 << 16);
  private k2 = new Int32Array(1 << 16);
  private vals: Array<V | undefined> = new Array<V | undefined>(1 << 16).fill(undefined);
  size = 0;

  /** a random start for the hash: a capture crafted to collide in one table cannot know it */
  private readonly seed = (Math.random() * 0x100000000) | 0;

  private slot(a: number, b: number, p: number): number {
    let h = Math.imul(a ^ this.seed, 0x9e3779b1);
    h = Math.imul(h ^ b ^ (h >>> 15), 0x85ebca77);
    h = Math.imul(h ^ p ^ (h >>> 13), 0xc2b2ae3d);
    return (h ^ (h >>> 16)) & this.mask;
  }

  get(a: number, b: number, p: number): V | undefined {
    const vals = this.vals;
    for (let i = this.slot(a, b, p); ; i = (i + 1) & this.mask) {
      const v = vals[i];
      if (v === undefined) return undefined;
      if (this.k0[i] === a && this.k1[i] === b && this.k2[i] === p) return v;
    }
  }

  set(a: number, b: number, p: number, v: V): void {
    if ((this.size + 1) * 2 > this.vals.length) this.grow();
    const vals = this.vals;
    for (let i = this.slot(a, b, p); ; i = (i + 1) & this.mask) {
      if (vals[i] === undefined) {
        this.k0[i] = a;
        this.k1[i] = b;
        this.k2[i] = p;
        vals[i] = v;
        this.size++;
        return;
      }
      if (this.k0[i] === a && this.k1[i] === b && this.k2[i] === p) {
        vals[i] = v;
        return;
      }
    }
  }

  delete(a: number, b: number, p: number): boolean {
    const vals = this.vals;
    const mask = this.mask;
    let i = this.slot(a, b, p);
    for (; ; i = (i + 1) & mask) {
      if (vals[i] === undefined) return false;
      if (this.k0[i] === a && this.k1[i] === b && this.k2[i] === p) break;
    }
    // backward shift: move later entries of the run into the hole when their home allows it
    let hole = i;
    for (let j = (i + 1) & mask; vals[j] !== undefined; j = (j + 1) & mask) {
      const home = this.slot(this.k0[j]!, this.k1[j]!, this.k2[j]!);
      // j may move to hole if home is not in (hole, j] cyclically
      if (hole <= j ? home <= hole || home > j : home <= hole && home > j) {
        this.k0[hole] = this.k0[j]!;
        this.k1[hole] = this.k1[j]!;
        this.k2[hole] = this.k2[j]!;
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
    const { k0, k1, k2, vals } = this;
    this.bits++;
    const n = 1 << this.bits;
    this.mask = n - 1;
    this.k0 = new Int32Array(n);
    this.k1 = new Int32Array(n);
    this.k2 = new Int32Array(n);
    this.vals = new Array<V | undefined>(n).fill(undefined);
    this.size = 0;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v !== undefined) this.set(k0[i]!, k1[i]!, k2[i]!, v);
    }
  }
}
