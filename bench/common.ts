// What the benchmarks share: finding the repository, the tools they run and
// their versions, number formats, and writing their section of
// docs/benchmarks.md (each benchmark owns the text between its markers).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseWholeNumber } from '../src/text/number.js';

/** Something the benchmark cannot do on this machine, said in one message (exit 1). */
export class BenchError extends Error {}

export const TIME_BIN = '/usr/bin/time';

/** Progress lines on stderr, with the seconds since the benchmark started: `NAME [+12.3s]: msg`. */
export function progressLog(name: string): (msg: string) => void {
  const t0 = performance.now();
  return (msg) => process.stderr.write(`${name} [+${((performance.now() - t0) / 1000).toFixed(1)}s]: ${msg}\n`);
}

/** tcpwhy's checkout: the directory above this script (dist/bench or bench) whose package.json is tcpwhy's. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tcpwhy') return dir;
      } catch {
        /* not ours */
      }
    }
    dir = dirname(dir);
  }
  throw new BenchError('cannot find the tcpwhy repository (package.json) above this script');
}

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The first line a command prints about its version ('?' if it prints nothing). */
export function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')[0]!
      .trim();
  } catch (e) {
    const out = (e as { stdout?: string }).stdout ?? '';
    return out.split('\n')[0]!.trim() || '?';
  }
}

/** A file's text, or '' when it cannot be read (not written yet, deleted). */
export function readFileSafe(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

export function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

type StringOrFlag = { type: 'string' } | { type: 'boolean' };
type Values<O extends Record<string, StringOrFlag>> = { [K in keyof O]?: O[K] extends { type: 'string' } ? string : boolean };

/**
 * A benchmark's command line: `options` (no positionals), `--help` prints
 * `usage` and gives undefined, and a bad option is a BenchError that shows it.
 */
export function benchArgs<O extends Record<string, StringOrFlag>>(argv: string[], usage: string, options: O): Values<O> | undefined {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({ args: argv, strict: true, allowPositionals: false, options: { ...options, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (e) {
    throw new BenchError(`${(e as Error).message}\n${usage}`);
  }
  if (v['help']) {
    process.stdout.write(usage);
    return undefined;
  }
  return v as Values<O>;
}

/** A whole-number option: `def` when absent, else a whole number within [min, max]. */
export function wholeNumber(name: string, text: string | undefined, def: number, min: number, max: number): number {
  if (text === undefined) return def;
  const n = parseWholeNumber(text);
  if (n === null || n < min || n > max) throw new BenchError(`--${name} wants a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

/** 1234567 -> "1,234,567" */
export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * How much slower `phase` ran than the untraced phase of the same round, as
 * 1 - the median over rounds of their ratio. Paired by round: the three
 * phases of a round run within a minute, so the slow drift of a shared
 * machine (other tenants, a shape's own warm-up) cancels, where a ratio of
 * medians taken over all rounds keeps it. `rounds` are the rounds' own
 * slowdowns, to show how far the noise reaches.
 */
function pairedSlowdown(results: Array<{ round: number; phase: string; rate: number }>, phase: string): { slowdown: number; rounds: number[] } {
  const rounds: number[] = [];
  for (const r of results) {
    if (r.phase !== phase) continue;
    const none = results.find((n) => n.phase === 'none' && n.round === r.round);
    if (none && none.rate > 0) rounds.push(1 - r.rate / none.rate);
  }
  return { slowdown: rounds.length ? median(rounds) : Number.NaN, rounds };
}

/** tcpwhy's and the floor's slowdowns (pairedSlowdown), and tcpwhy's per round. */
export function slowdowns(results: Array<{ round: number; phase: string; rate: number }>): {
  slowdown: number;
  floorSlowdown: number;
  roundSlowdowns: number[];
} {
  const t = pairedSlowdown(results, 'tcpwhy');
  return { slowdown: t.slowdown, floorSlowdown: pairedSlowdown(results, 'floor').slowdown, roundSlowdowns: t.rounds };
}

const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`;

/** The median slowdown, and each round's when there are several: how far the noise reaches. */
export function slowdownText(s: { slowdown: number; roundSlowdowns: number[] }): string {
  const each = s.roundSlowdowns.length > 1 ? ` (rounds: ${s.roundSlowdowns.map((x) => signed(-x)).join(', ')})` : '';
  return `${signed(-s.slowdown)}${each}`;
}

/** A command line as it can be pasted into a shell. */
export function sh(args: string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in
 * docs/benchmarks.md with `section` (appends the block if the markers are
 * missing); `head` starts the file when there is none yet.
 */
export function writeSection(root: string, name: string, section: string, head: string): string {
  const file = join(root, 'docs', 'benchmarks.md');
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${section.trim()}\n${end}`;
  let text: string;
  if (existsSync(file)) {
    const old = readFileSync(file, 'utf8');
    const b = old.indexOf(begin);
    const e = old.indexOf(end);
    if (b >= 0 && e > b) text = old.slice(0, b) + block + old.slice(e + end.length);
    else text = `${old.trimEnd()}\n\n${block}\n`;
  } else {
    text = `${head}\n${block}\n`;
  }
  writeFileSync(file, text);
  return file;
}
