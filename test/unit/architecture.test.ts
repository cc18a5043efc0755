// The layout the docs promise, checked on the real import graph (read by
// dependency-cruiser, type-only imports included): no import cycle between
// modules or between the folders of src/, and the layers import downwards only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot as repoRoot } from '../../src/paths.js';

interface Module {
  source: string;
  dependencies: Array<{ resolved: string; coreModule: boolean; couldNotResolve: boolean }>;
}

function importGraph(): Map<string, string[]> {
  const bin = path.join(repoRoot, 'node_modules', '.bin', 'depcruise');
  const r = spawnSync(
    bin,
    [
      'src',
      'test',
      'bench',
      'scripts',
      '--no-config',
      '--ts-config',
      'tsconfig.json',
      '--ts-pre-compilation-deps',
      '--output-type',
      'json',
      '--exclude',
      '^(node_modules|dist)/',
    ],
    { cwd: repoRoot, encoding: 'utf8', maxBuffer: 256 << 20 },
  );
  assert.equal(r.status, 0, r.stderr);
  const modules = (JSON.parse(r.stdout) as { modules: Module[] }).modules;
  const unresolved = modules.flatMap((m) => m.dependencies.filter((d) => d.couldNotResolve).map((d) => `${m.source} -> ${d.resolved}`));
  assert.deepEqual(unresolved, [], 'every import resolves');
  return new Map(modules.map((m) => [m.source, m.dependencies.filter((d) => !d.coreModule && !d.resolved.startsWith('node_modules/')).map((d) => d.resolved)]));
}

/** Strongly connected components with more than one member (Tarjan), or a member importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let n = 0;
  const visit = (v: string): void => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** src/<folder>/x.ts -> src/<folder>; files directly under src/ stay themselves */
const folderOf = (f: string) => (/^src\/[^/]+\//.test(f) ? f.split('/').slice(0, 2).join('/') : f);

const graph = importGraph();

test('no import cycle between modules', () => {
  assert.deepEqual(cycles(graph), []);
});

test('no import cycle between the folders of src/', () => {
  const folders = new Map<string, Set<string>>();
  for (const [from, tos] of graph) {
    if (!from.startsWith('src/')) continue;
    const f = folderOf(from);
    const set = folders.get(f) ?? new Set<string>();
    for (const to of tos) if (to.startsWith('src/') && folderOf(to) !== f) set.add(folderOf(to));
    folders.set(f, set);
  }
  const g = new Map([...folders].map(([k, v]) => [k, [...v]]));
  const found = cycles(g).map((c) => c.map((f) => `${f} -> ${c.filter((t) => g.get(f)!.includes(t)).join(', ')}`));
  assert.deepEqual(found, []);
});

test('layers import downwards: src never imports test or bench, and only the command line imports src/cli', () => {
  const bad: string[] = [];
  for (const [from, tos] of graph) {
    for (const to of tos) {
      if (from.startsWith('src/') && (to.startsWith('test/') || to.startsWith('bench/'))) bad.push(`${from} -> ${to}`);
      if (to.startsWith('src/cli/') && from.startsWith('src/') && !from.startsWith('src/cli/')) bad.push(`${from} -> ${to}`);
    }
  }
  assert.deepEqual(bad, []);
});
