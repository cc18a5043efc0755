// tshark as the independent witness of tcpwhy's offline analysis, on real
// traffic: each scenario runs in a fresh lab, recorded with tcpdump on the
// server's veth1, and on that file tcpwhy must flag exactly the frames tshark
// flags: RSTs (tcp.flags.reset), retransmissions (plain, fast, spurious),
// out-of-order segments, duplicate ACKs, zero windows, keepalives and SYN
// retransmissions (tcp.analysis.*), frame by frame, and its totals must be
// tshark's counts. Each scenario also checks that it produced what it is
// there for (a witness that sees no retransmission proves nothing about them).
// Where tcpwhy and Wireshark differ on purpose, docs/capture.md ("Loss") says
// so; there is no such difference in these scenarios.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { analyzeCapture, type Analysis } from '../../src/capture/analyze.js';
import { addrKey } from '../../src/net/addr.js';
import { CASES, type Family } from '../../src/lab/cases.js';
import { inNs, ip, Lab, labAddrs } from '../../src/lab/netns.js';
import { startRecording, type Recording, type RecordingSummary, type RecordOptions } from '../../src/lab/record.js';
import { Actor } from '../../src/lab/cast.js';
import { recordingsDir } from '../helpers/recordings.js';
import { TCP_SIGNS, tsharkTcpSigns, type TcpSign } from '../helpers/tshark.js';

const SIGNS = Object.keys(TCP_SIGNS) as TcpSign[];

const dir = recordingsDir('witness');

type Frames = Record<TcpSign, number[]>;

const noFrames = (): Frames => Object.fromEntries(SIGNS.map((s) => [s, [] as number[]])) as unknown as Frames;

/**
 * tcpwhy's signs per frame: its resets from the whole capture, its loss notes
 * from the ladder of every connection of each server endpoint (`--conn
 * ADDR:PORT` gives every packet of the connections on that endpoint).
 */
async function tcpwhySigns(file: string, servers: Array<{ addr: string; port: number }>): Promise<{ frames: Frames; analysis: Analysis }> {
  const sets = new Map<TcpSign, Set<number>>(SIGNS.map((s) => [s, new Set<number>()]));
  const analysis = await analyzeCapture(file, { onReset: (r) => sets.get('reset')!.add(r.frame) });
  for (const s of servers) {
    const addr = addrKey(s.addr);
    assert.ok(addr, s.addr);
    await analyzeCapture(file, {
      conn: { a: { addr, port: s.port }, b: null },
      onConnPacket: ({ row }) => {
        for (const note of row.notes) sets.get(note as TcpSign)?.add(row.frame);
        // tshark marks fast and spurious retransmissions as retransmissions too (tcpwhy counts them so)
        if (row.notes.includes('fast retransmission') || row.notes.includes('spurious retransmission')) sets.get('retransmission')!.add(row.frame);
      },
    });
  }
  const frames = noFrames();
  for (const s of SIGNS) frames[s] = [...sets.get(s)!].sort((a, b) => a - b);
  return { frames, analysis };
}

interface Witnessed {
  /** frames tshark flags, per sign (the same as tcpwhy's, once checked) */
  frames: Frames;
  count: Record<TcpSign, number>;
  /** tshark's TCP frames */
  tcpFrames: ReturnType<typeof tsharkTcpSigns>;
}

/**
 * Both tools read `file`; every sign must be on the same frames, and tcpwhy's
 * totals must be tshark's counts. `server`: the server's address, whose ports
 * in the capture name the connections to compare.
 */
async function witness(file: string, server: string, t: { diagnostic(s: string): void }): Promise<Witnessed> {
  const tcpFrames = tsharkTcpSigns(file);
  const shark = noFrames();
  for (const f of tcpFrames) for (const s of f.signs) shark[s].push(f.frame);
  const ports = new Set<number>();
  for (const f of tcpFrames) {
    if (f.src === server) ports.add(f.sport);
    else if (f.dst === server) ports.add(f.dport);
    else assert.fail(`frame ${f.frame} is not to or from the server ${server}: ${f.src} -> ${f.dst}`);
  }
  const { frames: why, analysis } = await tcpwhySigns(
    file,
    [...ports].map((port) => ({ addr: server, port })),
  );
  const count = Object.fromEntries(SIGNS.map((s) => [s, shark[s].length])) as Record<TcpSign, number>;
  t.diagnostic(`${tcpFrames.length} TCP frames; tshark: ${SIGNS.map((s) => `${s} ${count[s]}`).join(', ')}`);
  for (const s of SIGNS) {
    const onlyShark = shark[s].filter((f) => !why[s].includes(f));
    const onlyWhy = why[s].filter((f) => !shark[s].includes(f));
    assert.ok(
      onlyShark.length === 0 && onlyWhy.length === 0,
      `${s}: frames only tshark flags [${onlyShark.join(', ')}], only tcpwhy flags [${onlyWhy.join(', ')}] (tshark -r ${file} -Y 'frame.number==N' -V tells why; TCPWHY_KEEP_RECORDINGS=1 keeps the file)`,
    );
  }
  assert.equal(analysis.resets, count.reset, 'RSTs');
  assert.equal(analysis.loss.retransmissions, count.retransmission, 'retransmissions');
  assert.equal(analysis.loss.fast_retransmissions, count['fast retransmission'], 'fast retransmissions');
  assert.equal(analysis.loss.spurious_retransmissions, count['spurious retransmission'], 'spurious retransmissions');
  assert.equal(analysis.loss.out_of_order, count['out of order'], 'out-of-order segments');
  assert.equal(analysis.loss.dup_acks, count['dup ack'], 'duplicate ACKs');
  assert.equal(analysis.loss.zero_windows, count['zero window'], 'zero windows');
  assert.equal(analysis.loss.syn_retransmits, count['SYN retransmission'], 'SYN retransmissions');
  return { frames: shark, count, tcpFrames };
}

let nextPort = 9500;

/**
 * A fresh lab recorded on the server's veth1 while `body` runs; the recording
 * is stopped (and must have lost nothing), the actors and the lab go away,
 * whatever happens. Returns the capture file and what `body` returned.
 */
async function recorded<T>(
  tag: string,
  body: (lab: Lab, port: number, actors: Actor[]) => Promise<T>,
  opts: RecordOptions = {},
): Promise<{ file: string; result: T }> {
  const port = (nextPort += 10);
  const file = path.join(dir(), `${tag}-${port}.pcap`);
  const lab = Lab.create('witness');
  const actors: Actor[] = [];
  let rec: Recording | null = null;
  let done: { result: T } | null = null;
  let summary: RecordingSummary | null = null;
  try {
    rec = await startRecording(lab.server.ns, 'veth1', file, opts);
    done = { result: await body(lab, port, actors) };
  } finally {
    try {
      await Promise.all(actors.map((a) => a.stop()));
      // when the body failed, its error is the one to see, not a recording's
      if (rec && done) summary = await rec.stop();
      else await rec?.stop().catch(() => undefined);
    } finally {
      lab.destroy();
    }
  }
  assert.equal(summary?.dropped, 0, 'the recording lost no packet');
  return { file, result: done.result };
}

const passed = (file: string) => rmSync(file, { force: true });

/** The nft rule's counter in the server namespace: packets it dropped. */
function dropped(lab: Lab): number {
  const m = /counter packets (\d+)/.exec(inNs(lab.server.ns, 'nft', ['list', 'table', 'inet', 'loss']));
  assert.ok(m, 'the loss rule has a counter');
  return Number(m[1]);
}

for (const family of [4, 6] as Family[]) {
  test(`loss IPv${family}: a bulk transfer with 1 in 40 data segments dropped at the server's input`, async (t) => {
    const bytes = 4 << 20;
    const { file, result } = await recorded(
      `loss-v${family}`,
      async (lab, port, actors) => {
        const a = labAddrs(lab, family);
        // MTU-sized segments as on a real link: with segmentation offload a veth
        // carries 64 KB super-segments, and one drop would take 45 segments away
        ip('-n', lab.client.ns, 'link', 'set', 'veth0', 'gso_max_segs', '1');
        // tcpdump sees each segment before the input hook drops it: the capture has
        // the original, the server's duplicate ACKs and SACKs, and the retransmission
        lab.nft(
          lab.server,
          `table inet loss {
            chain in {
              type filter hook input priority 0; policy accept;
              tcp dport ${port} tcp flags & (syn | fin | rst) == 0 meta length > 200 numgen random mod 40 == 0 counter drop
            }
          }`,
        );
        const sink = Actor.start(lab, lab.server, 'sink', { host: a.server, port });
        actors.push(sink);
        await sink.waitFor('listening');
        const bulk = Actor.start(lab, lab.client, 'bulk', { host: a.server, port, bytes });
        actors.push(bulk);
        await bulk.waitFor('done', 10_000);
        const drained = await sink.waitFor('drained', 10_000);
        return { drained: Number(drained['bytes']), drops: dropped(lab) };
      },
      // 4 MB in well under a second: whole packets overflow tcpdump's buffer (see
      // RecordOptions.snaplen); headers are enough, both tools take a segment's
      // length from its IP header
      { snaplen: 160, bufferKiB: 16384 },
    );
    assert.equal(result.drained, bytes, 'the server read every byte');
    assert.ok(result.drops > 0, 'the rule dropped segments');
    const w = await witness(file, family === 4 ? '192.0.2.2' : '2001:db8::2', t);
    t.diagnostic(`${result.drops} segments dropped by the rule`);
    assert.ok(w.count.retransmission > 0, 'the drops were retransmitted');
    assert.ok(w.count['dup ack'] > 0, 'the server sent duplicate ACKs');
    assert.ok(w.count['fast retransmission'] > 0, 'some drops were repaired after duplicate ACKs');
    // out-of-order segments (the veth reorders segments sent from two CPUs) and
    // spurious retransmissions come and go with timing: compared when they
    // appear, not required
    assert.equal(w.count.reset, 0);
    passed(file);
  });
}

/** Waits until the client's socket to `port` has sent `n` zero window probes (ss: backoff). */
async function waitProbes(lab: Lab, port: number, n: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = inNs(lab.client.ns, 'ss', ['-Htni', 'state', 'established', `( dport = :${port} )`]);
    const m = /backoff:(\d+)/.exec(last);
    if (m && Number(m[1]) >= n) return;
    await sleep(20);
  }
  throw new Error(`the client sent fewer than ${n} zero window probes in ${timeoutMs} ms: ${last.trim()}`);
}

for (const family of [4, 6] as Family[]) {
  test(`zero window IPv${family}: a server that never reads, probed twice, then closes with the data unread`, async (t) => {
    const { file } = await recorded(`zero-window-v${family}`, async (lab, port, actors) => {
      const a = labAddrs(lab, family);
      // a receive buffer of 8 KB fills after a few segments (tcp_rmem serves IPv6 too)
      lab.sysctl(lab.server, 'net.ipv4.tcp_rmem', '4096 8192 8192');
      // Linux's zero window probes are out-of-window segments, whose answers are
      // rate limited to one per 500 ms: the second probe (400 ms after the first) would go unanswered
      lab.sysctl(lab.server, 'net.ipv4.tcp_invalid_ratelimit', 0);
      const server = Actor.start(lab, lab.server, 'listen-unread', { host: a.server, port });
      actors.push(server);
      await server.waitFor('listening');
      const client = Actor.start(lab, lab.client, 'connect', { host: a.server, port, bytes: 200_000 });
      actors.push(client);
      await client.waitFor('connected');
      await server.waitFor('accepted');
      // probes 200 ms after the window closed, then 400 ms later: about a second
      await waitProbes(lab, port, 2);
      server.send('close');
      const err = await client.waitFor('error');
      assert.equal(err['code'], 'ECONNRESET');
    });
    const server = family === 4 ? '192.0.2.2' : '2001:db8::2';
    const w = await witness(file, server, t);
    // the ACK that closed the window and the answers to both probes
    assert.ok(w.count['zero window'] >= 3, `zero windows: ${w.count['zero window']}`);
    // Linux probes with a segment without data at the next sequence number - 1, which tshark calls a keepalive
    assert.ok(w.count.keepalive >= 2, `probes: ${w.count.keepalive}`);
    assert.equal(w.count.reset, 1, 'the close with unread data resets');
    const rst = w.tcpFrames.find((f) => f.frame === w.frames.reset[0]);
    assert.equal(rst?.src, server, 'the server sent the RST');
    passed(file);
  });
}

/** hping3 in the client namespace; its exit status is 1 when nothing answered. */
function hping(lab: Lab, args: string[]): void {
  const r = spawnSync('ip', ['netns', 'exec', lab.client.ns, 'hping3', '-q', ...args, lab.server.v4], { encoding: 'utf8', timeout: 10_000 });
  assert.ok(r.status === 0 || r.status === 1, `hping3 ${args.join(' ')}: ${r.status} ${r.stderr}`);
}

test('RSTs: 10 SYNs to a closed port (answered with RST+ACK) and 5 stray RSTs (answered with nothing)', async (t) => {
  const { file } = await recorded('hping', async (lab, port) => {
    hping(lab, ['-S', '-p', String(port), '-c', '10', '-i', 'u10000']);
    hping(lab, ['-R', '-p', String(port + 1), '-c', '5', '-i', 'u10000']);
  });
  const w = await witness(file, '192.0.2.2', t);
  assert.equal(w.count.reset, 15);
  passed(file);
});

// Every lab case makes one kind of RST for real (closed port, close with unread
// data, SO_LINGER 0, data after close, accept queue overflow, keepalive timeout,
// restarted peer, lost NAT state, ss -K, ...): recorded, each is a witness for
// resets and for the retransmissions and keepalives around them.
for (const c of CASES) {
  for (const family of c.families) {
    test(`RSTs: lab case ${c.name} IPv${family}`, async (t) => {
      const { file } = await recorded(`case-${c.name}-v${family}`, async (lab, port) => {
        await c.run(lab, family, port);
      });
      const w = await witness(file, family === 4 ? '192.0.2.2' : '2001:db8::2', t);
      assert.ok(w.count.reset > 0, 'the case reset a connection');
      passed(file);
    });
  }
}
