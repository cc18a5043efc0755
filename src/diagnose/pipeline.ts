// Diagnosis between the kernel stream and the output, without slowing the
// stream: events are diagnosed at the end of each batch (so a state change
// that the kernel reported a few microseconds after an RST is already in the
// history), in order, and an event waits only when its namespace has no host
// context yet (the first event of a namespace). Stale context is refreshed in
// the background and the newest snapshot is used meanwhile.
import type { RstEvent, StateEvent } from '../events/event.js';
import type { HostSnapshot } from '../host/types.js';
import type { Diagnoser } from './engine.js';
import type { Verdict } from './types.js';

export interface HostSource {
  latest(netns: number): HostSnapshot | undefined;
  fresh(netns: number): HostSnapshot | Promise<HostSnapshot>;
  delta(netns: number, counter: string): number | null;
}

interface Pending<T> {
  e: RstEvent;
  extra: T;
}

/** A segment that found no connection: its explanation may be a state change the kernel reports right after it. */
function mayNeedLookahead(e: RstEvent): boolean {
  return e.kind === 'passive' && (!e.socket || e.state === 'LISTEN') && e.segment !== null && !e.segment.flags.includes('SYN');
}

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
    private readonly deliver: (e: RstEvent, extra: T) => void,
    /** told once per namespace whose host context failed */
    private readonly warn: (msg: string) => void = () => undefined,
    /** after each drain that delivered something (to flush output) */
    private readonly drained: () => void = () => undefined,
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
  push(e: RstEvent, extra: T): void {
    if (this.head === this.queue.length && !this.waiting && !mayNeedLookahead(e)) {
      const snap = this.snapshotFor(e.netns);
      if (snap !== 'wait') {
        this.diagnoser.diagnose(e, snap);
        this.deliver(e, extra);
        return;
      }
    }
    this.queue.push({ e, extra });
  }

  /** The flood path (see Diagnoser.sharedSynVerdict): a verdict without building the event, or null to take the normal path. */
  sharedSynVerdict(netns: number, reason: string | null, laddr: string, lport: number, monoNs: number): Verdict | null {
    if (this.head !== this.queue.length || this.waiting) return null;
    const snap = this.snapshotFor(netns);
    if (snap === 'wait') return null;
    return this.diagnoser.sharedSynVerdict(netns, reason, laddr, lport, monoNs, snap);
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Diagnoses and delivers what can be, in order (call at the end of each batch). */
  drain(): void {
    if (this.waiting) return;
    const from = this.head;
    try {
      while (this.head < this.queue.length) {
        const p = this.queue[this.head]!;
        const snap = this.snapshotFor(p.e.netns);
        if (snap === 'wait') return;
        this.queue[this.head++] = undefined as unknown as Pending<T>;
        this.diagnoser.diagnose(p.e, snap);
        this.deliver(p.e, p.extra);
      }
    } finally {
      if (this.head > from) this.drained();
    }
    this.queue = [];
    this.head = 0;
    const w = this.idle;
    this.idle = [];
    w.forEach((f) => f());
  }

  /** Resolves once every event pushed so far has been delivered. */
  flushed(): Promise<void> {
    this.drain();
    if (this.pending === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private snapshotFor(netns: number): HostSnapshot | undefined | 'wait' {
    if (!this.host || this.unreadable.has(netns)) return undefined;
    const latest = this.host.latest(netns);
    let fresh: HostSnapshot | Promise<HostSnapshot>;
    try {
      fresh = this.host.fresh(netns);
    } catch (err) {
      this.fail(netns, err);
      return undefined;
    }
    if (!(fresh instanceof Promise)) return fresh;
    if (latest) {
      fresh.catch(() => undefined); // a failed background refresh keeps the old snapshot
      return latest;
    }
    this.waiting = fresh.then(
      () => undefined,
      (err: unknown) => this.fail(netns, err),
    ).then(() => {
      this.waiting = null;
      this.drain();
    });
    return 'wait';
  }

  private fail(netns: number, err: unknown): void {
    const msg = err instanceof Error ? err.message : String(err);
    this.unreadable.set(netns, msg);
    this.warn(`host context of network namespace ${netns} unavailable (${msg}): its events are diagnosed without it`);
  }
}
