// `tcpwhy analyze -` (and /dev/stdin, a FIFO): a capture read as it arrives.
// Each verdict is printed once decided, while the writer still writes; the
// summary comes at the end of the stream or at SIGINT / SIGTERM.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { packageRoot } from '../../src/paths.js';
import { ACK, ethernet, ipv4Tcp, LINKTYPE, pcap, RST, SYN, type Packet } from '../helpers/capture-build.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-stream-'));
// a test that fails midway leaves no analyzer waiting for its input
const children: ChildProcessWithoutNullStreams[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
const bin = path.join(packageRoot, 'bin', 'tcpwhy');

const C = '192.0.2.1';
const S = '192.0.2.2';
const T0 = 1_700_000_000;

function seg(from: 'c' | 's', flags: number, seq: number, ack: number, t: number, cport = 40000, sport = 80): Packet {
  const tcp = { sport: from === 'c' ? cport : sport, dport: from === 'c' ? sport : cport, seq, ack, flags, win: flags & RST && !(flags & ACK) ? 0 : 502 };
  const ip = ipv4Tcp({ src: from === 'c' ? C : S, dst: from === 'c' ? S : C, ttl: 64, df: true }, tcp);
  return { data: ethernet(ip), sec: T0 + Math.floor(t), nsec: Math.round((t % 1) * 1e9) };
}

/** A refused SYN (decided at once), then a handshake and the client's abort (an active reset: it waits for what follows). */
const refused = (t: number, cport: number) => [seg('c', SYN, 7, 0, t, cport, 8080), seg('s', RST | ACK, 0, 8, t + 0.0001, cport, 8080)];
const aborted = (t: number, cport: number) => [
  seg('c', SYN, 1000, 0, t, cport),
  seg('s', SYN | ACK, 5000, 1001, t + 0.0005, cport),
  seg('c', ACK, 1001, 5001, t + 0.001, cport),
  seg('c', RST | ACK, 1001, 5001, t + 0.002, cport),
];

/** The capture's bytes cut into its header and one piece per record, to be written one by one. */
function pieces(packets: Packet[]): { bytes: Buffer; header: Buffer; records: Buffer[] } {
  const built = pcap(packets, { linktype: LINKTYPE.ETHERNET });
  return {
    bytes: built.bytes,
    header: built.bytes.subarray(0, 24),
    records: built.records.map((r) => built.bytes.subarray(r.offset, r.offset + r.length)),
  };
}

interface Run {
  child: ChildProcessWithoutNullStreams;
  out(): string;
  err(): string;
  /** resolves once stdout holds a match of re (rejects after ms) */
  waitOut(re: RegExp, ms?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[]): Run {
  const child = spawn(bin, ['analyze', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    async waitOut(re, ms = 10_000) {
      const until = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > until) throw new Error(`no ${re} on stdout within ${ms} ms; stdout: ${out}\nstderr: ${err}`);
        await sleep(20);
      }
    },
  };
}

/** Writes the header byte by byte, then the records (each in two pieces), with pauses: a slow writer. */
async function writeSlowly(w: (b: Buffer) => void, header: Buffer, records: Buffer[]): Promise<void> {
  for (const b of header) {
    w(Buffer.from([b]));
    await sleep(2);
  }
  for (const r of records) {
    const half = r.length >> 1;
    w(r.subarray(0, half));
    await sleep(5);
    w(r.subarray(half));
    await sleep(5);
  }
}

test('analyze -: a verdict is printed while the writer still writes; the summary at the end of the stream; exit 0', async () => {
  const first = pieces(refused(0, 40001));
  const rest = pieces([...refused(0.5, 40001), ...aborted(0.6, 40002)]);
  const r = start(['-']);
  await writeSlowly((b) => r.child.stdin.write(b), first.header, first.records);
  // decided at once: on stdout while stdin is still open
  await r.waitOut(/#2 {2}192\.0\.2\.2:8080 -> 192\.0\.2\.1:40001 {2}server, passive/);
  assert.doesNotMatch(r.out(), /RSTs:/, 'no summary before the stream ends');
  await writeSlowly((b) => r.child.stdin.write(b), Buffer.alloc(0), rest.records);
  // the active reset waits for what follows it; the stream stays quiet, so the wall clock decides it
  await r.waitOut(/#8 {2}192\.0\.2\.1:40002 -> 192\.0\.2\.2:80 {2}client, active/);
  assert.doesNotMatch(r.out(), /RSTs:/);
  r.child.stdin.end();
  const { code } = await r.exited;
  assert.equal(code, 0, r.err());
  assert.match(r.out(), /^-: pcap, Ethernet; 8 frames, 8 TCP segments, 0\.602 s$/m);
  assert.match(r.out(), /RSTs: 3 \(1 active, 2 passive\)/);
  assert.equal(r.err(), '');
});

test('analyze --json -: each reset line as it is decided, the summary last', async () => {
  const { header, records } = pieces([...refused(0, 40001), ...refused(0.2, 40003)]);
  const r = start(['--json', '-']);
  await writeSlowly((b) => r.child.stdin.write(b), header, records.slice(0, 2));
  await r.waitOut(/"type":"reset"/);
  assert.doesNotMatch(r.out(), /"type":"summary"/);
  r.child.stdin.end(Buffer.concat(records.slice(2)));
  const { code } = await r.exited;
  assert.equal(code, 0, r.err());
  const lines = r
    .out()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; file?: string; resets?: number });
  assert.deepEqual(
    lines.map((l) => l.type),
    ['reset', 'reset', 'summary'],
  );
  assert.equal(lines[2]!.file, '-');
  assert.equal(lines[2]!.resets, 2);
});

test('the same report from a file, from stdin, from /dev/stdin (a socket, a pipe) and gzipped through stdin', () => {
  const { bytes } = pieces([...refused(0, 40001), ...aborted(0.5, 40002), ...refused(0.9, 40003)]);
  const file = path.join(dir, 'same.pcap');
  writeFileSync(file, bytes);
  const norm = (s: string) => s.replace(/^\S+: pcap/m, 'X: pcap');
  const fromFile = spawnSync(bin, ['analyze', file], { encoding: 'utf8' });
  assert.equal(fromFile.status, 0, fromFile.stderr);
  for (const [args, input, gz] of [
    [['-'], bytes, false],
    [['/dev/stdin'], bytes, false],
    [['-'], gzipSync(bytes), true],
    [['/dev/stdin'], gzipSync(bytes), true],
  ] as const) {
    const r = spawnSync(bin, ['analyze', ...args], { input, encoding: 'utf8' });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    const want = norm(fromFile.stdout).replace('X: pcap,', gz ? 'X: pcap (gzip),' : 'X: pcap,');
    assert.equal(norm(r.stdout), want, args.join(' '));
  }
  // /dev/stdin as a shell's pipe gives it (the socket above is read through its descriptor)
  const piped = spawnSync('sh', ['-c', 'cat "$1" | "$2" analyze /dev/stdin', 'sh', file, bin], { encoding: 'utf8' });
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(norm(piped.stdout), norm(fromFile.stdout));
  // --json: the same lines but the file name
  const jf = spawnSync(bin, ['analyze', '--json', file], { encoding: 'utf8' });
  const js = spawnSync(bin, ['analyze', '--json', '-'], { input: gzipSync(bytes), encoding: 'utf8' });
  assert.equal(js.status, 0, js.stderr);
  assert.equal(
    js.stdout.replaceAll('"file":"-"', 'F').replace('"gzip":true', '"gzip":false'),
    jf.stdout.replaceAll(JSON.stringify({ file }).slice(1, -1), 'F'),
  );
});

test('a FIFO: opened before its writer comes, read as it arrives', async () => {
  const fifo = path.join(dir, 'capture.fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const { header, records } = pieces([...refused(0, 40001), ...refused(0.3, 40005)]);
  const r = start([fifo]);
  await sleep(300);
  assert.equal(r.child.exitCode, null, 'it waits for a writer');
  const fd = openSync(fifo, 'w');
  await writeSlowly((b) => writeSync(fd, b), header, records.slice(0, 2));
  await r.waitOut(/#2 {2}192\.0\.2\.2:8080 -> 192\.0\.2\.1:40001/);
  for (const rec of records.slice(2)) writeSync(fd, rec);
  closeSync(fd);
  const { code } = await r.exited;
  assert.equal(code, 0, r.err());
  assert.match(r.out(), /RSTs: 2 \(0 active, 2 passive\)/);
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`${sig} while the stream is open: the summary of what was read, exit 0`, async () => {
    const { header, records } = pieces(refused(0, 40001));
    const r = start(['-']);
    await writeSlowly((b) => r.child.stdin.write(b), header, records);
    // half a record more: cut by the stop, which is no damage
    r.child.stdin.write(records[0]!.subarray(0, 20));
    await r.waitOut(/#2 {2}192\.0\.2\.2:8080/);
    r.child.kill(sig);
    const { code, signal } = await r.exited;
    assert.equal(signal, null);
    assert.equal(code, 0, r.err());
    assert.match(r.out(), /^-: pcap, Ethernet; 2 frames/m);
    assert.match(r.out(), /RSTs: 1 \(0 active, 1 passive\)/);
    assert.match(r.err(), new RegExp(`^tcpwhy: -: stopped by ${sig}; the report covers the 2 frames read\\n$`));
    r.child.stdin.destroy();
  });
}

/**
 * Waits until the process sleeps with no CPU time spent for 300 ms (blocked on
 * its input: started and reading), at most 20 s. node catches SIGINT from its
 * start (to restore the terminal), so its signal mask cannot tell when
 * tcpwhy's own handler is there; a loaded machine takes longer than any fixed
 * wait to start node and load tcpwhy.
 */
async function waitsForInput(pid: number): Promise<void> {
  let last = '';
  let still = 0;
  for (let i = 0; i < 200; i++) {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const cpu = `${f[11]} ${f[12]}`;
    still = f[0] === 'S' && cpu === last ? still + 1 : 0;
    last = cpu;
    if (still >= 3) return;
    await sleep(100);
  }
  assert.fail(`process ${pid} never waited for its input`);
}

test('SIGINT before a capture header arrived: nothing to analyze, exit 0', async () => {
  const r = start(['-']);
  r.child.stdin.write(Buffer.from([0xd4, 0xc3]));
  await waitsForInput(r.child.pid!);
  r.child.kill('SIGINT');
  const { code } = await r.exited;
  assert.equal(code, 0, r.err());
  assert.match(r.err(), /stopped by SIGINT before a whole capture header arrived/);
  r.child.stdin.destroy();
});

test('a stream cut mid-record: the report before the cut, exit 3; not a capture: exit 2', () => {
  const { bytes } = pieces(refused(0, 40001));
  const cut = spawnSync(bin, ['analyze', '-'], { input: bytes.subarray(0, bytes.length - 10), encoding: 'utf8' });
  assert.equal(cut.status, 3, cut.stderr);
  assert.match(cut.stdout, /RSTs: 0/);
  assert.match(cut.stderr, /^tcpwhy: -: capture cut short or corrupt: pcap record cut short/);
  const gzCut = spawnSync(bin, ['analyze', '-'], { input: gzipSync(bytes).subarray(0, 60), encoding: 'utf8' });
  assert.equal(gzCut.status, 3, gzCut.stderr);
  const junk = spawnSync(bin, ['analyze', '-'], { input: 'hello, world\n', encoding: 'utf8' });
  assert.equal(junk.status, 2);
  assert.match(junk.stderr, /^tcpwhy: -: not a pcap or pcapng capture/);
  assert.doesNotMatch(junk.stderr, /internal error|\n\s+at /);
});

test('a clock that runs backwards: the span from the earliest to the latest, and how often it went back', () => {
  const packets = [...refused(0, 40001), ...refused(0.5, 40002)];
  // the last packet 4 s before the first: last minus first would be negative
  packets[3] = { ...packets[3]!, sec: T0 - 4 };
  const file = path.join(dir, 'backwards.pcap');
  writeFileSync(file, pcap(packets, { linktype: LINKTYPE.ETHERNET }).bytes);
  const r = spawnSync(bin, ['analyze', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, / 4\.000 s from the earliest to the latest \(the clock ran backwards 1 time\)$/m);
  assert.doesNotMatch(r.stdout, / -\d/);
});
