// The loss half of `tcpwhy lab` and `tcpwhy demo`: each loss case (a firewall
// that drops, a full accept queue, a lossy link ...) provoked for real, the
// drops, retransmissions, errors and resets tcpwhy caught with their
// verdicts, the check against what the case knows, and a summary table.
import type { Writable } from 'node:stream';
import type { RstEvent } from '../events/event.js';
import { isLossEvent, type LossEvent } from '../events/loss-event.js';
import type { HookFamily } from '../kernel/plan.js';
import { LOSS_CASES } from '../lab/loss-cases.js';
import { runLossCase, type LossCaseResult } from '../lab/loss-run.js';
import { fitColumns, tableRow as paddedRow } from '../text/table.js';
import { explainLines, lossRow, tableHeader, tableRow, verdictLine } from './output.js';

/** Events a case shows one by one; the rest are counted by verdict (a lossy link makes hundreds). */
const SHOWN = 12;

const famName = (f: number) => (f === 4 ? 'IPv4' : 'IPv6');

export interface LossLabOptions {
  only?: string;
  verbose?: boolean;
  signal?: AbortSignal;
  out?: Writable;
  hooks?: HookFamily;
  btfPath?: string;
  /** the first port the cases use (the RST cases use theirs) */
  port?: number;
}

function row(e: LossEvent | RstEvent): string {
  return isLossEvent(e) ? lossRow(e) : tableRow(e);
}

export async function runLossLab(opts: LossLabOptions = {}): Promise<LossCaseResult[]> {
  const out = opts.out ?? process.stdout;
  const cases = opts.only ? LOSS_CASES.filter((c) => c.name === opts.only) : LOSS_CASES;
  const runs = cases.flatMap((c) => c.scenario.families.map((f) => [c, f] as const));
  const results: LossCaseResult[] = [];
  let port = opts.port ?? 7000;
  for (const [i, [c, family]] of runs.entries()) {
    if (opts.signal?.aborted) break;
    out.write(`[loss ${i + 1}/${runs.length}] ${c.name} (${famName(family)}): ${c.scenario.title}\n`);
    const r = await runLossCase(c, family, port++, { ...(opts.hooks ? { hooks: opts.hooks } : {}), ...(opts.btfPath ? { btfPath: opts.btfPath } : {}) });
    results.push(r);
    if (r.run) out.write(`    ${r.run.story}\n    The applications saw: ${r.run.clientSaw}\n`);
    const events = [...r.loss, ...r.resets].sort((a, b) => a.mono_ns - b.mono_ns);
    out.write(`\n    ${tableHeader()}\n`);
    for (const e of events.slice(0, SHOWN)) out.write(`    ${row(e)}\n${verdictLine(e, '            ')}\n`);
    if (events.length > SHOWN) {
      const rest = new Map<string, number>();
      for (const e of events.slice(SHOWN)) {
        const k = `${isLossEvent(e) ? e.type : 'reset'} -> ${e.cause?.id ?? 'undiagnosed'}`;
        rest.set(k, (rest.get(k) ?? 0) + 1);
      }
      out.write(`    ... and ${events.length - SHOWN} more: ${[...rest].map(([k, n]) => `${n} ${k}`).join(', ')}\n`);
    }
    // the demo: the verdict that explains the case, in full
    if (opts.verbose) {
      const main = events.find((e) => e.cause?.id === r.expected);
      if (main) out.write(`\n    The verdict that explains the case:\n${explainLines(main, '    ').join('\n')}\n`);
    }
    if (r.run) {
      const w = Object.entries(r.run.witness)
        .map(
          ([host, cs]) =>
            `${host} ${Object.entries(cs)
              .map(([k, n]) => `${k}=${n}`)
              .join(' ')}`,
        )
        .join('; ');
      out.write(`    kernel counters: ${w}\n`);
    }
    out.write(`\n    expected ${r.expected}: ${r.ok ? 'ok' : 'WRONG'} (${(r.ms / 1000).toFixed(1)} s)\n`);
    for (const p of r.problems) out.write(`      - ${p}\n`);
    out.write('\n');
  }
  out.write(`${lossSummaryTable(results)}\n`);
  return results;
}

export function lossSummaryTable(results: LossCaseResult[]): string {
  const rows = [['LOSS CASE', 'FAMILY', 'EXPECTED CAUSE', 'EVENTS (drops/retrans/errors/resets)', 'OK']].concat(
    results.map((r) => {
      const n = (t: string) => r.loss.filter((e) => e.type === t).length;
      return [r.name, famName(r.family), r.expected, `${n('drop')}/${n('retransmit')}/${n('error')}/${r.resets.length}`, r.ok ? 'ok' : 'FAIL'];
    }),
  );
  const lines = rows.map((x) => paddedRow(x, fitColumns(rows)).trimEnd());
  lines.push('', `${results.filter((r) => r.ok).length}/${results.length} loss cases explained as expected`);
  return lines.join('\n');
}
