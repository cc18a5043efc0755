// The tracers a live benchmark runs beside its load: tcpwhy as users start it, or
// a counting-only bpftrace floor, each under /usr/bin/time with stdout in a file;
// started and attached before the load, stopped with SIGINT after it, their CPU
// and peak memory measured.
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSafe, TIME_BIN } from './common.js';
import { childOfTime, parseTime, type Proc, sampleTracer, sampleUsage, start, stopAndWait, TIME_FORMAT, type Usage, waitFor } from './procs.js';

const READY_TIMEOUT_MS = 30_000;
/** how long a tracer may take to exit after SIGINT (it writes its summary first) */
export const STOP_TIMEOUT_MS = 60_000;

/**
 * bpftrace finds tracepoints through tracefs. A machine without it mounted runs
 * bpftrace in a private mount namespace with tracefs mounted there: the host's
 * mounts stay as they are, and bpftrace keeps the pid the benchmark samples
 * (unshare and sh exec it). As bench/rst-flood.ts does.
 */
export function bpftraceCommand(script: string): string[] {
  const plain = ['bpftrace', '-e', script];
  if (['/sys/kernel/tracing/events', '/sys/kernel/debug/tracing/events'].some((d) => existsSync(d))) return plain;
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tracefs nodev /sys/kernel/tracing && exec bpftrace -e "$0"', script];
}

export interface Tracer {
  name: string;
  proc: Proc;
  /** the traced command's pid (the child of /usr/bin/time) */
  pid: number;
  outFile: string;
  timeFile: string;
}

/**
 * Starts `cmd` (tcpwhy or bpftrace: `kind`) under /usr/bin/time, stdout to
 * DIR/NAME-TAG.out, and waits until it has attached: tcpwhy says so on stderr,
 * bpftrace prints "Attaching N probes..." on stdout.
 */
export async function startTracer(dir: string, name: string, kind: 'tcpwhy' | 'bpftrace', cmd: string[], tag: string): Promise<Tracer> {
  const outFile = join(dir, `${name}-${tag}.out`);
  const timeFile = join(dir, `${name}-${tag}.time`);
  const fd = openSync(outFile, 'w');
  let proc: Proc;
  try {
    proc = start(TIME_BIN, ['-f', TIME_FORMAT, '-o', timeFile, ...cmd], fd);
  } finally {
    closeSync(fd);
  }
  const pid = await childOfTime(proc);
  const ready = kind === 'tcpwhy' ? () => /tcpwhy: watching/.test(proc.stderr()) : () => readFileSafe(outFile).includes('Attaching');
  await waitFor(`${name} attaching`, ready, READY_TIMEOUT_MS, proc);
  return { name, proc, pid, outFile, timeFile };
}

/** The first telling line of a tracer that died: V8's fatal error if there is one. */
export function deathNote(t: Tracer): string {
  const err = t.proc.stderr();
  const fatal = /FATAL ERROR:[^\n]*/.exec(err)?.[0];
  const last = err.trim().split('\n').pop() ?? '';
  return fatal ?? (last || 'no message');
}

/** A tracer's CPU just before the load (it must still be running). */
export function usageBefore(t: Tracer): Usage {
  return sampleTracer(t.name, t.proc, t.pid);
}

export interface TracerEnd {
  /** it exited during the load, or not cleanly at SIGINT */
  died?: string;
  /** CPU from `before` to just before SIGINT */
  cpuLoadSec?: number;
  /** its whole life (/usr/bin/time) */
  cpuTotalSec?: number;
  peakRssKb?: number;
}

/**
 * After the load: waits `drainMs` (events still in the ring buffer), samples the
 * tracer, stops it with SIGINT and reads its resource usage.
 */
export async function stopTracer(t: Tracer, before: Usage, drainMs: number, log: (msg: string) => void): Promise<TracerEnd> {
  await sleep(drainMs);
  const r: TracerEnd = {};
  let u1: Usage | undefined;
  try {
    if (!t.proc.isDone()) u1 = sampleUsage(t.pid);
  } catch {
    /* exited just now */
  }
  if (!u1) {
    await t.proc.exited.catch(() => undefined);
    r.died = deathNote(t);
    log(`  ${t.name} died during the load: ${r.died}`);
  } else {
    const res = await stopAndWait(t.proc, 'SIGINT', STOP_TIMEOUT_MS, t.pid);
    if (res.code !== 0) r.died = `exited with ${res.code ?? res.signal} at SIGINT: ${deathNote(t)}`;
    r.cpuLoadSec = u1.cpuSec - before.cpuSec;
  }
  try {
    const tm = parseTime(t.timeFile);
    r.cpuTotalSec = tm.cpuSec;
    r.peakRssKb = Math.max(tm.maxRssKb, u1?.hwmKb ?? 0);
  } catch {
    if (u1) r.peakRssKb = u1.hwmKb;
  }
  return r;
}

/** A counting bpftrace's maps as printed at exit (`@name: N`). */
export function floorCounts(t: Tracer): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of readFileSafe(t.outFile).matchAll(/^@(\w+): (\d+)$/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}
