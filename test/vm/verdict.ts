// Whether a kernel of the matrix passes, and the lines that say so.
//
// A kernel passes when its job ran to the end, tcpwhy found hooks for it by
// itself, the lab with those hooks got every verdict right, every lab with a
// fallback family that sees every sent RST did too, and no kernel test failed.
// A lab with hooks that cannot see every sent RST (the tcp_send_reset
// tracepoint before 6.10) is reported, not required: its misses are the
// documented limit of those hooks.
import type { GuestResult, LabResult } from './job.js';

export interface Leg {
  id: string;
  title: string;
  /** the Debian package and version; null for the host */
  package: string | null;
  release: string | null;
  native: boolean;
  result: GuestResult | null;
  ms: number;
  timedOut: boolean;
  exitCode: number | null;
  error: string | null;
  /** the commit of the tree that ran (git describe of the repository; null outside git) */
  commit?: string | null;
}

/** Whether the lab's hooks see every sent RST (what the probe found for its family). */
export function labRequired(r: GuestResult, lab: LabResult): boolean {
  if (lab.hooks === 'auto' || (r.btfFile && lab.hooks === 'kprobe')) return true;
  return r.probe?.families.find((f) => f.family === lab.hooks)?.completeSends ?? false;
}

export function labSummary(lab: LabResult): string {
  const right = lab.cases.filter((c) => c.ok).length;
  const conf = new Map<string, number>();
  for (const c of lab.cases) if (c.ok && c.confidence) conf.set(c.confidence, (conf.get(c.confidence) ?? 0) + 1);
  const by = [...conf].map(([k, n]) => `${n} ${k}`).join(', ');
  return `${right}/${lab.cases.length} right${by ? ` (${by})` : ''}`;
}

export function judge(leg: Leg): { ok: boolean; lines: string[] } {
  const problems: string[] = [];
  const lines: string[] = [];
  const r = leg.result;
  if (leg.error) problems.push(leg.error);
  if (!r) problems.push('no result from the job');
  else {
    if (!r.complete) problems.push(`the job stopped after: ${r.steps.map((s) => s.step).join(', ') || 'nothing'}`);
    for (const s of r.steps) if (s.error) problems.push(`${s.step}: ${s.error}`);
    const p = r.probe;
    if (p) {
      if (!p.auto.plan) problems.push(`tcpwhy found no hooks: ${p.auto.error}`);
      else {
        const facts = [p.auto.completeSends ? 'every sent RST' : 'NOT the RSTs sent without a socket', p.auto.sendTpHasReason ? 'reasons' : 'no reasons'];
        lines.push(`  hooks: ${p.auto.plan} (${facts.join(', ')})`);
      }
      for (const f of p.families)
        lines.push(
          `    --hooks ${f.family}: ${f.plan ? `loads${f.completeSends ? '' : ' (misses RSTs sent without a socket)'}` : `no: ${f.error?.split('\n')[0]}`}`,
        );
    }
    for (const lab of r.labs) {
      if (lab.skipped) {
        lines.push(`  lab --hooks ${lab.hooks}: not run: ${lab.skipped}`);
        continue;
      }
      const required = labRequired(r, lab);
      lines.push(
        `  lab --hooks ${lab.hooks}: ${lab.error ? `error: ${lab.error}` : labSummary(lab)}${required ? '' : ' (not required: these hooks miss RSTs sent without a socket)'}`,
      );
      for (const c of lab.cases.filter((x) => !x.ok))
        lines.push(`    ${c.case} IPv${c.family}: expected ${c.expected}, got ${c.diagnosed ?? 'no event'}: ${c.problems.join('; ')}`);
      if (required && (lab.error || lab.cases.some((c) => !c.ok) || !lab.cases.length))
        problems.push(`lab --hooks ${lab.hooks}: ${lab.error ?? labSummary(lab)}`);
    }
    if (r.tests) {
      lines.push(`  tests: ${r.tests.pass} pass, ${r.tests.fail} fail (${r.tests.files.length} files)`);
      for (const f of r.tests.failures) lines.push(`    FAILED ${f}`);
      if (r.tests.fail || r.tests.exitCode !== 0) problems.push(`${r.tests.fail} kernel tests failed`);
    }
  }
  const ok = problems.length === 0;
  const head = `${leg.id}: ${ok ? 'PASS' : 'FAIL'}  ${leg.package ?? 'native'}${leg.release ? ` (${leg.release})` : ''}, ${(leg.ms / 60000).toFixed(1)} min`;
  return { ok, lines: [head, ...lines, ...problems.map((p) => `  problem: ${p}`)] };
}
