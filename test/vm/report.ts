// The matrix section of docs/kernel-support.md, written from the result files
// of the last `make test-kernels` (build/kernel-matrix/ID/{leg,result}.json):
// nothing in it is typed by hand.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { GuestResult, LabResult } from './job.js';
import { judge, labRequired, labSummary, type Leg } from './verdict.js';

export const BEGIN = '<!-- kernel-matrix:begin (written by make test-kernels; do not edit) -->';
export const END = '<!-- kernel-matrix:end -->';

function loadLegs(matrixDir: string): Leg[] {
  const legs: Leg[] = [];
  for (const id of readdirSync(matrixDir).sort()) {
    const legFile = path.join(matrixDir, id, 'leg.json');
    if (!existsSync(legFile)) continue;
    const leg = JSON.parse(readFileSync(legFile, 'utf8')) as Leg;
    const resFile = path.join(matrixDir, id, 'result.json');
    leg.result = existsSync(resFile) ? (JSON.parse(readFileSync(resFile, 'utf8')) as GuestResult) : null;
    legs.push(leg);
  }
  // the host first, then by kernel release
  return legs.sort(
    (a, b) => Number(b.native) - Number(a.native) || (a.release ?? '').localeCompare(b.release ?? '', 'en', { numeric: true }) || a.id.localeCompare(b.id),
  );
}

/** The lab with tcpwhy's own choice of hooks (a kernel standing in for one without BTF: its kprobe lab). */
function ownLab(r: GuestResult | null): LabResult | undefined {
  return r?.labs.find((l) => l.hooks === 'auto' || (r.btfFile && l.hooks === 'kprobe'));
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** What a kernel lacks, and what that costs, in words. */
function missing(r: GuestResult): string[] {
  const out: string[] = [];
  const p = r.probe;
  if (!p) return ['no probe result'];
  if (!p.auto.sendTpHasReason)
    out.push(
      'no reset reasons (tcp_send_reset passes none before 6.10): verdicts rest on stack, state, socket facts and history (high where the kernel path is unambiguous, medium elsewhere)',
    );
  if (!p.auto.completeSends) out.push('RSTs sent without a socket are not seen');
  for (const m of p.auto.missing) out.push(m);
  for (const f of p.families) if (!f.plan) out.push(`--hooks ${f.family}: ${familyError(f.family, f.error)}`);
  if (r.btfFile) out.push('run as a kernel without /sys/kernel/btf/vmlinux: BTF from --btf, hooks as such a kernel allows (kprobes, tracepoints)');
  return out;
}

/**
 * Why a hook family did not load, on one line: without the "--hooks X:" the
 * error may repeat, and with its first attempt when the first line only
 * introduces the list ("... could be loaded on this kernel:").
 */
export function familyError(family: string, error: string | null | undefined): string {
  const lines = (error ?? 'no reason given')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const first = (lines[0] ?? '').replace(`--hooks ${family}: `, '');
  return first.endsWith(':') && lines[1] ? `${first} ${lines[1]}` : first;
}

export function matrixMarkdown(legs: Leg[]): string {
  const lines: string[] = [];
  const when = new Date().toISOString().slice(0, 10);
  lines.push(`Last run: ${when}, ${legs.length} kernels (\`make test-kernels\`; results in \`build/kernel-matrix/\`).`, '');
  lines.push('| kernel | package | tcpwhy chose | lab, its choice | lab, other hooks | kernel tests | result |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const leg of legs) {
    const r = leg.result;
    const v = judge(leg);
    const auto = ownLab(r);
    const others = (r?.labs ?? [])
      .filter((l) => l !== auto && !l.skipped)
      .map((l) => `${l.hooks}: ${labSummary(l)}${r && labRequired(r, l) ? '' : ' (misses no-socket RSTs)'}`);
    lines.push(
      `| ${cell(`${leg.id}<br>${leg.release ?? '?'}${leg.commit ? `<br>tcpwhy ${leg.commit}` : ''}`)} | ${cell(leg.package ?? 'host')} | ${cell(r?.probe?.auto.plan ?? '-')} | ${cell(auto ? labSummary(auto) : '-')} | ${cell(others.join('<br>') || '-')} | ${cell(r?.tests ? `${r.tests.pass} pass, ${r.tests.fail} fail` : '-')} | ${v.ok ? 'pass' : 'FAIL'} |`,
    );
  }
  lines.push('', '### What each kernel lacks', '');
  for (const leg of legs) {
    const m = leg.result ? missing(leg.result) : [leg.error ?? 'no result'];
    lines.push(`- **${leg.id}** (${leg.release ?? '?'}): ${m.length ? m.join('; ') : 'nothing tcpwhy uses'}.`);
  }
  // the verdicts case by case: which cause, at which confidence, on each kernel
  const ids = legs.filter((l) => ownLab(l.result));
  if (ids.length) {
    lines.push('', "### Lab verdicts per kernel (tcpwhy's own choice of hooks)", '');
    lines.push(`| case | expected | ${ids.map((l) => l.id).join(' | ')} |`);
    lines.push(`|---|---|${ids.map(() => '---').join('|')}|`);
    const first = ownLab(ids[0]!.result)!;
    for (const c of first.cases) {
      const row = ids.map((l) => {
        const x = ownLab(l.result)!.cases.find((y) => y.case === c.case && y.family === c.family);
        if (!x) return '-';
        return x.ok ? `ok, ${x.confidence}` : `**${x.diagnosed ?? 'no event'}**${x.confidence ? `, ${x.confidence}` : ''}`;
      });
      lines.push(`| ${c.case} IPv${c.family} | ${c.expected} | ${row.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** Rewrites the matrix section of docs/kernel-support.md; returns the file. */
export function writeMatrixDocs(repo: string, matrixDir: string): string {
  const file = path.join(repo, 'docs', 'kernel-support.md');
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${file} has no ${BEGIN} ... ${END} section`);
  writeFileSync(file, `${text.slice(0, a + BEGIN.length)}\n${matrixMarkdown(loadLegs(matrixDir))}\n${text.slice(b)}`);
  return file;
}
