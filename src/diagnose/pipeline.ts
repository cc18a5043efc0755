// Diagnosis between the kernel stream and the output, without slowing the
// stream: events are diagnosed at the end of each batch (so a state change
// that the kernel reported a few microseconds after an RST is already in the
// history), in order, and an event waits only when its namespace has no host
// context yet (the first event of a namespace). Stale context is refreshed in
// the background and the newest snapshot is used meanwhile.
import type { EventContext, RstEvent, StateEvent } from '../events/event.js';
import type { RawEvent } from '../events/layout.js';
import type { HostSnapshot } from '../host/types.js';
import type { Diagnoser } from './engine.js';
import { isLossEvent, type LossEvent } from '../events/loss-event.js';

/** What the pipeline carries: resets and loss events, in the kernel's order. */
export type LiveEvent = RstEvent | LossEvent;

/** What the pipeline needs of the host context (src/host/context.ts). */
export interface HostSource {
  latest(netns: number): HostSnapshot | undefined;
  since(netns: number, ms: number): HostSnapshot | Promise<HostSnapshot>;
}

interface Pending<T> {
  e: LiveEvent;
  extra: T;
  /** Date.now() when the event reached user space */
  at: number;
  /** diagnosed ahead of its turn (see drain) */
  done?: boolean;
}

/**
 * Events whose explanation may come right after them: a segment that found no
 * connection (a state change reported just after it: the handshake and
 * TIME_WAIT races), and received RSTs (between namespaces of one host the
 * peer's RST arrives inside its transmit, before the sender's event fires).
 */
function mayNeedLookahead(e: LiveEvent): boolean {
  if (isLossEvent(e)) return false;
  if (e.direction === 'received') return true;
  return e.kind === 'passive' && (!e.socket || e.state === 'LISTEN') && e.segment !== null && !e.segment.flags.includes('SYN');
}

/** Events waiting beyond this many make the pipeline accept older host context rather than queue more. */
const LONG_QUEUE = 2000;

export class DiagnosisPipeline<T = undefined> {
  private queue: Array<Pending<T>> = [];
  private head = 0;
  private waiting: Promise<void> | null = null;
  /** namespaces whose context could not be read: diagnosed without it */
  private readonly unreadable = new Map<number, string>();
  private idle: Array<() => void> = [];

  constructor(
    private readonly diagnoser: Diagnoser,
    private readonly host: HostSource | null,
    /** receives each event with its verdict, in arrival order */
    private readonly deliver: (e: LiveEvent, extra: T) => void,
    /** told once per namespace whose host context failed */
    private readonly warn: (msg: string) => void = () => undefined,
    /** after each drain that delivered something (to flush output) */
    private readonly drained: () => void = () => undefined,
    /** how much older than an event its host context may be */
    private readonly maxAgeMs = 1000,
    /**
     * A delivery that failed after waiting for host context (the output
     * closed: EPIPE, ENOSPC). Deliveries in the batch callback throw to the
     * tracer; these would otherwise be lost in a promise, and the watch
     * would go on writing to nowhere.
     */
    private readonly fatal: (err: unknown) => void = (err) => warn(`diagnosis failed: ${err instanceof Error ? err.message : String(err)}`),
  ) {}

  state(s: StateEvent): void {
    this.diagnoser.addState(s);
  }

  /**
   * Takes an event. Most are diagnosed and delivered at once (the event
   * object then dies young, which keeps a flood cheap for the garbage
   * collector); an event waits for the end of its batch only when a state
   * change reported just after it may explain it (a segment that found no
   * connection: the handshake and TIME_WAIT races), when its namespace has no
   * host context yet, or when earlier events wait (order is kept).
   */
  push(e: LiveEvent, extra: T): void {
    const at = Date.now();
    if (this.head === this.queue.length && !this.waiting && !mayNeedLookahead(e)) {
      const snap = this.snapshotFor(e.netns, at);
      if (snap !== 'wait') {
        this.diagnose(e, snap);
        this.deliver(e, extra);
        return;
      }
    }
    this.queue.push({ e, extra, at });
    // Waiting for host context must not hold a flood in memory: past a bound,
    // the waiting events are diagnosed with what is there (the newest
    // snapshot, or none), and their confidence says so.
    if (this.waiting && this.pending > LONG_QUEUE) {
      this.waiting = null;
      this.drain(true);
    }
  }

  /**
   * The flood shortcut (flood.ts) for a kernel record: the JSON tail of the
   * verdict its shape shares, or null to take the normal path (push).
   */
  tryShared(raw: RawEvent, ctx: EventContext): Uint8Array | null {
    // delivered at once, so only when no event waits before it (order is kept)
    if (this.head !== this.queue.length || this.waiting || !this.host) return null;
    return this.diagnoser.flood.tryShared(raw, ctx, this.host);
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Diagnoses and delivers what can be, in order (call at the end of each batch). */
  drain(impatient = false): void {
    if (this.waiting) return;
    const from = this.head;
    try {
      while (this.head < this.queue.length) {
        const p = this.queue[this.head]!;
        if (!p.done) {
          // the sent RSTs of this batch first: a received one may be their echo
          if (p.e.direction === 'received' && !this.diagnoseSentAhead(impatient)) return;
          const snap = this.snapshotFor(p.e.netns, p.at, impatient);
          if (snap === 'wait') return;
          this.diagnose(p.e, snap);
        }
        this.queue[this.head++] = undefined as unknown as Pending<T>;
        this.deliver(p.e, p.extra);
      }
    } finally {
      if (this.head > from) this.drained();
    }
    this.queue = [];
    this.head = 0;
    const w = this.idle;
    this.idle = [];
    for (const f of w) f();
  }

  /** Diagnoses the queued sent RSTs after the head; false if one has to wait for host context. */
  private diagnoseSentAhead(impatient: boolean): boolean {
    for (let i = this.head + 1; i < this.queue.length; i++) {
      const q = this.queue[i]!;
      if (q.done || isLossEvent(q.e) || q.e.direction !== 'sent') continue;
      const snap = this.snapshotFor(q.e.netns, q.at, impatient);
      if (snap === 'wait') return false;
      this.diagnoser.diagnose(q.e, snap);
      q.done = true;
    }
    return true;
  }

  private diagnose(e: LiveEvent, snap: HostSnapshot | undefined): void {
    if (isLossEvent(e)) this.diagnoser.loss.diagnose(e, snap);
    else this.diagnoser.diagnose(e, snap);
  }

  /** Resolves once every event pushed so far has been delivered. */
  flushed(): Promise<void> {
    this.drain();
    if (this.pending === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  /**
   * The host context for an event that arrived at `at`: a snapshot begun at
   * most maxAgeMs before it (so a rule added or a counter raised just before
   * the event is seen), waiting for one if needed. `allowStale` (the flood
   * path, or a queue too long to wait) takes the newest snapshot of any age,
   * or none, and refreshes in the background.
   */
  private snapshotFor(netns: number, at: number, allowStale = false): HostSnapshot | undefined | 'wait' {
    if (!this.host || this.unreadable.has(netns)) return undefined;
    let snap: HostSnapshot | Promise<HostSnapshot>;
    try {
      snap = this.host.since(netns, at - this.maxAgeMs);
    } catch (err) {
      this.fail(netns, err);
      return undefined;
    }
    if (!(snap instanceof Promise)) {
      if (snap.stale !== undefined) this.noteStale(snap, at);
      return snap;
    }
    const latest = this.host.latest(netns);
    // (a failed background refresh keeps the old snapshot; HostContext handles its rejection)
    if (allowStale || (latest && this.pending > LONG_QUEUE)) return latest;
    const waiting: Promise<void> = snap
      .then(
        (got) => this.noteErrors(got),
        (err: unknown) => this.fail(netns, err),
      )
      .then(() => {
        // an impatient drain may have moved on to another wait meanwhile
        if (this.waiting !== waiting) return;
        this.waiting = null;
        this.drain();
      })
      .catch((err: unknown) => this.fatal(err));
    this.waiting = waiting;
    return 'wait';
  }

  private readonly warnedErrors = new Set<number>();
  private readonly warnedStale = new Set<number>();

  /** Says once per namespace that its verdicts use an old snapshot (a host too busy to read it in time). */
  private noteStale(snap: HostSnapshot, at: number): void {
    // one that read nothing yet is said as incomplete (noteErrors)
    if (this.warnedStale.has(snap.netns) || !snap.takenAtMs) return;
    if (this.warnedStale.size < 1024) this.warnedStale.add(snap.netns);
    this.warn(
      `host context of network namespace ${snap.netns} is stale (${snap.stale}): verdicts use the last snapshot, from ${((at - snap.takenAtMs) / 1000).toFixed(1)} s before the event`,
    );
  }

  /** Says once per namespace what its host context could not read (the verdicts then say "unavailable"). */
  private noteErrors(snap: HostSnapshot): void {
    if (!snap.errors.length || this.warnedErrors.has(snap.netns)) return;
    if (this.warnedErrors.size < 1024) this.warnedErrors.add(snap.netns);
    this.warn(`host context of network namespace ${snap.netns} is incomplete: ${snap.errors.join('; ')}`);
  }

  /** Delivers everything still waiting, with whatever host context there is (at exit). */
  flushNow(): void {
    this.waiting = null;
    this.drain(true);
  }

  private fail(netns: number, err: unknown): void {
    const msg = err instanceof Error ? err.message : String(err);
    this.unreadable.set(netns, msg);
    this.warn(`host context of network namespace ${netns} unavailable (${msg}): its events are diagnosed without it`);
  }
}
