// Cached host snapshots per namespace, refreshed off the event path: at most one
// refresh per namespace runs at a time, and a fresh snapshot is returned
// synchronously, so the diagnosis of a burst of events costs one child process.
//
// Under load (a flood saturating the CPUs) a snapshot can take seconds. It
// must not hold verdicts back for that long, nor be begun again and again: a
// refresh not done after maxWaitMs is no longer waited for (its waiters get
// the older snapshot, marked stale, or one that says nothing was read), and
// after a slow refresh the next one waits a backoff. Timeouts never make a
// namespace unreadable: the take resolves with what it read (run.ts), and the
// next refresh tries again.
import { BoundedMap, warnOnce } from '../memory/bounded.js';
import { BUDGETS, boundedTable } from '../memory/budget.js';
import { takeSnapshot, unreadSnapshot } from './snapshot.js';
import type { HostSnapshot } from './types.js';

interface Entry {
  latest?: HostSnapshot;
  /** what callers of the refresh under way get (its snapshot, or after maxWaitMs what there is) */
  waiter?: Promise<HostSnapshot>;
  /** Date.now() when the refresh under way was asked for */
  pendingSince?: number;
  /** slow refreshes in a row */
  slow: number;
  /** no refresh is begun before this (Date.now() clock) */
  retryAtMs: number;
  /** the stand-in handed out meanwhile: one object per snapshot and reason, so a burst shares it */
  standIn?: HostSnapshot;
  /** the snapshot it stands for (undefined: none was ever read) */
  standInOf?: HostSnapshot;
}

export const DEFAULT_MAX_WAIT_MS = 2000;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

export class HostContext {
  private readonly maxAgeMs: number;
  private readonly maxWaitMs: number;
  private readonly maxConcurrent: number;
  private readonly take: (netns: number) => Promise<HostSnapshot>;
  private readonly entries: BoundedMap<number, Entry>;
  private running = 0;
  /** takes waiting for a slot: at most one per namespace (its entry's refresh) */
  private readonly queued: Array<{ netns: number; e: Entry; start: () => void; skip: () => void }> = [];

  constructor(
    opts: {
      /** A cached snapshot younger than this is fresh (default 1000). */
      maxAgeMs?: number;
      /** How a snapshot is taken (default takeSnapshot): injectable for tests. */
      take?: (netns: number) => Promise<HostSnapshot>;
      /** Namespaces kept; the least recently used are forgotten beyond it (default: its memory budget). */
      maxNetns?: number;
      /**
       * How long callers wait for a refresh before they get what there is
       * instead (default 2000; the lab, whose emulated guests are 30 times
       * slower, waits as long as its snapshots may take).
       */
      maxWaitMs?: number;
      /** Snapshots taken at once, each a child process (default 4); the others queue. */
      maxConcurrent?: number;
      /** Told once when namespaces start being forgotten (none by default). */
      warn?: (msg: string) => void;
    } = {},
  ) {
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.maxWaitMs = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? 4);
    this.take = opts.take ?? ((n) => takeSnapshot(n));
    this.entries =
      opts.maxNetns === undefined ? boundedTable('hostSnapshots', opts.warn) : new BoundedMap(BUDGETS.hostSnapshots.name, opts.maxNetns, warnOnce(opts.warn));
  }

  /** The table of namespaces, for tests of its bound. */
  get table(): BoundedMap<number, Entry> {
    return this.entries;
  }

  private entry(netns: number): Entry {
    return this.entries.touch(netns, () => ({ slow: 0, retryAtMs: 0 }));
  }

  /** The newest snapshot of this namespace, of any age. */
  latest(netns: number): HostSnapshot | undefined {
    return this.entries.get(netns)?.latest;
  }

  /**
   * A snapshot no older than maxAgeMs: the cached one, synchronously, when it is fresh;
   * otherwise the promise of the refresh of this namespace (started now, or joined),
   * or, while refreshes are slow, the newest one marked stale.
   */
  fresh(netns: number): HostSnapshot | Promise<HostSnapshot> {
    const e = this.entry(netns);
    const now = Date.now();
    if (e.latest && now - e.latest.takenAtMs <= this.maxAgeMs) return e.latest;
    return this.refresh(netns, e, now);
  }

  /**
   * A snapshot begun no earlier than `ms` (Date.now() clock): the cached one
   * if it is that recent, else the refresh under way, else a new one. Called
   * for every event of a burst: it makes no promise beyond the refresh's.
   * While refreshes are slow (one under way for more than maxWaitMs, or the
   * backoff after one) it returns at once the newest snapshot, marked stale,
   * or one that read nothing (both say why in `stale`).
   */
  since(netns: number, ms: number): HostSnapshot | Promise<HostSnapshot> {
    const e = this.entry(netns);
    if (e.latest && e.latest.takenAtMs >= ms) return e.latest;
    // a refresh under way is taken even if it began a little before `ms`:
    // chaining a second one behind it would let a trickle of events wait
    // for refresh after refresh
    return this.refresh(netns, e, Date.now());
  }

  /** Forgets a namespace (it is gone). */
  forget(netns: number): void {
    this.entries.delete(netns);
  }

  private refresh(netns: number, e: Entry, now: number): HostSnapshot | Promise<HostSnapshot> {
    if (e.waiter) {
      if (now - e.pendingSince! < this.maxWaitMs) return e.waiter;
      return this.standIn(netns, e, `its snapshot has taken more than ${this.maxWaitMs} ms`);
    }
    if (now < e.retryAtMs) return this.standIn(netns, e, `its last snapshot was slow: the next one is begun after a pause`);
    return this.begin(netns, e, now);
  }

  private begin(netns: number, e: Entry, now: number): Promise<HostSnapshot> {
    e.pendingSince = now;
    const settled = this.slot(netns, e).then(
      (snap) => {
        this.finished(e, snap, now);
        return snap;
      },
      (err: unknown) => {
        this.finished(e, undefined, now);
        throw err;
      },
    );
    const waiter = new Promise<HostSnapshot>((resolve, reject) => {
      const timer = setTimeout(() => resolve(this.standIn(netns, e, `its snapshot has taken more than ${this.maxWaitMs} ms`)), this.maxWaitMs);
      settled.then(
        (snap) => {
          clearTimeout(timer);
          resolve(snap);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
    e.waiter = waiter;
    // callers that only wanted a refresh started need not handle its failure
    waiter.catch(() => undefined);
    return waiter;
  }

  /** Bookkeeping of a refresh that ended: the newest snapshot, and the pause before the next. */
  private finished(e: Entry, snap: HostSnapshot | undefined, began: number): void {
    e.waiter = undefined;
    e.pendingSince = undefined;
    // a failure (a take that threw) is the caller's to judge, and is retried at once as before
    if (!snap) return;
    if (!e.latest || snap.takenAtMs >= e.latest.takenAtMs) e.latest = snap;
    const now = Date.now();
    if (now - began > this.maxWaitMs || snap.errors.some((x) => x.includes('timed out'))) {
      e.slow++;
      e.retryAtMs = now + Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (e.slow - 1));
    } else {
      e.slow = 0;
      e.retryAtMs = 0;
    }
  }

  /** What waiters get instead of a refresh that is late: the newest snapshot, marked stale, or one that read nothing. */
  private standIn(netns: number, e: Entry, why: string): HostSnapshot {
    const s = e.standIn;
    if (s && s.stale === why && e.standInOf === e.latest) return s;
    const made = e.latest ? { ...e.latest, stale: why } : unreadSnapshot(netns, why);
    e.standIn = made;
    e.standInOf = e.latest;
    return made;
  }

  /** Runs the take when fewer than maxConcurrent run (each is a child process). */
  private slot(netns: number, e: Entry): Promise<HostSnapshot> {
    return new Promise<HostSnapshot>((resolve, reject) => {
      const start = () => {
        this.running++;
        let p: Promise<HostSnapshot>;
        try {
          p = this.take(netns);
        } catch (err) {
          p = Promise.reject(err);
        }
        p.finally(() => {
          this.running--;
          this.next();
        }).then(resolve, reject);
      };
      // forgotten while it waited for a slot: nothing read, said so (the next refresh reads it)
      const skip = () => resolve(unreadSnapshot(netns, 'forgotten before its snapshot began (too many namespaces at once)'));
      if (this.running < this.maxConcurrent) start();
      else {
        this.queued.push({ netns, e, start, skip });
        // at most one per namespace kept: older ones of forgotten namespaces go first
        if (this.queued.length > this.entries.cap) this.queued.shift()!.skip();
      }
    });
  }

  private next(): void {
    while (this.running < this.maxConcurrent && this.queued.length) {
      const q = this.queued.shift()!;
      // a namespace forgotten while its take waited is not read (skip says so to its waiters)
      if (this.entries.get(q.netns) !== q.e) {
        q.skip();
        continue;
      }
      q.start();
    }
  }
}
