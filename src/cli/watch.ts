// `tcpwhy watch`: the live RST stream.
import type { Writable } from 'node:stream';
import { toEvent, wallOffset, type RstEvent } from '../events/event.js';
import type { KernelCounters } from '../native.js';
import { Tracer, type TracerOptions } from '../kernel/tracer.js';
import { JsonWriter } from '../events/json.js';
import { LineSink } from './sink.js';
import { StackCounts, stackLines, tableHeader, tableRow } from './output.js';

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
  /** print nothing at all: events only go to onEvent */
  silent?: boolean;
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
  return (
    `${lostTotal(c)} events lost (ring buffer full: ${c.ringbufFull}, nested in another tcpwhy program: ${c.recursionMisses}); ` +
    `stacks not captured: ${c.stackSkipped} over the rate limit, ${c.stackLost} lost`
  );
}

export async function watch(opts: WatchOptions): Promise<WatchSummary> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const tracer = Tracer.open(opts);
  const ctx = { reasons: tracer.features.reasons, wallOffset: wallOffset(), stack: (id: number) => tracer.stack(id) };
  const json = new JsonWriter(ctx);
  const counts = new StackCounts();
  let events = 0;
  let reportedLoss = 0;

  const quiet = opts.quiet || opts.silent;
  if (!quiet) {
    err.write(`tcpwhy: watching TCP resets via ${tracer.attached.join(', ')}${opts.durationSec ? ` for ${opts.durationSec}s` : ' (Ctrl-C to stop)'}\n`);
    for (const a of tracer.attempts) err.write(`tcpwhy: note: could not use ${a.plan}: ${a.error}\n`);
    if (!tracer.plan.completeSends) {
      err.write('tcpwhy: warning: on this kernel RSTs sent without a socket (closed port, TIME_WAIT) are not visible\n');
    }
  }
  if (!opts.json && !opts.count && !opts.silent) out.write(`${tableHeader()}\n`);
  opts.onReady?.(tracer);

  const sink = new LineSink(out);
  const flush = () => sink.flush();
  const { onEvent } = opts;
  const done = tracer.start((raw) => {
    events++;
    if (opts.silent) {
      onEvent?.(toEvent(raw, ctx));
    } else if (opts.json) {
      // the flood path: JSON straight from the record, no event object
      sink.push(json.line(raw));
      onEvent?.(toEvent(raw, ctx));
    } else {
      const e = toEvent(raw, ctx);
      onEvent?.(e);
      if (opts.count) counts.add(e);
      else {
        sink.push(tableRow(e));
        if (opts.stacks) for (const l of stackLines(e)) sink.push(l);
      }
    }
  }, flush);

  // Losses are reported while they happen, not only at the end.
  const lossTimer = setInterval(() => {
    const c = tracer.counters();
    const lost = lostTotal(c);
    if (lost > reportedLoss) {
      err.write(`tcpwhy: warning: ${lost - reportedLoss} events lost in the kernel (ring buffer full or nested); total ${lost}\n`);
      reportedLoss = lost;
    }
  }, 1000);

  // The stream ends on the signal, the duration, or a failure (such as the
  // reader of our output going away: EPIPE).
  let failure: unknown;
  let wake: () => void = () => undefined;
  const failed = (err: unknown) => {
    failure ??= err;
    wake();
  };
  done.catch(failed);
  out.on('error', failed);
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => wake();
  await new Promise<void>((resolve) => {
    wake = resolve;
    if (opts.durationSec !== undefined) timer = setTimeout(resolve, opts.durationSec * 1000);
    if (opts.signal?.aborted || failure) resolve();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
  // nothing may keep the process alive once the stream is over
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', onAbort);
  clearInterval(lossTimer);
  await tracer.stop();
  out.off('error', failed);
  const counters = tracer.counters();
  const programs = tracer.attached;
  tracer.close();
  const outputClosed = (failure as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
  if (failure && !outputClosed) throw failure;
  if (opts.count && !outputClosed && !opts.silent) out.write(`${counts.render()}\n`);
  if (!quiet) {
    if (outputClosed) err.write('tcpwhy: the output was closed (EPIPE): stopped\n');
    err.write(`tcpwhy: ${events} events; ${describeLoss(counters)}\n`);
  }
  return { events, counters, plan: tracer.plan.name, programs };
}
