// Runs the watcher in this process around a piece of work and returns what it saw.
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RstEvent } from '../../src/events/event.js';
import { watch, type WatchOptions, type WatchSummary } from '../../src/cli/watch.js';

export interface Captured {
  events: RstEvent[];
  summary: WatchSummary;
}

export async function captureDuring<T>(
  opts: WatchOptions,
  work: () => Promise<T>,
  settle: { minEvents?: number; maxWaitMs?: number } = {},
): Promise<Captured & { result: T }> {
  const events: RstEvent[] = [];
  const ac = new AbortController();
  let ready!: () => void;
  const attached = new Promise<void>((r) => (ready = r));
  const watching = watch({
    ...opts,
    quiet: true,
    json: true,
    out: new Writable({ write: (_c, _e, cb) => cb() }),
    signal: ac.signal,
    onEvent: (e) => events.push(e),
    onReady: () => ready(),
  });
  await Promise.race([attached, watching]);
  let result: T;
  try {
    result = await work();
    // Events are in the ring buffer already; the reader hands them over
    // within one batch interval. Wait for the expected count, bounded.
    const deadline = Date.now() + (settle.maxWaitMs ?? 1500);
    while (events.length < (settle.minEvents ?? 0) && Date.now() < deadline) await sleep(20);
    await sleep(100);
  } finally {
    ac.abort();
  }
  const summary = await watching;
  return { events, summary, result };
}

export function stackHas(e: RstEvent, fn: string): boolean {
  return (e.stack ?? []).some((f) => f.startsWith(`${fn}+`));
}
