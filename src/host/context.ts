// Cached host snapshots per namespace, refreshed off the event path: at most one
// refresh per namespace runs at a time, and a fresh snapshot is returned
// synchronously, so the diagnosis of a burst of events costs one child process.
import { takeSnapshot } from './snapshot.js';
import type { HostSnapshot } from './types.js';

interface Entry {
  latest?: HostSnapshot;
  pending?: Promise<HostSnapshot>;
  /** Date.now() when `pending` began */
  pendingSince?: number;
}

export class HostContext {
  private readonly maxAgeMs: number;
  private readonly take: (netns: number) => Promise<HostSnapshot>;
  private readonly maxNetns: number;
  private readonly entries = new Map<number, Entry>();

  constructor(
    opts: {
      /** A cached snapshot younger than this is fresh (default 1000). */
      maxAgeMs?: number;
      /** How a snapshot is taken (default takeSnapshot): injectable for tests. */
      take?: (netns: number) => Promise<HostSnapshot>;
      /** Namespaces kept; the least recently used is forgotten beyond it (default 1024). */
      maxNetns?: number;
    } = {},
  ) {
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.take = opts.take ?? ((n) => takeSnapshot(n));
    this.maxNetns = opts.maxNetns ?? 1024;
  }

  private entry(netns: number): Entry {
    let e = this.entries.get(netns);
    if (e)
      this.entries.delete(netns); // re-insert: Map order is the LRU order
    else e = {};
    this.entries.set(netns, e);
    while (this.entries.size > this.maxNetns) {
      const oldest = this.entries.keys().next().value as number;
      this.entries.delete(oldest);
    }
    return e;
  }

  /** The newest snapshot of this namespace, of any age. */
  latest(netns: number): HostSnapshot | undefined {
    return this.entries.get(netns)?.latest;
  }

  /**
   * A snapshot no older than maxAgeMs: the cached one, synchronously, when it is fresh;
   * otherwise the promise of the refresh of this namespace (started now, or joined).
   */
  fresh(netns: number): HostSnapshot | Promise<HostSnapshot> {
    const e = this.entry(netns);
    if (e.latest && Date.now() - e.latest.takenAtMs <= this.maxAgeMs) return e.latest;
    if (e.pending) return e.pending;
    const p = this.take(netns).then(
      (snap) => {
        e.pending = undefined;
        if (!e.latest || snap.takenAtMs >= e.latest.takenAtMs) e.latest = snap;
        return snap;
      },
      (err: unknown) => {
        e.pending = undefined;
        throw err;
      },
    );
    e.pending = p;
    e.pendingSince = Date.now();
    // callers that only wanted a refresh started need not handle its failure
    p.catch(() => undefined);
    return p;
  }

  /**
   * A snapshot begun no earlier than `ms` (Date.now() clock): the cached one
   * if it is that recent, else the refresh under way, else a new one. Called
   * for every event of a burst: it makes no promise beyond the refresh's.
   */
  since(netns: number, ms: number): HostSnapshot | Promise<HostSnapshot> {
    const e = this.entry(netns);
    if (e.latest && e.latest.takenAtMs >= ms) return e.latest;
    // a refresh under way is taken even if it began a little before `ms`:
    // chaining a second one behind it would let a trickle of events wait
    // for refresh after refresh
    if (e.pending) return e.pending;
    return this.forceRefresh(netns);
  }

  /** A new snapshot, whatever the cache holds (the old one stays if it fails). */
  private forceRefresh(netns: number): Promise<HostSnapshot> {
    const e = this.entry(netns);
    if (e.pending) return e.pending;
    const saved = e.latest;
    e.latest = undefined;
    try {
      return this.fresh(netns) as Promise<HostSnapshot>;
    } finally {
      e.latest ??= saved;
    }
  }

  /** Forgets a namespace (it is gone). */
  forget(netns: number): void {
    this.entries.delete(netns);
  }
}
