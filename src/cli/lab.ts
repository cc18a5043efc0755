// `tcpwhy lab [case]` runs the lab cases and prints what each provoked, the
// events with their verdicts, and a summary table; `tcpwhy demo` is the same
// walk-through with the full explanation and kernel stack of each case's RST.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { UsageError } from '../kernel/errors.js';
import { CASES } from '../lab/cases.js';
import { runCase, type CaseResult } from '../lab/run.js';
import { parseLabArgs } from './args.js';
import { explainLines, stackLines, tableHeader, tableRow, verdictLine } from './output.js';

export interface LabRunOptions {
  only?: string;
  /** the demo's long form: catalogue text and stack of each case's RST */
  verbose?: boolean;
  signal?: AbortSignal;
  out?: Writable;
  /**
   * Record each run into this directory: CASE-vN.pcap (tcpdump on the
   * server's veth1) and CASE-vN.events.json (the run's events, with causes).
   */
  record?: string;
}

/** The files of one recorded run: DIR/CASE-vN.pcap and DIR/CASE-vN.events.json. */
export function recordingPaths(dir: string, name: string, family: number): { pcap: string; events: string } {
  const base = path.join(dir, `${name}-v${family}`);
  return { pcap: `${base}.pcap`, events: `${base}.events.json` };
}

const famName = (f: number) => (f === 4 ? 'IPv4' : 'IPv6');

export async function runLab(opts: LabRunOptions = {}): Promise<CaseResult[]> {
  const out = opts.out ?? process.stdout;
  const cases = opts.only ? CASES.filter((c) => c.name === opts.only) : CASES;
  if (!cases.length) throw new UsageError(`no lab case ${JSON.stringify(opts.only)}; cases: ${CASES.map((c) => c.name).join(', ')}`);
  const runs = cases.flatMap((c) => c.families.map((f) => [c, f] as const));
  const results: CaseResult[] = [];
  let port = 8080;
  if (opts.record) mkdirSync(opts.record, { recursive: true });
  for (const [i, [c, family]] of runs.entries()) {
    if (opts.signal?.aborted) break;
    out.write(`[${i + 1}/${runs.length}] ${c.name} (${famName(family)}): ${c.title}\n`);
    const files = opts.record ? recordingPaths(opts.record, c.name, family) : null;
    const r = await runCase(c, family, port++, files ? { record: files.pcap } : {});
    results.push(r);
    if (files) writeFileSync(files.events, `${JSON.stringify(r.events, null, 2)}\n`);
    if (r.run) {
      out.write(`    ${r.run.story}\n    The applications saw: ${r.run.clientSaw}\n`);
    }
    out.write(`\n    ${tableHeader()}\n`);
    for (const e of r.events) {
      out.write(`    ${tableRow(e)}\n${verdictLine(e, '            ')}\n`);
    }
    if (opts.verbose && r.primary) {
      out.write(`\n    The verdict for the case's RST (${r.primary.direction}${r.primary.kind ? ` ${r.primary.kind}` : ''}, reason ${r.primary.reason ?? 'none'}):\n`);
      out.write(`${explainLines(r.primary, '    ').join('\n')}\n`);
      out.write(`    kernel stack:\n${stackLines(r.primary, '      ').join('\n')}\n`);
    }
    out.write(`\n    expected ${r.expected}, diagnosed ${r.diagnosed ?? '(no event)'}: ${r.ok ? 'ok' : 'WRONG'} (${(r.ms / 1000).toFixed(1)} s)\n`);
    for (const p of r.problems) out.write(`      - ${p}\n`);
    if (files) out.write(`    recorded ${r.capture ? `${r.capture.packets} packets in ${files.pcap}` : 'no packets'}; events in ${files.events}\n`);
    out.write('\n');
  }
  out.write(`${summaryTable(results)}\n`);
  return results;
}

export function summaryTable(results: CaseResult[]): string {
  const rows = [['CASE', 'FAMILY', 'EXPECTED CAUSE', 'DIAGNOSED CAUSE', 'OK']].concat(
    results.map((r) => [r.name, famName(r.family), r.expected, r.diagnosed ?? '-', r.ok ? 'ok' : 'FAIL']),
  );
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd());
  const ok = results.filter((r) => r.ok).length;
  lines.push('', `${ok}/${results.length} cases diagnosed as expected`);
  return lines.join('\n');
}

export async function labCommand(args: string[], opts: { signal?: AbortSignal } = {}): Promise<number> {
  const { only, record } = parseLabArgs(args, CASES.map((c) => c.name));
  const results = await runLab({ only, record, signal: opts.signal });
  return results.every((r) => r.ok) ? 0 : 1;
}
