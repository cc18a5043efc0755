// `tcpwhy analyze` as a user runs it: output, JSON lines, exit codes.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { cliPath, packageRoot } from '../../src/paths.js';
import { ACK, ethernet, ipv4Tcp, LINKTYPE, pcap, pcapng, RST, SYN } from '../helpers/capture-build.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-analyze-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const bin = path.join(packageRoot, 'bin', 'tcpwhy');
const run = (...args: string[]) => spawnSync(bin, ['analyze', ...args], { encoding: 'utf8' });

// a refused SYN; the client's process name-like payload in an RST is hostile text
const frames = [
  ethernet(ipv4Tcp({ src: '192.0.2.1', dst: '192.0.2.2' }, { sport: 40000, dport: 8080, seq: 7, flags: SYN })),
  ethernet(
    ipv4Tcp({ src: '192.0.2.2', dst: '192.0.2.1' }, { sport: 8080, dport: 40000, seq: 0, ack: 8, flags: RST | ACK, win: 0, payload: 'no\u001b]0;pwned\u0007' }),
  ),
];
const good = path.join(dir, 'good.pcap');
const bytes = pcap(
  frames.map((data) => ({ data })),
  { linktype: LINKTYPE.ETHERNET },
).bytes;
writeFileSync(good, bytes);

test('text report: the reset, its cause, the totals; hostile payload bytes escaped; exit 0', () => {
  const r = run(good);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /#2 {2}192\.0\.2\.2:8080 -> 192\.0\.2\.1:40000 {2}server, passive/);
  assert.match(r.stdout, /=> no-listener \[medium\]/);
  assert.match(r.stdout, /RSTs: 1 \(0 active, 1 passive\)/);
  assert.ok(!r.stdout.includes('\u001b'), 'no raw escape character reaches the terminal');
  assert.match(r.stdout, /RST payload \(12 bytes\): bytes 6e6f1b5d/);
});

test('a text payload cannot forge report lines', () => {
  const f = path.join(dir, 'text.pcap');
  const rst = ethernet(
    ipv4Tcp(
      { src: '192.0.2.2', dst: '192.0.2.1' },
      { sport: 8080, dport: 40000, seq: 0, ack: 8, flags: RST | ACK, win: 0, payload: 'bye\n  => forged [high]' },
    ),
  );
  writeFileSync(f, pcap([{ data: frames[0]! }, { data: rst }], { linktype: LINKTYPE.ETHERNET }).bytes);
  const r = run(f);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /RST payload \(\d+ bytes\): text: bye\\x0a/);
  assert.ok(!/^\s*=> forged/m.test(r.stdout));
});

test('--json: reset and summary lines, gzip read the same', () => {
  const gz = path.join(dir, 'good.pcap.gz');
  writeFileSync(gz, gzipSync(bytes));
  for (const f of [good, gz]) {
    const r = run(f, '--json');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const reset = lines.find((l) => l.type === 'reset');
    assert.equal(reset.cause.id, 'no-listener');
    assert.equal(reset.answers.frame, 1);
    const summary = lines.at(-1);
    assert.equal(summary.type, 'summary');
    assert.equal(summary.packets, 2);
    assert.equal(summary.resets, 1);
    assert.equal(summary.complete, true);
    assert.equal(summary.gzip, f === gz);
  }
});

test('a capture cut short: the report before the cut, the offset on stderr, exit 3', () => {
  const cut = path.join(dir, 'cut.pcap');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 5));
  const r = run(cut, '--json');
  assert.equal(r.status, 3);
  assert.match(r.stderr, /byte offset \d+/);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(summary.complete, false);
  assert.equal(summary.packets, 1);
  assert.ok(summary.error.offset > 24);
});

test('not a capture, a missing file, bad options: exit 2 with a message', () => {
  const junk = path.join(dir, 'junk.txt');
  writeFileSync(junk, 'hello, this is not a capture\n');
  for (const [args, msg] of [
    [[junk], /not a pcap or pcapng capture/],
    [[path.join(dir, 'missing.pcap')], /cannot read/],
    [[good, '--conn', 'nonsense'], /--conn wants/],
    [[good, '--limit', 'x'], /--limit wants/],
    [[], /one capture file/],
  ] as const) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});

/** Pids of the processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const st = readFileSync(`/proc/${n}/stat`, 'utf8');
        return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('started with the small heap of watch, analyze runs in a second process with a large one: same report, same exit code', () => {
  const direct = (file: string) => spawnSync(process.execPath, ['--max-old-space-size=64', cliPath, 'analyze', file], { encoding: 'utf8' });
  const r = direct(good);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, run(good).stdout);
  const cut = path.join(dir, 'cut-small-heap.pcap');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 5));
  assert.equal(direct(cut).status, 3);
});

test('the second process: there while the first waits, and a SIGTERM to the first ends both', async () => {
  // a FIFO nobody writes to keeps the analysis waiting for its first bytes
  const fifo = path.join(dir, 'never.pcap');
  execFileSync('mkfifo', [fifo]);
  const keepOpen = openSync(fifo, 'r+'); // a writer that never writes: reading blocks instead of ending
  const parent = spawn(process.execPath, ['--max-old-space-size=64', cliPath, 'analyze', fifo], { stdio: 'ignore' });
  try {
    let kids: number[] = [];
    for (let i = 0; i < 100 && !kids.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      kids = childrenOf(parent.pid!);
    }
    assert.equal(kids.length, 1, 'no second process');
    assert.match(readFileSync(`/proc/${kids[0]}/cmdline`, 'utf8'), /--max-old-space-size=4096/);
    parent.kill('SIGTERM');
    const [code, signal] = (await once(parent, 'exit')) as [number | null, string | null];
    assert.deepEqual([code, signal], [null, 'SIGTERM']);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!existsSync(`/proc/${kids[0]}`) || /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${kids[0]}/stat`, 'utf8')), 'the second process outlived the first');
  } finally {
    parent.kill('SIGKILL');
    closeSync(keepOpen);
  }
});

test('--conn matching a flood of connections shows the first 50 and counts the rest', () => {
  const f = path.join(dir, 'many.pcap');
  const packets = [];
  for (let i = 0; i < 60; i++) {
    packets.push(ethernet(ipv4Tcp({ src: '192.0.2.1', dst: '192.0.2.2' }, { sport: 41000 + i, dport: 8080, seq: 7, flags: SYN })));
    packets.push(ethernet(ipv4Tcp({ src: '192.0.2.2', dst: '192.0.2.1' }, { sport: 8080, dport: 41000 + i, seq: 0, ack: 8, flags: RST | ACK, win: 0 })));
  }
  writeFileSync(
    f,
    pcap(
      packets.map((data) => ({ data })),
      { linktype: LINKTYPE.ETHERNET },
    ).bytes,
  );
  const r = run(f, '--conn', '192.0.2.2:8080');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^connection 192\.0\.2\.2:8080: 60 connection\(s\) \(the first 50 shown; 10 more match/m);
  assert.equal(r.stdout.match(/^ {2}conn \d+:/gm)?.length, 50);
});

test('a pcapng interface name reaches the JSON escaped, like every byte of a capture', () => {
  const f = path.join(dir, 'name.pcapng');
  writeFileSync(
    f,
    pcapng([
      { type: 'idb', linktype: LINKTYPE.ETHERNET, name: 'eth0\u001b]0;pwned\u0007' },
      ...frames.map((data) => ({ type: 'epb' as const, packet: { data } })),
    ]).bytes,
  );
  const r = run(f, '--json');
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { interfaces: Array<{ name: string }> };
  assert.ok(summary.interfaces[0]!.name.startsWith('eth0'));
  assert.ok(!summary.interfaces[0]!.name.includes('\u001b'), summary.interfaces[0]!.name);
});
