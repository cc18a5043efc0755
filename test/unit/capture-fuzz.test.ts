// Bounded fuzzing of the capture reader and decoder: valid captures from
// test/helpers/capture-build.ts (tunnels and encapsulations among them), each
// mutated once (random bytes, bytes inside a packet, truncation, huge or zero
// length fields in record and block headers, a
// wrong block trailer, spliced bytes, header fields, damaged gzip), then read.
//
// Properties, for every case:
// - readCapture resolves, or throws a CaptureError at offset 0 (the file is no
//   capture at all) before any frame; nothing else is ever thrown
// - it never hangs: the cases run in a worker thread and a case that makes no
//   progress for CASE_LIMIT_MS is stopped and reported
// - frames delivered <= stream length / 16 (the smallest record: a pcap record
//   header, an SPB), numbered 1, 2, ..., each inside its buffer, file offsets rising
// - summary.frames is what was delivered; summary.error, when set, is a
//   CaptureError whose message names the byte offset, inside the stream
// - decodeTcp never throws on a delivered frame
// - memory stays bounded although length fields say 0xFFFFFFF0: RSS grows by
//   less than 200 MB over the whole run
//
// CAPTURE_FUZZ_SEED and CAPTURE_FUZZ_CASES override the defaults; a failing case
// names its seed and index and keeps its input file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FuzzInput, FuzzMessage } from '../helpers/capture-fuzz-worker.js';

const SEED = Number(process.env.CAPTURE_FUZZ_SEED ?? 0x7c9a_2026);
const CASES = Number(process.env.CAPTURE_FUZZ_CASES ?? 300);
/** A case that reports nothing for this long is stuck. */
const CASE_LIMIT_MS = 5_000;
/** The whole run: a few seconds normally; this is the ceiling. */
const TOTAL_LIMIT_MS = 60_000;
const MAX_GROWTH = 200 << 20;

interface Failure {
  what: string;
  file: string;
  problems: string[];
}

test(`fuzzed captures: ${CASES} mutated files, seed ${SEED}`, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-capture-fuzz-'));
  const rss0 = process.memoryUsage().rss;
  const started = performance.now();
  const failures: Failure[] = [];
  let peakRss = rss0;
  let peakExternal = 0;
  let slowest = { ms: 0, what: '' };
  let stuck: string | null = null;
  let end: Extract<FuzzMessage, { type: 'end' }> | null = null;

  const input: FuzzInput = { seed: SEED, cases: CASES, dir };
  const worker = new Worker(new URL('../helpers/capture-fuzz-worker.js', import.meta.url), { workerData: input });
  await new Promise<void>((resolve, reject) => {
    let current = 'starting the worker';
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stuck = current;
        void worker.terminate();
      }, CASE_LIMIT_MS);
    };
    arm();
    const total = setTimeout(() => {
      stuck = `the whole run exceeded ${TOTAL_LIMIT_MS} ms (at ${current})`;
      void worker.terminate();
    }, TOTAL_LIMIT_MS);
    worker.on('message', (m: FuzzMessage) => {
      arm();
      switch (m.type) {
        case 'start':
          current = m.what;
          break;
        case 'done':
          peakRss = Math.max(peakRss, m.rss);
          peakExternal = Math.max(peakExternal, m.external);
          if (m.ms > slowest.ms) slowest = { ms: m.ms, what: current };
          break;
        case 'fail':
          failures.push({ what: m.what, file: m.file, problems: m.problems });
          break;
        case 'end':
          end = m;
          break;
      }
    });
    worker.on('error', (e) => {
      clearTimeout(timer);
      clearTimeout(total);
      reject(new Error(`fuzz worker died at ${current}: ${e.stack ?? String(e)}`));
    });
    worker.on('exit', () => {
      clearTimeout(timer);
      clearTimeout(total);
      resolve();
    });
  });

  const elapsed = performance.now() - started;
  const done = end as Extract<FuzzMessage, { type: 'end' }> | null;
  t.diagnostic(
    `${elapsed.toFixed(0)} ms; outcomes ${JSON.stringify(done?.outcomes ?? {})}; most frames ${done?.maxFrames ?? '?'}; ` +
      `slowest case ${slowest.ms.toFixed(1)} ms (${slowest.what}); RSS +${((peakRss - rss0) / 1048576).toFixed(1)} MB, ` +
      `array buffers peak ${(peakExternal / 1048576).toFixed(1)} MB`,
  );
  const report = failures
    .slice(0, 10)
    .map((f) => `${f.what}\n  input kept: ${f.file}\n  ${f.problems.slice(0, 3).join('\n  ')}`)
    .join('\n');
  if (!failures.length && !stuck) rmSync(dir, { recursive: true, force: true });

  assert.equal(stuck, null, `the reader stopped making progress: ${stuck} (inputs in ${dir})`);
  assert.ok(done, 'the worker ended without finishing its cases');
  assert.equal(failures.length, 0, `${failures.length} of ${CASES} cases broke a property:\n${report}`);
  assert.ok(peakRss - rss0 < MAX_GROWTH, `RSS grew by ${((peakRss - rss0) / 1048576).toFixed(0)} MB`);
  assert.ok(peakExternal < MAX_GROWTH, `array buffers reached ${(peakExternal / 1048576).toFixed(0)} MB`);
});
