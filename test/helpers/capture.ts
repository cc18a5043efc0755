// Runs the watcher in this process around a piece of work and returns what it saw.
import type { RstEvent } from '../../src/events/event.js';
import type { SessionOptions, SessionSummary } from '../../src/live/session.js';
import { Collector } from '../../src/live/collect.js';

export { stackHas } from '../../src/lab/expect.js';

export interface Captured {
  events: RstEvent[];
  summary: SessionSummary;
}

export async function captureDuring<T>(
  opts: Omit<SessionOptions, 'signal'>,
  work: () => Promise<T>,
  settle: { minEvents?: number; maxWaitMs?: number } = {},
): Promise<Captured & { result: T }> {
  const collector = await Collector.start(opts);
  let result: T;
  try {
    result = await work();
    // Events are in the ring buffer already; the reader hands them over
    // within one batch interval. Wait for the expected count, bounded.
    await collector.waitFor(settle.minEvents ?? 0, settle.maxWaitMs ?? 1500);
    await new Promise((r) => setTimeout(r, 100));
  } catch (e) {
    await collector.stop();
    throw e;
  }
  const summary = await collector.stop();
  return { events: collector.take(), summary, result };
}
