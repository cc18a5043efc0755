// A live session: the kernel programs attached, their records diagnosed in
// order, until a signal, a duration or a failure ends it. `tcpwhy watch`
// prints what it delivers; the lab and the tests collect it (collect.ts).
// Output is the caller's: the session only hands over events and warnings.
import { isStateEvent, toEvent, toStateEvent, wallOffset, wallTimeOf } from '../events/event.js';
import type { RawEvent } from '../events/layout.js';
import { FieldText } from '../events/text.js';
import type { KernelCounters } from '../native.js';
import { Tracer, type TracerOptions } from '../kernel/tracer.js';
import { Diagnoser } from '../diagnose/engine.js';
import { DiagnosisPipeline, type HostSource } from '../diagnose/pipeline.js';
import { HostContext } from '../host/context.js';
import { History } from '../diagnose/history.js';
import { kernelConnLookup } from './conn-records.js';
import { StormCounter, type LossTotals, type PendingStorm, type StormRecord, type StormTotals } from './storm.js';
import { isLossEvent, isLossRecord, toLossEvent, type LossContext } from '../events/loss-event.js';
import type { LiveEvent } from '../diagnose/pipeline.js';

export interface SessionOptions extends TracerOptions {
  /** where host context comes from (default: read in each event's namespace); null: none */
  host?: HostSource | null;
  /**
   * How old an event's host context may be, in ms (default 1000). A snapshot
   * runs ss, iptables, nft, conntrack: about 0.1 s of CPU, so `watch` takes
   * one at most every HOST_MAX_AGE_WATCH_MS per namespace while RSTs trickle in.
   */
  hostMaxAgeMs?: number;
  /** stop after this many seconds */
  durationSec?: number;
  /** stop early (SIGINT, SIGTERM, or a caller) */
  signal?: AbortSignal;
}

export interface SessionOutput<T> {
  /** each diagnosed event, in arrival order, with what was pushed along with it */
  deliver(e: LiveEvent, extra: T): void;
  /** after a batch was delivered: the moment to write buffered output */
  flush(): void;
  /** something worth telling that does not end the session */
  warn(msg: string): void;
  /** a key whose RSTs were not all shown in full over an interval (storm.ts) */
  storm?(r: StormRecord): void;
  /**
   * Waits, for a bounded time, until the reader of the output has taken most
   * of what was written; false if it is still behind. Storm records come in
   * bursts (up to a kernel table's worth an interval, more at exit) and are
   * written at this pace rather than dropped for arriving at once.
   */
  room?(): Promise<boolean>;
}

/** Storm records written between two waits for the reader (SessionOutput.room). */
const STORM_BATCH = 512;

/**
 * `watch`'s host context age: RSTs that trickle in on a busy host must not
 * cost it a snapshot (about 0.1 s of CPU) every second. Listeners are in the
 * kernel-side history in real time; what may be up to this old is the rules,
 * sysctls and counters.
 */
export const HOST_MAX_AGE_WATCH_MS = 10_000;

/** Seconds between two reads of the kernel's storm counts. */
export const STORM_INTERVAL_S = 1;
/** Intervals a storm record may wait for the verdicts of its RSTs shown in full. */
const STORM_HOLD = 10;

export interface SessionSummary {
  events: number;
  /** every RST the kernel counted, shown in full or not */
  rsts: StormTotals;
  /** every drop, retransmission and error the kernel counted */
  loss: LossTotals;
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

export class LiveSession<T = undefined> {
  readonly ctx: LossContext;
  private readonly pipeline: DiagnosisPipeline<T>;
  private failure: unknown;
  private wake: () => void = () => undefined;
  private readonly storms: StormCounter;

  private constructor(
    readonly tracer: Tracer,
    private readonly opts: SessionOptions,
    private readonly output: SessionOutput<T>,
  ) {
    const warn = output.warn;
    this.ctx = {
      reasons: tracer.features.reasons,
      dropReasons: tracer.features.dropReasons,
      symbol: (addr: bigint) => tracer.symbol(addr),
      wallOffset: wallOffset(),
      stack: (id: number) => tracer.stack(id),
      text: new FieldText({ warn }),
    };
    const maxAgeMs = opts.hostMaxAgeMs ?? 1000;
    const host = opts.host === undefined ? new HostContext({ warn, maxAgeMs }) : opts.host;
    const history = new History(
      {},
      kernelConnLookup((key) => tracer.conn(key)),
      warn,
    );
    this.storms = new StormCounter(
      { reasons: tracer.features.reasons, dropReasons: tracer.features.dropReasons, wallTime: (ns) => wallTimeOf(ns, this.ctx.wallOffset) },
      output.warn,
    );
    const deliver = (e: LiveEvent, extra: T) => {
      if (isLossEvent(e)) this.storms.noteLossShown(e);
      else this.storms.noteShown(e);
      output.deliver(e, extra);
    };
    this.pipeline = new DiagnosisPipeline<T>(new Diagnoser({ history, warn }), host, deliver, output.warn, output.flush, maxAgeMs, this.fail);
  }

  /** Attaches the programs (nothing is read before run()). */
  static open<T = undefined>(opts: SessionOptions, output: SessionOutput<T>): LiveSession<T> {
    return new LiveSession<T>(Tracer.open({ warn: output.warn, ...opts }), opts, output);
  }

  /**
   * Ends the session with this failure (the first one counts), e.g. the
   * reader of the output going away (EPIPE).
   */
  readonly fail = (err: unknown): void => {
    this.failure ??= err;
    this.wake();
  };

  /** Queues an event for diagnosis; `extra` is delivered with it. */
  push(e: LiveEvent, extra: T): void {
    this.pipeline.push(e, extra);
  }

  /**
   * The flood shortcut (src/diagnose/flood.ts), for a record in run()'s
   * `onRst`: the UTF-8 tail `,"cause":{...}}` of the JSON line when the
   * record's shape (a SYN that found no socket) was diagnosed before; the RST
   * is then recorded and must not be pushed. Null: push it.
   */
  tryShared(raw: RawEvent): Uint8Array | null {
    return this.pipeline.tryShared(raw, this.ctx);
  }

  /**
   * Reads the kernel stream until the signal, the duration or a failure.
   * `onRst` sees every RST record (valid during the call only) and pushes
   * what it wants diagnosed; by default each becomes an event, pushed with
   * no extra. Every event pushed is delivered before this resolves, unless
   * the session failed; the failure is returned, not thrown.
   */
  async run(onRst?: (raw: RawEvent) => void): Promise<SessionSummary & { failure: unknown }> {
    const { tracer, pipeline, output, opts } = this;
    let events = 0;
    let reportedLoss = 0;
    const take = onRst ?? ((raw: RawEvent) => pipeline.push(toEvent(raw, this.ctx), undefined as T));
    const done = tracer.start(
      (raw) => {
        if (isStateEvent(raw)) {
          pipeline.state(toStateEvent(raw, this.ctx.text));
          return;
        }
        if (isLossRecord(raw)) {
          events++;
          pipeline.push(toLossEvent(raw, this.ctx), undefined as T);
          return;
        }
        events++;
        take(raw);
      },
      () => {
        pipeline.drain();
        output.flush();
      },
    );

    // Each interval: the kernel's storm counts. Their records go out once
    // the RSTs shown in full before them are diagnosed (their verdicts are
    // the records' causes): at the next interval when nothing waits in the
    // pipeline (no host context yet, say), at most STORM_HOLD intervals late.
    // Losses are reported while they happen, not only at the end.
    let pending: PendingStorm[] = [];
    let held: Array<{ p: PendingStorm; age: number }> = [];
    let unkeyed = { sent: 0, received: 0, loss: 0 };
    // records go out in order, a batch at a time, at the reader's pace; a
    // reader that stays behind gets the rest at once (the sink drops and
    // counts what does not fit)
    let writing: Promise<void> = Promise.resolve();
    const writeStorms = (list: PendingStorm[]) => {
      if (!list.length || !output.storm) return;
      writing = writing
        .then(async () => {
          let patient = output.room !== undefined;
          for (let i = 0; i < list.length; i++) {
            if (patient && i > 0 && i % STORM_BATCH === 0) patient = await output.room!();
            output.storm!(this.storms.storm(list[i]!));
          }
        })
        .catch(this.fail);
    };
    const readStorms = (intervalS: number) => {
      for (const p of pending) held.push({ p, age: 0 });
      pending = this.storms.take(tracer.stormSwap(), intervalS);
      const c = tracer.counters();
      this.storms.addUnkeyed(c.unkeyedSent - unkeyed.sent, c.unkeyedReceived - unkeyed.received);
      if (c.unkeyedSent + c.unkeyedReceived > 0 && unkeyed.sent + unkeyed.received === 0) {
        output.warn('more RST keys in one second than the kernel table holds (a scan of many ports?): the rest are counted without their key');
      }
      this.storms.addUnkeyedLoss(c.unkeyedLoss - unkeyed.loss);
      if (c.unkeyedLoss > 0 && unkeyed.loss === 0) {
        output.warn('more drop, retransmission or error keys in one second than the kernel table holds: the rest are counted without their key');
      }
      unkeyed = { sent: c.unkeyedSent, received: c.unkeyedReceived, loss: c.unkeyedLoss };
      const caughtUp = pipeline.pending === 0;
      const keep: typeof held = [];
      const due: PendingStorm[] = [];
      for (const h of held) {
        if (caughtUp || ++h.age >= STORM_HOLD) due.push(h.p);
        else keep.push(h);
      }
      held = keep;
      writeStorms(due);
      return c;
    };
    let last = Date.now();
    const lossTimer = setInterval(() => {
      const now = Date.now();
      let c: KernelCounters;
      try {
        c = readStorms((now - last) / 1000);
      } catch (err) {
        // a timer's exception would kill the process: end the session with it instead
        this.fail(err);
        return;
      }
      last = now;
      const lost = lostTotal(c);
      if (lost > reportedLoss) {
        output.warn(`${lost - reportedLoss} events lost in the kernel (ring buffer full or nested); total ${lost}`);
        reportedLoss = lost;
      }
    }, STORM_INTERVAL_S * 1000);

    done.catch(this.fail);
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => this.wake();
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (opts.durationSec !== undefined) timer = setTimeout(resolve, opts.durationSec * 1000);
      if (opts.signal?.aborted || this.failure) resolve();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
    // nothing may keep the process alive once the stream is over
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    clearInterval(lossTimer);
    await tracer.stop();
    // events still waiting for their namespace's context
    if (!this.failure) {
      await Promise.race([pipeline.flushed(), new Promise((r) => setTimeout(r, 5000).unref())]);
      // context that did not come in time: the rest is diagnosed without it, never dropped
      pipeline.flushNow();
    }
    // the programs detached, the last interval's counts are final
    tracer.detach();
    if (!this.failure) {
      // everything is diagnosed: every held record goes out, then the last interval's
      readStorms(Math.max(0.001, (Date.now() - last) / 1000));
      writeStorms(pending);
      await writing;
      this.storms.addUnkeyedNetns(tracer.unkeyed());
      output.flush();
    }
    const counters = tracer.counters();
    const programs = tracer.attached;
    tracer.close();
    return { events, rsts: this.storms.summary(), loss: this.storms.lossSummary(), counters, plan: tracer.plan.name, programs, failure: this.failure };
  }
}
