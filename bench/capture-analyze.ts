#!/usr/bin/env node
// Benchmark: offline analysis speed and memory, `tcpwhy analyze` against tshark on the
// same captures, over a matrix of traffic shapes.
//
// Each shape is recorded in a lab (two network namespaces joined by a veth pair,
// 192.0.2.0/24 and 2001:db8::/64), TCP segmentation offloads off on the veth pair (so the
// capture holds segments of the link's MTU, as on a real Ethernet link), tcpdump on the
// server's veth1 writing every packet whole:
//   bulk       a bulk transfer from the client to a sink on the server
//   synflood   hping3 -S --flood to a closed port of the server (each SYN answered by a RST)
//   ackstorm   hping3 -A --flood to a closed port (its source port counts up: 65,536 peer
//              ports over and over; each ACK answered by a RST)
//   http       nginx + wrk, a new connection for every request (Connection: close)
//   open       hping3 -S --flood --rand-source to a port the server drops (nft): a SYN from
//              another address every packet, connections that never finish
//   http6      http over IPv6 (2001:db8::2)
//   lossy      the bulk transfer with 1 % of the server's incoming packets dropped by
//              nft (numgen random mod 100 < 1) after tcpdump saw them
//   pcapng     the bulk capture converted with editcap -F pcapng
//   gzip       the http capture compressed with gzip -1
// Captures are kept in --cache DIR (SHAPE.pcap ...) and reused by later runs. For the
// shapes that load the connection tracker (ackstorm, http, open), --scale also makes
// copies 2 and 4 times as large (the capture followed by itself shifted in time,
// editcap -t + mergecap -a) and times tcpwhy on each: time linear in size.
// Then, per shape, in rounds with the order rotated, each run after the file was read
// once (so every run reads it from the page cache):
//   tcpwhy       `bin/tcpwhy analyze FILE > FILE` (the terminal report)
//   tcpwhy-json  `bin/tcpwhy analyze --json FILE > /dev/null`
//   tshark       `tshark -r FILE -Y "tcp.flags.reset==1" > FILE` (one line per RST;
//                --tshark-rounds of them: it is slow)
// Each run is timed from fork to exit (wall clock) and measured by /usr/bin/time (CPU,
// peak RSS). The RST counts must agree: tcpwhy's (the summary of an untimed --json run)
// and the lines tshark printed.
//
// Usage: node dist/bench/capture-analyze.js [--shapes LIST] [--cache DIR] [--scale LIST]
//          [--rounds N] [--tshark-rounds N] [--packets N] [--capture FILE] [--write]
// Exit code: 0 when the benchmark ran (whether or not the targets were met), 1 when
// something could not run or the RST counts disagree.
//
// Safety: traffic only inside the lab's two namespaces, which are deleted on the way
// out with everything started in them (Lab's exit hook, the finally blocks).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab, inNs, parseSnmp } from '../src/lab/netns.js';
import { startRecording } from '../src/lab/record.js';
import { Actor } from '../src/lab/cast.js';
import { benchArgs, BenchError, int, loadavg, median, progressLog, repoRoot, sh, TIME_BIN, version, which, wholeNumber, writeSection } from './common.js';
import { loadGeneratorSysctls, runWrk, startNginx } from './lab-nginx.js';
import { stopAndWait, type Proc } from './procs.js';

// ---------------------------------------------------------------------------------
// Settings

const TARGET_RATIO = 30; // tcpwhy analyze's throughput / tshark's
const TARGET_PPS = 2_000_000; // tcpwhy analyze, packets per second
const TARGET_JSON_PPS = 1_000_000; // tcpwhy analyze --json
const TARGET_RSS_MB = 200;
/** packets/s at 4× within this share of 1×'s: linear */
const LINEAR_SHARE = 0.8;
const TSHARK_FILTER = 'tcp.flags.reset==1';
const SINK_PORT = 5001;
const HTTP_PORT = 8080;
const CLOSED_PORT = 4242;
const DROPPED_PORT = 4343;
const TCPDUMP_BUFFER_KIB = 512 * 1024; // the flood outruns tcpdump's default 2 MiB kernel buffer
const FLOOD_MAX_MS = 120_000;
const TIME_FORMAT = 'TIMEBENCH user=%U sys=%S maxrss_kb=%M';

const SHAPES = ['bulk', 'synflood', 'ackstorm', 'http', 'open', 'http6', 'lossy', 'pcapng', 'gzip'] as const;
type Shape = (typeof SHAPES)[number] | 'given';
/** shapes whose cost is the connection tracker's: timed at 1×, 2× and 4× (--scale) */
const SCALED: readonly Shape[] = ['ackstorm', 'http', 'open'];

const progress = progressLog('capture-analyze');

interface Options {
  shapes: Shape[];
  cache: string | null;
  scales: number[];
  rounds: number;
  tsharkRounds: number;
  packets: number;
  capture: string | null;
  recordOnly: boolean;
  write: boolean;
}

const USAGE = `usage: node dist/bench/capture-analyze.js [options]
  --shapes LIST      shapes to time, comma-separated (default all: ${SHAPES.join(',')})
  --cache DIR        keep the recorded captures in DIR and reuse those already there
                     (default: a temporary directory, removed at the end)
  --scale LIST       sizes for the tracker-heavy shapes (${SCALED.join(', ')}), times 1× (default 1,2,4; 1: none)
  --rounds N         timed runs of tcpwhy (text and --json) per shape (default 3, 1..20)
  --tshark-rounds N  timed runs of tshark per shape (default 1, 1..20)
  --packets N        packets to record per shape, about (default 1200000, 1000..20000000)
  --capture FILE     time this capture alone instead (nothing is recorded)
  --record-only      record the captures missing from --cache, time nothing
  --write            also rewrite the capture-analyze section of docs/benchmarks.md
`;

function parseOptions(argv: string[]): Options | undefined {
  const v = benchArgs(argv, USAGE, {
    shapes: { type: 'string' },
    cache: { type: 'string' },
    scale: { type: 'string' },
    rounds: { type: 'string' },
    'tshark-rounds': { type: 'string' },
    packets: { type: 'string' },
    capture: { type: 'string' },
    'record-only': { type: 'boolean' },
    write: { type: 'boolean' },
  });
  if (!v) return undefined;
  if (v['record-only'] && v.cache === undefined) throw new BenchError('--record-only keeps the captures in --cache DIR: give it');
  if (v.capture !== undefined && !existsSync(v.capture)) throw new BenchError(`--capture ${v.capture}: no such file`);
  const shapes = (v.shapes ?? SHAPES.join(',')).split(',').filter(Boolean) as Shape[];
  for (const s of shapes)
    if (!(SHAPES as readonly string[]).includes(s)) throw new BenchError(`--shapes: no shape ${JSON.stringify(s)} (${SHAPES.join(', ')})`);
  const scales = (v.scale ?? '1,2,4').split(',').map((x) => wholeNumber('scale', x, 1, 1, 16));
  if (!scales.includes(1)) scales.unshift(1);
  return {
    shapes: v.capture !== undefined ? ['given'] : shapes,
    cache: v.cache ?? null,
    scales,
    rounds: wholeNumber('rounds', v.rounds, 3, 1, 20),
    tsharkRounds: wholeNumber('tshark-rounds', v['tshark-rounds'], 1, 1, 20),
    packets: wholeNumber('packets', v.packets, 1_200_000, 1000, 20_000_000),
    capture: v.capture ?? null,
    recordOnly: v['record-only'] ?? false,
    write: v.write ?? false,
  };
}

// ---------------------------------------------------------------------------------
// Recording the captures

/** hping3 floods running: killed on the way out, however the benchmark ends */
const floods = new Set<ChildProcess>();
/** the temporary directory: removed on the way out too */
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
  /** what was done, in a sentence */
  what: string;
  commands: string[];
}

const RECORD_CMD = `ip netns exec SERVER_NS tcpdump -i veth1 -w FILE -s 0 -nn -Z root -B ${TCPDUMP_BUFFER_KIB}`;
const OFFLOADS_CMD = 'ip netns exec CLIENT_NS|SERVER_NS ethtool -K veth0|veth1 tso off gso off gro off';

/** A lab with offloads off and tcpdump on the server's veth1 around `load`; the load says what it did. */
async function recordIn(file: string, load: (lab: Lab, tmp: string) => Promise<{ what: string; commands: string[] }>, tmp: string): Promise<Recorded> {
  const lab = Lab.create('bench-cap');
  try {
    for (const [host, dev] of [
      [lab.client, 'veth0'],
      [lab.server, 'veth1'],
    ] as const) {
      inNs(host.ns, 'ethtool', ['-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    }
    const rec = await startRecording(lab.server.ns, 'veth1', file, { bufferKiB: TCPDUMP_BUFFER_KIB, immediate: false });
    let done: { what: string; commands: string[] };
    try {
      done = await load(lab, tmp);
      // tcpdump gets the kernel's last block of packets within about a second
      await sleep(1500);
    } catch (e) {
      await rec.stop();
      throw e;
    }
    const counts = await rec.stop();
    return { packets: counts.packets, dropped: counts.dropped, what: done.what, commands: [OFFLOADS_CMD, RECORD_CMD, ...done.commands] };
  } finally {
    lab.destroy();
  }
}

/** Tcp: OutRsts of the namespace process `pid` runs in (its /proc/PID/net/snmp). */
function outRsts(pid: number): number {
  const v = parseSnmp(readFileSync(`/proc/${pid}/net/snmp`, 'utf8')).Tcp?.OutRsts;
  if (v === undefined || !Number.isFinite(v)) throw new BenchError(`no Tcp: OutRsts in /proc/${pid}/net/snmp`);
  return v;
}

/** Runs hping3 ARGS in the client's namespace until `enough()` or FLOOD_MAX_MS; its seconds. */
async function flood(lab: Lab, args: string[], enough: () => boolean): Promise<number> {
  const t0 = performance.now();
  const f = spawn('ip', ['netns', 'exec', lab.client.ns, 'hping3', ...args, '--flood', lab.server.v4], { stdio: 'ignore' });
  floods.add(f);
  f.once('close', () => floods.delete(f));
  let ended = false;
  const closed = new Promise<void>((resolve) => f.once('close', () => resolve()));
  void closed.then(() => (ended = true));
  try {
    while (!ended && !enough() && performance.now() - t0 < FLOOD_MAX_MS) await sleep(20);
  } finally {
    // whatever happened, the flood stops here (deleting its namespace would not stop it)
    f.kill('SIGINT');
    await Promise.race([closed, sleep(5000)]);
    if (f.exitCode === null && f.signalCode === null) f.kill('SIGKILL');
  }
  return (performance.now() - t0) / 1000;
}

/** A sleeping process in the server's namespace: its /proc/PID/net/snmp is the namespace's. */
function nsSleeper(lab: Lab): ChildProcess {
  return spawn('ip', ['netns', 'exec', lab.server.ns, 'sleep', '600'], { stdio: 'ignore' });
}

/** RSTs the server sends during `f` until `want` of them (a flood to a closed port). */
async function rstFlood(lab: Lab, flags: string, want: number): Promise<{ what: string; commands: string[] }> {
  const s = nsSleeper(lab);
  try {
    await sleep(100);
    const before = outRsts(s.pid!);
    const secs = await flood(lab, [flags, '-p', String(CLOSED_PORT)], () => outRsts(s.pid!) - before >= want);
    const n = outRsts(s.pid!) - before;
    if (n < want) throw new BenchError(`the flood made ${int(n)} RSTs in ${secs.toFixed(1)} s, fewer than the ${int(want)} asked for`);
    return {
      what: `hping3 ${flags} --flood to a closed port (${secs.toFixed(1)} s, ${int(n)} RSTs sent)`,
      commands: [`ip netns exec CLIENT_NS hping3 ${flags} -p ${CLOSED_PORT} --flood 192.0.2.2   # SIGINT once the server's Tcp: OutRsts grew by ${want}`],
    };
  } finally {
    s.kill('SIGKILL');
  }
}

async function bulkLoad(lab: Lab, mb: number): Promise<{ what: string; commands: string[] }> {
  const actors: Actor[] = [];
  try {
    const sink = Actor.start(lab, lab.server, 'sink', { host: lab.server.v4, port: SINK_PORT });
    actors.push(sink);
    await sink.waitFor('listening');
    const bulk = Actor.start(lab, lab.client, 'bulk', { host: lab.server.v4, port: SINK_PORT, bytes: mb * 1e6 });
    actors.push(bulk);
    const done = await bulk.waitFor('done', 600_000);
    await sink.waitFor('drained', 60_000);
    return {
      what: `a ${int(mb)} MB bulk transfer (${(Number(done['ms']) / 1000).toFixed(1)} s)`,
      commands: [
        `ip netns exec SERVER_NS node dist/src/lab/actor.js sink '{"host":"192.0.2.2","port":${SINK_PORT}}'`,
        `ip netns exec CLIENT_NS node dist/src/lab/actor.js bulk '{"host":"192.0.2.2","port":${SINK_PORT},"bytes":${mb * 1e6}}'`,
      ],
    };
  } finally {
    for (const a of actors) await a.stop();
  }
}

async function httpLoad(lab: Lab, tmp: string, family: 4 | 6, seconds: number): Promise<{ what: string; commands: string[] }> {
  loadGeneratorSysctls(lab);
  const addr = family === 4 ? lab.server.v4 : `[${lab.server.v6}]`;
  let nginx: Proc | null = null;
  try {
    nginx = await startNginx(lab, join(tmp, `nginx${family}`), HTTP_PORT, {}, undefined, addr);
    const args = ['-t', '1', '-c', '32', '-d', `${seconds}s`, '-H', 'Connection: close', `http://${addr}:${HTTP_PORT}/`];
    const w = await runWrk(lab.client.ns, args, seconds);
    return {
      what: `wrk against nginx${family === 6 ? ' over IPv6' : ''}, a new connection per request (${seconds} s, ${int(w.rate)} requests/s${w.note ? `; ${w.note}` : ''})`,
      commands: [`ip netns exec SERVER_NS nginx -c nginx.conf   # listen ${addr}:${HTTP_PORT} (bench/lab-nginx.ts)`, `ip netns exec CLIENT_NS wrk ${sh(args)}`],
    };
  } finally {
    if (nginx) await stopAndWait(nginx, 'SIGTERM', 5000);
  }
}

/** A table dropping what `rule` matches on the server's input (after tcpdump saw it). */
const nftScript = (rule: string) => `table inet bench {\n  chain input {\n    type filter hook input priority 0;\n    ${rule}\n  }\n}\n`;

/** nft counter value of the rule carrying `comment` in the server's namespace. */
function nftCount(lab: Lab): number {
  const m = /counter packets (\d+)/.exec(inNs(lab.server.ns, 'nft', ['list', 'table', 'inet', 'bench']));
  return m ? Number(m[1]) : 0;
}

async function openLoad(lab: Lab, want: number): Promise<{ what: string; commands: string[] }> {
  const rule = `tcp dport ${DROPPED_PORT} counter drop`;
  lab.nft(lab.server, nftScript(rule));
  const secs = await flood(lab, ['-S', '--rand-source', '-p', String(DROPPED_PORT)], () => nftCount(lab) >= want);
  return {
    what: `hping3 -S --rand-source --flood to a port the server drops (${secs.toFixed(1)} s, ${int(nftCount(lab))} SYNs, each from another address)`,
    commands: [
      `ip netns exec SERVER_NS nft -f - <<< '${nftScript(rule).replace(/\s+/g, ' ')}'`,
      `ip netns exec CLIENT_NS hping3 -S --rand-source -p ${DROPPED_PORT} --flood 192.0.2.2   # SIGINT after ${want} SYNs`,
    ],
  };
}

async function lossyLoad(lab: Lab, mb: number): Promise<{ what: string; commands: string[] }> {
  const rule = `tcp dport ${SINK_PORT} numgen random mod 100 < 1 counter drop`;
  lab.nft(lab.server, nftScript(rule));
  const b = await bulkLoad(lab, mb);
  return {
    what: `${b.what}, 1 % of the packets to the sink dropped by nft (${int(nftCount(lab))})`,
    commands: [`ip netns exec SERVER_NS nft -f - <<< '${nftScript(rule).replace(/\s+/g, ' ')}'`, ...b.commands],
  };
}

function run(cmd: string, args: string[], stdout?: string): void {
  const fd = stdout ? openSync(stdout, 'w') : 'ignore';
  try {
    const r = spawnSync(cmd, args, { stdio: ['ignore', fd, 'pipe'], maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new BenchError(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}): ${r.stderr?.toString().slice(-1000)}`);
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
}

interface ShapeFile {
  shape: Shape;
  scale: number;
  file: string;
  /** how it was made (null: taken from the cache or given) */
  rec: Recorded | null;
}

const fileName = (shape: Shape, scale = 1) => `${shape}${scale > 1 ? `-x${scale}` : ''}.pcap${shape === 'pcapng' ? 'ng' : shape === 'gzip' ? '.gz' : ''}`;

/** The capture of a shape in `dir`, recorded (or derived from another shape's) unless there already. */
async function captureOf(shape: Shape, dir: string, tmp: string, o: Options): Promise<ShapeFile> {
  const file = join(dir, fileName(shape));
  if (existsSync(file)) return { shape, scale: 1, file, rec: null };
  const part = `${file}.part`;
  let rec: Recorded;
  // the packet counts the loads aim at: a bulk MB makes about 700 packets (data and ACKs), an HTTP
  // request about 10, a flood RST 2 packets
  const bulkMB = Math.ceil(o.packets / 700);
  const rsts = Math.ceil(o.packets / 2);
  // (IPv6 requests came about a third slower)
  const httpSeconds = (family: number) => Math.max(5, Math.ceil(o.packets / (family === 4 ? 60_000 : 40_000)));
  progress(`recording ${shape} into ${file}`);
  switch (shape) {
    case 'bulk':
      rec = await recordIn(part, (lab) => bulkLoad(lab, bulkMB), tmp);
      break;
    case 'synflood':
      rec = await recordIn(part, (lab) => rstFlood(lab, '-S', rsts), tmp);
      break;
    case 'ackstorm':
      rec = await recordIn(part, (lab) => rstFlood(lab, '-A', rsts), tmp);
      break;
    case 'http':
    case 'http6':
      rec = await recordIn(part, (lab, t) => httpLoad(lab, t, shape === 'http' ? 4 : 6, httpSeconds(shape === 'http' ? 4 : 6)), tmp);
      break;
    case 'open':
      rec = await recordIn(part, (lab) => openLoad(lab, o.packets), tmp);
      break;
    case 'lossy':
      rec = await recordIn(part, (lab) => lossyLoad(lab, bulkMB), tmp);
      break;
    case 'pcapng': {
      const from = await captureOf('bulk', dir, tmp, o);
      run('editcap', ['-F', 'pcapng', from.file, part]);
      rec = { packets: 0, dropped: 0, what: `the bulk capture converted to pcapng`, commands: ['editcap -F pcapng bulk.pcap FILE'] };
      break;
    }
    case 'gzip': {
      const from = await captureOf('http', dir, tmp, o);
      run('gzip', ['-1', '-c', from.file], part);
      rec = { packets: 0, dropped: 0, what: `the http capture compressed (gzip -1)`, commands: ['gzip -1 -c http.pcap > FILE'] };
      break;
    }
    default:
      throw new BenchError(`no recorder for ${shape}`);
  }
  renameSync(part, file);
  progress(`${shape}: ${rec.what}${rec.packets ? `; tcpdump: ${int(rec.packets)} packets, ${int(rec.dropped)} dropped by the kernel` : ''}`);
  return { shape, scale: 1, file, rec };
}

/** The capture `scale` times over: it, then itself shifted past its own end, and so on (editcap -t, mergecap -a). */
function scaled(base: ShapeFile, scale: number, dir: string, tmp: string): ShapeFile {
  const file = join(dir, fileName(base.shape, scale));
  if (existsSync(file)) return { shape: base.shape, scale, file, rec: null };
  progress(`making ${file} (${scale}× ${base.file})`);
  const span = captureSpan(base.file);
  const parts = [base.file];
  for (let i = 1; i < scale; i++) {
    const p = join(tmp, `shift-${i}.pcap`);
    run('editcap', ['-t', String(Math.ceil(span + 1) * i), base.file, p]);
    parts.push(p);
  }
  run('mergecap', ['-F', 'pcap', '-a', '-w', `${file}.part`, ...parts]);
  for (const p of parts.slice(1)) rmSync(p, { force: true });
  renameSync(`${file}.part`, file);
  return { shape: base.shape, scale, file, rec: null };
}

/** Seconds from a pcap's first packet to its last (capinfos -u). */
function captureSpan(file: string): number {
  const r = spawnSync('capinfos', ['-u', '-M', file], { encoding: 'utf8' });
  const m = /Capture duration:\s+([\d.]+)/.exec(r.stdout ?? '');
  if (!m) throw new BenchError(`capinfos -u ${file}: no duration (${(r.stderr ?? '').slice(0, 200)})`);
  return Number(m[1]);
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
// Timing one capture

interface Timed {
  sf: ShapeFile;
  sum: Summary;
  bytes: number;
  runs: Run[];
  tsharkRsts: number[];
}

/** Times tcpwhy (text and --json) and tshark on a capture; a larger copy (scaled) times tcpwhy's text report alone. */
function timeCapture(sf: ShapeFile, cli: string, tmp: string, rounds: number, tsharkRounds: number, all: boolean): Timed {
  const bytes = statSync(sf.file).size;
  warm(sf.file);
  const sum = tcpwhySummary(cli, sf.file, tmp);
  if (!sum.complete) throw new BenchError(`tcpwhy says ${sf.file} is damaged: record it again (delete it from the cache)`);
  const runs: Run[] = [];
  const tsharkRsts: number[] = [];
  const order: Tool[] = all ? ['tcpwhy', 'tcpwhy-json', 'tshark'] : ['tcpwhy'];
  for (let round = 1; round <= rounds; round++) {
    const rot = order.map((_, i) => order[(i + round - 1) % order.length]!);
    for (const tool of rot) {
      if (tool === 'tshark' && round > tsharkRounds) continue;
      const out = tool === 'tcpwhy-json' ? '/dev/null' : join(tmp, `${tool}.out`);
      warm(sf.file);
      const r = timed(tool, round, cli, sf.file, out, tmp);
      runs.push(r);
      if (tool === 'tshark') tsharkRsts.push(countLines(out));
      progress(`${sf.shape}${sf.scale > 1 ? ` ${sf.scale}×` : ''} round ${round}: ${tool} ${r.wallSec.toFixed(2)} s, ${mb(r.maxRssKb * 1024)} MB peak RSS`);
    }
  }
  return { sf, sum, bytes, runs, tsharkRsts };
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

const DOC_HEAD = '# Benchmarks\n';
const pass = (ok: boolean) => (ok ? 'PASS' : '**MISS**');

interface Row {
  shape: Shape;
  packets: number;
  bytes: number;
  text: ToolAgg;
  json: ToolAgg;
  tshark: ToolAgg | null;
  resets: number;
  agree: boolean;
  /** packets/s of tcpwhy (text) at each scale */
  linear: Array<{ scale: number; packets: number; pps: number; rssKb: number }>;
}

function describe(t: Timed): string {
  const s = t.sum;
  const kinds = Object.entries(s.resets_by_kind)
    .filter(([, n]) => n)
    .map(([k, n]) => `${int(n)} ${k}`)
    .join(', ');
  const causes = s.resets_by_cause
    .slice(0, 4)
    .map((c) => `${c.id} ${int(c.count)}`)
    .join(', ');
  return (
    `- **${t.sf.shape}**: ${int(s.packets)} packets, ${mb(t.bytes)} MB${t.sf.rec ? `; ${t.sf.rec.what}; tcpdump: ${int(t.sf.rec.dropped)} dropped` : ''}. ` +
    `${int(s.tcp_segments)} TCP segments, ${int(s.connections)} connections, ${int(s.resets)} RSTs${kinds ? ` (${kinds}${causes ? `; ${causes}` : ''})` : ''}; ` +
    `loss: ${int(s.loss['retransmissions'] ?? 0)} retransmissions, ${int(s.loss['dup_acks'] ?? 0)} duplicate ACKs.`
  );
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) return 0;
  const recording = !o.capture && o.shapes.some((s) => !o.cache || !existsSync(join(o.cache, fileName(s))));
  const needs = ['tshark', 'editcap', 'mergecap', 'capinfos', ...(recording ? ['ip', 'hping3', 'tcpdump', 'ethtool', 'nft', 'nginx', 'wrk'] : [])];
  if (recording && process.getuid?.() !== 0)
    throw new BenchError('recording needs root (network namespaces, hping3 raw sockets); or pass --cache DIR holding the captures, or --capture FILE');
  for (const cmd of needs) if (!which(cmd)) throw new BenchError(`${cmd} not found (make bench-deps installs it)`);
  if (!existsSync(TIME_BIN)) throw new BenchError(`${TIME_BIN} not found (apt-get install time)`);
  const root = repoRoot();
  // the command as users run it
  const cli = join(root, 'bin', 'tcpwhy');
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) throw new BenchError('tcpwhy is not built: run make build first');
  const tsharkRounds = Math.min(o.tsharkRounds, o.rounds);

  const tmp = mkdtempSync(join(tmpdir(), 'tcpwhy-bench-cap-'));
  liveTmp = tmp;
  try {
    const dir = o.cache ?? join(tmp, 'captures');
    mkdirSync(dir, { recursive: true });
    const date = new Date().toISOString();
    const files: ShapeFile[] = [];
    for (const s of o.shapes) files.push(s === 'given' ? { shape: 'given', scale: 1, file: o.capture!, rec: null } : await captureOf(s, dir, tmp, o));
    if (o.recordOnly) {
      for (const sf of files) if (SCALED.includes(sf.shape)) for (const scale of o.scales.filter((x) => x > 1)) scaled(sf, scale, dir, tmp);
      return 0;
    }
    const loadBefore = loadavg();
    const rows: Row[] = [];
    const notes: string[] = [];
    const disagree: string[] = [];
    for (const sf of files) {
      progress(`timing ${sf.shape} (${sf.file})`);
      const t = timeCapture(sf, cli, tmp, o.rounds, tsharkRounds, true);
      notes.push(describe(t));
      const agree = t.tsharkRsts.every((n) => n === t.sum.resets);
      if (!agree) disagree.push(`${sf.shape}: tcpwhy ${t.sum.resets}, tshark ${t.tsharkRsts.join(', ')}`);
      const text = aggregate(t.runs, 'tcpwhy');
      const row: Row = {
        shape: sf.shape,
        packets: t.sum.packets,
        bytes: t.bytes,
        text,
        json: aggregate(t.runs, 'tcpwhy-json'),
        tshark: aggregate(t.runs, 'tshark'),
        resets: t.sum.resets,
        agree,
        linear: [{ scale: 1, packets: t.sum.packets, pps: t.sum.packets / text.wall, rssKb: text.rssKb }],
      };
      if (SCALED.includes(sf.shape))
        for (const scale of o.scales.filter((x) => x > 1)) {
          const big = scaled(sf, scale, dir, tmp);
          const tb = timeCapture(big, cli, tmp, o.rounds, 0, false);
          const a = aggregate(tb.runs, 'tcpwhy');
          row.linear.push({ scale, packets: tb.sum.packets, pps: tb.sum.packets / a.wall, rssKb: a.rssKb });
          if (o.cache === null) rmSync(big.file, { force: true });
        }
      rows.push(row);
    }
    const loadAfter = loadavg();

    const head = [
      '| shape | packets | tcpwhy s (median) | packets/s | --json s | --json packets/s | tshark s | vs tshark | peak RSS MB (text / json) | RSTs (= tshark) | result |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    ];
    const lines = rows.map((r) => {
      const pps = r.packets / r.text.wall;
      const jpps = r.packets / r.json.wall;
      const ratio = r.tshark ? r.tshark.wall / r.text.wall : 0;
      const rss = Math.max(r.text.rssKb, r.json.rssKb) / 1024;
      const last = r.linear.at(-1)!;
      const linear = last.pps >= LINEAR_SHARE * r.linear[0]!.pps;
      const misses = [
        pps < TARGET_PPS ? 'packets/s' : '',
        jpps < TARGET_JSON_PPS ? '--json packets/s' : '',
        ratio < TARGET_RATIO ? 'vs tshark' : '',
        rss > TARGET_RSS_MB ? 'RSS' : '',
        linear ? '' : 'linearity',
        r.agree ? '' : 'RST count',
      ].filter(Boolean);
      return (
        `| ${r.shape} | ${int(r.packets)} | ${r.text.runs.map((x) => x.wallSec.toFixed(2)).join(', ')} | ${int(pps)} | ${r.json.wall.toFixed(2)} | ${int(jpps)} | ` +
        `${r.tshark ? r.tshark.runs.map((x) => x.wallSec.toFixed(1)).join(', ') : '-'} | ${ratio.toFixed(1)}× | ${(r.text.rssKb / 1024).toFixed(0)} / ${(r.json.rssKb / 1024).toFixed(0)} | ` +
        `${int(r.resets)} ${r.agree ? '(equal)' : '**(different)**'} | ${misses.length ? `**MISS**: ${misses.join(', ')}` : 'PASS'} |`
      );
    });
    const lin = rows.filter((r) => r.linear.length > 1);
    const linTable = lin.length
      ? [
          '',
          'Linearity (`tcpwhy analyze FILE`, the capture followed by copies of itself shifted in time; packets/s at each size, peak RSS):',
          '',
          `| shape | ${lin[0]!.linear.map((l) => `${l.scale}×`).join(' | ')} | result |`,
          `|---|${lin[0]!.linear.map(() => '--:').join('|')}|---|`,
          ...lin.map(
            (r) =>
              `| ${r.shape} | ${r.linear.map((l) => `${int(l.pps)} (${int(l.packets)} packets, ${(l.rssKb / 1024).toFixed(0)} MB)`).join(' | ')} | ${pass(r.linear.at(-1)!.pps >= LINEAR_SHARE * r.linear[0]!.pps)} |`,
          ),
        ]
      : [];
    const commands = new Set<string>();
    for (const sf of files) for (const c of sf.rec?.commands ?? []) commands.add(c);
    const section = [
      '### Results',
      '',
      `Run ${date}: ${o.rounds} timed run(s) of tcpwhy (text and --json) and ${tsharkRounds} of tshark per shape, order rotated every round; the median wall time counts.`,
      '',
      `Machine: ${version('nproc', [])} CPUs, kernel ${version('uname', ['-r'])}, node ${process.version}, ${version('tshark', ['--version']).replace(/\.$/, '')}. ` +
        `Load average before / after the timed runs: ${loadBefore} / ${loadAfter}.`,
      '',
      `Targets: ≥ ${int(TARGET_PPS)} packets/s (text), ≥ ${int(TARGET_JSON_PPS)} packets/s (--json), ≥ ${TARGET_RATIO}× tshark's throughput, peak RSS ≤ ${TARGET_RSS_MB} MB, ` +
        `packets/s at the largest size ≥ ${LINEAR_SHARE * 100} % of 1×'s.`,
      '',
      ...head,
      ...lines,
      ...linTable,
      '',
      'Captures:',
      '',
      ...notes,
      '',
      ...(commands.size
        ? ['Commands (recording):', '', '```sh', ...commands, '```', '']
        : ['The captures were taken from the cache (recorded by an earlier run; the commands are in bench/capture-analyze.ts).', '']),
      'Timed:',
      '',
      '```sh',
      `${TIME_BIN} -f '${TIME_FORMAT}' ${sh(commandOf('tcpwhy', 'bin/tcpwhy', 'FILE'))} > OUT`,
      `${TIME_BIN} -f '${TIME_FORMAT}' ${sh(commandOf('tcpwhy-json', 'bin/tcpwhy', 'FILE'))} > /dev/null`,
      `${TIME_BIN} -f '${TIME_FORMAT}' ${sh(commandOf('tshark', '', 'FILE'))} > OUT   # RSTs: lines of OUT`,
      '```',
      '',
      `Regenerate: \`node dist/bench/capture-analyze.js --cache DIR --shapes ${o.shapes.join(',')} --scale ${o.scales.join(',')} --rounds ${o.rounds} --tshark-rounds ${tsharkRounds} --write\``,
    ].join('\n');
    process.stdout.write(`${section}\n`);
    if (disagree.length) throw new BenchError(`RST counts differ: ${disagree.join('; ')} (docs/benchmarks.md left as it was)`);
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
