// `tcpwhy watch`: the live RST stream, printed.
import type { Writable } from 'node:stream';
import { toEvent } from '../events/event.js';
import { JsonWriter } from '../events/json.js';
import { LIVE_PENDING_BYTES, LineSink } from './sink.js';
import { StackCounts, explainLines, lossRow, stackLines, tableHeader, tableRow, verdictLine } from './output.js';
import { isLossEvent } from '../events/loss-event.js';
import type { LiveEvent } from '../diagnose/pipeline.js';
import { causeJson } from '../diagnose/json.js';
import { HOST_MAX_AGE_WATCH_MS, LiveSession, describeLoss, type SessionOptions, type SessionSummary } from '../live/session.js';
import { lossTotalsLine, stormJson, stormLine, totalsJson, totalsLine } from './storm-text.js';
import type { Plan } from '../kernel/plan.js';
import { OutputError } from '../kernel/errors.js';

export interface WatchOptions extends SessionOptions {
  json?: boolean;
  stacks?: boolean;
  count?: boolean;
  /** the full catalogue text under each event instead of the one-line verdict */
  explain?: boolean;
  out?: Writable;
  err?: Writable;
  /** print nothing but the events (no banner or summary on stderr) */
  quiet?: boolean;
}

export interface WatchSummary extends SessionSummary {
  /** output lines dropped for a reader that fell behind */
  droppedLines: number;
  /** output that waited for the reader was left unwritten: exit without waiting for stdout */
  outputAbandoned: boolean;
}

/** How long output may wait at exit for a reader that is behind before it is abandoned. */
export const DRAIN_AT_EXIT_MS = 2000;
/** How long a burst of storm records waits for a reader that is behind before the rest may be dropped. */
const STORM_ROOM_WAIT_MS = 1000;

/** "resets, drops, retransmissions and errors": what the loaded hooks see. */
function watchedText(p: Plan): string {
  const kinds = [
    p.completeSends || p.receives || p.programs.some((x) => x.includes('send_reset')) ? 'resets' : null,
    p.drops ? 'drops' : null,
    p.retransmits ? 'retransmissions' : null,
    p.errors ? 'errors' : null,
  ].filter((x): x is string => x !== null);
  return kinds.length > 1 ? `${kinds.slice(0, -1).join(', ')} and ${kinds.at(-1)}` : (kinds[0] ?? 'nothing');
}

export async function watch(opts: WatchOptions): Promise<WatchSummary> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const counts = new StackCounts({ warn: (m) => err.write(`tcpwhy: warning: ${m}\n`) });
  // the session that an output failure ends is opened below
  let failOutput: (e: Error) => void = () => undefined;
  const sink = new LineSink(out, {
    maxPendingBytes: LIVE_PENDING_BYTES,
    onDropping: () => err.write('tcpwhy: warning: the reader of the output is behind: lines are dropped (counted at exit)\n'),
    onError: (e) => failOutput(e),
  });
  // Diagnosed events leave here, in order. For JSON the line was made from the
  // kernel record when it arrived (the record is reused right after); only
  // the cause is added now.
  const deliver = (e: LiveEvent, jsonHead: string | undefined) => {
    if (isLossEvent(e)) {
      if (opts.json) sink.push(JSON.stringify(e));
      else if (opts.count) counts.addLoss(e);
      else {
        sink.push(lossRow(e));
        if (opts.explain) for (const l of explainLines(e)) sink.push(l);
        else sink.push(verdictLine(e));
        if (opts.stacks && e.type === 'drop') for (const l of stackLines(e)) sink.push(l);
      }
      return;
    }
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
  const session = LiveSession.open<string | undefined>(
    { hostMaxAgeMs: HOST_MAX_AGE_WATCH_MS, ...opts },
    {
      deliver,
      flush: () => sink.flush(),
      warn: (m) => err.write(`tcpwhy: warning: ${m}\n`),
      storm: (r) => {
        if (opts.count) return;
        sink.push(opts.json ? stormJson(r) : stormLine(r));
      },
      room: () => sink.room(STORM_ROOM_WAIT_MS),
    },
  );
  const { tracer, ctx } = session;
  failOutput = session.fail;
  const json = new JsonWriter(ctx, (m) => err.write(`tcpwhy: warning: ${m}\n`));

  const { quiet } = opts;
  if (!quiet) {
    err.write(
      `tcpwhy: watching TCP ${watchedText(tracer.plan)} via ${tracer.attached.join(', ')}${opts.durationSec ? ` for ${opts.durationSec}s` : ' (Ctrl-C to stop)'}\n`,
    );
    for (const a of tracer.attempts) err.write(`tcpwhy: note: could not use ${a.hook}: ${a.error}\n`);
    for (const m of tracer.missing) err.write(`tcpwhy: warning: no kernel hook for ${m.role}: ${m.without}\n`);
    if (!tracer.plan.completeSends && tracer.plan.hooks.some((h) => h.role === 'send')) {
      err.write('tcpwhy: warning: on this kernel RSTs sent without a socket (closed port, TIME_WAIT) are not visible\n');
    }
  }
  if (!opts.json && !opts.count) sink.push(tableHeader());

  // The stream ends on the signal, the duration, or a failure (such as the
  // reader of our output going away: EPIPE), in the kernel stream's callback
  // or in a delivery that waited for host context.
  const jsonOut = opts.json === true;
  sink.flush();
  const { failure, ...totals } = await session.run((raw) => {
    // A SYN that found no socket, of a shape already diagnosed (a flood, a
    // port scan): its JSON line straight from the record, no event object.
    if (jsonOut) {
      const tail = session.tryShared(raw);
      if (tail !== null) {
        sink.pushWithTail(json.head(raw), tail);
        return;
      }
    }
    session.push(toEvent(raw, ctx), jsonOut ? json.head(raw) : undefined);
  });
  // the reader going away ends the watch as the signal does; other failures are errors
  const outputClosed = failure instanceof OutputError && failure.code === 'EPIPE';
  if (failure && !outputClosed) throw failure;
  if (!outputClosed) {
    if (opts.count) sink.push(counts.render());
    // (flushed first: lines still in the buffer may yet be dropped, and the summary counts them)
    sink.flush();
    if (opts.json) sink.push(totalsJson(totals.rsts, totals.loss, sink.dropped));
    await sink.close(DRAIN_AT_EXIT_MS);
  }
  const summary: WatchSummary = { ...totals, droppedLines: sink.dropped, outputAbandoned: sink.abandoned };
  if (!quiet) {
    if (outputClosed) err.write('tcpwhy: the output was closed (EPIPE): stopped\n');
    if (summary.droppedLines) {
      err.write(
        `tcpwhy: ${summary.droppedLines} output lines dropped: the reader of the output was behind${summary.outputAbandoned ? ` (what it had not read ${DRAIN_AT_EXIT_MS / 1000} s after the end was abandoned)` : ''}\n`,
      );
    }
    err.write(`tcpwhy: ${totalsLine(summary.rsts)}\n`);
    if (tracer.plan.drops || tracer.plan.retransmits || tracer.plan.errors) err.write(`tcpwhy: ${lossTotalsLine(summary.loss)}\n`);
    err.write(`tcpwhy: ${summary.events} events; ${describeLoss(summary.counters)}\n`);
  }
  return summary;
}
