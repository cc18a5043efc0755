// The one bounded table of tcpwhy. Every table whose keys come from traffic
// (addresses, namespaces, stacks, connections) is one of these, so that a busy
// host cannot make user space grow until V8 gives up: at its cap a table
// forgets its oldest entries, counts them, and has its owner say so once.

/** What a full table tells its owner, once: the text every owner prints the same way. */
export function fullMessage(name: string, cap: number): string {
  return `${name} is full (${cap} entries): forgetting the oldest`;
}

export interface BoundedOptions {
  /** Called once, the first time the table forgets something (say it once: fullMessage). */
  onFull?: (name: string, cap: number) => void;
}

/**
 * Map with a size cap, in two generations: writes go to the young one; when
 * it is full the old one is dropped whole and the young one becomes old.
 * Eviction is O(1) and costs nothing per write, which matters when every
 * event of an RST flood is written (deleting a Map's oldest key one at a time
 * is slow in V8: the holes left at the front are walked by every next
 * deletion until the table is rebuilt). The price: the table forgets the
 * older half at once, and holds between cap/2 and cap entries once full.
 * A key lives for at least cap/2 writes of other keys.
 */
export class BoundedMap<K extends string | number, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;
  private told = false;
  /** entries forgotten so far to stay under the cap */
  evicted = 0;
  /** the entries it may hold (even: two generations of cap/2) */
  readonly cap: number;

  constructor(
    /** says what it holds in the warning: "host snapshots", "kernel stack symbols" ... */
    readonly name: string,
    cap: number,
    private readonly opts: BoundedOptions = {},
  ) {
    this.half = Math.max(1, Math.floor(cap / 2));
    this.cap = this.half * 2;
  }

  get(k: K): V | undefined {
    // a key is in one generation only; null is a value (a stack that could not be read)
    const v = this.young.get(k);
    return v !== undefined ? v : this.old.get(k);
  }

  has(k: K): boolean {
    return this.young.has(k) || this.old.has(k);
  }

  /** the value for k, made if absent; k becomes young (the least likely to be forgotten) */
  touch(k: K, make: () => V): V {
    let v = this.young.get(k);
    if (v !== undefined) return v;
    v = this.old.get(k);
    if (v !== undefined) this.old.delete(k);
    else v = make();
    this.putYoung(k, v);
    return v;
  }

  /** stores v under k, young (undefined is not a value: get would take it for a miss) */
  set(k: K, v: V): this {
    if (this.young.has(k)) {
      this.young.set(k, v);
      return this;
    }
    this.old.delete(k);
    this.putYoung(k, v);
    return this;
  }

  delete(k: K): boolean {
    return this.young.delete(k) || this.old.delete(k);
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** oldest generation first */
  *entries(): IterableIterator<[K, V]> {
    yield* this.old;
    yield* this.young;
  }

  *values(): IterableIterator<V> {
    yield* this.old.values();
    yield* this.young.values();
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  private putYoung(k: K, v: V): void {
    if (this.young.size >= this.half) {
      const dropped = this.old.size;
      this.old = this.young;
      this.young = new Map();
      if (dropped) this.forgot(dropped);
    }
    this.young.set(k, v);
  }

  private forgot(n: number): void {
    this.evicted += n;
    if (this.told) return;
    this.told = true;
    this.opts.onFull?.(this.name, this.cap);
  }
}

/** An onFull that says fullMessage through a warn callback (the owner's). */
export function warnOnce(warn: ((msg: string) => void) | undefined): BoundedOptions {
  return warn ? { onFull: (name, cap) => warn(fullMessage(name, cap)) } : {};
}
