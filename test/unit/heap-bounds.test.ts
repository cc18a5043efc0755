// Every bounded table of user space, filled to its bound (and past it) at the
// same time, fits the heap `tcpwhy watch` really runs with: the flags are read
// from bin/tcpwhy, so a smaller heap there is tested here too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { BUDGETS, WORKING_SET_SHARE, type TableId } from '../../src/memory/budget.js';
import { fullMessage } from '../../src/memory/bounded.js';

/** The node flags bin/tcpwhy gives every command but analyze (watch above all). */
function watchHeapFlags(): string[] {
  const script = readFileSync(path.join(packageRoot, 'bin', 'tcpwhy'), 'utf8');
  const m = /^\s*\*\)\s*exec node (.*?) "\$main"/m.exec(script);
  assert.ok(m, 'bin/tcpwhy has an exec node line for watch');
  const flags = m[1]!.split(/\s+/);
  assert.ok(flags.some((f) => f.startsWith('--max-old-space-size=')));
  return flags;
}

test("every bounded table full at once fits watch's heap (bin/tcpwhy's flags)", (t) => {
  const flags = watchHeapFlags();
  const helper = path.join(packageRoot, 'dist', 'test', 'helpers', 'fill-bounds.js');
  const r = spawnSync(process.execPath, [...flags, '--expose-gc', helper], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `the child died (${r.signal ?? r.status}): ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout) as {
    limit: number;
    peak: number;
    final: number;
    tables: Record<TableId, { entries: number; bytes: number; budget: number }>;
    warnings: string[];
  };
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
  t.diagnostic(`node ${flags.join(' ')}: heap limit ${mb(out.limit)}, peak heap used ${mb(out.peak)}, all tables full ${mb(out.final)}`);
  for (const [id, v] of Object.entries(out.tables)) {
    t.diagnostic(`  ${id}: ${v.entries} entries retain ${mb(v.bytes)} (budget ${mb(v.budget)})`);
  }
  assert.ok(out.peak < out.limit, 'the peak stays under the limit');
  // the tables leave the working set its share, full as they are
  assert.ok(out.final <= out.limit * (1 - WORKING_SET_SHARE), `${mb(out.final)} retained of ${mb(out.limit)}`);
  for (const id of Object.keys(out.tables) as TableId[]) {
    const v = out.tables[id];
    // an estimate, not a measure: a table may take up to twice what its budget says
    assert.ok(v.bytes <= 2 * v.budget, `${id}: ${mb(v.bytes)} retained for a budget of ${mb(v.budget)}`);
  }
  // each table that tells its owner said so once (the namespace paths tell no one)
  const told = Object.keys(out.tables)
    .filter((id) => id !== 'netnsPaths')
    .map((id) => BUDGETS[id as TableId].name);
  assert.deepEqual(
    out.warnings.map((w) => w.replace(/ is full.*/, '')),
    told,
  );
  for (const w of out.warnings) assert.match(w, /^.+ is full \(\d+ entries\): forgetting the oldest$/);
  assert.equal(out.warnings[0], fullMessage(BUDGETS.hostSnapshots.name, out.tables.hostSnapshots.entries));
});
