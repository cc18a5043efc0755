// `tcpwhy watch`: the live RST stream, printed.
import type { Writable } from 'node:stream';
import { toEvent } from '../events/event.js';
import { JsonWriter } from '../events/json.js';
import { LineSink } from './sink.js';
import { StackCounts, explainLines, lossRow, stackLines, tableHeader, tableRow, verdictLine } from './output.js';
import { isLossEvent } from '../events/loss-event.js';
import type { LiveEvent } from '../diagnose/pipeline.js';
import { causeJson } from '../diagnose/json.js';
import { HOST_MAX_AGE_WATCH_MS, LiveSession, describeLoss, type SessionOptions, type SessionSummary } from '../live/session.js';
import { lossTotalsLine, stormJson, stormLine, totalsJson, totalsLine } from './storm-text.js';
import type { Plan } from '../kernel/plan.js';

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

export type WatchSummary = SessionSummary;

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
  const sink = new LineSink(out);
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
    },
  );
  const { tracer, ctx } = session;
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
  if (!opts.json && !opts.count) out.write(`${tableHeader()}\n`);

  // The stream ends on the signal, the duration, or a failure (such as the
  // reader of our output going away: EPIPE), in the kernel stream's callback
  // or in a delivery that waited for host context.
  const jsonOut = opts.json === true;
  out.on('error', session.fail);
  const { failure, ...summary } = await session.run((raw) => {
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
  out.off('error', session.fail);
  const outputClosed = (failure as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
  if (failure && !outputClosed) throw failure;
  if (opts.count && !outputClosed) out.write(`${counts.render()}\n`);
  if (opts.json && !outputClosed) out.write(`${totalsJson(summary.rsts, summary.loss)}\n`);
  if (!quiet) {
    if (outputClosed) err.write('tcpwhy: the output was closed (EPIPE): stopped\n');
    err.write(`tcpwhy: ${totalsLine(summary.rsts)}\n`);
    if (tracer.plan.drops || tracer.plan.retransmits || tracer.plan.errors) err.write(`tcpwhy: ${lossTotalsLine(summary.loss)}\n`);
    err.write(`tcpwhy: ${summary.events} events; ${describeLoss(summary.counters)}\n`);
  }
  return summary;
}
