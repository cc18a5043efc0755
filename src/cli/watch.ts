// `tcpwhy watch`: the live RST stream.
import type { Writable } from 'node:stream';
import { DIR_SENT, F_HAS_PKT, F_HAS_SK, KIND_PASSIVE, isStateEvent, reasonOf, toEvent, toStateEvent, wallOffset, type RstEvent } from '../events/event.js';
import { addrAt } from '../events/text.js';
import type { KernelCounters } from '../native.js';
import { Tracer, type TracerOptions } from '../kernel/tracer.js';
import { JsonWriter } from '../events/json.js';
import { LineSink } from './sink.js';
import { StackCounts, explainLines, stackLines, tableHeader, tableRow, verdictLine } from './output.js';
import { Diagnoser } from '../diagnose/engine.js';
import { DiagnosisPipeline, type HostSource } from '../diagnose/pipeline.js';
import { causeJson, causeTailBytes } from '../diagnose/json.js';
import { HostContext } from '../host/context.js';

export interface WatchOptions extends TracerOptions {
  json?: boolean;
  stacks?: boolean;
  count?: boolean;
  /** the full catalogue text under each event instead of the one-line verdict */
  explain?: boolean;
  /** where host context comes from (default: read in each event's namespace); null: none */
  host?: HostSource | null;
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

const SYN_ONLY = 0x02;

export async function watch(opts: WatchOptions): Promise<WatchSummary> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const tracer = Tracer.open(opts);
  const ctx = { reasons: tracer.features.reasons, wallOffset: wallOffset(), stack: (id: number) => tracer.stack(id) };
  const json = new JsonWriter(ctx);
  const counts = new StackCounts();
  const host = opts.host === undefined ? new HostContext() : opts.host;
  let events = 0;
  let reportedLoss = 0;

  const quiet = opts.quiet || opts.silent;
  if (!quiet) {
    err.write(`tcpwhy: watching TCP resets via ${tracer.attached.join(', ')}${opts.durationSec ? ` for ${opts.durationSec}s` : ' (Ctrl-C to stop)'}\n`);
    for (const a of tracer.attempts) err.write(`tcpwhy: note: could not use ${a.hook}: ${a.error}\n`);
    for (const m of tracer.missing) err.write(`tcpwhy: warning: no kernel hook for ${m.role}: ${m.without}\n`);
    if (!tracer.plan.completeSends) {
      err.write('tcpwhy: warning: on this kernel RSTs sent without a socket (closed port, TIME_WAIT) are not visible\n');
    }
  }
  if (!opts.json && !opts.count && !opts.silent) out.write(`${tableHeader()}\n`);
  opts.onReady?.(tracer);

  const sink = new LineSink(out);
  const { onEvent } = opts;
  // Diagnosed events leave here, in order. For JSON the line was made from the
  // kernel record when it arrived (the record is reused right after); only
  // the cause is added now.
  const deliver = (e: RstEvent, jsonHead: string | undefined) => {
    onEvent?.(e);
    if (opts.silent) return;
    if (jsonHead !== undefined) {
      sink.push(`${jsonHead},"cause":${causeJson(e.cause!)}}`);
    } else if (opts.count) {
      counts.add(e);
    } else {
      sink.push(tableRow(e));
      if (opts.explain) for (const l of explainLines(e)) sink.push(l);
      else sink.push(verdictLine(e));
      if (opts.stacks) for (const l of stackLines(e)) sink.push(l);
    }
  };
  // The stream ends on the signal, the duration, or a failure (such as the
  // reader of our output going away: EPIPE), in the kernel stream's callback
  // or in a delivery that waited for host context.
  let failure: unknown;
  let wake: () => void = () => undefined;
  const failed = (err: unknown) => {
    failure ??= err;
    wake();
  };
  const pipeline = new DiagnosisPipeline<string | undefined>(new Diagnoser(), host, deliver, (m) => err.write(`tcpwhy: warning: ${m}\n`), () => sink.flush(), undefined, failed);
  const jsonOut = opts.json && !opts.silent;
  const done = tracer.start(
    (raw) => {
      if (isStateEvent(raw)) {
        pipeline.state(toStateEvent(raw));
        return;
      }
      events++;
      // A SYN that found no socket, of a shape already diagnosed (a flood, a
      // port scan): its JSON line straight from the record, no event object.
      if (jsonOut && !onEvent && raw.seg_flags === SYN_ONLY && raw.direction === DIR_SENT && raw.kind === KIND_PASSIVE && (raw.flags & (F_HAS_SK | F_HAS_PKT)) === F_HAS_PKT) {
        const v = pipeline.sharedSynVerdict(raw.netns, reasonOf(raw, ctx), addrAt(raw.view, raw.pkt_laddr, raw.family), raw.pkt_lport, raw.mono_ns);
        if (v) {
          sink.pushWithTail(json.head(raw), causeTailBytes(v));
          return;
        }
      }
      pipeline.push(toEvent(raw, ctx), jsonOut ? json.head(raw) : undefined);
    },
    () => {
      pipeline.drain();
      sink.flush();
    },
  );

  // Losses are reported while they happen, not only at the end.
  const lossTimer = setInterval(() => {
    const c = tracer.counters();
    const lost = lostTotal(c);
    if (lost > reportedLoss) {
      err.write(`tcpwhy: warning: ${lost - reportedLoss} events lost in the kernel (ring buffer full or nested); total ${lost}\n`);
      reportedLoss = lost;
    }
  }, 1000);

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
  // events still waiting for their namespace's context
  if (!failure) {
    await Promise.race([pipeline.flushed(), new Promise((r) => setTimeout(r, 5000).unref())]);
    // context that did not come in time: the rest is diagnosed without it, never dropped
    pipeline.flushNow();
    sink.flush();
  }
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
