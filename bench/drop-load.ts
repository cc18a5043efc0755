#!/usr/bin/env node
// Benchmark: what `tcpwhy watch` costs while the kernel drops and retransmits TCP
// segments, and whether it accounts for every drop the firewall made.
//
// Like bench/live-load.ts (whose tracer runner, nginx and wrk helpers it shares),
// each shape runs in a fresh lab (a client and a server network namespace joined by
// a veth pair), in rounds of three phases of the same length, the order rotated:
//   none    no tracer
//   tcpwhy  `bin/tcpwhy watch --json [--events ...] > FILE`, no filter
//   floor   bpftrace that only counts, in maps, on the tracepoints tcpwhy attaches to
// Shapes:
//   g  drop storm: `tcp dport 7000 counter drop` in the server's input hook, hping3 -S
//      --flood to that port: the rule's drops per second (its nft counter); tcpwhy's
//      NETFILTER_DROP drops in the server namespace must equal the counter
//   h  lossy bulk: nginx serves a large file to wrk (keep-alive), the client's input
//      hook drops LOSS % of the server's data packets at random (numgen, with a
//      counter): bytes/s; drops vs the counter, retransmissions vs the sender's RetransSegs.
//      nginx and wrk are pinned to different CPUs (taskset -c, the same in every phase):
//      unpinned, the transfer ran at ~580 or ~1450 MB/s on 2 CPUs, traced or not,
//      depending on where the scheduler put its two ends
//   i  keep-alive HTTP (live-load's shape b) with `--events drops,retransmits,errors`:
//      requests/s
// Separate from live-load.ts because what it checks differs: nft counters and the
// loss summary instead of OutRsts and by_netns.
//
// Usage: node dist/bench/drop-load.js [--seconds N] [--rounds N] [--shapes g,h,i]
//          [--loss PCT] [--drop-port P] [--pin S,C] [--quick] [--write]
// Exit code: 0 when the benchmark ran (whether or not the targets were met), 1 when
// something could not run.
//
// Safety: traffic and firewall rules only in the lab's two namespaces, which are
// deleted on the way out with everything started in them; nothing in the root
// namespace is changed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab } from '../src/lab/netns.js';
import {
  benchArgs,
  BenchError,
  slowdowns,
  slowdownText,
  int,
  loadavg,
  median,
  progressLog,
  repoRoot,
  sh,
  TIME_BIN,
  version,
  which,
  wholeNumber,
  writeSection,
} from './common.js';
import { INDEX_HTML, loadGeneratorSysctls, pinned, runWrk, startNginx } from './lab-nginx.js';
import { type LossAccounting, type LossKind, lossEvents, otherEvents, readLossAccounting } from './loss-accounting.js';
import { cleanupOnExit, type Proc, setClockTicks, start, stopAndWait, TIME_FORMAT } from './procs.js';
import { bpftraceCommand, floorCounts, startTracer, stopTracer, type TracerEnd, usageBefore } from './tracers.js';

// ---------------------------------------------------------------------------------
// Settings

const TARGET_RSS_MB = 150; // MB = 10^6 bytes
const SETTLE_MS = 500; // after the load, before reading the kernel's counters
const DRAIN_MS = 1000; // after that, before stopping the tracer
const HTTP_PORT = 8080;
const DROP_PORT = 7000; // the port of the issue's example: "tcp dport 7000 drop"
const BULK_FILE = 'bulk.bin';
const BULK_BYTES = 64 << 20;
const WARMUP_S = 1;
const LOSS_EVENTS = 'drops,retransmits,errors';
const PIN = '0,1'; // shape h: nginx's CPU, wrk's CPU

const TP_RESETS = ['tcp:tcp_send_reset', 'tcp:tcp_receive_reset', 'sock:inet_sock_set_state'];
const TP_LOSS = ['skb:kfree_skb', 'tcp:tcp_retransmit_skb', 'tcp:tcp_retransmit_synack', 'sock:inet_sk_error_report'];

function floorScript(tracepoints: string[]): string {
  return tracepoints.map((tp) => `tracepoint:${tp} { @${tp.split(':')[1]} = count(); }`).join('\n');
}

// wrk's own count of the bytes it read and of its run time, exact (its text report rounds)
const WRK_BYTES_LUA = `done = function(summary, latency, requests)
  io.write(string.format("BENCH bytes=%d duration_us=%d requests=%d\\n", summary.bytes, summary.duration, summary.requests))
end
`;

const progress = progressLog('drop-load');

// ---------------------------------------------------------------------------------
// Options

const SHAPE_IDS = ['g', 'h', 'i'] as const;
type ShapeId = (typeof SHAPE_IDS)[number];

interface Options {
  seconds: number;
  rounds: number;
  shapes: ShapeId[];
  loss: number;
  dropPort: number;
  /** shape h: the CPUs of nginx and wrk */
  pin: { server: string; client: string };
  quick: boolean;
  write: boolean;
}

const USAGE = `usage: node dist/bench/drop-load.js [--seconds N] [--rounds N] [--shapes g,h,i] [--loss PCT] [--drop-port P] [--pin S,C] [--quick] [--write]
  --seconds N     length of each phase's load (default 5, 1..600)
  --rounds N      rounds of the three phases per shape, order rotated (default 5, 1..20)
  --shapes LIST   which shapes, of g h i (default all): g firewall dropping a SYN flood,
                    h lossy bulk transfer, i keep-alive HTTP with drop tracing
  --loss PCT      percent of the data packets dropped in shape h (default 1, 1..50)
  --drop-port P   the port the firewall of shape g drops (default ${DROP_PORT}); hping3's source ports
                    run through 0..65535, and tcpwhy's storm key of a drop may depend on them
  --pin S,C       the CPUs nginx (S) and wrk (C) run on in shape h (default ${PIN}; taskset -c)
  --quick         a smoke run: 1 round of 2 s phases (options given win)
  --write         also rewrite the drop-load section of docs/benchmarks.md
`;

function parseOptions(argv: string[]): Options | undefined {
  const v = benchArgs(argv, USAGE, {
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    shapes: { type: 'string' },
    loss: { type: 'string' },
    'drop-port': { type: 'string' },
    pin: { type: 'string' },
    quick: { type: 'boolean' },
    write: { type: 'boolean' },
  });
  if (!v) return undefined;
  const quick = v.quick ?? false;
  const shapes = (v.shapes ?? SHAPE_IDS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of shapes) if (!(SHAPE_IDS as readonly string[]).includes(s)) throw new BenchError(`--shapes: unknown shape ${JSON.stringify(s)} (g, h, i)`);
  if (!shapes.length) throw new BenchError('--shapes: no shape given');
  const pin = /^(\d+),(\d+)$/.exec(v.pin ?? PIN);
  if (!pin) throw new BenchError(`--pin wants two CPU numbers, SERVER,CLIENT, got ${JSON.stringify(v.pin)}`);
  return {
    seconds: wholeNumber('seconds', v.seconds, quick ? 2 : 5, 1, 600),
    rounds: wholeNumber('rounds', v.rounds, quick ? 1 : 5, 1, 20),
    shapes: SHAPE_IDS.filter((s) => shapes.includes(s)),
    loss: wholeNumber('loss', v.loss, 1, 1, 50),
    dropPort: wholeNumber('drop-port', v['drop-port'], DROP_PORT, 1, 65535),
    pin: { server: pin[1]!, client: pin[2]! },
    quick,
    write: v.write ?? false,
  };
}

// ---------------------------------------------------------------------------------
// Cleanup

let liveLab: Lab | undefined;
let liveTmp: string | undefined;

const cleanup = cleanupOnExit('drop-load', () => {
  liveLab?.destroy();
  liveLab = undefined;
  if (liveTmp) {
    rmSync(liveTmp, { recursive: true, force: true });
    liveTmp = undefined;
  }
});

// ---------------------------------------------------------------------------------
// Shapes

interface Ctx {
  cli: string;
  tmp: string;
  lab: Lab;
  opts: Options;
}

type Side = 'client' | 'server';

/** A kernel counter the shape reads before and after each load. */
type Counters = Record<string, number>;

/** tcpwhy's count of one kind of event in one namespace, compared with a kernel counter. */
interface Witness {
  label: string;
  kind: LossKind;
  side: Side;
  reason?: string;
  counter: string;
  counterLabel: string;
  /** exact: equal every round; atMost: tcpwhy's events (skbs) ≤ the counter (segments) and > 0 */
  rule: 'exact' | 'atMost';
}

interface Load {
  /** the shape's rate; undefined when it is a counter's delta over `seconds` */
  rate?: number;
  seconds: number;
  note?: string;
}

interface Shape {
  id: ShapeId;
  title: string;
  unit: string;
  slowdownTarget: number;
  /** tcpwhy's --events, when not all */
  events?: string;
  tracepoints: string[];
  /** the counter whose delta over the load's seconds is the rate, when the load gives none */
  rateCounter?: string;
  witnesses: Witness[];
  setup(ctx: Ctx): Promise<void>;
  counters(ctx: Ctx): Counters;
  load(ctx: Ctx, seconds: number): Promise<Load>;
  teardown(): Promise<void>;
  commands(ctx: Ctx): string[];
}

/** The packets an nft rule with a `counter` has matched, from `nft list chain inet bench input`. */
function nftPackets(ns: string): number {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'chain', 'inet', 'bench', 'input'], { encoding: 'utf8' });
  const m = /counter packets (\d+) bytes \d+/.exec(out);
  if (!m) throw new BenchError(`no counter in the bench chain of ${ns}:\n${out}`);
  return Number(m[1]);
}

function benchChain(rule: string): string {
  return `table inet bench {\n  chain input {\n    type filter hook input priority 0;\n    ${rule}\n  }\n}\n`;
}

function retransSegs(lab: Lab, side: Side): number {
  const v = lab.snmp(lab[side]).Tcp?.RetransSegs;
  if (v === undefined || !Number.isFinite(v)) throw new BenchError(`no Tcp: RetransSegs in /proc/net/snmp of ${lab[side].ns}`);
  return v;
}

function dropStormShape(port: number): Shape {
  const rule = `tcp dport ${port} counter drop`;
  const hping = (ctx: Ctx) => ['hping3', '-S', '-p', String(port), '--flood', ctx.lab.server.v4];
  return {
    id: 'g',
    title: `drop storm: a firewall rule drops a SYN flood (hping3 -S to port ${port})`,
    unit: 'drops/s',
    slowdownTarget: 0.05,
    tracepoints: [...TP_RESETS, ...TP_LOSS],
    rateCounter: 'dropped',
    witnesses: [
      {
        label: 'drops (NETFILTER_DROP, server)',
        kind: 'drop',
        side: 'server',
        reason: 'NETFILTER_DROP',
        counter: 'dropped',
        counterLabel: 'nft counter',
        rule: 'exact',
      },
    ],
    async setup(ctx) {
      ctx.lab.nft(ctx.lab.server, benchChain(rule));
    },
    counters: (ctx) => ({ dropped: nftPackets(ctx.lab.server.ns) }),
    async load(ctx, seconds) {
      const t0 = performance.now();
      const h = start('ip', ['netns', 'exec', ctx.lab.client.ns, ...hping(ctx)]);
      await Promise.race([h.exited, sleep(seconds * 1000)]);
      if (h.isDone()) throw new BenchError(`hping3 stopped before the end of the flood; its stderr:\n${h.stderr().slice(-2000)}`);
      await stopAndWait(h, 'SIGINT', 10_000);
      return { seconds: (performance.now() - t0) / 1000 };
    },
    async teardown() {},
    commands: (ctx) => [
      `ip netns exec SERVER nft -f -   # ${benchChain(rule).replace(/\s+/g, ' ').trim()}`,
      `ip netns exec CLIENT ${sh(hping(ctx))}   # stopped with SIGINT`,
    ],
  };
}

function lossyBulkShape(loss: number, pin: Options['pin']): Shape {
  let nginx: Proc | undefined;
  // the server's data (a zero-window probe or a bare ACK is 52 bytes): a lossy link, one way
  const rule = `tcp sport ${HTTP_PORT} meta length > 100 numgen random mod 100 < ${loss} counter drop`;
  const wrk = (ctx: Ctx, seconds: number) => [
    ...pinned(pin.client),
    'wrk',
    '-t1',
    '-c2',
    `-d${seconds}s`,
    '-s',
    join(ctx.tmp, 'bytes.lua'),
    `http://${ctx.lab.server.v4}:${HTTP_PORT}/${BULK_FILE}`,
  ];
  return {
    id: 'h',
    title: `lossy bulk: nginx → wrk (CPUs ${pin.server} and ${pin.client}), a ${BULK_BYTES >> 20} MiB file, ${loss} % of the data packets dropped at random`,
    unit: 'bytes/s',
    slowdownTarget: 0.05,
    tracepoints: [...TP_RESETS, ...TP_LOSS],
    witnesses: [
      {
        label: 'drops (NETFILTER_DROP, client)',
        kind: 'drop',
        side: 'client',
        reason: 'NETFILTER_DROP',
        counter: 'dropped',
        counterLabel: 'nft counter',
        rule: 'exact',
      },
      {
        label: 'retransmissions (server)',
        kind: 'retransmit',
        side: 'server',
        counter: 'retransSegs',
        counterLabel: 'server RetransSegs',
        rule: 'atMost',
      },
    ],
    async setup(ctx) {
      writeFileSync(join(ctx.tmp, 'bytes.lua'), WRK_BYTES_LUA);
      nginx = await startNginx(ctx.lab, join(ctx.tmp, 'nginx-h'), HTTP_PORT, { [BULK_FILE]: BULK_BYTES }, pin.server);
      ctx.lab.nft(ctx.lab.client, benchChain(rule));
    },
    counters: (ctx) => ({ dropped: nftPackets(ctx.lab.client.ns), retransSegs: retransSegs(ctx.lab, 'server') }),
    async load(ctx, seconds) {
      const w = await runWrk(ctx.lab.client.ns, wrk(ctx, seconds).slice(pinned(pin.client).length + 1), seconds, pin.client);
      const m = /BENCH bytes=(\d+) duration_us=(\d+) requests=(\d+)/.exec(w.stdout);
      if (!m || Number(m[2]) <= 0) throw new BenchError(`wrk printed no byte count:\n${w.stdout.slice(-2000)}`);
      const secs = Number(m[2]) / 1e6;
      const note = [`${int(Number(m[3]))} files`, w.note].filter(Boolean).join('; ');
      return { rate: Number(m[1]) / secs, seconds: secs, note };
    },
    async teardown() {
      if (nginx && !nginx.isDone()) await stopAndWait(nginx, 'SIGTERM', 10_000);
      nginx = undefined;
    },
    commands: (ctx) => [
      `ip netns exec SERVER ${sh(pinned(pin.server))} nginx -c CONF -p DIR   # as in live-load, serving a ${BULK_BYTES >> 20} MiB file of zeros`,
      `ip netns exec CLIENT nft -f -   # ${benchChain(rule).replace(/\s+/g, ' ').trim()}`,
      `ip netns exec CLIENT ${sh(wrk(ctx, ctx.opts.seconds).map((a) => (a.endsWith('bytes.lua') ? 'bytes.lua' : a)))}   # bytes.lua prints wrk's summary.bytes and summary.duration`,
    ],
  };
}

function keepAliveShape(): Shape {
  let nginx: Proc | undefined;
  const wrk = (ctx: Ctx, seconds: number) => ['wrk', '-t2', '-c50', `-d${seconds}s`, `http://${ctx.lab.server.v4}:${HTTP_PORT}/`];
  return {
    id: 'i',
    title: `nginx + wrk, keep-alive, tcpwhy --events ${LOSS_EVENTS}`,
    unit: 'requests/s',
    slowdownTarget: 0.01,
    events: LOSS_EVENTS,
    // tcpwhy keeps the history of connections (their states) for the loss events too
    tracepoints: ['sock:inet_sock_set_state', ...TP_LOSS],
    witnesses: [],
    async setup(ctx) {
      loadGeneratorSysctls(ctx.lab);
      nginx = await startNginx(ctx.lab, join(ctx.tmp, 'nginx-i'), HTTP_PORT);
    },
    counters: () => ({}),
    async load(ctx, seconds) {
      const w = await runWrk(ctx.lab.client.ns, wrk(ctx, seconds).slice(1), seconds);
      return { rate: w.rate, seconds: w.seconds, ...(w.note ? { note: w.note } : {}) };
    },
    async teardown() {
      if (nginx && !nginx.isDone()) await stopAndWait(nginx, 'SIGTERM', 10_000);
      nginx = undefined;
    },
    commands: (ctx) => [
      `ip netns exec SERVER nginx -c CONF -p DIR   # as in live-load: one process, access_log off, a ${INDEX_HTML.length}-byte index.html`,
      `ip netns exec CLIENT ${sh(wrk(ctx, ctx.opts.seconds))}`,
    ],
  };
}

function makeShape(id: ShapeId, o: Options): Shape {
  if (id === 'g') return dropStormShape(o.dropPort);
  if (id === 'h') return lossyBulkShape(o.loss, o.pin);
  return keepAliveShape();
}

function tcpwhyCommand(ctx: Ctx, shape: Shape): string[] {
  return [ctx.cli, 'watch', '--json', ...(shape.events ? ['--events', shape.events] : [])];
}

// ---------------------------------------------------------------------------------
// One phase

type PhaseName = 'none' | 'tcpwhy' | 'floor';
const PHASES: PhaseName[] = ['none', 'tcpwhy', 'floor'];

interface PhaseResult extends TracerEnd {
  phase: PhaseName;
  round: number;
  rate: number;
  seconds: number;
  deltas: Counters;
  note?: string;
  acct?: LossAccounting;
  floor?: Record<string, number>;
}

async function runPhase(ctx: Ctx, shape: Shape, phase: PhaseName, round: number): Promise<PhaseResult> {
  const tag = `${shape.id}-${round}`;
  const tracer =
    phase === 'none'
      ? undefined
      : phase === 'tcpwhy'
        ? await startTracer(ctx.tmp, 'tcpwhy', 'tcpwhy', tcpwhyCommand(ctx, shape), tag)
        : await startTracer(ctx.tmp, 'floor', 'bpftrace', bpftraceCommand(floorScript(shape.tracepoints)), tag);
  const u0 = tracer ? usageBefore(tracer) : undefined;
  const before = shape.counters(ctx);
  const load = await shape.load(ctx, ctx.opts.seconds);
  await sleep(SETTLE_MS);
  const after = shape.counters(ctx);
  const deltas: Counters = {};
  for (const k of Object.keys(before)) deltas[k] = after[k]! - before[k]!;
  const rate = load.rate ?? (deltas[shape.rateCounter!] ?? 0) / load.seconds;
  if (rate <= 0) throw new BenchError(`shape ${shape.id}: the load measured nothing (${JSON.stringify(deltas)})`);
  const r: PhaseResult = { phase, round, rate, seconds: load.seconds, deltas, ...(load.note ? { note: load.note } : {}) };
  if (!tracer) return r;
  Object.assign(r, await stopTracer(tracer, u0!, DRAIN_MS, progress));
  if (phase === 'tcpwhy') r.acct = readLossAccounting(tracer.outFile);
  else r.floor = floorCounts(tracer);
  rmSync(tracer.outFile, { force: true });
  return r;
}

// ---------------------------------------------------------------------------------
// Per shape: the numbers and the targets

interface WitnessSum {
  w: Witness;
  kernel: number;
  tcpwhy: number;
  ok: boolean;
}

interface ShapeSummary {
  shape: Shape;
  median: Record<PhaseName, number>;
  slowdown: number; // 1 - tcpwhy / none: the median of the rounds' (pairedSlowdown)
  floorSlowdown: number;
  roundSlowdowns: number[];
  witnesses: WitnessSum[];
  lost: number | undefined;
  unkeyed: number | undefined;
  loss: { drops: number; retransmits: number; errors: number; shown: number };
  cpuLoadSec: number;
  peakRssKb: number;
  floorRssKb: number;
  died: string[];
}

function witnessOk(w: Witness, tcpwhy: number, kernel: number): boolean {
  return w.rule === 'exact' ? tcpwhy === kernel : tcpwhy > 0 && tcpwhy <= kernel;
}

function summarize(shape: Shape, results: PhaseResult[], netns: Record<Side, number>): ShapeSummary {
  const of = (p: PhaseName) => results.filter((r) => r.phase === p);
  const med = (p: PhaseName) => median(of(p).map((r) => r.rate));
  const tw = of('tcpwhy');
  const witnesses = shape.witnesses.map((w) => ({ w, kernel: 0, tcpwhy: 0, ok: tw.length > 0 }));
  let lost: number | undefined = 0;
  let unkeyed: number | undefined = 0;
  const loss = { drops: 0, retransmits: 0, errors: 0, shown: 0 };
  for (const r of tw) {
    const a = r.acct;
    for (const ws of witnesses) {
      const kernel = r.deltas[ws.w.counter] ?? 0;
      const seen = a ? lossEvents(a, ws.w.kind, netns[ws.w.side], ws.w.reason).events : 0;
      ws.kernel += kernel;
      ws.tcpwhy += seen;
      if (!a || r.died || !witnessOk(ws.w, seen, kernel)) ws.ok = false;
    }
    const l = a?.loss;
    if (!l || a.rstLost === undefined) {
      lost = unkeyed = undefined;
      continue;
    }
    if (lost !== undefined) lost += l.lost + a.rstLost;
    if (unkeyed !== undefined) unkeyed += l.unkeyed;
    loss.drops += l.drops;
    loss.retransmits += l.retransmits;
    loss.errors += l.errors;
    loss.shown += l.shown;
  }
  const none = med('none');
  return {
    shape,
    median: { none, tcpwhy: med('tcpwhy'), floor: med('floor') },
    ...slowdowns(results),
    witnesses,
    lost,
    unkeyed,
    loss,
    cpuLoadSec: median(tw.map((r) => r.cpuLoadSec ?? Number.NaN).filter((x) => Number.isFinite(x))),
    peakRssKb: Math.max(0, ...tw.map((r) => r.peakRssKb ?? 0)),
    floorRssKb: Math.max(0, ...of('floor').map((r) => r.peakRssKb ?? 0)),
    died: tw.filter((r) => r.died).map((r) => `round ${r.round}: ${r.died}`),
  };
}

const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)} %`;
const signedPct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`;
const mb = (kb: number) => (kb * 1024) / 1e6;
const dash = '–';
const res = (ok: boolean) => (ok ? '**PASS**' : '**MISS**');
const rateText = (x: number, unit: string) => (unit === 'bytes/s' ? `${(x / 1e6).toFixed(1)} MB/s` : int(x));

function witnessText(ws: WitnessSum): string {
  const p = ws.kernel ? ` (${pct(ws.tcpwhy / ws.kernel, 2)})` : '';
  return `${ws.w.label}: ${int(ws.tcpwhy)} / ${int(ws.kernel)} ${ws.w.counterLabel}${p}`;
}

function resultsTable(sums: ShapeSummary[]): string {
  const rows = [
    '| shape | unit | no tracer (median) | tcpwhy (median) | slowdown | floor (median) | floor slowdown | tcpwhy / kernel | loss events (drops / retrans / errors, all namespaces) | shown in full | lost | unkeyed | tcpwhy CPU s (load, median) | peak RSS MB | floor peak RSS MB |',
    '|---|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const s of sums) {
    const u = s.shape.unit;
    rows.push(
      `| ${s.shape.id}. ${s.shape.title} | ${u === 'bytes/s' ? 'MB/s' : u} | ${rateText(s.median.none, u)} | ${rateText(s.median.tcpwhy, u)} | ${slowdownText(s)} | ${rateText(s.median.floor, u)} | ${signedPct(-s.floorSlowdown)} | ${s.witnesses.map(witnessText).join('; ') || dash} | ${int(s.loss.drops)} / ${int(s.loss.retransmits)} / ${int(s.loss.errors)} | ${int(s.loss.shown)} | ${s.lost === undefined ? '?' : int(s.lost)} | ${s.unkeyed === undefined ? '?' : int(s.unkeyed)} | ${Number.isFinite(s.cpuLoadSec) ? s.cpuLoadSec.toFixed(2) : dash} | ${mb(s.peakRssKb).toFixed(1)} | ${mb(s.floorRssKb).toFixed(1)} |`,
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
      `${s.shape.unit} ≤ ${pct(s.shape.slowdownTarget, 0)} lower than without a tracer`,
      `${signedPct(-s.slowdown)}${died}`,
      s.slowdown <= s.shape.slowdownTarget && !s.died.length,
    );
    for (const ws of s.witnesses) {
      const target =
        ws.w.rule === 'exact'
          ? `${ws.w.label}: 100 % accounted (equal to the ${ws.w.counterLabel}, every round)`
          : `${ws.w.label}: some seen, at most the ${ws.w.counterLabel} (an event is one skb, RetransSegs counts segments)`;
      add(id, target, `${int(ws.tcpwhy)} of ${int(ws.kernel)}`, ws.ok);
    }
    add(id, '0 lost (RSTs and loss events)', s.lost === undefined ? 'unknown (no summary)' : int(s.lost), s.lost === 0);
    const rss = mb(s.peakRssKb);
    add(id, `peak RSS ≤ ${TARGET_RSS_MB} MB`, `${rss.toFixed(1)} MB`, rss <= TARGET_RSS_MB && rss > 0);
  }
  return { text: rows.join('\n'), misses };
}

function perRoundTable(results: Array<PhaseResult & { shape: Shape }>, netnsOf: Map<ShapeId, Record<Side, number>>): string {
  const rows = [
    '| shape | round | phase | rate | load s | kernel counters | tcpwhy accounted | other loss events in the lab | lost | unkeyed | CPU s (load) | peak RSS MB | note |',
    '|---|--:|---|--:|--:|---|---|---|--:|--:|--:|--:|---|',
  ];
  for (const r of results) {
    const ns = netnsOf.get(r.shape.id)!;
    const a = r.acct;
    const counters = Object.entries(r.deltas)
      .map(([k, v]) => `${k} ${int(v)}`)
      .join(', ');
    const seen = a ? r.shape.witnesses.map((w) => `${w.kind} ${int(lossEvents(a, w.kind, ns[w.side], w.reason).events)}`).join(', ') || dash : dash;
    const except: Array<[LossKind, string | undefined]> = r.shape.witnesses.map((w) => [w.kind, w.reason]);
    const other = a
      ? (['client', 'server'] as const)
          .map((side) => {
            const o = otherEvents(
              a,
              ns[side],
              except.filter((_, i) => r.shape.witnesses[i]!.side === side),
            );
            return o ? `${side}: ${o}` : '';
          })
          .filter(Boolean)
          .join('; ') || 'none'
      : dash;
    const notes = [r.note, r.died ? `tracer died: ${r.died}` : undefined, a?.unreadable ? `${a.unreadable} unreadable lines` : undefined].filter(Boolean);
    if (r.floor)
      notes.push(
        `floor counted (host-wide): ${
          Object.entries(r.floor)
            .map(([k, v]) => `${k} ${int(v)}`)
            .join(', ') || 'nothing'
        }`,
      );
    const lost = a?.loss && a.rstLost !== undefined ? int(a.loss.lost + a.rstLost) : dash;
    rows.push(
      `| ${r.shape.id} | ${r.round} | ${r.phase} | ${rateText(r.rate, r.shape.unit)} | ${r.seconds.toFixed(2)} | ${counters || dash} | ${seen} | ${other} | ${lost} | ${a?.loss ? int(a.loss.unkeyed) : dash} | ${r.cpuLoadSec === undefined ? dash : r.cpuLoadSec.toFixed(2)} | ${r.peakRssKb === undefined ? dash : mb(r.peakRssKb).toFixed(1)} | ${notes.join('; ')} |`,
    );
  }
  return rows.join('\n');
}

// ---------------------------------------------------------------------------------
// The benchmark

function checkTools(o: Options): void {
  if (process.getuid?.() !== 0) throw new BenchError('needs root (network namespaces, raw sockets, BPF)');
  const need: Array<[string, string]> = [
    ['ip', 'iproute2'],
    ['ss', 'iproute2'],
    ['nft', 'nftables'],
    ['getconf', 'libc-bin'],
    ['bpftrace', 'bpftrace'],
    ['unshare', 'util-linux'],
  ];
  if (o.shapes.includes('g')) need.push(['hping3', 'hping3']);
  if (o.shapes.includes('h') || o.shapes.includes('i')) need.push(['nginx', 'nginx'], ['wrk', 'wrk']);
  if (o.shapes.includes('h')) {
    need.push(['taskset', 'util-linux']);
    const cpus = availableParallelism();
    for (const c of [o.pin.server, o.pin.client]) if (Number(c) >= cpus) throw new BenchError(`--pin: CPU ${c} does not exist here (CPUs 0..${cpus - 1})`);
  }
  const missing = need.filter(([cmd]) => !which(cmd));
  if (missing.length)
    throw new BenchError(`not found: ${missing.map(([c]) => c).join(', ')} (apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')})`);
  if (!existsSync(TIME_BIN)) throw new BenchError(`${TIME_BIN} not found (apt-get install time)`);
}

async function runBenchmark(o: Options, cli: string, tmp: string): Promise<string> {
  const date = new Date().toISOString();
  const loadBefore = loadavg();
  const t0 = performance.now();
  const results: Array<PhaseResult & { shape: Shape }> = [];
  const sums: ShapeSummary[] = [];
  const netnsOf = new Map<ShapeId, Record<Side, number>>();
  const commands: string[] = [];
  const floors: string[] = [];
  const total = o.shapes.length * o.rounds * PHASES.length;
  let done = 0;
  for (const id of o.shapes) {
    const shape = makeShape(id, o);
    const lab = Lab.create('drop');
    liveLab = lab;
    const ctx: Ctx = { cli, tmp, lab, opts: o };
    const netns = { client: lab.client.netns, server: lab.server.netns };
    netnsOf.set(id, netns);
    progress(`shape ${id}: ${shape.title} (namespaces ${lab.client.ns} ${netns.client}, ${lab.server.ns} ${netns.server})`);
    const mine: PhaseResult[] = [];
    try {
      await shape.setup(ctx);
      progress(`  warm-up: ${WARMUP_S} s of load`);
      await shape.load(ctx, WARMUP_S);
      for (let round = 1; round <= o.rounds; round++) {
        const order = PHASES.map((_, i) => PHASES[(i + round - 1) % PHASES.length]!);
        for (const phase of order) {
          progress(`  [${++done}/${total}] ${id} round ${round}: ${phase}`);
          const r = await runPhase(ctx, shape, phase, round);
          const a = r.acct;
          progress(
            `    ${rateText(r.rate, shape.unit)} ${shape.unit === 'bytes/s' ? '' : shape.unit} over ${r.seconds.toFixed(2)} s; ${JSON.stringify(r.deltas)}` +
              (a
                ? `; tcpwhy ${shape.witnesses.map((w) => `${w.kind} ${lossEvents(a, w.kind, netns[w.side], w.reason).events}`).join(', ')}; loss ${JSON.stringify(a.loss)}`
                : '') +
              (r.peakRssKb ? `; peak RSS ${mb(r.peakRssKb).toFixed(1)} MB` : '') +
              (r.died ? `; DIED: ${r.died}` : ''),
          );
          mine.push(r);
        }
      }
      commands.push(...shape.commands(ctx));
      floors.push(
        `# shape ${id}:`,
        `${TIME_BIN} -f '${TIME_FORMAT}' -o FILE ${sh(tcpwhyCommand(ctx, shape))} > FILE`,
        `${TIME_BIN} -f '${TIME_FORMAT}' -o FILE ${sh(bpftraceCommand(floorScript(shape.tracepoints)))} > FILE`,
      );
    } finally {
      await shape.teardown().catch(() => undefined);
      lab.destroy();
      liveLab = undefined;
    }
    results.push(...mine.map((r) => ({ ...r, shape })));
    sums.push(summarize(shape, mine, netns));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const targets = targetsTable(sums);
  return [
    '### Results',
    '',
    `Run ${date}: ${o.rounds} round(s) per shape of three ${o.seconds} s phases, the order rotated every round; rates are medians over the rounds, a slowdown is the median of the rounds' own (each round's phase against that round's untraced one); ${elapsed.toFixed(0)} s in all.${o.quick ? ' **A --quick smoke run: too short to judge the targets.**' : ''}`,
    '',
    `Machine: ${version('nproc', [])} CPUs, kernel ${version('uname', ['-r'])}, node ${process.version}, tcpwhy ${version(cli, ['--version'])}, ` +
      `${version('sh', ['-c', 'nginx -v 2>&1'])}, ${version('sh', ['-c', 'wrk -v 2>&1 | head -1'])}, ${version('hping3', ['--version'])}, ${version('nft', ['--version'])}, ` +
      `${version('bpftrace', ['--version'])}. Load average before / after: ${loadBefore} / ${loadavg()}.`,
    '',
    resultsTable(sums),
    '',
    targets.text,
    '',
    `${targets.misses === 0 ? 'Every target met.' : `${targets.misses} target(s) missed.`}`,
    '',
    'Per phase (kernel counters: deltas over the load; tcpwhy accounted: events of the compared kind and namespace):',
    '',
    perRoundTable(results, netnsOf),
    '',
    'Commands (CLIENT and SERVER are the lab namespaces of each shape, fresh for each; tracers stopped with SIGINT):',
    '',
    '```sh',
    ...floors,
    '# loads:',
    ...commands,
    '```',
    '',
    `Regenerate: \`node dist/bench/drop-load.js${o.seconds !== 5 ? ` --seconds ${o.seconds}` : ''}${o.rounds !== 5 ? ` --rounds ${o.rounds}` : ''}${o.shapes.length !== SHAPE_IDS.length ? ` --shapes ${o.shapes.join(',')}` : ''}${o.loss !== 1 ? ` --loss ${o.loss}` : ''}${o.dropPort !== DROP_PORT ? ` --drop-port ${o.dropPort}` : ''}${`${o.pin.server},${o.pin.client}` !== PIN ? ` --pin ${o.pin.server},${o.pin.client}` : ''} --write\``,
  ].join('\n');
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) return 0;
  checkTools(o);
  const root = repoRoot();
  const cli = join(root, 'bin', 'tcpwhy');
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) throw new BenchError('tcpwhy is not built: run make build first');
  setClockTicks(Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()));
  const tmp = mkdtempSync(join(tmpdir(), 'tcpwhy-drop-'));
  liveTmp = tmp;
  try {
    const section = await runBenchmark(o, cli, tmp);
    process.stdout.write(`${section}\n`);
    if (o.write) process.stderr.write(`drop-load: wrote ${writeSection(root, 'drop-load', section, '# Benchmarks\n')}\n`);
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
    if (err instanceof BenchError) process.stderr.write(`drop-load: ${err.message}\n`);
    else process.stderr.write(`drop-load: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
