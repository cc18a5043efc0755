// The shared real captures (../shared/real-pcaps: other projects' test
// captures, recorded on other systems; its README and MANIFEST.tsv) against
// what tshark 4.0 flagged in them (tshark-4.0.json, so no tshark run is
// needed): every file is analyzed without a crash and exits as MANIFEST.tsv
// expects, its text report and --json agree; on the "gate" files the RSTs are
// tshark's, frame by frame, and the loss flags are too, within 2 % of the
// frames tshark flags (docs/capture.md, "Differences from Wireshark", lists
// what may differ). "Robust" files carry TCP inside encapsulations tcpwhy
// does not decode (yet): only crashes and exit codes count for them.
//
// The captures are never copied into this repository; CI has ../shared beside
// the clone. Without them the test fails: it does not skip.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { analyzeCapture } from '../../src/capture/analyze.js';
import type { LossCounts } from '../../src/capture/report.js';
import { packageRoot } from '../../src/paths.js';

const DATA = process.env.REAL_PCAPS_DIR ?? path.join(packageRoot, '..', 'shared', 'real-pcaps');
const MANIFEST = path.join(DATA, 'MANIFEST.tsv');
const TSHARK = path.join(DATA, 'tshark-4.0.json');
const bin = path.join(packageRoot, 'bin', 'tcpwhy');

/** The loss counts of the summary, with the tshark field each is compared with (as check.py does). */
const FLAGS: Array<keyof LossCounts> = ['retransmissions', 'fast_retransmissions', 'spurious_retransmissions', 'out_of_order', 'dup_acks', 'zero_windows'];

/** Frames whose loss flags may differ from tshark's, by file, each for a reason docs/capture.md gives (none today). */
const DOCUMENTED: Record<string, number[]> = {};

interface Row {
  file: string;
  scope: 'gate' | 'robust';
  expectExit: number;
}

interface Recorded {
  rst: number[];
  flags: Record<string, number[]>;
}

function manifest(): Row[] {
  const [head, ...rows] = readFileSync(MANIFEST, 'utf8').trim().split('\n');
  const cols = head!.split('\t');
  const at = (name: string) => {
    const i = cols.indexOf(name);
    assert.ok(i >= 0, `${MANIFEST} has no column ${name}`);
    return i;
  };
  const [file, scope, exit] = [at('file'), at('scope'), at('expect_exit')];
  return rows.map((r) => {
    const v = r.split('\t');
    assert.ok(v[scope] === 'gate' || v[scope] === 'robust', `${v[file]}: scope ${v[scope]}`);
    return { file: v[file]!, scope: v[scope] as 'gate' | 'robust', expectExit: Number(v[exit]) };
  });
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(bin, ['analyze', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(kill);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs `jobs` at most two at a time (the CLI is one process per run). */
async function twoAtATime<T>(jobs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

const STACK = /^\s+at \S|FATAL ERROR|node:internal|Uncaught|(Type|Range|Reference|Syntax)Error/m;

/** What is wrong with a run as a crash: exit 1 or a signal, a stack trace, a line that is not JSON, no summary. */
function crashOf(r: Run, json: boolean): string | null {
  if (r.signal !== null) return `killed by ${r.signal}`;
  if (r.code === 1 || r.code === null || r.code > 128) return `exit ${r.code}: ${r.stderr.trim().split('\n')[0]}`;
  if (STACK.test(r.stderr)) return `stack trace on stderr: ${r.stderr.trim().split('\n')[0]}`;
  if (json) {
    const lines = r.stdout.trim().split('\n');
    for (const [i, l] of lines.entries()) {
      try {
        JSON.parse(l);
      } catch {
        return `stdout line ${i + 1} is not JSON`;
      }
    }
    if ((JSON.parse(lines.at(-1)!) as { type?: string }).type !== 'summary') return 'no summary line at the end';
  }
  return null;
}

describe('the shared real captures, against tshark 4.0', () => {
  let rows: Row[] = [];
  let recorded: Record<string, Recorded> = {};
  const runs = new Map<string, { text: Run; json: Run }>();

  before(async () => {
    assert.ok(
      existsSync(MANIFEST) && existsSync(TSHARK),
      `the shared real captures are missing: no ${MANIFEST} or ${TSHARK} (they live beside the checkout in ../shared/real-pcaps, ` +
        'or where REAL_PCAPS_DIR says; CI has them)',
    );
    rows = manifest();
    recorded = JSON.parse(readFileSync(TSHARK, 'utf8')) as Record<string, Recorded>;
    const jobs = rows.flatMap((r) => {
      const file = path.join(DATA, r.file);
      return [async () => ({ r, json: true, run: await cli([file, '--json', '--loss-frames']) }), async () => ({ r, json: false, run: await cli([file]) })];
    });
    for (const { r, json, run } of await twoAtATime(jobs)) {
      const e = runs.get(r.file) ?? ({} as { text: Run; json: Run });
      if (json) e.json = run;
      else e.text = run;
      runs.set(r.file, e);
    }
  });

  test('every capture of MANIFEST.tsv is there, with its tshark flags', () => {
    assert.ok(rows.length > 0, 'MANIFEST.tsv lists no capture');
    for (const r of rows) {
      assert.ok(existsSync(path.join(DATA, r.file)), `${r.file} is missing from ${DATA}`);
      assert.ok(recorded[r.file], `${r.file} has no entry in tshark-4.0.json`);
    }
  });

  test('no crash, the exit code MANIFEST.tsv expects, text and --json agree', () => {
    const problems: string[] = [];
    for (const r of rows) {
      const { text, json } = runs.get(r.file)!;
      for (const [mode, run] of [
        ['text', text],
        ['--json', json],
      ] as const) {
        const crash = crashOf(run, mode === '--json');
        if (crash) problems.push(`${r.file} (${mode}): ${crash}`);
        else if (run.code !== r.expectExit)
          problems.push(`${r.file} (${mode}): exit ${run.code}, expected ${r.expectExit}: ${run.stderr.trim().split('\n')[0]}`);
      }
      if (crashOf(json, true)) continue;
      const lines = json.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; resets?: number });
      const summary = lines.at(-1)!;
      const resetLines = lines.filter((l) => l.type === 'reset').length;
      if (resetLines !== summary.resets) problems.push(`${r.file}: ${resetLines} reset lines, summary.resets ${summary.resets}`);
      const m = /^RSTs: (\d+)/m.exec(text.stdout);
      if (!m) problems.push(`${r.file}: the text report has no "RSTs: N" line`);
      else if (Number(m[1]) !== summary.resets) problems.push(`${r.file}: text says RSTs: ${m[1]}, --json ${summary.resets}`);
    }
    assert.deepEqual(problems, []);
  });

  test("gate files: the RSTs and the loss flags are tshark's (loss within 2 % of the frames tshark flags, frame by frame)", async () => {
    const problems: string[] = [];
    const report: string[] = [];
    for (const r of rows.filter((x) => x.scope === 'gate')) {
      const ts = recorded[r.file]!;
      const rsts: number[] = [];
      const lossFrames = new Set<number>();
      const a = await analyzeCapture(path.join(DATA, r.file), {
        allLossFrames: true,
        onReset: (x) => rsts.push(x.frame),
        onConn: (c) => {
          for (const f of [...c.loss_frames.client, ...c.loss_frames.server]) lossFrames.add(f);
        },
      });
      // resets: the count and the frames
      rsts.sort((x, y) => x - y);
      if (a.resets !== ts.rst.length) problems.push(`${r.file}: ${a.resets} RSTs, tshark ${ts.rst.length}`);
      else
        assert.deepEqual(
          rsts,
          [...ts.rst].sort((x, y) => x - y),
          `${r.file}: RST frames`,
        );
      // loss: the counts of each flag, and the frames flagged with any
      const flagged = new Set(FLAGS.flatMap((k) => ts.flags[k] ?? []));
      const countDiff = FLAGS.reduce((s, k) => s + Math.abs(a.loss[k] - (ts.flags[k]?.length ?? 0)), 0);
      const allowed = new Set(DOCUMENTED[r.file] ?? []);
      const extra = [...lossFrames].filter((f) => !flagged.has(f) && !allowed.has(f)).sort((x, y) => x - y);
      const missing = [...flagged].filter((f) => !lossFrames.has(f) && !allowed.has(f)).sort((x, y) => x - y);
      const limit = 0.02 * flagged.size;
      report.push(`${r.file}: loss count diff ${countDiff}, frames ${extra.length} extra / ${missing.length} missing of ${flagged.size}`);
      if (a.loss_frames_omitted) problems.push(`${r.file}: ${a.loss_frames_omitted} loss frames not listed`);
      if (countDiff > limit)
        problems.push(
          `${r.file}: loss counts differ by ${countDiff} over ${flagged.size} flagged frames: ${FLAGS.map((k) => `${k} ${a.loss[k]}/${ts.flags[k]?.length ?? 0}`).join(', ')}`,
        );
      if (extra.length + missing.length > limit)
        problems.push(
          `${r.file}: loss frames differ: tcpwhy only ${extra.slice(0, 10).join(' ')}; tshark only ${missing.slice(0, 10).join(' ')} (of ${flagged.size})`,
        );
    }
    assert.deepEqual(problems, [], report.join('\n'));
  });
});
