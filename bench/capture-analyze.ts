#!/usr/bin/env node
// Benchmark: offline analysis speed, `tcpwhy analyze` against tshark on the same capture.
//
// It records a capture of a RST flood plus a bulk transfer in a lab (two network
// namespaces joined by a veth pair, 192.0.2.0/24): hping3 floods a closed port of the
// server with SYNs (each answered by a RST) until the server sent --flood-rsts RSTs,
// after the client sent a bulk transfer to a sink on the server; tcpdump on the
// server's veth1 writes every packet whole. TCP segmentation offloads are turned off on
// the veth pair, so the capture holds segments of the link's MTU, as on a real Ethernet
// link. Then, in rounds with the order rotated, each run after the file was read once
// (so that every run reads it from the page cache):
//   tcpwhy       `bin/tcpwhy analyze FILE > FILE` (the terminal report)
//   tcpwhy-json  `bin/tcpwhy analyze --json FILE > /dev/null` (every RST explained, one JSON line each)
//   tshark       `tshark -r FILE -Y "tcp.flags.reset==1" > FILE` (one line per RST)
// Each run is timed from fork to exit (wall clock) and measured by /usr/bin/time
// (CPU, peak RSS). The RST counts must agree: tcpwhy's (from a separate --json run the
// benchmark reads) and the lines tshark printed.
//
// Usage: node dist/bench/capture-analyze.js [--flood-rsts N] [--bulk-mb N] [--rounds N]
//          [--capture FILE] [--keep FILE] [--min-packets N] [--write]
// Exit code: 0 when the benchmark ran (whether or not the targets were met), 1 when
// something could not run or the RST counts disagree.
//
// Safety: traffic only inside the lab's two namespaces, which are deleted on the way
// out with everything started in them (Lab's exit hook, the finally blocks).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab, inNs, parseSnmp } from '../src/lab/netns.js';
import { startRecording } from '../src/lab/record.js';
import { Actor } from '../src/lab/cast.js';
import { benchArgs, BenchError, int, loadavg, median, progressLog, repoRoot, sh, TIME_BIN, version, which, wholeNumber, writeSection } from './common.js';

// ---------------------------------------------------------------------------------
// Settings

const TARGET_RATIO = 30; // tcpwhy analyze's throughput / tshark's
const TARGET_PPS = 2_000_000; // tcpwhy analyze, packets per second
const TSHARK_FILTER = 'tcp.flags.reset==1';
const SINK_PORT = 5001;
const CLOSED_PORT = 4242;
const TCPDUMP_BUFFER_KIB = 512 * 1024; // the flood outruns tcpdump's default 2 MiB kernel buffer
const FLOOD_MAX_MS = 120_000;
const TIME_FORMAT = 'TIMEBENCH user=%U sys=%S maxrss_kb=%M';

const progress = progressLog('capture-analyze');

interface Options {
  floodRsts: number;
  bulkMB: number;
  rounds: number;
  capture: string | null;
  keep: string | null;
  minPackets: number;
  write: boolean;
}

const USAGE = `usage: node dist/bench/capture-analyze.js [options]
  --flood-rsts N     flood a closed port with SYNs until the server sent N RSTs (default 600000,
                     1..10000000; at most 120 s)
  --bulk-mb N        bytes of the bulk transfer (sent first), in MB (default 1500, 1..20000)
  --rounds N         timed runs of each tool (default 5, 1..20)
  --capture FILE     analyze this capture instead of recording one (nothing is recorded)
  --keep FILE        keep the recorded capture as FILE
  --min-packets N    fail unless the capture holds at least N packets (default 1000000)
  --write            also rewrite the capture-analyze section of docs/benchmarks.md
`;

function parseOptions(argv: string[]): Options | undefined {
  const v = benchArgs(argv, USAGE, {
    'flood-rsts': { type: 'string' },
    'bulk-mb': { type: 'string' },
    rounds: { type: 'string' },
    capture: { type: 'string' },
    keep: { type: 'string' },
    'min-packets': { type: 'string' },
    write: { type: 'boolean' },
  });
  if (!v) return undefined;
  if (v.capture !== undefined && !existsSync(v.capture)) throw new BenchError(`--capture ${v.capture}: no such file`);
  if (v.capture !== undefined && v.keep !== undefined) throw new BenchError('--keep keeps a recorded capture; with --capture nothing is recorded');
  return {
    floodRsts: wholeNumber('flood-rsts', v['flood-rsts'], 600_000, 1, 10_000_000),
    bulkMB: wholeNumber('bulk-mb', v['bulk-mb'], 1500, 1, 20000),
    rounds: wholeNumber('rounds', v.rounds, 5, 1, 20),
    capture: v.capture ?? null,
    keep: v.keep ?? null,
    minPackets: wholeNumber('min-packets', v['min-packets'], 1_000_000, 1, 1e9),
    write: v.write ?? false,
  };
}

// ---------------------------------------------------------------------------------
// Recording the capture

/** hping3 floods running: killed on the way out, however the benchmark ends */
const floods = new Set<ChildProcess>();
/** the temporary directory (the capture is large): removed on the way out too */
let liveTmp: string | null = null;
process.on('exit', () => {
  for (const f of floods) f.kill('SIGKILL');
  if (liveTmp) rmSync(liveTmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  // exit (running the exit hooks: floods, the lab's namespaces, tcpdump) instead of dying on the spot
  process.once(sig, () => {
    process.stderr.write(`capture-analyze: ${sig}, cleaning up\n`);
    process.exit(1);
  });
}

interface Recorded {
  packets: number;
  dropped: number;
  floodSeconds: number;
  /** RSTs the server sent during the flood (Tcp: OutRsts) */
  floodRsts: number;
  bulkBytes: number;
  bulkMs: number;
  commands: string[];
}

async function record(file: string, o: Options): Promise<Recorded> {
  const lab = Lab.create('bench-cap');
  const actors: Actor[] = [];
  try {
    // segments of the link's MTU on the wire, as a NIC without offloads sends them
    for (const [host, dev] of [
      [lab.client, 'veth0'],
      [lab.server, 'veth1'],
    ] as const) {
      inNs(host.ns, 'ethtool', ['-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    }
    const rec = await startRecording(lab.server.ns, 'veth1', file, { bufferKiB: TCPDUMP_BUFFER_KIB, immediate: false });
    let counts;
    let bulkMs = 0;
    let floodSeconds = 0;
    let floodRsts = 0;
    try {
      const sink = Actor.start(lab, lab.server, 'sink', { host: lab.server.v4, port: SINK_PORT });
      actors.push(sink);
      await sink.waitFor('listening');
      const bytes = o.bulkMB * 1e6;
      const bulk = Actor.start(lab, lab.client, 'bulk', { host: lab.server.v4, port: SINK_PORT, bytes });
      actors.push(bulk);
      const done = await bulk.waitFor('done', 600_000);
      bulkMs = Number(done['ms']);
      await sink.waitFor('drained', 60_000);
      // then the flood, on its own (run during the transfer, it got a fraction of the CPU),
      // until the server has sent the RSTs asked for: the same mix whatever the flood's rate
      const outRsts = () => serverOutRsts(sink.pid);
      const before = outRsts();
      const t0 = performance.now();
      const flood = spawn('ip', ['netns', 'exec', lab.client.ns, 'hping3', '-S', '-p', String(CLOSED_PORT), '--flood', lab.server.v4], { stdio: 'ignore' });
      floods.add(flood);
      flood.once('close', () => floods.delete(flood));
      let floodEnded = false;
      const floodDone = new Promise<void>((resolve) => flood.once('close', () => resolve()));
      void floodDone.then(() => (floodEnded = true));
      try {
        while (!floodEnded && outRsts() - before < o.floodRsts && performance.now() - t0 < FLOOD_MAX_MS) await sleep(20);
      } finally {
        // whatever happened, the flood stops here (deleting its namespace would not stop it)
        flood.kill('SIGINT');
        await Promise.race([floodDone, sleep(5000)]);
        if (flood.exitCode === null && flood.signalCode === null) flood.kill('SIGKILL');
      }
      floodSeconds = (performance.now() - t0) / 1000;
      floodRsts = outRsts() - before;
      if (floodRsts < o.floodRsts)
        throw new BenchError(`the flood made ${int(floodRsts)} RSTs in ${floodSeconds.toFixed(1)} s, fewer than the ${int(o.floodRsts)} asked for`);
      // tcpdump gets the kernel's last block of packets within about a second
      await sleep(1500);
    } finally {
      counts = await rec.stop();
    }
    return {
      packets: counts.packets,
      dropped: counts.dropped,
      floodSeconds,
      floodRsts,
      bulkBytes: o.bulkMB * 1e6,
      bulkMs,
      commands: [
        `ip netns exec CLIENT_NS|SERVER_NS ethtool -K veth0|veth1 tso off gso off gro off`,
        `ip netns exec SERVER_NS tcpdump -i veth1 -w FILE -s 0 -nn -Z root -B ${TCPDUMP_BUFFER_KIB}`,
        `ip netns exec SERVER_NS node dist/src/lab/actor.js sink '{"host":"192.0.2.2","port":${SINK_PORT}}'`,
        `ip netns exec CLIENT_NS node dist/src/lab/actor.js bulk '{"host":"192.0.2.2","port":${SINK_PORT},"bytes":${o.bulkMB * 1e6}}'`,
        `ip netns exec CLIENT_NS hping3 -S -p ${CLOSED_PORT} --flood 192.0.2.2   # SIGINT once the server's Tcp: OutRsts grew by ${o.floodRsts}`,
      ],
    };
  } finally {
    for (const a of actors) await a.stop();
    lab.destroy();
  }
}

/** Tcp: OutRsts of the namespace process `pid` runs in (its /proc/PID/net/snmp). */
function serverOutRsts(pid: number): number {
  const v = parseSnmp(readFileSync(`/proc/${pid}/net/snmp`, 'utf8')).Tcp?.OutRsts;
  if (v === undefined || !Number.isFinite(v)) throw new BenchError(`no Tcp: OutRsts in /proc/${pid}/net/snmp`);
  return v;
}

// ---------------------------------------------------------------------------------
// Timed runs

type Tool = 'tcpwhy' | 'tcpwhy-json' | 'tshark';

interface Run {
  tool: Tool;
  round: number;
  wallSec: number;
  cpuSec: number;
  maxRssKb: number;
}

function commandOf(tool: Tool, cli: string, file: string): string[] {
  if (tool === 'tshark') return ['tshark', '-n', '-r', file, '-Y', TSHARK_FILTER];
  return [cli, 'analyze', ...(tool === 'tcpwhy-json' ? ['--json'] : []), file];
}

/** Runs a tool under /usr/bin/time with stdout into `out`; its wall time from fork to exit. */
function timed(tool: Tool, round: number, cli: string, file: string, out: string, tmp: string): Run {
  const tfile = join(tmp, 'time.txt');
  rmSync(tfile, { force: true });
  const fd = openSync(out, 'w');
  const t0 = performance.now();
  const r = spawnSync(TIME_BIN, ['-f', TIME_FORMAT, '-o', tfile, ...commandOf(tool, cli, file)], {
    stdio: ['ignore', fd, 'pipe'],
    maxBuffer: 64 << 20,
  });
  const wallSec = (performance.now() - t0) / 1000;
  closeSync(fd);
  const stderr = r.stderr?.toString() ?? '';
  if (r.status !== 0) throw new BenchError(`${tool} failed (exit ${r.status ?? r.signal}): ${stderr.slice(-2000)}`);
  const m = /TIMEBENCH user=([\d.]+) sys=([\d.]+) maxrss_kb=(\d+)/.exec(readFileSync(tfile, 'utf8'));
  if (!m) throw new BenchError(`no resource usage from ${TIME_BIN} for ${tool}`);
  return { tool, round, wallSec, cpuSec: Number(m[1]) + Number(m[2]), maxRssKb: Number(m[3]) };
}

interface Summary {
  packets: number;
  bytes: number;
  tcp_segments: number;
  connections: number;
  resets: number;
  resets_by_kind: Record<string, number>;
  resets_by_cause: Array<{ id: string; count: number }>;
  loss: Record<string, number>;
  complete: boolean;
}

/** tcpwhy's totals: the summary line of a --json run (not timed). */
function tcpwhySummary(cli: string, file: string, tmp: string): Summary {
  const out = join(tmp, 'analyze.jsonl');
  const fd = openSync(out, 'w');
  const r = spawnSync(cli, ['analyze', '--json', file], { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  if (r.status !== 0) throw new BenchError(`tcpwhy analyze --json failed (exit ${r.status}): ${r.stderr.toString().slice(-2000)}`);
  // the summary is the last line; read the file's end only (it may hold a million lines)
  const size = statSync(out).size;
  const buf = Buffer.alloc(Math.min(size, 1 << 20));
  const rfd = openSync(out, 'r');
  try {
    for (let off = 0; off < buf.length; ) {
      const n = readSync(rfd, buf, off, buf.length - off, size - buf.length + off);
      if (n === 0) break;
      off += n;
    }
  } finally {
    closeSync(rfd);
  }
  rmSync(out, { force: true });
  const last = buf.toString('utf8').trimEnd().split('\n').at(-1) ?? '';
  const s = JSON.parse(last) as Summary & { type: string };
  if (s.type !== 'summary') throw new BenchError(`tcpwhy analyze --json did not end with its summary: ${last.slice(0, 200)}`);
  return s;
}

/** Reads the file through once: the timed run that follows reads it from the page cache (as every run does). */
function warm(file: string): void {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

function countLines(file: string): number {
  const b = readFileSync(file);
  let n = 0;
  for (let i = 0; i < b.length; i++) if (b[i] === 0x0a) n++;
  return n;
}

// ---------------------------------------------------------------------------------
// The report

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

interface ToolAgg {
  tool: Tool;
  runs: Run[];
  wall: number;
  cpu: number;
  rssKb: number;
}

function aggregate(runs: Run[], tool: Tool): ToolAgg {
  const mine = runs.filter((r) => r.tool === tool);
  return {
    tool,
    runs: mine,
    wall: median(mine.map((r) => r.wallSec)),
    cpu: median(mine.map((r) => r.cpuSec)),
    rssKb: Math.max(...mine.map((r) => r.maxRssKb)),
  };
}

const LABEL: Record<Tool, string> = {
  tcpwhy: '`tcpwhy analyze FILE`',
  'tcpwhy-json': '`tcpwhy analyze --json FILE`',
  tshark: `\`tshark -r FILE -Y "${TSHARK_FILTER}"\``,
};

function table(aggs: ToolAgg[], packets: number, bytes: number, tshark: ToolAgg): string {
  const lines = [
    '| command | runs (wall s) | median wall s | packets/s | MB/s | CPU s (median) | peak RSS MB | throughput vs tshark |',
    '|---|---|--:|--:|--:|--:|--:|--:|',
  ];
  for (const a of aggs) {
    lines.push(
      `| ${LABEL[a.tool]} | ${a.runs.map((r) => r.wallSec.toFixed(2)).join(', ')} | ${a.wall.toFixed(2)} | ${int(packets / a.wall)} | ${(bytes / 1e6 / a.wall).toFixed(0)} | ${a.cpu.toFixed(2)} | ${mb(a.rssKb * 1024)} | ${a.tool === 'tshark' ? '1×' : `${(tshark.wall / a.wall).toFixed(1)}×`} |`,
    );
  }
  return lines.join('\n');
}

const DOC_HEAD = '# Benchmarks\n';

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) return 0;
  const needs = o.capture ? ['tshark'] : ['ip', 'hping3', 'tcpdump', 'ethtool', 'tshark'];
  if (!o.capture && process.getuid?.() !== 0) throw new BenchError('recording needs root (network namespaces, hping3 raw sockets); or pass --capture FILE');
  for (const cmd of needs) if (!which(cmd)) throw new BenchError(`${cmd} not found (make deps installs it)`);
  if (!existsSync(TIME_BIN)) throw new BenchError(`${TIME_BIN} not found (apt-get install time)`);
  const root = repoRoot();
  // the command as users run it
  const cli = join(root, 'bin', 'tcpwhy');
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) throw new BenchError('tcpwhy is not built: run make build first');

  const tmp = mkdtempSync(join(tmpdir(), 'tcpwhy-bench-cap-'));
  liveTmp = tmp;
  try {
    const date = new Date().toISOString();
    let file = o.capture;
    let rec: Recorded | null = null;
    if (!file) {
      file = join(tmp, 'bench.pcap');
      progress(`recording: ${o.bulkMB} MB bulk transfer, then a SYN flood to a closed port until ${int(o.floodRsts)} RSTs`);
      rec = await record(file, o);
      progress(`recorded ${int(rec.packets)} packets (tcpdump: ${int(rec.dropped)} dropped by the kernel)`);
      if (o.keep) {
        copyFileSync(file, o.keep);
        progress(`kept as ${o.keep}`);
      }
    }
    const bytes = statSync(file).size;
    progress(`reading ${mb(bytes)} MB into the page cache`);
    warm(file);
    const loadBefore = loadavg();

    progress('tcpwhy analyze --json (untimed): totals and RST count');
    const sum = tcpwhySummary(cli, file, tmp);
    if (!sum.complete) throw new BenchError('tcpwhy says the capture is damaged: record it again');
    if (sum.packets < o.minPackets)
      throw new BenchError(`the capture holds ${int(sum.packets)} packets, fewer than --min-packets ${int(o.minPackets)}: raise --bulk-mb or --flood-rsts`);

    const runs: Run[] = [];
    const order: Tool[] = ['tcpwhy', 'tcpwhy-json', 'tshark'];
    const tsharkRsts: number[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      const rot = order.map((_, i) => order[(i + round - 1) % order.length]!);
      for (const tool of rot) {
        const out = tool === 'tcpwhy-json' ? '/dev/null' : join(tmp, `${tool}.out`);
        warm(file);
        const r = timed(tool, round, cli, file, out, tmp);
        runs.push(r);
        if (tool === 'tshark') tsharkRsts.push(countLines(out));
        progress(`round ${round}: ${tool} ${r.wallSec.toFixed(2)} s, ${mb(r.maxRssKb * 1024)} MB peak RSS`);
      }
    }
    const loadAfter = loadavg();
    const agreeing = tsharkRsts.every((n) => n === sum.resets);

    const aggs = order.map((t) => aggregate(runs, t));
    const tw = aggs[0]!;
    const ts = aggs[2]!;
    const ratio = ts.wall / tw.wall;
    const pps = sum.packets / tw.wall;
    const pass = (ok: boolean) => (ok ? '**PASS**' : '**MISS**');
    const section = [
      '### Results',
      '',
      `Run ${date}: ${o.rounds} timed run(s) of each command, order rotated every round; the median wall time counts.`,
      '',
      `Machine: ${version('nproc', [])} CPUs, kernel ${version('uname', ['-r'])}, node ${process.version}, ${version('tshark', ['--version']).replace(/\.$/, '')}. ` +
        `Load average before / after the timed runs: ${loadBefore} / ${loadAfter}.`,
      '',
      `Capture: ${int(sum.packets)} packets, ${mb(bytes)} MB (pcap, Ethernet)` +
        (rec
          ? `, recorded for this run: a ${int(rec.bulkBytes / 1e6)} MB bulk transfer (${(rec.bulkMs / 1000).toFixed(1)} s), then an hping3 SYN flood to a closed port (${rec.floodSeconds.toFixed(1)} s, ${int(rec.floodRsts)} RSTs sent); tcpdump: ${int(rec.dropped)} packets dropped by the kernel.`
          : `, given with --capture.`),
      `tcpwhy's totals: ${int(sum.tcp_segments)} TCP segments, ${int(sum.connections)} connections, ${int(sum.resets)} RSTs ` +
        `(${Object.entries(sum.resets_by_kind)
          .filter(([, n]) => n)
          .map(([k, n]) => `${int(n)} ${k}`)
          .join(', ')}; ` +
        `${sum.resets_by_cause.map((c) => `${c.id} ${int(c.count)}`).join(', ')}); loss: ${int(sum.loss['retransmissions'] ?? 0)} retransmissions, ` +
        `${int(sum.loss['dup_acks'] ?? 0)} duplicate ACKs, ${int(sum.loss['zero_windows'] ?? 0)} zero windows, ${int(sum.loss['out_of_order'] ?? 0)} out of order.`,
      `RST count: tcpwhy ${int(sum.resets)}, tshark ${tsharkRsts.map(int).join(' / ')} (lines printed per run): ${agreeing ? 'equal' : '**DIFFERENT**'}.`,
      '',
      table(aggs, sum.packets, bytes, ts),
      '',
      '| target (`tcpwhy analyze FILE`) | measured | result |',
      '|---|--:|---|',
      `| throughput ≥ ${TARGET_RATIO}× tshark's | ${ratio.toFixed(1)}× (${tw.wall.toFixed(2)} s vs ${ts.wall.toFixed(2)} s) | ${pass(ratio >= TARGET_RATIO)} |`,
      `| ≥ ${int(TARGET_PPS)} packets/s | ${int(pps)} | ${pass(pps >= TARGET_PPS)} |`,
      '',
      'Commands:',
      '',
      '```sh',
      ...(rec?.commands ?? []),
      `${TIME_BIN} -f '${TIME_FORMAT}' ${sh(commandOf('tcpwhy', 'bin/tcpwhy', 'FILE'))} > OUT`,
      `${TIME_BIN} -f '${TIME_FORMAT}' ${sh(commandOf('tcpwhy-json', 'bin/tcpwhy', 'FILE'))} > /dev/null`,
      `${TIME_BIN} -f '${TIME_FORMAT}' ${sh(commandOf('tshark', '', 'FILE'))} > OUT   # RSTs: lines of OUT`,
      '```',
      '',
      `Regenerate: \`node dist/bench/capture-analyze.js --flood-rsts ${o.floodRsts} --bulk-mb ${o.bulkMB} --rounds ${o.rounds} --write\``,
    ].join('\n');
    process.stdout.write(`${section}\n`);
    if (!agreeing) throw new BenchError(`RST counts differ: tcpwhy ${sum.resets}, tshark ${tsharkRsts.join(', ')} (docs/benchmarks.md left as it was)`);
    if (o.write) progress(`wrote ${writeSection(root, 'capture-analyze', section, DOC_HEAD)}`);
    return 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof BenchError) process.stderr.write(`capture-analyze: ${err.message}\n`);
    else process.stderr.write(`capture-analyze: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
