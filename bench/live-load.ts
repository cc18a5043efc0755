#!/usr/bin/env node
// Benchmark: what `tcpwhy watch` costs on a busy host, and whether it accounts for
// every RST while it runs.
//
// Each shape runs in a fresh lab (a client and a server network namespace joined by
// a veth pair, 192.0.2.0/24 and 2001:db8::/64), in rounds of three phases of the
// same length, the order rotated every round:
//   none    no tracer
//   tcpwhy  `bin/tcpwhy watch --json > FILE` (no filter), started and attached before
//           the load, stopped with SIGINT after it
//   floor   bpftrace that only counts, in maps, on the hooks tcpwhy needs
//           (tracepoints tcp:tcp_send_reset, tcp:tcp_receive_reset, sock:inet_sock_set_state)
// Shapes:
//   a  nginx + `wrk -t2 -c50 -H "Connection: close"` (connection churn): requests/s
//   b  the same with keep-alive: requests/s
//   c  hping3 SYN flood to a closed port: the server's RST rate (Tcp: OutRsts)
//   d  hping3 ACK flood (-A) to a closed port: same
//   e  IPv6 SYN flood to a closed port (bench/syn6-flood.c, compiled here with cc): same
//   f  received-RST storm: the server accepts CONNS connections, then resets them all
//      (SO_LINGER 0), again and again (bench/reset-peers.ts): the server's RST rate,
//      and tcpwhy must see each one received in the client's namespace
// `--soak MINUTES` instead runs shape a plus about 100 refused connections per second
// with tcpwhy watching all along, and samples its RSS every 10 s.
//
// Usage: node dist/bench/live-load.js [--seconds N] [--rounds N] [--shapes a,b,..]
//          [--conns N] [--quick] [--soak [MINUTES]] [--write]
// Exit code: 0 when the benchmark ran (whether or not the targets were met), 1 when
// something could not run (not root, a tool missing, a load that did not run, ...).
//
// Safety: traffic only between the lab's two namespaces, which are deleted on the way
// out (finally blocks, Lab's exit hook, signal handlers) with everything started in
// them; nothing in the root namespace (firewall, sysctls) is changed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab, parseSnmp } from '../src/lab/netns.js';
import {
  benchArgs,
  BenchError,
  int,
  slowdowns,
  slowdownText,
  loadavg,
  median,
  progressLog,
  readFileSafe,
  repoRoot,
  sh,
  TIME_BIN,
  version,
  which,
  wholeNumber,
  writeSection,
} from './common.js';
import { cleanupOnExit, type Proc, sampleUsage, setClockTicks, start, stopAndWait, TIME_FORMAT, waitExit, waitFor } from './procs.js';
import { loadGeneratorSysctls, runWrk, startNginx } from './lab-nginx.js';
import { bpftraceCommand, deathNote, floorCounts, STOP_TIMEOUT_MS, startTracer as startTracerIn, stopTracer, type Tracer, usageBefore } from './tracers.js';
import { type Accounting, get, readAccounting } from './tcpwhy-accounting.js';

// ---------------------------------------------------------------------------------
// Settings

const TARGET_RSS_MB = 150; // MB = 10^6 bytes
const TARGET_RST_SLOWDOWN = 0.05;
const SETTLE_MS = 500; // after the load, before reading OutRsts (the veth backlog drains)
const DRAIN_MS = 1000; // after reading OutRsts, before stopping the tracer
const HTTP_PORT = 8080;
const CLOSED_PORT = 4242;
const STORM_PORT = 9100;
const FLOOD_MAX_PACKETS = 100_000_000; // bound of the IPv6 sender, far above what a phase sends
const STORM_MAX_CYCLES = 100_000;
const WARMUP_S = 1; // an unmeasured load before each shape's first round
const SOAK_PROBE_RATE = 100; // refused connections per second during the soak
const SOAK_SAMPLE_S = 10;
const SOAK_FLAT_TOLERANCE = 0.1; // last third's max RSS within 10 % of the first third's max

const FLOOR_SCRIPT = [
  'tracepoint:tcp:tcp_send_reset { @send_reset = count(); }',
  'tracepoint:tcp:tcp_receive_reset { @receive_reset = count(); }',
  'tracepoint:sock:inet_sock_set_state { @set_state = count(); }',
].join('\n');

const progress = progressLog('live-load');

// ---------------------------------------------------------------------------------
// Options

const SHAPE_IDS = ['a', 'b', 'c', 'd', 'e', 'f'] as const;
type ShapeId = (typeof SHAPE_IDS)[number];

interface Options {
  seconds: number;
  rounds: number;
  shapes: ShapeId[];
  conns: number;
  quick: boolean;
  soakMinutes: number | undefined;
  write: boolean;
}

const USAGE = `usage: node dist/bench/live-load.js [--seconds N] [--rounds N] [--shapes a,b,..] [--conns N] [--quick] [--soak [MINUTES]] [--write]
  --seconds N     length of each phase's load (default 5, 1..600)
  --rounds N      rounds of the three phases per shape, order rotated (default 5, 1..20)
  --shapes LIST   which shapes, of a b c d e f (default all):
                    a nginx + wrk Connection: close, b keep-alive, c SYN flood, d ACK flood,
                    e IPv6 SYN flood, f received-RST storm
  --conns N       connections reset at once in shape f (default 2000, 10..10000)
  --quick         a smoke run: 1 round of 2 s phases, 500 connections in f (options given win)
  --soak [MIN]    instead: shape a plus ${SOAK_PROBE_RATE} RSTs/s for MIN minutes (default 10) under tcpwhy, RSS every ${SOAK_SAMPLE_S} s
  --write         also rewrite the live-load section (or, with --soak, live-load-soak) of docs/benchmarks.md
`;

function parseOptions(argv: string[]): Options | undefined {
  // `--soak` alone means the default length; parseArgs wants a value for a string option
  const args = [...argv];
  const i = args.indexOf('--soak');
  if (i >= 0 && (i + 1 >= args.length || args[i + 1]!.startsWith('-'))) args.splice(i + 1, 0, '10');
  const v = benchArgs(args, USAGE, {
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    shapes: { type: 'string' },
    conns: { type: 'string' },
    quick: { type: 'boolean' },
    soak: { type: 'string' },
    write: { type: 'boolean' },
  });
  if (!v) return undefined;
  const quick = v.quick ?? false;
  const shapes = (v.shapes ?? SHAPE_IDS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of shapes) if (!(SHAPE_IDS as readonly string[]).includes(s)) throw new BenchError(`--shapes: unknown shape ${JSON.stringify(s)} (a..f)`);
  if (!shapes.length) throw new BenchError('--shapes: no shape given');
  return {
    seconds: wholeNumber('seconds', v.seconds, quick ? 2 : 5, 1, 600),
    rounds: wholeNumber('rounds', v.rounds, quick ? 1 : 5, 1, 20),
    shapes: SHAPE_IDS.filter((s) => shapes.includes(s)),
    conns: wholeNumber('conns', v.conns, quick ? 500 : 2000, 10, 10_000),
    quick,
    soakMinutes: v.soak === undefined ? undefined : wholeNumber('soak', v.soak, 10, 1, 600),
    write: v.write ?? false,
  };
}

// ---------------------------------------------------------------------------------
// Cleanup

let liveLab: Lab | undefined;
let liveTmp: string | undefined;

const cleanup = cleanupOnExit('live-load', () => {
  liveLab?.destroy();
  liveLab = undefined;
  if (liveTmp) {
    rmSync(liveTmp, { recursive: true, force: true });
    liveTmp = undefined;
  }
});

// ---------------------------------------------------------------------------------
// The context every shape runs in

interface Ctx {
  root: string;
  cli: string;
  tmp: string;
  lab: Lab;
  netns: { client: number; server: number };
  opts: Options;
  syn6: string; // the compiled IPv6 sender
}

function outRsts(ns: string): number {
  const v = parseSnmp(execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], { encoding: 'utf8' })).Tcp?.OutRsts;
  if (v === undefined || !Number.isFinite(v)) throw new BenchError(`no Tcp: OutRsts in /proc/net/snmp of ${ns}`);
  return v;
}

function inNsArgs(ns: string, cmd: string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', ns, ...cmd]];
}

/** What one phase's load measured: the shape's rate and how long it ran. */
interface Load {
  /** requests/s (a, b); undefined for the RST shapes, whose rate is the server's OutRsts over `seconds` */
  rate?: number;
  seconds: number;
  note?: string;
}

interface Shape {
  id: ShapeId;
  title: string;
  unit: 'requests/s' | 'RST/s';
  slowdownTarget: number;
  /** c-f: every RST accounted and none lost */
  rstTargets: boolean;
  setup(ctx: Ctx): Promise<void>;
  load(ctx: Ctx, seconds: number): Promise<Load>;
  teardown(): Promise<void>;
  commands(ctx: Ctx): string[];
}

// ---------------------------------------------------------------------------------
// Shapes a, b: nginx + wrk

function httpShape(id: 'a' | 'b', close: boolean): Shape {
  let nginx: Proc | undefined;
  const wrkArgs = (ctx: Ctx, seconds: number) => [
    'wrk',
    '-t2',
    '-c50',
    `-d${seconds}s`,
    ...(close ? ['-H', 'Connection: close'] : []),
    `http://${ctx.lab.server.v4}:${HTTP_PORT}/`,
  ];
  return {
    id,
    title: close ? 'nginx + wrk, Connection: close (connection churn)' : 'nginx + wrk, keep-alive',
    unit: 'requests/s',
    slowdownTarget: close ? 0.03 : 0.01,
    rstTargets: false,
    async setup(ctx) {
      loadGeneratorSysctls(ctx.lab);
      nginx = await startNginx(ctx.lab, join(ctx.tmp, `nginx-${id}`), HTTP_PORT);
    },
    async load(ctx, seconds) {
      const w = await runWrk(ctx.lab.client.ns, wrkArgs(ctx, seconds).slice(1), seconds);
      return { rate: w.rate, seconds: w.seconds, ...(w.note ? { note: w.note } : {}) };
    },
    async teardown() {
      if (nginx && !nginx.isDone()) await stopAndWait(nginx, 'SIGTERM', 10_000);
      nginx = undefined;
    },
    commands: (ctx) => [
      `ip netns exec SERVER nginx -c CONF -p DIR   # CONF: master_process off (one process), access_log off, a ${int(readFileSafe(join(ctx.tmp, `nginx-${id}`, 'www', 'index.html')).length)}-byte index.html, keepalive_requests 10000000`,
      `ip netns exec CLIENT ${sh(wrkArgs(ctx, ctx.opts.seconds))}`,
    ],
  };
}

// ---------------------------------------------------------------------------------
// Shapes c, d, e: floods to a closed port

function floodShape(id: 'c' | 'd' | 'e'): Shape {
  const argv = (ctx: Ctx, seconds: number): string[] =>
    id === 'e'
      ? [ctx.syn6, ctx.lab.server.v6, String(CLOSED_PORT), String(seconds), String(FLOOD_MAX_PACKETS), 'S']
      : ['hping3', id === 'c' ? '-S' : '-A', '-p', String(CLOSED_PORT), '--flood', ctx.lab.server.v4];
  return {
    id,
    title:
      id === 'c'
        ? 'SYN flood to a closed port (hping3 -S)'
        : id === 'd'
          ? 'ACK flood to a closed port (hping3 -A)'
          : 'IPv6 SYN flood to a closed port (syn6-flood)',
    unit: 'RST/s',
    slowdownTarget: TARGET_RST_SLOWDOWN,
    rstTargets: true,
    async setup() {},
    async load(ctx, seconds) {
      const [cmd, args] = inNsArgs(ctx.lab.client.ns, argv(ctx, seconds));
      const t0 = performance.now();
      if (id === 'e') {
        // stops by itself after `seconds`
        const p = start(cmd, args, 'pipe');
        const res = await waitExit(p, 'syn6-flood', seconds * 1000 + 15_000);
        const secs = (performance.now() - t0) / 1000;
        if (res.code !== 0) throw new BenchError(`syn6-flood failed (${res.code ?? res.signal}): ${p.stderr().slice(-2000)}`);
        return { seconds: secs, note: p.stdout().trim() };
      }
      const h = start(cmd, args);
      await Promise.race([h.exited, sleep(seconds * 1000)]);
      if (h.isDone()) throw new BenchError(`hping3 stopped before the end of the flood; its stderr:\n${h.stderr().slice(-2000)}`);
      await stopAndWait(h, 'SIGINT', 10_000);
      return { seconds: (performance.now() - t0) / 1000 };
    },
    async teardown() {},
    commands: (ctx) => [
      `ip netns exec CLIENT ${sh(argv(ctx, ctx.opts.seconds).map((a) => (a === ctx.syn6 ? 'syn6-flood' : a)))}${id === 'e' ? '' : '   # stopped with SIGINT'}`,
    ],
  };
}

// ---------------------------------------------------------------------------------
// Shape f: a storm of resets received on established connections

function stormShape(): Shape {
  let server: Proc | undefined;
  const peers = (ctx: Ctx) => join(ctx.root, 'dist', 'bench', 'reset-peers.js');
  const clientArgs = (ctx: Ctx, seconds: number) => [
    process.execPath,
    peers(ctx),
    'client',
    ctx.lab.server.v4,
    String(STORM_PORT),
    String(ctx.opts.conns),
    String(seconds),
    String(STORM_MAX_CYCLES),
  ];
  return {
    id: 'f',
    title: 'received-RST storm: established connections reset by their peer at once',
    unit: 'RST/s',
    slowdownTarget: TARGET_RST_SLOWDOWN,
    rstTargets: true,
    async setup(ctx) {
      const [cmd, args] = inNsArgs(ctx.lab.server.ns, [process.execPath, peers(ctx), 'server', ctx.lab.server.v4, String(STORM_PORT), String(ctx.opts.conns)]);
      server = start(cmd, args, 'pipe');
      const s = server;
      await waitFor('reset-peers server listening', () => s.stdout().includes('listening'), 10_000, s);
    },
    async load(ctx, seconds) {
      const [cmd, args] = inNsArgs(ctx.lab.client.ns, clientArgs(ctx, seconds));
      const c = start(cmd, args, 'pipe');
      const res = await waitExit(c, 'reset-peers client', seconds * 1000 + 30_000);
      let st: { cycles: number; connected: number; resets: number; errors: number; timeouts: number; seconds: number };
      try {
        st = JSON.parse(c.stdout().trim().split('\n').pop() ?? '');
      } catch {
        throw new BenchError(`reset-peers client failed (${res.code ?? res.signal}):\n${c.stdout().slice(-1000)}\n${c.stderr().slice(-2000)}`);
      }
      if (st.resets === 0) throw new BenchError(`the storm produced no resets: ${JSON.stringify(st)}\n${server?.stderr().slice(-2000) ?? ''}`);
      return {
        seconds: st.seconds,
        note: `${int(st.cycles)} cycles, ${int(st.connected)} connected, ${int(st.resets)} ECONNRESET seen by the client${st.errors ? `, ${int(st.errors)} other errors` : ''}${st.timeouts ? `, ${st.timeouts} cycles timed out` : ''}`,
      };
    },
    async teardown() {
      if (server && !server.isDone()) await stopAndWait(server, 'SIGTERM', 10_000);
      server = undefined;
    },
    commands: (ctx) => [
      `ip netns exec SERVER node dist/bench/reset-peers.js server ${ctx.lab.server.v4} ${STORM_PORT} ${ctx.opts.conns}`,
      `ip netns exec CLIENT ${sh(clientArgs(ctx, ctx.opts.seconds).map((a, i) => (i === 0 ? 'node' : i === 1 ? 'dist/bench/reset-peers.js' : a)))}`,
    ],
  };
}

function makeShape(id: ShapeId): Shape {
  if (id === 'a') return httpShape('a', true);
  if (id === 'b') return httpShape('b', false);
  if (id === 'f') return stormShape();
  return floodShape(id);
}

// ---------------------------------------------------------------------------------
// Tracers

type PhaseName = 'none' | 'tcpwhy' | 'floor';
const PHASES: PhaseName[] = ['none', 'tcpwhy', 'floor'];

function startTracer(ctx: Ctx, phase: 'tcpwhy' | 'floor', tag: string): Promise<Tracer> {
  const cmd = phase === 'tcpwhy' ? [ctx.cli, 'watch', '--json'] : bpftraceCommand(FLOOR_SCRIPT);
  return startTracerIn(ctx.tmp, phase, phase === 'tcpwhy' ? 'tcpwhy' : 'bpftrace', cmd, tag);
}

// ---------------------------------------------------------------------------------
// One phase

interface PhaseResult {
  shape: ShapeId;
  phase: PhaseName;
  round: number;
  rate: number; // the shape's unit
  seconds: number;
  rsts: { client: number; server: number }; // OutRsts deltas
  note?: string;
  acct?: Accounting & { unreadable: number };
  died?: string; // the tracer exited during the load
  cpuLoadSec?: number; // the tracer's CPU from just before the load to just before SIGINT
  cpuTotalSec?: number; // its whole life (/usr/bin/time)
  peakRssKb?: number;
  floorCounts?: Record<string, number>;
}

async function runPhase(ctx: Ctx, shape: Shape, phase: PhaseName, round: number): Promise<PhaseResult> {
  const tag = `${shape.id}-${round}`;
  const tracer = phase === 'none' ? undefined : await startTracer(ctx, phase, tag);
  const u0 = tracer ? usageBefore(tracer) : undefined;
  const { client, server } = ctx.lab;
  const before = { client: outRsts(client.ns), server: outRsts(server.ns) };
  const load = await shape.load(ctx, ctx.opts.seconds);
  await sleep(SETTLE_MS);
  const after = { client: outRsts(client.ns), server: outRsts(server.ns) };
  const rsts = { client: after.client - before.client, server: after.server - before.server };
  const rate = load.rate ?? rsts.server / load.seconds;
  if (shape.unit === 'RST/s' && rsts.server <= 0) throw new BenchError(`shape ${shape.id}: the server sent no RSTs (OutRsts did not move)`);
  const r: PhaseResult = { shape: shape.id, phase, round, rate, seconds: load.seconds, rsts, ...(load.note ? { note: load.note } : {}) };
  if (!tracer) return r;

  Object.assign(r, await stopTracer(tracer, u0!, DRAIN_MS, progress));
  if (phase === 'tcpwhy') r.acct = readAccounting(tracer.outFile, tracer.proc.stderr());
  else r.floorCounts = floorCounts(tracer);
  rmSync(tracer.outFile, { force: true });
  return r;
}

// ---------------------------------------------------------------------------------
// Per shape: the numbers and the targets

interface ShapeSummary {
  shape: Shape;
  rounds: number;
  median: Record<PhaseName, number>;
  slowdown: number; // 1 - tcpwhy / none: the median of the rounds' (pairedSlowdown)
  floorSlowdown: number;
  roundSlowdowns: number[];
  sent: number; // OutRsts of both namespaces over the tcpwhy phases
  accountedSent: number;
  received?: { expected: number; accounted: number }; // f: the client's received RSTs vs the server's OutRsts
  exact: boolean; // accounted equals OutRsts in every namespace of every tcpwhy phase
  shown: number;
  lost: number | undefined;
  sources: string[];
  countedOnly: number | undefined;
  cpuLoadSec: number; // median per tcpwhy phase
  cpuTotalSec: number;
  peakRssKb: number;
  died: string[];
  floorRssKb: number;
}

function summarize(shape: Shape, results: PhaseResult[], ctxNetns: { client: number; server: number }): ShapeSummary {
  const of = (p: PhaseName) => results.filter((r) => r.phase === p);
  const med = (p: PhaseName) => median(of(p).map((r) => r.rate));
  const tw = of('tcpwhy');
  let sent = 0;
  let accountedSent = 0;
  let recvExpected = 0;
  let recvAccounted = 0;
  let exact = true;
  let shown = 0;
  let lost: number | undefined = 0;
  let countedOnly: number | undefined = 0;
  const sources = new Set<string>();
  for (const r of tw) {
    const a = r.acct;
    sent += r.rsts.client + r.rsts.server;
    if (!a) {
      exact = false;
      lost = undefined;
      continue;
    }
    sources.add(a.source);
    const c = get(a.accounted, ctxNetns.client);
    const s = get(a.accounted, ctxNetns.server);
    accountedSent += c.sent + s.sent;
    if (c.sent !== r.rsts.client || s.sent !== r.rsts.server) exact = false;
    if (shape.id === 'f') {
      recvExpected += r.rsts.server;
      recvAccounted += c.received;
      if (c.received !== r.rsts.server) exact = false;
    }
    for (const ns of [ctxNetns.client, ctxNetns.server]) {
      const d = get(a.shown, ns);
      shown += d.sent + d.received;
    }
    lost = lost === undefined || a.lost === undefined ? undefined : lost + a.lost;
    countedOnly = countedOnly === undefined || a.countedOnly === undefined ? undefined : countedOnly + a.countedOnly;
    if (r.died) exact = false;
  }
  const none = med('none');
  return {
    shape,
    rounds: tw.length,
    median: { none, tcpwhy: med('tcpwhy'), floor: med('floor') },
    ...slowdowns(results),
    sent,
    accountedSent,
    ...(shape.id === 'f' ? { received: { expected: recvExpected, accounted: recvAccounted } } : {}),
    exact,
    shown,
    lost,
    sources: [...sources],
    countedOnly,
    cpuLoadSec: median(tw.map((r) => r.cpuLoadSec ?? Number.NaN).filter((x) => Number.isFinite(x))),
    cpuTotalSec: median(tw.map((r) => r.cpuTotalSec ?? Number.NaN).filter((x) => Number.isFinite(x))),
    peakRssKb: Math.max(0, ...tw.map((r) => r.peakRssKb ?? 0)),
    died: tw.filter((r) => r.died).map((r) => `round ${r.round}: ${r.died}`),
    floorRssKb: Math.max(0, ...of('floor').map((r) => r.peakRssKb ?? 0)),
  };
}

const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)} %`;
const signedPct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`;
const mb = (kb: number) => (kb * 1024) / 1e6;
const dash = '–';
const res = (ok: boolean) => (ok ? '**PASS**' : '**MISS**');

function ratio(a: number, b: number): string {
  return b === 0 ? (a === 0 ? '0 / 0' : `${int(a)} / 0`) : `${int(a)} / ${int(b)} (${pct(a / b, 2)})`;
}

function resultsTable(sums: ShapeSummary[]): string {
  const rows = [
    '| shape | unit | no tracer (median) | tcpwhy (median) | slowdown | floor (median) | floor slowdown | RSTs accounted / sent (OutRsts) | shown in full | lost | tcpwhy CPU s (load, median) | tcpwhy CPU s (whole run, median) | peak RSS MB |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const s of sums) {
    let acct = ratio(s.accountedSent, s.sent);
    if (s.received) acct += `; received ${ratio(s.received.accounted, s.received.expected)}`;
    rows.push(
      `| ${s.shape.id}. ${s.shape.title} | ${s.shape.unit} | ${int(s.median.none)} | ${int(s.median.tcpwhy)} | ${slowdownText(s)} | ${int(s.median.floor)} | ${signedPct(-s.floorSlowdown)} | ${acct} | ${int(s.shown)} | ${s.lost === undefined ? '?' : int(s.lost)} | ${Number.isFinite(s.cpuLoadSec) ? s.cpuLoadSec.toFixed(2) : dash} | ${Number.isFinite(s.cpuTotalSec) ? s.cpuTotalSec.toFixed(2) : dash} | ${mb(s.peakRssKb).toFixed(1)} |`,
    );
  }
  return rows.join('\n');
}

function targetsTable(sums: ShapeSummary[]): { text: string; misses: number } {
  const rows = ['| shape | target | measured | result |', '|---|---|--:|---|'];
  let misses = 0;
  const add = (id: string, target: string, measured: string, ok: boolean) => {
    if (!ok) misses++;
    rows.push(`| ${id} | ${target} | ${measured} | ${res(ok)} |`);
  };
  for (const s of sums) {
    const id = s.shape.id;
    const died = s.died.length ? ` (tcpwhy died: ${s.died.join('; ')})` : '';
    add(
      id,
      `${s.shape.unit === 'requests/s' ? 'requests/s' : 'kernel RST rate'} ≤ ${pct(s.shape.slowdownTarget, 0)} lower than without a tracer`,
      `${signedPct(-s.slowdown)}${died}`,
      s.slowdown <= s.shape.slowdownTarget && !s.died.length,
    );
    if (s.shape.rstTargets) {
      const recv = s.received ? `; received ${int(s.received.accounted)} of ${int(s.received.expected)}` : '';
      add(id, '100 % of the RSTs accounted (equal to OutRsts in each namespace, every round)', `${int(s.accountedSent)} of ${int(s.sent)}${recv}`, s.exact);
      add(id, '0 lost', s.lost === undefined ? 'unknown (tcpwhy said nothing)' : int(s.lost), s.lost === 0);
    }
    const rss = mb(s.peakRssKb);
    add(id, `peak RSS ≤ ${TARGET_RSS_MB} MB`, `${rss.toFixed(1)} MB`, rss <= TARGET_RSS_MB && rss > 0);
  }
  return { text: rows.join('\n'), misses };
}

function perRoundTable(results: PhaseResult[], netns: Map<ShapeId, { client: number; server: number }>): string {
  const rows = [
    '| shape | round | phase | rate | load s | OutRsts client / server | accounted sent client / server (received client) | shown | lost | source | CPU s (load) | peak RSS MB | note |',
    '|---|--:|---|--:|--:|--:|--:|--:|--:|---|--:|--:|---|',
  ];
  for (const r of results) {
    const ns = netns.get(r.shape)!;
    const a = r.acct;
    const c = a ? get(a.accounted, ns.client) : undefined;
    const s = a ? get(a.accounted, ns.server) : undefined;
    const sh2 = a ? [ns.client, ns.server].reduce((t, n) => t + get(a.shown, n).sent + get(a.shown, n).received, 0) : undefined;
    const notes = [r.note, r.died ? `tracer died: ${r.died}` : undefined, a?.unreadable ? `${a.unreadable} unreadable lines` : undefined].filter(Boolean);
    if (r.floorCounts)
      notes.push(
        `floor counted (host-wide): ${
          Object.entries(r.floorCounts)
            .map(([k, v]) => `${k} ${int(v)}`)
            .join(', ') || 'nothing'
        }`,
      );
    rows.push(
      `| ${r.shape} | ${r.round} | ${r.phase} | ${int(r.rate)} | ${r.seconds.toFixed(2)} | ${int(r.rsts.client)} / ${int(r.rsts.server)} | ${c && s ? `${int(c.sent)} / ${int(s.sent)} (${int(c.received)})` : dash} | ${sh2 === undefined ? dash : int(sh2)} | ${a ? (a.lost === undefined ? '?' : int(a.lost)) : dash} | ${a?.source ?? dash} | ${r.cpuLoadSec === undefined ? dash : r.cpuLoadSec.toFixed(2)} | ${r.peakRssKb === undefined ? dash : mb(r.peakRssKb).toFixed(1)} | ${notes.join('; ')} |`,
    );
  }
  return rows.join('\n');
}

// ---------------------------------------------------------------------------------
// Setup shared by both modes

function checkTools(o: Options): void {
  if (process.getuid?.() !== 0) throw new BenchError('needs root (network namespaces, raw sockets, BPF)');
  const need: Array<[string, string]> = [
    ['ip', 'iproute2'],
    ['ss', 'iproute2'],
    ['getconf', 'libc-bin'],
  ];
  const shapes = new Set<ShapeId>(o.soakMinutes === undefined ? o.shapes : ['a']);
  if (shapes.has('a') || shapes.has('b')) need.push(['nginx', 'nginx'], ['wrk', 'wrk']);
  if (o.soakMinutes === undefined) need.push(['bpftrace', 'bpftrace'], ['unshare', 'util-linux']);
  if (shapes.has('c') || shapes.has('d')) need.push(['hping3', 'hping3']);
  if (shapes.has('e')) need.push(['cc', 'gcc']);
  const missing = need.filter(([cmd]) => !which(cmd));
  if (missing.length)
    throw new BenchError(
      `not found: ${missing.map(([c]) => c).join(', ')} (apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')}; nginx's package starts no service where policy-rc.d forbids it, else stop it: the benchmark runs its own)`,
    );
  if (!existsSync(TIME_BIN)) throw new BenchError(`${TIME_BIN} not found (apt-get install time)`);
}

function compileSyn6(root: string, tmp: string): string {
  const src = join(root, 'bench', 'syn6-flood.c');
  if (!existsSync(src)) throw new BenchError(`${src} not found`);
  const out = join(tmp, 'syn6-flood');
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', out, src], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new BenchError(`cc could not compile ${src}: ${(e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message}`);
  }
  return out;
}

function newLab(): Lab {
  const lab = Lab.create('live');
  liveLab = lab;
  return lab;
}

function dropLab(): void {
  liveLab?.destroy();
  liveLab = undefined;
}

// ---------------------------------------------------------------------------------
// The phases mode

async function runBenchmark(o: Options, root: string, cli: string, tmp: string): Promise<{ section: string; misses: number }> {
  const syn6 = o.shapes.includes('e') ? compileSyn6(root, tmp) : '';
  const date = new Date().toISOString();
  const loadBefore = loadavg();
  const t0 = performance.now();
  const results: PhaseResult[] = [];
  const sums: ShapeSummary[] = [];
  const netnsOf = new Map<ShapeId, { client: number; server: number }>();
  const commands: string[] = [];
  const total = o.shapes.length * o.rounds * PHASES.length;
  let done = 0;
  for (const id of o.shapes) {
    const shape = makeShape(id);
    const lab = newLab();
    const ctx: Ctx = { root, cli, tmp, lab, netns: { client: lab.client.netns, server: lab.server.netns }, opts: o, syn6 };
    netnsOf.set(id, ctx.netns);
    progress(`shape ${id}: ${shape.title} (namespaces ${lab.client.ns} ${ctx.netns.client}, ${lab.server.ns} ${ctx.netns.server})`);
    const mine: PhaseResult[] = [];
    try {
      await shape.setup(ctx);
      // Not measured: the first load also pays for cold caches, nginx's first
      // connections and the JIT of the node peers, which would bias round 1's first phase.
      progress(`  warm-up: ${WARMUP_S} s of load`);
      await shape.load(ctx, WARMUP_S);
      for (let round = 1; round <= o.rounds; round++) {
        const order = PHASES.map((_, i) => PHASES[(i + round - 1) % PHASES.length]!);
        for (const phase of order) {
          progress(`  [${++done}/${total}] ${id} round ${round}: ${phase}`);
          const r = await runPhase(ctx, shape, phase, round);
          const a = r.acct;
          progress(
            `    ${int(r.rate)} ${shape.unit} over ${r.seconds.toFixed(2)} s; OutRsts client ${int(r.rsts.client)}, server ${int(r.rsts.server)}` +
              (a
                ? `; accounted (${a.source}) sent ${int(get(a.accounted, ctx.netns.client).sent)} / ${int(get(a.accounted, ctx.netns.server).sent)}, received ${int(get(a.accounted, ctx.netns.client).received)}; lost ${a.lost ?? '?'}`
                : '') +
              (r.peakRssKb ? `; peak RSS ${mb(r.peakRssKb).toFixed(1)} MB` : '') +
              (r.died ? `; DIED: ${r.died}` : ''),
          );
          mine.push(r);
        }
      }
      commands.push(...shape.commands(ctx));
    } finally {
      await shape.teardown().catch(() => undefined);
      dropLab();
    }
    results.push(...mine);
    sums.push(summarize(shape, mine, ctx.netns));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const targets = targetsTable(sums);
  const sources = [...new Set(sums.flatMap((s) => s.sources))];
  const sourceText = sources.includes('full lines')
    ? "tcpwhy printed no `summary` line (a tcpwhy before storm mode): the RSTs accounted are its full JSON lines counted per namespace and direction, and 'lost' is from its exit line on stderr."
    : "the RSTs accounted are the `by_netns` counts of tcpwhy's `summary` line; 'shown in full' are its JSON lines without a type; 'lost' is the summary's.";
  const section = [
    '### Results',
    '',
    `Run ${date}: ${o.rounds} round(s) per shape of three ${o.seconds} s phases, the order rotated every round; rates are medians over the rounds, a slowdown is the median of the rounds' own (each round's phase against that round's untraced one); ${elapsed.toFixed(0)} s in all.${o.quick ? ' **A --quick smoke run: too short to judge the targets.**' : ''}`,
    '',
    `Machine: ${version('nproc', [])} CPUs, kernel ${version('uname', ['-r'])}, node ${process.version}, tcpwhy ${version(cli, ['--version'])}, ` +
      `${o.shapes.some((s) => s === 'a' || s === 'b') ? `${version('sh', ['-c', 'nginx -v 2>&1'])}, ${version('sh', ['-c', 'wrk -v 2>&1 | head -1'])}, ` : ''}` +
      `${version('bpftrace', ['--version'])}. Load average before / after: ${loadBefore} / ${loadavg()}.`,
    '',
    `Accounting: ${sourceText}`,
    '',
    resultsTable(sums),
    '',
    targets.text,
    '',
    `${targets.misses === 0 ? 'Every target met.' : `${targets.misses} target(s) missed.`}`,
    '',
    'Per phase:',
    '',
    perRoundTable(results, netnsOf),
    '',
    'Commands (CLIENT and SERVER are the lab namespaces of each shape, fresh for each):',
    '',
    '```sh',
    `${TIME_BIN} -f '${TIME_FORMAT}' -o FILE ${sh([cli, 'watch', '--json'])} > FILE   # phase tcpwhy: stopped with SIGINT`,
    `${TIME_BIN} -f '${TIME_FORMAT}' -o FILE ${sh(bpftraceCommand(FLOOR_SCRIPT))} > FILE   # phase floor: stopped with SIGINT`,
    'ip netns exec NS cat /proc/net/snmp   # Tcp: OutRsts of both namespaces, before and after each load',
    ...commands,
    '```',
    '',
    `Regenerate: \`node dist/bench/live-load.js${o.seconds !== 5 ? ` --seconds ${o.seconds}` : ''}${o.rounds !== 5 ? ` --rounds ${o.rounds}` : ''}${o.shapes.length !== SHAPE_IDS.length ? ` --shapes ${o.shapes.join(',')}` : ''}${o.conns !== 2000 ? ` --conns ${o.conns}` : ''} --write\``,
  ].join('\n');
  return { section, misses: targets.misses };
}

// ---------------------------------------------------------------------------------
// The soak mode

async function runSoak(o: Options, root: string, cli: string, tmp: string): Promise<string> {
  const minutes = o.soakMinutes!;
  const seconds = minutes * 60;
  const date = new Date().toISOString();
  const shape = httpShape('a', true);
  const lab = newLab();
  const ctx: Ctx = { root, cli, tmp, lab, netns: { client: lab.client.netns, server: lab.server.netns }, opts: { ...o, seconds }, syn6: '' };
  const samples: Array<{ t: number; rssKb: number; hwmKb: number; cpuSec: number }> = [];
  let died: string | undefined;
  let wrkRate = 0;
  let probeNote = '';
  let rsts = { client: 0, server: 0 };
  let acct: (Accounting & { unreadable: number }) | undefined;
  try {
    await shape.setup(ctx);
    const tracer = await startTracer(ctx, 'tcpwhy', 'soak');
    const before = { client: outRsts(lab.client.ns), server: outRsts(lab.server.ns) };
    progress(`soak: ${minutes} min of shape a plus ${SOAK_PROBE_RATE} refused connections/s; RSS every ${SOAK_SAMPLE_S} s`);
    const t0 = performance.now();
    const loadP = shape.load(ctx, seconds);
    const [pc, pa] = inNsArgs(lab.client.ns, [
      process.execPath,
      join(root, 'dist', 'bench', 'reset-peers.js'),
      'probe',
      lab.server.v4,
      String(CLOSED_PORT),
      String(SOAK_PROBE_RATE),
      String(seconds),
    ]);
    const probe = start(pc, pa, 'pipe');
    let loadDone = false;
    loadP.then(
      () => (loadDone = true),
      () => (loadDone = true),
    );
    for (let i = 1; i <= Math.ceil(seconds / SOAK_SAMPLE_S) + 1 && !loadDone; i++) {
      await Promise.race([sleep(Math.max(0, t0 + i * SOAK_SAMPLE_S * 1000 - performance.now())), loadP.catch(() => undefined)]);
      if (loadDone) break;
      if (tracer.proc.isDone()) {
        await tracer.proc.exited.catch(() => undefined);
        died = `at ${((performance.now() - t0) / 1000).toFixed(0)} s: ${deathNote(tracer)}`;
        progress(`soak: tcpwhy died ${died}`);
        break;
      }
      try {
        const u = sampleUsage(tracer.pid);
        const t = (performance.now() - t0) / 1000;
        samples.push({ t, rssKb: u.rssKb, hwmKb: u.hwmKb, cpuSec: u.cpuSec });
        progress(`soak: ${t.toFixed(0)} s RSS ${mb(u.rssKb).toFixed(1)} MB (peak ${mb(u.hwmKb).toFixed(1)} MB), CPU ${u.cpuSec.toFixed(1)} s`);
      } catch {
        /* exited between the check and the read: seen on the next turn */
      }
    }
    const load = await loadP;
    wrkRate = load.rate ?? 0;
    await waitExit(probe, 'reset-peers probe', 30_000);
    probeNote = probe.stdout().trim();
    await sleep(SETTLE_MS);
    rsts = { client: outRsts(lab.client.ns) - before.client, server: outRsts(lab.server.ns) - before.server };
    await sleep(DRAIN_MS);
    if (!died && !tracer.proc.isDone()) {
      const r = await stopAndWait(tracer.proc, 'SIGINT', STOP_TIMEOUT_MS, tracer.pid);
      if (r.code !== 0) died = `exited with ${r.code ?? r.signal} at SIGINT: ${deathNote(tracer)}`;
    } else if (!died) {
      died = `before the end: ${deathNote(tracer)}`;
    }
    acct = readAccounting(tracer.outFile, tracer.proc.stderr());
  } finally {
    await shape.teardown().catch(() => undefined);
    dropLab();
  }

  const third = Math.floor(samples.length / 3);
  const first = samples.slice(0, third);
  const last = samples.slice(samples.length - third);
  const maxOf = (xs: typeof samples) => Math.max(...xs.map((s) => s.rssKb));
  let verdict: string;
  if (died) verdict = `**MISS**: tcpwhy died ${died}`;
  else if (third < 1) verdict = 'too few samples to judge (run at least 30 s)';
  else {
    const a = maxOf(first);
    const b = maxOf(last);
    const flat = b <= a * (1 + SOAK_FLAT_TOLERANCE);
    verdict = `${flat ? '**flat**' : '**growing**'}: the last third's max RSS ${mb(b).toFixed(1)} MB vs the first third's ${mb(a).toFixed(1)} MB (${signedPct(b / a - 1)})`;
  }
  const peak = Math.max(0, ...samples.map((s) => s.hwmKb));
  const c = acct ? get(acct.accounted, ctx.netns.client) : undefined;
  const s = acct ? get(acct.accounted, ctx.netns.server) : undefined;
  return [
    '### Soak',
    '',
    `Run ${date}: ${minutes} min of shape a (nginx + \`wrk -t2 -c50 -H "Connection: close"\`) plus ${SOAK_PROBE_RATE} connection attempts per second to a closed port (each refused with a RST), with \`tcpwhy watch --json > FILE\` running all along.`,
    '',
    `Rule: RSS is **flat** when the largest sample of the last third of the run is within ${pct(SOAK_FLAT_TOLERANCE, 0)} of the largest of the first third; it must also stay ≤ ${TARGET_RSS_MB} MB.`,
    '',
    `Verdict: ${verdict}. Peak RSS (VmHWM) ${mb(peak).toFixed(1)} MB: ${res(peak > 0 && mb(peak) <= TARGET_RSS_MB && !died)}.`,
    '',
    `wrk: ${int(wrkRate)} requests/s. Probe: ${probeNote || '?'}. OutRsts client / server: ${int(rsts.client)} / ${int(rsts.server)}; ` +
      (acct
        ? `accounted (${acct.source}) sent ${int(c!.sent)} / ${int(s!.sent)}, lost ${acct.lost ?? '?'}: ${res(c!.sent === rsts.client && s!.sent === rsts.server && acct.lost === 0 && !died)}.`
        : 'no accounting (tcpwhy gave none).'),
    '',
    '| s | RSS MB | peak RSS MB | CPU s |',
    '|--:|--:|--:|--:|',
    ...samples.map((x) => `| ${x.t.toFixed(0)} | ${mb(x.rssKb).toFixed(1)} | ${mb(x.hwmKb).toFixed(1)} | ${x.cpuSec.toFixed(1)} |`),
    '',
    `Regenerate: \`node dist/bench/live-load.js --soak ${minutes} --write\``,
  ].join('\n');
}

// ---------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) return 0;
  checkTools(o);
  const root = repoRoot();
  // the command as users run it (bin/tcpwhy, which starts node with V8's heap flags)
  const cli = join(root, 'bin', 'tcpwhy');
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js')) || !existsSync(join(root, 'dist', 'bench', 'reset-peers.js')))
    throw new BenchError('tcpwhy is not built: run make build first');
  setClockTicks(Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()));
  const tmp = mkdtempSync(join(tmpdir(), 'tcpwhy-live-'));
  liveTmp = tmp;
  try {
    if (o.soakMinutes !== undefined) {
      const section = await runSoak(o, root, cli, tmp);
      process.stdout.write(`${section}\n`);
      if (o.write) process.stderr.write(`live-load: wrote ${writeSection(root, 'live-load-soak', section, '# Benchmarks\n')}\n`);
      return 0;
    }
    const { section } = await runBenchmark(o, root, cli, tmp);
    process.stdout.write(`${section}\n`);
    if (o.write) process.stderr.write(`live-load: wrote ${writeSection(root, 'live-load', section, '# Benchmarks\n')}\n`);
    return 0;
  } finally {
    cleanup();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    cleanup();
    if (err instanceof BenchError) process.stderr.write(`live-load: ${err.message}\n`);
    else process.stderr.write(`live-load: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
