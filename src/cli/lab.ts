// `tcpwhy lab [case]` runs the lab cases and prints what each provoked, the
// events with their verdicts, and a summary table; `tcpwhy demo` is the same
// walk-through with the full explanation and kernel stack of each case's RST.
// Every run is recorded (tcpdump on the server's veth1; into --record DIR, or
// a temporary directory removed at the end) and the capture's analysis of
// each RST on the wire must agree with the live verdict (src/lab/compare.ts).
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { ResetReport } from '../capture/analyze.js';
import { UsageError } from '../kernel/errors.js';
import { requireLabCaps } from '../kernel/capabilities.js';
import { probeKernel } from '../kernel/features.js';
import { CASES } from '../lab/cases.js';
import { LOSS_CASES } from '../lab/loss-cases.js';
import { runLossLab } from './loss-lab.js';
import { agreementText, type CaptureComparison, type CaptureMatch } from '../lab/compare.js';
import { runCase, type CaseResult } from '../lab/run.js';
import type { HookFamily } from '../kernel/plan.js';
import { parseLabArgs } from './args.js';
import { fitColumns, tableRow as paddedRow } from '../text/table.js';
import { explainLines, stackLines, tableHeader, tableRow, verdictLine } from './output.js';

export interface LabRunOptions {
  only?: string;
  /** the demo's long form: catalogue text and stack of each case's RST */
  verbose?: boolean;
  signal?: AbortSignal;
  out?: Writable;
  /**
   * Keep each run's recording in this directory: CASE-vN.pcap (tcpdump on the
   * server's veth1) and CASE-vN.events.json (the run's events, with causes).
   * Without it the pcaps go to a temporary directory, removed at the end.
   */
  record?: string;
  /** kernel hooks for sent RSTs (--hooks); default: the best that loads */
  hooks?: HookFamily;
  /** BTF file for a kernel without /sys/kernel/btf/vmlinux (--btf) */
  btfPath?: string;
}

/** Whether tcpdump can be run (the lab records with it). */
function haveTcpdump(): boolean {
  const r = spawnSync('tcpdump', ['--version'], { stdio: 'ignore' });
  return !r.error;
}

/** One capture verdict, short: "capture #12 passive from server 192.0.2.2:8091: connection-forgotten [medium]: summary". */
function captureLine(r: ResetReport, indent: string): string {
  const who = r.role ? `${r.role} ${r.sender}` : r.sender;
  return `${indent}=> capture #${r.frame} (${r.kind}, ${who}): ${r.cause.id} [${r.cause.confidence}]: ${r.cause.summary}`;
}

function agreementNote(m: CaptureMatch): string {
  if (m.agreement === 'exact') return 'same cause';
  if (m.agreement === 'ambiguous') return `the wire cannot tell it from ${m.live.cause?.id ?? '?'}`;
  return 'DISAGREES';
}

/** "capture: 3/3 RSTs on the wire agree ... (2 exact, 1 ambiguous); 1 sent RST not on the wire ..." and the problems. */
function captureSummaryLines(cmp: CaptureComparison, indent: string): string[] {
  const unseen = cmp.unseen.length
    ? `; ${cmp.unseen.length} sent RST${cmp.unseen.length > 1 ? 's' : ''} not on the wire (${cmp.unseen.map((e) => e.cause?.id ?? e.reason ?? '?').join(', ')}: dropped before it)`
    : '';
  const { resets, exact, ambiguous } = cmp.counts;
  const agree = `${exact + ambiguous}/${resets} RSTs on the wire agree with the live verdicts (${exact} exact, ${ambiguous} ambiguous)`;
  const lines = [`${indent}capture: ${agree}${unseen}${cmp.problems.length ? ': DISAGREES' : ''}`];
  for (const p of cmp.problems) lines.push(`${indent}  - ${p}`);
  return lines;
}

/** The files of one recorded run: DIR/CASE-vN.pcap and DIR/CASE-vN.events.json. */
export function recordingPaths(dir: string, name: string, family: number): { pcap: string; events: string } {
  const base = path.join(dir, `${name}-v${family}`);
  return { pcap: `${base}.pcap`, events: `${base}.events.json` };
}

const famName = (f: number) => (f === 4 ? 'IPv4' : 'IPv6');

/** Every lab case's name: the RST cases, then the loss cases. */
export const LAB_CASE_NAMES = [...CASES.map((c) => c.name), ...LOSS_CASES.map((c) => c.name)];

/**
 * What the lab needs, checked before it makes anything: root, a --btf that is
 * a BTF file, a --record directory it can write (a failure halfway would leave
 * a run without its recording).
 */
function labPreflight(opts: LabRunOptions): void {
  requireLabCaps();
  if (opts.btfPath !== undefined) probeKernel(opts.btfPath);
  if (opts.record !== undefined) {
    try {
      mkdirSync(opts.record, { recursive: true });
      if (!statSync(opts.record).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      accessSync(opts.record, fsConstants.W_OK);
    } catch (e) {
      throw new UsageError(`--record wants a directory it can write: ${opts.record}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
}

/** The RST cases, then the loss cases (`only`: the one of that name); true when every run was right. */
export async function runWholeLab(opts: LabRunOptions = {}): Promise<boolean> {
  labPreflight(opts);
  const rst = !opts.only || CASES.some((c) => c.name === opts.only);
  const loss = !opts.only || LOSS_CASES.some((c) => c.name === opts.only);
  if (!rst && !loss) throw new UsageError(`no lab case ${JSON.stringify(opts.only)}; cases: ${LAB_CASE_NAMES.join(', ')}`);
  const resets = rst ? await runLab(opts) : [];
  if (rst && loss) (opts.out ?? process.stdout).write('\n');
  const losses = loss && !opts.signal?.aborted ? await runLossLab(opts) : [];
  return resets.every((r) => r.ok) && losses.every((r) => r.ok);
}

export async function runLab(opts: LabRunOptions = {}): Promise<CaseResult[]> {
  const out = opts.out ?? process.stdout;
  const cases = opts.only ? CASES.filter((c) => c.name === opts.only) : CASES;
  if (!cases.length) throw new UsageError(`no lab case ${JSON.stringify(opts.only)}; cases: ${CASES.map((c) => c.name).join(', ')}`);
  const runs = cases.flatMap((c) => c.families.map((f) => [c, f] as const));
  const results: CaseResult[] = [];
  let port = 8080;
  let dir = opts.record ?? null;
  let tmp: string | null = null;
  if (dir) mkdirSync(dir, { recursive: true });
  else if (haveTcpdump()) dir = tmp = mkdtempSync(path.join(tmpdir(), 'tcpwhy-lab-'));
  else out.write('tcpdump is not installed: the runs are not recorded and no capture is checked against the live verdicts\n\n');
  try {
    for (const [i, [c, family]] of runs.entries()) {
      if (opts.signal?.aborted) break;
      out.write(`[${i + 1}/${runs.length}] ${c.name} (${famName(family)}): ${c.title}\n`);
      const files = dir ? recordingPaths(dir, c.name, family) : null;
      const r = await runCase(c, family, port++, {
        ...(files ? { record: files.pcap } : {}),
        ...(opts.hooks ? { hooks: opts.hooks } : {}),
        ...(opts.btfPath ? { btfPath: opts.btfPath } : {}),
      });
      results.push(r);
      if (files && opts.record) writeFileSync(files.events, `${JSON.stringify(r.events, null, 2)}\n`);
      if (files && tmp) rmSync(files.pcap, { force: true });
      if (r.run) {
        out.write(`    ${r.run.story}\n    The applications saw: ${r.run.clientSaw}\n`);
      }
      const cmp = r.captureCheck;
      out.write(`\n    ${tableHeader()}\n`);
      for (const e of r.events) {
        out.write(`    ${tableRow(e)}\n${verdictLine(e, '            ')}\n`);
        // the demo: the capture's verdict of the same RST under the live one
        if (opts.verbose && cmp && e.direction === 'sent') {
          const m = cmp.matched.find((x) => x.live === e);
          if (m) out.write(`${captureLine(m.reset, '            ')} (${agreementNote(m)})\n`);
          else out.write('            => capture: not on the wire (dropped before it)\n');
        }
      }
      if (opts.verbose && cmp) for (const u of cmp.unmatched) out.write(`${captureLine(u, '            ')} (no live event sent it)\n`);
      if (opts.verbose && r.primary) {
        out.write(
          `\n    The verdict for the case's RST (${r.primary.direction}${r.primary.kind ? ` ${r.primary.kind}` : ''}, reason ${r.primary.reason ?? 'none'}):\n`,
        );
        out.write(`${explainLines(r.primary, '    ').join('\n')}\n`);
        out.write(`    kernel stack:\n${stackLines(r.primary, '      ').join('\n')}\n`);
      }
      const verdictOk = r.problems.length === 0;
      out.write(`\n    expected ${r.expected}, diagnosed ${r.diagnosed ?? '(no event)'}: ${verdictOk ? 'ok' : 'WRONG'} (${(r.ms / 1000).toFixed(1)} s)\n`);
      for (const p of r.problems) out.write(`      - ${p}\n`);
      if (cmp) out.write(`${captureSummaryLines(cmp, '    ').join('\n')}\n`);
      if (files && opts.record)
        out.write(`    recorded ${r.capture ? `${r.capture.packets} packets in ${files.pcap}` : 'no packets'}; events in ${files.events}\n`);
      out.write('\n');
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  out.write(`${summaryTable(results)}\n`);
  return results;
}

export function summaryTable(results: CaseResult[]): string {
  const rows = [['CASE', 'FAMILY', 'EXPECTED CAUSE', 'DIAGNOSED CAUSE', 'CAPTURE', 'OK']].concat(
    results.map((r) => [
      r.name,
      famName(r.family),
      r.expected,
      r.diagnosed ?? '-',
      r.captureCheck ? `${agreementText(r.captureCheck)}${r.captureCheck.problems.length ? ' DISAGREES' : ''}` : '-',
      r.ok ? 'ok' : 'FAIL',
    ]),
  );
  const columns = fitColumns(rows);
  const lines = rows.map((r) => paddedRow(r, columns).trimEnd());
  const right = results.filter((r) => r.problems.length === 0).length;
  lines.push('', `${right}/${results.length} cases diagnosed as expected`);
  const checked = results.flatMap((r) => (r.captureCheck ? [r.captureCheck] : []));
  if (checked.length) {
    const sum = (f: (c: CaptureComparison) => number) => checked.reduce((n, c) => n + f(c), 0);
    const resets = sum((c) => c.counts.resets);
    const exact = sum((c) => c.counts.exact);
    const ambiguous = sum((c) => c.counts.ambiguous);
    const agreeRuns = checked.filter((c) => !c.problems.length).length;
    const unseen = sum((c) => c.unseen.length);
    lines.push(
      `${agreeRuns}/${checked.length} captures agree with the live verdicts: ${exact + ambiguous}/${resets} RSTs on the wire ` +
        `(${exact} exact, ${ambiguous} ambiguous${ambiguous ? ': the live cause is one the capture cannot tell from its own' : ''})` +
        (unseen ? `; ${unseen} sent RST${unseen > 1 ? 's' : ''} never reached the wire` : ''),
    );
  }
  return lines.join('\n');
}

export async function labCommand(args: string[], opts: { signal?: AbortSignal } = {}): Promise<number> {
  const { only, record, hooks, btfPath } = parseLabArgs(args, LAB_CASE_NAMES);
  return (await runWholeLab({ only, record, hooks, btfPath, signal: opts.signal })) ? 0 : 1;
}
