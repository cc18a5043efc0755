// Runs lab cases: a fresh lab per case, the watcher (with diagnosis) on its
// two namespaces, the case's provocation, then the check that the case's
// event got the expected cause with the facts the case knows filled in.
// A recorded run's capture is analyzed too, and its explanation of every RST
// on the wire must agree with the live verdicts (compare.ts).
import type { RstEvent } from '../events/event.js';
import { HostContext } from '../host/context.js';
import { takeSnapshot } from '../host/snapshot.js';
import { Collector } from '../live/collect.js';
import { Lab, type LabHost } from './netns.js';
import type { CaseRun, Family, LabCase } from './case.js';
import { startRecording, type Recording, type RecordingSummary } from './record.js';
import { checkCapture, type CaptureComparison } from './compare.js';
import type { HookFamily } from '../kernel/plan.js';

/**
 * How long the lab lets a host snapshot take (watch: 3 s). A lab namespace is
 * small, but in the kernel matrix's emulated guests the snapshot's commands
 * (nft, iptables-save, ss) run 30 times slower, and a verdict read without its
 * rules is the wrong verdict for the NAT and firewall cases.
 */
const LAB_HOST_TIMEOUT_MS = 15_000;

export interface CaseResult {
  name: string;
  title: string;
  family: Family;
  /** the lab's two hosts (gone after the run: their names and addresses remain) */
  lab: { client: LabHost; server: LabHost };
  expected: string;
  /** the cause given to the case's event, null if that event never came */
  diagnosed: string | null;
  /** the verdict is right (no `problems`) and the capture, if any, agrees (no `captureCheck.problems`) */
  ok: boolean;
  /** why the verdict (or the run, or its recording) is not ok */
  problems: string[];
  run: CaseRun | null;
  events: RstEvent[];
  primary: RstEvent | null;
  lost: number;
  ms: number;
  /** the pcap of the run (server namespace, veth1) when it was recorded */
  capture: RecordingSummary | null;
  /** the recording's analysis against the live events: its problems make the run fail */
  captureCheck: CaptureComparison | null;
}

export interface RunCaseOptions {
  /**
   * Record the run: a pcap of the server's veth1 (tcpdump in the server
   * namespace), from before the case's provocation until its events arrived.
   * The recording is then analyzed and compared with the live events
   * (CaseResult.captureCheck).
   */
  record?: string;
  /** kernel hooks for sent RSTs (tcpwhy lab --hooks); default: the best that loads */
  hooks?: HookFamily;
  /** BTF file for a kernel without /sys/kernel/btf/vmlinux (tcpwhy lab --btf) */
  btfPath?: string;
}

function matchesPrimary(e: RstEvent, p: CaseRun['primary']): boolean {
  if (e.netns !== p.netns || e.direction !== p.direction) return false;
  if (p.kind && e.kind !== p.kind) return false;
  if (p.port !== undefined) {
    const ports = [e.packet, e.socket].flatMap((t) => (t ? [t.lport, t.rport] : []));
    if (!ports.includes(p.port)) return false;
  }
  return true;
}

/** Differences between what the case knows and what the verdict says; empty when they agree. */
export function checkVerdict(c: LabCase, run: CaseRun, events: RstEvent[]): { primary: RstEvent | null; problems: string[] } {
  const problems: string[] = [];
  const primary = [...events].reverse().find((e) => matchesPrimary(e, run.primary)) ?? null;
  if (!primary) {
    problems.push(`no ${run.primary.direction} ${run.primary.kind ?? ''} RST in netns ${run.primary.netns} (saw ${events.length} events)`);
    return { primary, problems };
  }
  const cause = primary.cause;
  if (!cause) problems.push('the event was not diagnosed');
  else {
    if (cause.id !== c.expectedCause) {
      const facts = {
        reason: primary.reason,
        state: primary.state,
        segment: primary.segment?.flags,
        accept_queue: primary.accept_queue,
        queues: primary.queues,
        evidence: cause.evidence,
      };
      problems.push(`diagnosed ${cause.id}, expected ${c.expectedCause} (${JSON.stringify(facts)})`);
    }
    for (const [k, want] of Object.entries(run.facts)) {
      const got = cause.evidence[k];
      if (got === undefined || got === null) problems.push(`evidence ${k} missing (expected ${want})`);
      else if (typeof want === 'number' ? got !== want : !String(got).includes(String(want))) {
        problems.push(`evidence ${k} = ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
      }
    }
  }
  if (run.quietUntilMono !== undefined) {
    const early = events.filter((e) => e.direction === 'sent' && e.netns === run.primary.netns && e.mono_ns < run.quietUntilMono!);
    if (early.length) problems.push(`${early.length} RSTs sent during the window that must stay silent (first: ${early[0]!.cause?.id ?? early[0]!.reason})`);
  }
  return { primary, problems };
}

export async function runCase(c: LabCase, family: Family, port: number, opts: RunCaseOptions = {}): Promise<CaseResult> {
  const started = Date.now();
  const lab = Lab.create(c.name.slice(0, 12));
  let run: CaseRun | null = null;
  const problems: string[] = [];
  let events: RstEvent[] = [];
  let lost = 0;
  let recording: Recording | null = null;
  let capture: RecordingSummary | null = null;
  try {
    if (opts.record) {
      try {
        recording = await startRecording(lab.server.ns, 'veth1', opts.record);
      } catch (err) {
        // the case still runs (its verdict is checked), but the run fails: it was to be recorded
        problems.push(`the recording did not start: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const collector = await Collector.start({
      netns: [lab.client.netns, lab.server.netns],
      // the RST cases check RSTs: the loss cases (loss-run.ts) watch the rest
      events: new Set(['resets']),
      host: new HostContext({ take: (n) => takeSnapshot(n, { timeoutMs: LAB_HOST_TIMEOUT_MS }), maxWaitMs: LAB_HOST_TIMEOUT_MS }),
      ...(opts.hooks ? { hooks: opts.hooks } : {}),
      ...(opts.btfPath ? { btfPath: opts.btfPath } : {}),
    });
    try {
      run = await c.run(lab, family, port);
      // the events are in the ring buffer; give the reader and the diagnosis a moment
      await collector.waitFor(c.minEvents, 2000);
      await new Promise((r) => setTimeout(r, 300));
    } catch (err) {
      problems.push(`the case failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      // stop() waits for the diagnosis of the last events
      const summary = await collector.stop();
      lost = summary.counters.ringbufFull + summary.counters.recursionMisses;
      events = collector.take();
    }
  } finally {
    // after the events arrived (or the case failed): tcpdump has seen every packet
    if (recording) {
      try {
        capture = await recording.stop();
        if (capture.dropped > 0) problems.push(`the recording lost ${capture.dropped} packets in the kernel`);
      } catch (err) {
        problems.push(`the recording failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    lab.destroy();
  }
  if (lost) problems.push(`${lost} events lost in the kernel`);
  let primary: RstEvent | null = null;
  if (run) {
    const checked = checkVerdict(c, run, events);
    primary = checked.primary;
    problems.push(...checked.problems);
  }
  let captureCheck: CaptureComparison | null = null;
  if (capture) {
    try {
      // the analysis itself (the Analysis object) is not kept: the comparison says what matters
      const { analysis: _analysis, ...cmp } = await checkCapture(capture.file, events);
      captureCheck = cmp;
    } catch (err) {
      problems.push(`the recording could not be analyzed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return {
    name: c.name,
    title: c.title,
    family,
    lab: { client: lab.client, server: lab.server },
    expected: c.expectedCause,
    diagnosed: primary?.cause?.id ?? null,
    ok: problems.length === 0 && !captureCheck?.problems.length,
    problems,
    run,
    events,
    primary,
    lost,
    ms: Date.now() - started,
    capture,
    captureCheck,
  };
}
