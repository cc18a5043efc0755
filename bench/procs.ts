// The processes a live benchmark starts: each one registered so that an exit or a
// signal kills it, its stderr kept (bounded) for error messages, and a tracer's CPU
// and memory read from /proc or from /usr/bin/time around it.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError, TIME_BIN } from './common.js';

const started = new Set<ChildProcess>();
// grandchildren, e.g. the command under /usr/bin/time: killing time does not kill them
const extraPids = new Set<number>();

/** Kills everything still running that this module started (idempotent). */
export function killStarted(): void {
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  extraPids.clear();
  for (const c of started) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  started.clear();
}

export function startedPids(): number[] {
  return [...[...started].map((c) => c.pid ?? 0), ...extraPids];
}

/**
 * Makes `name`'s way out kill what it started and then run `more` (e.g. delete its
 * namespaces), on a normal exit as on SIGINT, SIGTERM or SIGHUP, so that a benchmark
 * stopped by hand leaves nothing behind. Returns that cleanup for finally blocks
 * and error handlers; it must be idempotent.
 */
export function cleanupOnExit(name: string, more: () => void): () => void {
  const cleanup = () => {
    killStarted();
    more();
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`${name}: ${sig}, cleaning up\n`);
      cleanup();
      process.exit(1);
    });
  }
  return cleanup;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<Exit>;
  isDone: () => boolean;
}

const KEEP = 1_000_000;

/**
 * Starts `cmd`; stdout 'pipe' keeps it (bounded) in memory, 'stream' leaves the pipe
 * to the caller (child.stdout: a fast reader must not pay for a copy), a number is a
 * file descriptor.
 */
export function start(cmd: string, args: string[], stdout: 'ignore' | 'pipe' | 'stream' | number = 'ignore'): Proc {
  const stdio: StdioOptions = ['ignore', stdout === 'stream' ? 'pipe' : stdout, 'pipe'];
  const child = spawn(cmd, args, { stdio });
  started.add(child);
  let err = '';
  let out = '';
  let done = false;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    err += s;
    if (err.length > KEEP) err = err.slice(-KEEP / 2);
  });
  if (stdout === 'pipe') {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      out += s;
      if (out.length > KEEP) out = out.slice(-KEEP / 2);
    });
  }
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', (e) => {
      done = true;
      started.delete(child);
      reject(new BenchError(`cannot run ${cmd}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      done = true;
      started.delete(child);
      resolve({ code, signal });
    });
  });
  exited.catch(() => undefined); // handled by whoever awaits it
  if (child.pid === undefined) throw new BenchError(`cannot run ${cmd}`);
  return { child, pid: child.pid, stderr: () => err, stdout: () => out, exited, isDone: () => done };
}

/** Polls `ok` every 20 ms until it holds; fails when `proc` exits first or time runs out. */
export async function waitFor(what: string, ok: () => boolean, timeoutMs: number, proc?: Proc): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (ok()) return;
    if (proc?.isDone()) {
      await proc.exited.catch(() => undefined);
      if (ok()) return;
      throw new BenchError(`${what}: the process exited first; its stderr:\n${proc.stderr().slice(-2000)}`);
    }
    if (performance.now() > deadline) throw new BenchError(`${what}: timed out after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Sends `signal` (to `signalPid`, the process itself by default) and waits for the exit; SIGKILL and a BenchError after `timeoutMs`. */
export async function stopAndWait(proc: Proc, signal: NodeJS.Signals, timeoutMs: number, signalPid = proc.pid): Promise<Exit> {
  try {
    process.kill(signalPid, signal);
  } catch {
    /* exited already */
  }
  // ref: false so that a pending timeout does not keep the benchmark alive after the child exited
  const res = await Promise.race([proc.exited, sleep(timeoutMs, undefined, { ref: false })]);
  if (!res) {
    proc.child.kill('SIGKILL');
    if (signalPid !== proc.pid) {
      try {
        process.kill(signalPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    throw new BenchError(`${proc.child.spawnfile} did not exit within ${timeoutMs} ms of ${signal}`);
  }
  extraPids.delete(signalPid);
  return res;
}

/** Waits for a process that stops by itself; SIGKILL and a BenchError after `timeoutMs`. */
export async function waitExit(proc: Proc, what: string, timeoutMs: number): Promise<Exit> {
  const res = await Promise.race([proc.exited, sleep(timeoutMs, undefined, { ref: false })]);
  if (!res) {
    proc.child.kill('SIGKILL');
    throw new BenchError(`${what} did not finish within ${timeoutMs} ms; its stderr:\n${proc.stderr().slice(-2000)}`);
  }
  return res;
}

function statFields(pid: number): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' '); // [0] is field 3 (state)
}

/** The child /usr/bin/time forked, once it has exec'd its command. */
export async function childOfTime(timeProc: Proc): Promise<number> {
  const timeExe = realpathSync(TIME_BIN);
  let found: number | undefined;
  await waitFor(
    'finding the traced command under /usr/bin/time',
    () => {
      for (const name of readdirSync('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        try {
          if (Number(statFields(Number(name))[1]) !== timeProc.pid) continue;
          if (readlinkSync(`/proc/${name}/exe`) === timeExe) continue; // not exec'd yet
          found = Number(name);
          return true;
        } catch {
          /* raced with an exit */
        }
      }
      return false;
    },
    5000,
    timeProc,
  );
  extraPids.add(found!);
  return found!;
}

export interface Usage {
  cpuSec: number;
  rssKb: number;
  hwmKb: number;
}

let clkTck = 100;

export function setClockTicks(n: number): void {
  if (n > 0) clkTck = n;
}

export function sampleUsage(pid: number): Usage {
  const f = statFields(pid);
  const cpuSec = (Number(f[11]) + Number(f[12])) / clkTck; // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { cpuSec, rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

/** sampleUsage of a tracer that must still be running (`during`: what it was tracing, for the error). */
export function sampleTracer(name: string, p: Proc, pid: number, during = 'the load'): Usage {
  try {
    if (!p.isDone()) return sampleUsage(pid);
  } catch {
    /* exited between the check and the read */
  }
  throw new BenchError(`${name} exited during ${during}; its stderr:\n${p.stderr().slice(-2000)}`);
}

export const TIME_FORMAT = 'TIMEBENCH user=%U sys=%S maxrss_kb=%M elapsed=%e';

export function parseTime(file: string): { cpuSec: number; maxRssKb: number; elapsedSec: number } {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const m = /TIMEBENCH user=([\d.]+) sys=([\d.]+) maxrss_kb=(\d+) elapsed=([\d.]+)/.exec(text);
  if (!m) throw new BenchError(`no resource usage from ${TIME_BIN} (${JSON.stringify(text.slice(0, 300))})`);
  return { cpuSec: Number(m[1]) + Number(m[2]), maxRssKb: Number(m[3]), elapsedSec: Number(m[4]) };
}
