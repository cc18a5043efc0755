// Runs a loss case: a fresh lab of its topology, the watcher (every kind of
// event, with diagnosis) on its namespaces, the scenario, then the case's
// checks of the events against what the scenario knows happened.
import type { RstEvent } from '../events/event.js';
import type { LossEvent } from '../events/loss-event.js';
import { HostContext } from '../host/context.js';
import { takeSnapshot } from '../host/snapshot.js';
import { Collector } from '../live/collect.js';
import type { HookFamily } from '../kernel/plan.js';
import type { Family } from './netns.js';
import type { LossCase } from './loss-cases.js';
import { createLossLab, type LossRun } from './loss-scenarios.js';

/** As for the RST cases (run.ts): the emulated guests of the kernel matrix run the snapshot's tools slowly. */
const LAB_HOST_TIMEOUT_MS = 15_000;

export interface LossCaseResult {
  name: string;
  title: string;
  family: Family;
  expected: string;
  ok: boolean;
  problems: string[];
  run: LossRun | null;
  loss: LossEvent[];
  resets: RstEvent[];
  /** events the kernel could not hand over */
  lost: number;
  ms: number;
}

export async function runLossCase(c: LossCase, family: Family, port: number, opts: { hooks?: HookFamily; btfPath?: string } = {}): Promise<LossCaseResult> {
  const started = Date.now();
  const lab = createLossLab(c.scenario, c.name.slice(0, 12));
  const problems: string[] = [];
  let run: LossRun | null = null;
  let loss: LossEvent[] = [];
  let resets: RstEvent[] = [];
  let lost = 0;
  try {
    const collector = await Collector.start({
      netns: lab.netns,
      host: new HostContext({ take: (n) => takeSnapshot(n, { timeoutMs: LAB_HOST_TIMEOUT_MS }), maxWaitMs: LAB_HOST_TIMEOUT_MS }),
      ...(opts.hooks ? { hooks: opts.hooks } : {}),
      ...(opts.btfPath ? { btfPath: opts.btfPath } : {}),
    });
    try {
      run = await lab.run(family, port);
      // the last events (the error a timeout reports) are in the ring buffer: give the reader a moment
      await new Promise((r) => setTimeout(r, 500));
    } catch (err) {
      problems.push(`the scenario failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      const summary = await collector.stop();
      lost = summary.counters.ringbufFull + summary.counters.recursionMisses;
      loss = collector.takeLoss();
      resets = collector.take();
    }
  } finally {
    lab.destroy();
  }
  if (lost) problems.push(`${lost} events lost in the kernel`);
  if (run) {
    const o = { family, run, loss, resets };
    for (const check of c.checks) problems.push(...check(o));
  }
  return {
    name: c.name,
    title: c.scenario.title,
    family,
    expected: c.expectedCause,
    ok: problems.length === 0,
    problems,
    run,
    loss,
    resets,
    lost,
    ms: Date.now() - started,
  };
}
