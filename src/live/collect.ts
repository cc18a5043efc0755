// A live session run inside this process, collecting events instead of
// printing them: the lab checks them, the demo shows them, the tests assert on them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RstEvent } from '../events/event.js';
import { isLossEvent, type LossEvent } from '../events/loss-event.js';
import { LiveSession, type SessionOptions, type SessionSummary } from './session.js';

export class Collector {
  private events: RstEvent[] = [];
  private losses: LossEvent[] = [];
  private running: Promise<SessionSummary> | null = null;
  private readonly ac = new AbortController();

  private constructor() {}

  /** Resolves once the kernel programs are attached. */
  static async start(opts: Omit<SessionOptions, 'signal'>): Promise<Collector> {
    const c = new Collector();
    const session = LiveSession.open(
      { ...opts, signal: c.ac.signal },
      {
        deliver: (e) => (isLossEvent(e) ? c.losses.push(e) : c.events.push(e)),
        flush: () => undefined,
        // as `tcpwhy watch` tells them, on stderr
        warn: (m) => process.stderr.write(`tcpwhy: warning: ${m}\n`),
      },
    );
    c.running = session.run().then(({ failure, ...summary }) => {
      if (failure) throw failure;
      return summary;
    });
    // a failure is stop()'s to report, not an unhandled rejection meanwhile
    c.running.catch(() => undefined);
    return c;
  }

  /** The events so far, which are then forgotten. */
  take(): RstEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** The drops, retransmissions and errors so far, which are then forgotten. */
  takeLoss(): LossEvent[] {
    const e = this.losses;
    this.losses = [];
    return e;
  }

  /** Waits until a loss event matching `pred` came (or maxMs passed). */
  async waitForLoss(pred: (e: LossEvent) => boolean, maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (!this.losses.some(pred) && Date.now() < deadline) await sleep(20);
  }

  /** Waits until at least n events are in (or maxMs passed); events reach us within a reader interval. */
  async waitFor(n: number, maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (this.events.length < n && Date.now() < deadline) await sleep(20);
  }

  /** Detaches; the summary counts every event, taken or not. */
  async stop(): Promise<SessionSummary> {
    this.ac.abort();
    return this.running!;
  }
}
