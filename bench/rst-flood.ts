#!/usr/bin/env node
// Benchmark: the cost of tracing a flood of TCP resets.
//
// In a fresh network namespace, hping3 floods a closed port on 127.0.0.1 with SYNs
// for a fixed time; the kernel answers every SYN with a RST. Three phases of the same
// length run in one invocation:
//   none      no tracer
//   tcpwhy    `tcpwhy watch --json --full-per-key 0 --full-rate 0 --netns NS > /dev/null`: every
//             RST shown in full, the path a user takes who asks for all of them (by
//             default a storm is counted in the kernel and shown in part: live-load.ts)
//   bpftrace  `bpftrace -e 'tracepoint:tcp:tcp_send_reset { printf(...) }' > FILE`
// For each phase it reports the RSTs the kernel sent (Tcp: OutRsts delta of the
// namespace), their rate, the rate change against the untraced phase, the events the
// tracer captured and captured/sent; for the tracers CPU time and peak RSS.
//
// Usage: node dist/bench/rst-flood.js [--seconds N] [--rounds N] [--port N] [--write]
//   --write  also rewrites the marked section of docs/benchmarks.md
// Exit code: 0 when the benchmark ran (whether or not the targets were met), 1 when
// something could not run (not root, hping3/bpftrace missing, a tracer failed, ...).
//
// Safety: it only creates one namespace (tcpwhy-bench-RANDOM), sends traffic only to
// 127.0.0.1 inside it, changes nothing in the root namespace, and deletes the namespace
// and kills what it started on the way out (finally block and process 'exit' hook).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { inNs, ip, parseSnmp } from '../src/lab/netns.js';
import { benchArgs, BenchError, int, loadavg, progressLog, repoRoot, sh, TIME_BIN, version, which, wholeNumber, writeSection } from './common.js';
import {
  childOfTime,
  cleanupOnExit,
  parseTime,
  type Proc,
  sampleTracer,
  setClockTicks,
  start,
  startedPids,
  stopAndWait,
  TIME_FORMAT,
  waitFor,
} from './procs.js';

// ---------------------------------------------------------------------------------
// Settings

const TARGET_CAPTURE = 0.999; // events captured / RSTs sent
const TARGET_SLOWDOWN = 0.1; // at most 10 % fewer RSTs per second than without a tracer
const TARGET_RSS_MB = 150; // peak RSS of tcpwhy, MB = 10^6 bytes
const SETTLE_MS = 500; // after the flood stops, before reading OutRsts (loopback backlog drains)
const DRAIN_MS = 1000; // after the flood stops, before stopping a tracer
const READY_TIMEOUT_MS = 30_000; // a tracer must attach within this
const STOP_TIMEOUT_MS = 60_000; // a tracer must exit within this after SIGINT
const CHECK_SECONDS = 1; // the short direction/kind check run
const BPFTRACE_SCRIPT = 'tracepoint:tcp:tcp_send_reset { printf("%d %s %d\\n", pid, comm, args->state); }';

/**
 * bpftrace finds tracepoints through tracefs. A machine without it mounted
 * (one without systemd may have none) runs bpftrace in a private mount
 * namespace with tracefs mounted there: the host's mounts stay as they are,
 * and bpftrace keeps the pid the benchmark samples (unshare and sh exec it).
 */
function bpftraceCommand(): string[] {
  const plain = ['bpftrace', '-e', BPFTRACE_SCRIPT];
  if (['/sys/kernel/tracing/events', '/sys/kernel/debug/tracing/events'].some((d) => existsSync(d))) return plain;
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tracefs nodev /sys/kernel/tracing && exec bpftrace -e "$0"', BPFTRACE_SCRIPT];
}

const progress = progressLog('rst-flood');

// ---------------------------------------------------------------------------------
// Options

interface Options {
  seconds: number;
  rounds: number;
  port: number;
  write: boolean;
}

const USAGE = `usage: node dist/bench/rst-flood.js [--seconds N] [--rounds N] [--port N] [--write]
  --seconds N  length of each flood phase (default 5, 1..600)
  --rounds N   repeat the three phases N times, rotating their order (default 1, 1..20)
  --port N     the closed port to flood (default 4242)
  --write      also rewrite the rst-flood section of docs/benchmarks.md
`;

function parseOptions(argv: string[]): Options | undefined {
  const v = benchArgs(argv, USAGE, { seconds: { type: 'string' }, rounds: { type: 'string' }, port: { type: 'string' }, write: { type: 'boolean' } });
  if (!v) return undefined;
  return {
    seconds: wholeNumber('seconds', v.seconds, 5, 1, 600),
    rounds: wholeNumber('rounds', v.rounds, 1, 1, 20),
    port: wholeNumber('port', v.port, 4242, 1, 65535),
    write: v.write ?? false,
  };
}

// ---------------------------------------------------------------------------------
// Cleanup: the namespace, the temporary directory, the processes started

let liveNs: string | undefined;
let liveTmp: string | undefined;

const cleanup = cleanupOnExit('rst-flood', () => {
  if (liveNs) {
    try {
      execFileSync('ip', ['netns', 'del', liveNs], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    liveNs = undefined;
  }
  if (liveTmp) {
    rmSync(liveTmp, { recursive: true, force: true });
    liveTmp = undefined;
  }
});

// ---------------------------------------------------------------------------------
// The flood

function outRsts(ns: string): number {
  const v = parseSnmp(inNs(ns, 'cat', ['/proc/net/snmp'])).Tcp?.OutRsts;
  if (v === undefined || !Number.isFinite(v)) throw new BenchError(`no Tcp: OutRsts in /proc/net/snmp of ${ns}`);
  return v;
}

interface Flood {
  rsts: number;
  seconds: number;
}

async function flood(ns: string, port: number, seconds: number): Promise<Flood> {
  const before = outRsts(ns);
  const t0 = performance.now();
  const h = start('ip', ['netns', 'exec', ns, 'hping3', '-S', '-p', String(port), '--flood', '127.0.0.1'], 'ignore');
  // `ip netns exec` execs hping3, so h.pid is hping3's pid.
  await Promise.race([h.exited, sleep(seconds * 1000)]);
  if (h.isDone()) {
    throw new BenchError(`hping3 stopped before the end of the flood; its stderr:\n${h.stderr().slice(-2000)}`);
  }
  await stopAndWait(h, 'SIGINT', 10_000);
  const t1 = performance.now();
  await sleep(SETTLE_MS);
  const rsts = outRsts(ns) - before;
  if (rsts <= 0) throw new BenchError(`the flood produced no RSTs (OutRsts did not move); hping3 stderr:\n${h.stderr().slice(-2000)}`);
  return { rsts, seconds: (t1 - t0) / 1000 };
}

// ---------------------------------------------------------------------------------
// Phases

type PhaseName = 'none' | 'tcpwhy' | 'bpftrace';

interface PhaseResult extends Flood {
  phase: PhaseName;
  round: number;
  events?: number;
  lost?: number;
  lostDetail?: string;
  ringbufFull?: number;
  nested?: number;
  stacksLost?: number;
  stacksSkipped?: number;
  cpuFloodSec?: number; // CPU from just before the flood to just before SIGINT
  cpuTotalSec?: number; // whole process lifetime (/usr/bin/time)
  peakRssKb?: number;
}

async function phaseNone(ns: string, o: Options, round: number): Promise<PhaseResult> {
  return { phase: 'none', round, ...(await flood(ns, o.port, o.seconds)) };
}

const SUMMARY_RE =
  /tcpwhy: (\d+) events; (\d+) events lost \(ring buffer full: (\d+), nested in another tcpwhy program: (\d+)\); stacks not captured: (\d+) over the rate limit, (\d+) lost/;

/**
 * The part both tracer phases share: the tracer (under /usr/bin/time) attaches,
 * the flood runs, the tracer drains and is stopped with SIGINT; its CPU is
 * sampled just before the flood and just before the stop.
 */
async function floodUnderTracer(name: string, p: Proc, attached: () => boolean, ns: string, o: Options) {
  const pid = await childOfTime(p);
  await waitFor(`${name} attaching`, attached, READY_TIMEOUT_MS, p);
  progress(`  ${name} attached, flooding`);
  const u0 = sampleTracer(name, p, pid, 'the flood');
  const f = await flood(ns, o.port, o.seconds);
  await sleep(DRAIN_MS);
  const u1 = sampleTracer(name, p, pid, 'the flood');
  progress('  flood done, stopping the tracer');
  const res = await stopAndWait(p, 'SIGINT', STOP_TIMEOUT_MS, pid);
  return { f, u0, u1, res };
}

async function phaseTcpwhy(ns: string, o: Options, round: number, cli: string, tmp: string): Promise<PhaseResult> {
  const timeFile = join(tmp, `time-tcpwhy-${round}.txt`);
  const devNull = openSync('/dev/null', 'w');
  let p: Proc;
  try {
    p = start(TIME_BIN, ['-f', TIME_FORMAT, '-o', timeFile, cli, 'watch', '--json', '--full-per-key', '0', '--full-rate', '0', '--netns', ns], devNull);
  } finally {
    closeSync(devNull);
  }
  const { f, u0, u1, res } = await floodUnderTracer('tcpwhy', p, () => /tcpwhy: watching TCP resets via/.test(p.stderr()), ns, o);
  const err = p.stderr();
  if (res.code !== 0) throw new BenchError(`tcpwhy exited with ${res.code ?? res.signal}; its stderr:\n${err.slice(-2000)}`);
  const m = SUMMARY_RE.exec(err);
  if (!m) throw new BenchError(`no summary line on tcpwhy's stderr:\n${err.slice(-2000)}`);
  const t = parseTime(timeFile);
  return {
    phase: 'tcpwhy',
    round,
    ...f,
    events: Number(m[1]),
    lost: Number(m[2]),
    lostDetail: `ring buffer full ${m[3]}, nested ${m[4]}; stacks over the rate limit ${m[5]}, lost ${m[6]}`,
    ringbufFull: Number(m[3]),
    nested: Number(m[4]),
    stacksSkipped: Number(m[5]),
    stacksLost: Number(m[6]),
    cpuFloodSec: u1.cpuSec - u0.cpuSec,
    cpuTotalSec: t.cpuSec,
    peakRssKb: Math.max(t.maxRssKb, u1.hwmKb),
  };
}

async function phaseBpftrace(ns: string, o: Options, round: number, tmp: string): Promise<PhaseResult> {
  const timeFile = join(tmp, `time-bpftrace-${round}.txt`);
  const outFile = join(tmp, `bpftrace-${round}.out`);
  const fd = openSync(outFile, 'w');
  let p: Proc;
  try {
    p = start(TIME_BIN, ['-f', TIME_FORMAT, '-o', timeFile, ...bpftraceCommand()], fd);
  } finally {
    closeSync(fd);
  }
  // "Attaching 1 probe..." goes to stdout (the file) once the probe is attached.
  const { f, u0, u1, res } = await floodUnderTracer('bpftrace', p, () => readFileSync(outFile, 'utf8').includes('Attaching'), ns, o);
  if (res.code !== 0) throw new BenchError(`bpftrace exited with ${res.code ?? res.signal}; its stderr:\n${p.stderr().slice(-2000)}`);
  // Count the printf lines: "PID COMM STATE". Skip "Attaching ...", blank lines and "Lost N events".
  const out = readFileSync(outFile);
  let events = 0;
  let lost = 0;
  let pos = 0;
  for (let n = 0; pos < out.length && n < 1e9; n++) {
    let end = out.indexOf(10, pos);
    if (end < 0) end = out.length;
    const len = end - pos;
    if (len > 0) {
      const first = out[pos]!;
      if (first >= 0x30 && first <= 0x39) events++;
      else {
        const line = out.toString('utf8', pos, end);
        const lm = /Lost (\d+) events/.exec(line);
        if (lm) lost += Number(lm[1]);
      }
    }
    pos = end + 1;
  }
  for (const lm of p.stderr().matchAll(/Lost (\d+) events/g)) lost += Number(lm[1]);
  rmSync(outFile, { force: true });
  const t = parseTime(timeFile);
  return {
    phase: 'bpftrace',
    round,
    ...f,
    events,
    lost,
    lostDetail: 'perf buffer "Lost N events" reports',
    cpuFloodSec: u1.cpuSec - u0.cpuSec,
    cpuTotalSec: t.cpuSec,
    peakRssKb: Math.max(t.maxRssKb, u1.hwmKb),
  };
}

interface Check {
  seconds: number;
  lines: number;
  summaryEvents: number;
  lost: number;
  directions: Record<string, number>;
  kinds: Record<string, number>;
  comms: Record<string, number>;
  causes: Record<string, number>;
}

/** A short separate run with tcpwhy's stdout read by this script: which directions and kinds does the flood produce? */
async function directionCheck(ns: string, o: Options, cli: string): Promise<Check> {
  const p = start(cli, ['watch', '--json', '--full-per-key', '0', '--full-rate', '0', '--netns', ns], 'stream');
  const directions: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  const comms: Record<string, number> = {};
  const causes: Record<string, number> = {};
  let lines = 0;
  let rest = '';
  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  p.child.stdout!.setEncoding('utf8');
  p.child.stdout!.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      if (!line) continue;
      lines++;
      bump(directions, /"direction":"([^"]*)"/.exec(line)?.[1] ?? '?');
      bump(kinds, /"kind":"([^"]*)"/.exec(line)?.[1] ?? '?');
      bump(comms, /"comm":"([^"]*)"/.exec(line)?.[1] ?? '?');
      bump(causes, /"cause":\{"id":"([^"]*)"/.exec(line)?.[1] ?? 'none');
    }
  });
  await waitFor('tcpwhy attaching (check run)', () => /tcpwhy: watching TCP resets via/.test(p.stderr()), READY_TIMEOUT_MS, p);
  const f = await flood(ns, o.port, CHECK_SECONDS);
  await sleep(DRAIN_MS);
  const res = await stopAndWait(p, 'SIGINT', STOP_TIMEOUT_MS);
  if (res.code !== 0) throw new BenchError(`tcpwhy (check run) exited with ${res.code ?? res.signal}:\n${p.stderr().slice(-2000)}`);
  const m = SUMMARY_RE.exec(p.stderr());
  if (!m) throw new BenchError(`no summary line on tcpwhy's stderr (check run):\n${p.stderr().slice(-2000)}`);
  return { seconds: f.seconds, lines, summaryEvents: Number(m[1]), lost: Number(m[2]), directions, kinds, comms, causes };
}

// ---------------------------------------------------------------------------------
// Report

interface Agg {
  phase: PhaseName;
  rounds: number;
  rsts: number;
  seconds: number;
  rate: number;
  events?: number;
  lost?: number;
  cpuFloodSec?: number;
  cpuTotalSec?: number;
  peakRssKb?: number;
}

function aggregate(results: PhaseResult[], phase: PhaseName): Agg {
  const rs = results.filter((r) => r.phase === phase);
  const sum = (f: (r: PhaseResult) => number | undefined) => rs.reduce((a, r) => a + (f(r) ?? 0), 0);
  const a: Agg = { phase, rounds: rs.length, rsts: sum((r) => r.rsts), seconds: sum((r) => r.seconds), rate: 0 };
  a.rate = a.rsts / a.seconds;
  if (phase !== 'none') {
    a.events = sum((r) => r.events);
    a.lost = sum((r) => r.lost);
    a.cpuFloodSec = sum((r) => r.cpuFloodSec);
    a.cpuTotalSec = sum((r) => r.cpuTotalSec);
    a.peakRssKb = Math.max(...rs.map((r) => r.peakRssKb ?? 0));
  }
  return a;
}

const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)} %`;
const signedPct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`;
const mb = (kb: number) => ((kb * 1024) / 1e6).toFixed(1);
const dash = '–';

function table(aggs: Agg[]): string {
  const base = aggs.find((a) => a.phase === 'none')!;
  const head =
    '| phase | RSTs sent (OutRsts Δ) | flood s | RST/s | rate vs no tracer | events captured | captured / sent | events lost (tracer) | CPU s flood + drain | CPU s whole run | peak RSS MB |';
  const sep = '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|';
  const label: Record<PhaseName, string> = {
    none: 'no tracer',
    tcpwhy: '`tcpwhy watch --json > /dev/null`',
    bpftrace: '`bpftrace` printf > file',
  };
  const rows = aggs.map((a) =>
    [
      label[a.phase],
      int(a.rsts),
      a.seconds.toFixed(2),
      int(a.rate),
      a.phase === 'none' ? dash : signedPct(a.rate / base.rate - 1),
      a.events === undefined ? dash : int(a.events),
      a.events === undefined ? dash : pct(a.events / a.rsts, 2),
      a.lost === undefined ? dash : int(a.lost),
      a.cpuFloodSec === undefined ? dash : a.cpuFloodSec.toFixed(2),
      a.cpuTotalSec === undefined ? dash : a.cpuTotalSec.toFixed(2),
      a.peakRssKb === undefined ? dash : mb(a.peakRssKb),
    ].join(' | '),
  );
  return [head, sep, ...rows.map((r) => `| ${r} |`)].join('\n');
}

function targets(aggs: Agg[]): string {
  const base = aggs.find((a) => a.phase === 'none')!;
  const tw = aggs.find((a) => a.phase === 'tcpwhy')!;
  const bt = aggs.find((a) => a.phase === 'bpftrace')!;
  const capture = tw.events! / tw.rsts;
  const change = tw.rate / base.rate - 1;
  const rssMb = (tw.peakRssKb! * 1024) / 1e6;
  const res = (ok: boolean) => (ok ? '**PASS**' : '**MISS**');
  return [
    '| target (tcpwhy) | measured | result |',
    '|---|--:|---|',
    `| captured / sent ≥ 99.9 % | ${pct(capture, 2)} (${int(tw.events!)} / ${int(tw.rsts)}) | ${res(capture >= TARGET_CAPTURE)} |`,
    `| kernel RST rate slowed by ≤ 10 % | ${signedPct(change)} (${int(tw.rate)} vs ${int(base.rate)} RST/s) | ${res(change >= -TARGET_SLOWDOWN)} |`,
    `| peak RSS ≤ ${TARGET_RSS_MB} MB | ${rssMb.toFixed(1)} MB | ${res(rssMb <= TARGET_RSS_MB)} |`,
    `| reference: bpftrace printf (about −83 % expected) | ${signedPct(bt.rate / base.rate - 1)}, captured ${pct(bt.events! / bt.rsts, 2)} | (for comparison) |`,
  ].join('\n');
}

function perRound(results: PhaseResult[]): string {
  const lines = [
    '| round | phase | RSTs sent | flood s | RST/s | events | lost | CPU s flood + drain | peak RSS MB |',
    '|--:|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.round} | ${r.phase} | ${int(r.rsts)} | ${r.seconds.toFixed(2)} | ${int(r.rsts / r.seconds)} | ${r.events === undefined ? dash : int(r.events)} | ${r.lost === undefined ? dash : `${int(r.lost)}${r.lostDetail ? ` (${r.lostDetail})` : ''}`} | ${r.cpuFloodSec === undefined ? dash : r.cpuFloodSec.toFixed(2)} | ${r.peakRssKb === undefined ? dash : mb(r.peakRssKb)} |`,
    );
  }
  return lines.join('\n');
}

function fmtCounts(m: Record<string, number>): string {
  return Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}: ${int(v)}`)
    .join(', ');
}

/** Other tracers or floods running at the same time would disturb the numbers: list them. */
function otherActivity(): string {
  const mine = new Set<number>([process.pid, ...startedPids()]);
  const seen: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || mine.has(Number(name))) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      const prog = cmd.split(' ')[0] ?? '';
      // a shell or grep that merely mentions these names is not one of them
      if (/(^|\/)(grep|bash|sh|timeout)$/.test(prog)) continue;
      if (/hping3|bpftrace|tcpwhy|iperf|node .*test/.test(cmd) && !cmd.includes('rst-flood')) seen.push(`${name}: ${cmd.slice(0, 120)}`);
    } catch {
      /* exited */
    }
    if (seen.length > 20) break;
  }
  return seen.length ? seen.join('; ') : 'none seen';
}

// ---------------------------------------------------------------------------------
// docs/benchmarks.md

const DOC_HEAD = `# Benchmarks

Numbers in this file are written by the benchmarks in \`bench/\`; each section between
\`<!-- NAME:begin -->\` and \`<!-- NAME:end -->\` is regenerated by its benchmark and only
holds what that run measured.

## RST flood (\`bench/rst-flood.ts\`)

How much does tracing cost when the host sends TCP resets as fast as it can?

Method: a fresh network namespace \`tcpwhy-bench-RANDOM\` with only \`lo\` up. \`hping3 --flood\`
sends SYNs to a closed port on 127.0.0.1 inside it for a fixed time, and the kernel answers
each with a RST (no socket: \`tcp_v4_send_reset\` from \`tcp_v4_rcv\`). The RSTs sent are the
\`Tcp: OutRsts\` delta of the namespace's \`/proc/net/snmp\` read before the flood and
${SETTLE_MS} ms after it stops; the rate is that delta divided by the flood time measured by
the benchmark (hping3 start to exit). Three phases of the same length run in the same
invocation: no tracer, \`tcpwhy watch --json --full-per-key 0 --full-rate 0 --netns NS\` with stdout on
/dev/null (every RST shown in full: by default tcpwhy shows the first 100 of a storm's key per
second and counts the rest in the kernel, measured by the live-load benchmark below; with the
diagnosis on, as always: every line carries its \`cause\`, and the namespace's host context is
read once the first event arrives and refreshed in the background), and the equivalent bpftrace
one-liner with stdout in a file. A tracer is started and attached
(tcpwhy's "watching" line, bpftrace's "Attaching 1 probe...") before the flood, and stopped
with SIGINT ${DRAIN_MS} ms after it ends. Events captured are tcpwhy's own count from its
exit summary and, for bpftrace, the printf lines in its output. CPU time and peak RSS
come from \`/usr/bin/time\` around the tracer (user + sys over the tracer's whole life;
peak RSS is the larger of \`%M\` and \`VmHWM\`), plus the CPU the tracer used from just
before the flood to just before SIGINT, i.e. the flood plus the ${DRAIN_MS} ms drain
(\`/proc/PID/stat\`, column "CPU s flood + drain"). MB = 10^6 bytes.
bpftrace's probe is not filtered by namespace, so it would also count RSTs from elsewhere on
the host; a short extra tcpwhy run whose JSON the benchmark reads checks which directions
and kinds the flood produces.

Targets (tcpwhy): at least 99.9 % of the RSTs sent captured, the kernel's RST rate slowed by
at most 10 %, peak RSS at most 150 MB.

Run it (root): \`make build && node dist/bench/rst-flood.js --seconds 5 --write\`.
`;

// ---------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) return 0;
  if (process.getuid?.() !== 0) throw new BenchError('needs root (network namespaces, hping3 raw sockets, BPF)');
  for (const cmd of ['ip', 'hping3', 'bpftrace', 'getconf']) {
    if (!which(cmd)) throw new BenchError(`${cmd} not found (apt-get install iproute2 hping3 bpftrace libc-bin)`);
  }
  if (!existsSync(TIME_BIN)) throw new BenchError(`${TIME_BIN} not found (apt-get install time)`);
  const root = repoRoot();
  // the command as users run it (bin/tcpwhy, which starts node with V8's heap flags)
  const cli = join(root, 'bin', 'tcpwhy');
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) throw new BenchError('tcpwhy is not built: run make build first');
  setClockTicks(Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()));

  const ns = `tcpwhy-bench-${randomBytes(4).toString('hex')}`;
  const tmp = mkdtempSync(join(tmpdir(), 'tcpwhy-bench-'));
  liveTmp = tmp;
  const date = new Date().toISOString();
  const activityBefore = otherActivity();
  const loadBefore = loadavg();
  const results: PhaseResult[] = [];
  let check: Check;
  try {
    liveNs = ns;
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    progress(`namespace ${ns}; ${o.rounds} round(s) of 3 phases x ${o.seconds}s`);

    progress(`check run (${CHECK_SECONDS}s, tcpwhy stdout read by the benchmark)`);
    check = await directionCheck(ns, o, cli);

    const order: PhaseName[] = ['none', 'tcpwhy', 'bpftrace'];
    for (let round = 1; round <= o.rounds; round++) {
      const rot = order.map((_, i) => order[(i + round - 1) % order.length]!);
      for (const phase of rot) {
        progress(`round ${round}: ${phase}`);
        const r =
          phase === 'none'
            ? await phaseNone(ns, o, round)
            : phase === 'tcpwhy'
              ? await phaseTcpwhy(ns, o, round, cli, tmp)
              : await phaseBpftrace(ns, o, round, tmp);
        progress(
          `  ${int(r.rsts)} RSTs in ${r.seconds.toFixed(2)} s (${int(r.rsts / r.seconds)}/s)` +
            (r.events !== undefined ? `, ${int(r.events)} events, ${int(r.lost ?? 0)} lost` : ''),
        );
        results.push(r);
      }
    }
  } finally {
    cleanup();
  }
  const activityAfter = otherActivity();
  const loadAfter = loadavg();

  const aggs = (['none', 'tcpwhy', 'bpftrace'] as const).map((p) => aggregate(results, p));
  const tw = aggs[1]!;
  const sumOf = (k: 'ringbufFull' | 'nested' | 'stacksLost' | 'stacksSkipped') =>
    results.filter((r) => r.phase === 'tcpwhy').reduce((a, r) => a + (r[k] ?? 0), 0);
  const nodeArgs = [cli, 'watch', '--json', '--netns', ns];
  const section = [
    `### Results`,
    '',
    `Run ${date}: ${o.rounds} round(s), each phase ${o.seconds} s of flood` +
      (o.rounds > 1 ? ' per round, phase order rotated every round; totals over all rounds (peak RSS: the largest).' : '.'),
    '',
    `Machine: ${version('nproc', [])} CPUs, kernel ${version('uname', ['-r'])}, node ${process.version}, ` +
      `${version('hping3', ['--version']).replace(/\s*\(\$Id.*$/, '')}, ${version('bpftrace', ['--version'])}.`,
    `Load average before / after: ${loadBefore} / ${loadAfter}. Other tracers or tests running at the time: ` +
      `before: ${activityBefore}; after: ${activityAfter}.`,
    '',
    table(aggs),
    '',
    targets(aggs),
    '',
    `tcpwhy's exit summary${o.rounds > 1 ? ' (summed over the rounds)' : ''}: ${int(tw.events!)} events, ${int(tw.lost!)} lost ` +
      `(ring buffer full: ${int(sumOf('ringbufFull'))}, nested in another tcpwhy program: ${int(sumOf('nested'))}); ` +
      `stacks not captured: ${int(sumOf('stacksSkipped'))} over the rate limit (--stack-rate, default 2000 per second per CPU), ${int(sumOf('stacksLost'))} lost.`,
    '',
    `Which RSTs the flood produces (separate ${CHECK_SECONDS} s check run, tcpwhy's JSON read by the benchmark): ` +
      `${int(check.lines)} lines (summary: ${int(check.summaryEvents)} events, ${int(check.lost)} lost: there the benchmark ` +
      'itself reads and parses every JSON line through a pipe, slower than the flood, and tcpwhy counts what the ring buffer could not hold); ' +
      `direction ${fmtCounts(check.directions)}; kind ${fmtCounts(check.kinds)}; comm ${fmtCounts(check.comms)}; cause (the diagnosis) ${fmtCounts(check.causes)}. ` +
      'hping3 reads replies on a raw socket, so the kernel has no socket to deliver a RST to and ' +
      "only sent RSTs are expected: tcpwhy's event count equals the sent RSTs it saw.",
    '',
    ...(o.rounds > 1 ? ['Per round:', '', perRound(results), ''] : []),
    'Commands (NS was the namespace above):',
    '',
    '```sh',
    `ip netns add ${ns} && ip -n ${ns} link set lo up`,
    `ip netns exec ${ns} cat /proc/net/snmp              # Tcp: OutRsts, before and after each flood`,
    `ip netns exec ${ns} hping3 -S -p ${o.port} --flood 127.0.0.1   # ${o.seconds} s, then SIGINT`,
    `${TIME_BIN} -f '${TIME_FORMAT}' -o FILE ${sh(nodeArgs)} > /dev/null   # stopped with SIGINT`,
    `${TIME_BIN} -f '${TIME_FORMAT}' -o FILE ${sh(bpftraceCommand())} > FILE   # stopped with SIGINT`,
    `ip netns del ${ns}`,
    '```',
    '',
    `Regenerate: \`node dist/bench/rst-flood.js --seconds ${o.seconds}${o.rounds > 1 ? ` --rounds ${o.rounds}` : ''} --write\``,
  ].join('\n');

  process.stdout.write(`${section}\n`);
  if (o.write) process.stderr.write(`rst-flood: wrote ${writeSection(root, 'rst-flood', section, DOC_HEAD)}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    cleanup();
    if (err instanceof BenchError) process.stderr.write(`rst-flood: ${err.message}\n`);
    else process.stderr.write(`rst-flood: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
