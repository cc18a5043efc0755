// `tcpwhy watch`: the live RST stream.
import type { Writable } from 'node:stream';
import { toEvent, wallOffsetNs, type RstEvent } from '../events/event.js';
import type { KernelCounters } from '../native.js';
import { Tracer, type TracerOptions } from '../kernel/tracer.js';
import { JsonLines, StackCounts, stackLines, tableHeader, tableRow } from './output.js';

export interface WatchOptions extends TracerOptions {
  json?: boolean;
  stacks?: boolean;
  count?: boolean;
  /** stop after this many seconds */
  durationSec?: number;
  /** stop early (SIGINT, SIGTERM, or a caller) */
  signal?: AbortSignal;
  /** called with every event, whatever the output (the demo and tests use it) */
  onEvent?: (e: RstEvent) => void;
  /** called once the programs are attached */
  onReady?: (t: Tracer) => void;
  out?: Writable;
  err?: Writable;
  /** print nothing but the events (no banner or summary on stderr) */
  quiet?: boolean;
}

export interface WatchSummary {
  events: number;
  counters: KernelCounters;
  plan: string;
  programs: string[];
}

export function lostTotal(c: KernelCounters): number {
  return c.ringbufFull + c.recursionMisses;
}

export function describeLoss(c: KernelCounters): string {
  return `${lostTotal(c)} events lost (ring buffer full: ${c.ringbufFull}, nested in another tcpwhy program: ${c.recursionMisses}); ${c.stackLost} stacks not captured`;
}

export async function watch(opts: WatchOptions): Promise<WatchSummary> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const tracer = Tracer.open(opts);
  const wallOffset = wallOffsetNs();
  const ctx = { reasons: tracer.features.reasons, wallOffsetNs: wallOffset, stack: (id: number) => tracer.stack(id) };
  const json = new JsonLines();
  const counts = new StackCounts();
  let events = 0;
  let reportedLoss = 0;

  if (!opts.quiet) {
    err.write(`tcpwhy: watching TCP resets via ${tracer.attached.join(', ')}${opts.durationSec ? ` for ${opts.durationSec}s` : ' (Ctrl-C to stop)'}\n`);
    if (!tracer.plan.completeSends) {
      err.write('tcpwhy: warning: on this kernel RSTs sent without a socket (closed port, TIME_WAIT) are not visible\n');
    }
  }
  if (!opts.json && !opts.count) out.write(`${tableHeader()}\n`);
  opts.onReady?.(tracer);

  const done = tracer.start((batch) => {
    const lines: string[] = [];
    for (const raw of batch) {
      const e = toEvent(raw, ctx);
      events++;
      opts.onEvent?.(e);
      if (opts.count) counts.add(e);
      else if (opts.json) lines.push(json.line(e));
      else {
        lines.push(tableRow(e));
        if (opts.stacks) lines.push(...stackLines(e));
      }
    }
    if (lines.length) out.write(`${lines.join('\n')}\n`);
  });

  // Losses are reported while they happen, not only at the end.
  const lossTimer = setInterval(() => {
    const c = tracer.counters();
    const lost = lostTotal(c);
    if (lost > reportedLoss) {
      err.write(`tcpwhy: warning: ${lost - reportedLoss} events lost in the kernel (ring buffer full or nested); total ${lost}\n`);
      reportedLoss = lost;
    }
  }, 1000);

  await new Promise<void>((resolve) => {
    const timer = opts.durationSec !== undefined ? setTimeout(resolve, opts.durationSec * 1000) : undefined;
    const onAbort = () => {
      if (timer) clearTimeout(timer);
      resolve();
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
  clearInterval(lossTimer);
  await tracer.stop();
  await done;
  const counters = tracer.counters();
  const programs = tracer.attached;
  tracer.close();
  if (opts.count) out.write(`${counts.render()}\n`);
  if (!opts.quiet) err.write(`tcpwhy: ${events} events; ${describeLoss(counters)}\n`);
  return { events, counters, plan: tracer.plan.name, programs };
}
