// The watcher run inside this process, collecting events instead of printing
// them: the demo shows them step by step, the tests check them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RstEvent } from '../events/event.js';
import { watch, type WatchOptions, type WatchSummary } from './watch.js';

export class Collector {
  private events: RstEvent[] = [];

  private constructor(
    private readonly ac: AbortController,
    private readonly watching: Promise<WatchSummary>,
  ) {}

  /** Resolves once the kernel programs are attached. */
  static async start(opts: Omit<WatchOptions, 'onEvent' | 'onReady' | 'signal' | 'silent'>): Promise<Collector> {
    const ac = new AbortController();
    let ready!: () => void;
    const attached = new Promise<void>((r) => (ready = r));
    let collector: Collector | undefined;
    const early: RstEvent[] = [];
    const watching = watch({
      ...opts,
      silent: true,
      signal: ac.signal,
      onEvent: (e) => (collector ? collector.events.push(e) : early.push(e)),
      onReady: () => ready(),
    });
    await Promise.race([attached, watching]);
    collector = new Collector(ac, watching);
    collector.events.push(...early);
    return collector;
  }

  /** The events so far, which are then forgotten. */
  take(): RstEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** Waits until at least n events are in (or maxMs passed); events reach us within a reader interval. */
  async waitFor(n: number, maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (this.events.length < n && Date.now() < deadline) await sleep(20);
  }

  /** Detaches; the summary counts every event, taken or not. */
  async stop(): Promise<WatchSummary> {
    this.ac.abort();
    return this.watching;
  }
}
