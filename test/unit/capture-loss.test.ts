// Loss findings of `tcpwhy analyze` (the wireLoss rules of the loss causes) on
// hand-built captures: a connect that timed out, ICMP errors about a flow, an
// MTU black hole with and without the ICMP, a zero window; and a healthy
// connection, which has none.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { analyzeCapture, type LossReport } from '../../src/capture/analyze.js';
import { WIRE_LOSS_ORDER } from '../../src/causes/index.js';
import { packageRoot } from '../../src/paths.js';
import { ACK, ethernet, FIN, icmp4Error, icmp6Error, ipv4Tcp, ipv6Tcp, LINKTYPE, pcap, PSH, SYN, type Packet, type TcpSpec } from '../helpers/capture-build.js';
import { analyzeLineProblems } from '../helpers/schema.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-loss-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const C = '192.0.2.1';
const S = '198.51.100.2';
const ROUTER = '203.0.113.1';
const C6 = '2001:db8::1';
const S6 = '2001:db8:1::2';
const ROUTER6 = '2001:db8:ff::1';

/** One frame: an IP packet at `t` seconds. */
interface At {
  ip: Buffer;
  t: number;
}

/** A TCP segment of the conversation C:40000 <-> S:80 (`from` c or s). */
function seg(from: 'c' | 's', t: number, tcp: Omit<TcpSpec, 'sport' | 'dport'> & { len?: number }, v6 = false): At {
  const { len, ...rest } = tcp;
  const spec: TcpSpec = {
    sport: from === 'c' ? 40000 : 80,
    dport: from === 'c' ? 80 : 40000,
    win: 502,
    ...rest,
    payload: rest.payload ?? (len ? Buffer.alloc(len, 0x61) : ''),
  };
  const ip = v6
    ? ipv6Tcp({ src: from === 'c' ? C6 : S6, dst: from === 'c' ? S6 : C6 }, spec)
    : ipv4Tcp({ src: from === 'c' ? C : S, dst: from === 'c' ? S : C, df: true }, spec);
  return { ip, t };
}

const hs = (v6 = false): At[] => [
  seg('c', 0, { seq: 1000, flags: SYN }, v6),
  seg('s', 0.01, { seq: 5000, ack: 1001, flags: SYN | ACK }, v6),
  seg('c', 0.02, { seq: 1001, ack: 5001, flags: ACK }, v6),
];

async function analyze(frames: At[]) {
  const packets: Packet[] = frames.map((f) => ({ data: ethernet(f.ip), sec: 1_700_000_000 + Math.floor(f.t), nsec: Math.round((f.t % 1) * 1e9) }));
  const file = path.join(dir, `l${n++}.pcap`);
  writeFileSync(file, pcap(packets, { linktype: LINKTYPE.ETHERNET }).bytes);
  const losses: LossReport[] = [];
  const a = await analyzeCapture(file, { onLoss: (l) => losses.push(l), onReset: () => {}, onConn: () => {} });
  // every finding carries only evidence names its rule documents
  for (const l of losses) {
    const rule = WIRE_LOSS_ORDER.find((c) => c.id === l.cause.id)!.wireLoss!;
    for (const k of Object.keys(l.cause.evidence)) assert.ok(k in rule.evidence, `${l.cause.id}: evidence ${k} not documented`);
  }
  return { a, losses, file };
}

/** A packet of another flow at `t`: the capture goes on. */
const elsewhere = (t: number, v6 = false): At => ({
  ip: v6
    ? ipv6Tcp({ src: '2001:db8::7', dst: '2001:db8::8' }, { sport: 5000, dport: 6000, seq: 1, ack: 1, flags: ACK })
    : ipv4Tcp({ src: '192.0.2.7', dst: '192.0.2.8' }, { sport: 5000, dport: 6000, seq: 1, ack: 1, flags: ACK }),
  t,
});

/** SYNs with one ISN at these times, never answered. */
const unansweredSyns = (times: number[], v6 = false) => times.map((t) => seg('c', t, { seq: 1000, flags: SYN }, v6));

test('every loss cause has a wire loss rule, documented, and its module belongs to group drop or outcome', () => {
  assert.deepEqual(
    WIRE_LOSS_ORDER.map((c) => c.id),
    ['connect-timeout', 'icmp-unreachable', 'mtu-black-hole', 'zero-window'],
  );
  for (const c of WIRE_LOSS_ORDER) {
    assert.ok(c.group === 'drop' || c.group === 'outcome', c.id);
    assert.ok(c.wireLoss!.recognized.length > 10, c.id);
    for (const k of Object.keys(c.wireLoss!.evidence)) assert.match(k, /^[a-z_]+$/, `${c.id}: ${k}`);
  }
});

test('SYNs sent again and never answered: connect timed out (high once the client stops, IPv4 and IPv6)', async () => {
  for (const v6 of [false, true]) {
    // Linux's backoff: 1 s, 2 s, 4 s; the capture goes on to 30 s with another connection
    const { losses, a } = await analyze([...unansweredSyns([0, 1, 3, 7], v6), elsewhere(30, v6)]);
    assert.equal(a.loss_findings, 1);
    const l = losses[0]!;
    assert.equal(l.cause.id, 'connect-timeout');
    assert.equal(l.cause.confidence, 'high');
    assert.equal(l.role, 'client');
    assert.equal(l.frame, 1);
    assert.equal(l.cause.evidence['syns'], 4);
    assert.equal(l.cause.evidence['over_s'], 7);
    assert.equal(l.cause.evidence['gave_up'], true);
    assert.equal(l.cause.evidence['icmp'], null);
    assert.deepEqual(l.proof, [1, 4]);
    assert.match(l.cause.summary, /sent 4 SYNs .* over 7\.0 s, never answered; it stopped trying: connect\(\) timed out/);
    assert.deepEqual(
      a.loss_by_cause.map((c) => [c.id, c.count, c.first_frame]),
      [['connect-timeout', 1, 1]],
    );
  }
});

test('a capture that ends while the client still retries: medium; a single unanswered SYN is no finding', async () => {
  const { losses } = await analyze(unansweredSyns([0, 1, 3]));
  assert.equal(losses.length, 1);
  assert.equal(losses[0]!.cause.confidence, 'medium');
  assert.equal(losses[0]!.cause.evidence['gave_up'], false);
  assert.match(losses[0]!.cause.summary, /may still have been retrying/);
  const one = await analyze(unansweredSyns([0]));
  assert.equal(one.a.loss_findings, 0);
});

test('a router says host unreachable about a SYN and the client stops: icmp-unreachable (the connect failed at once), not a timeout', async () => {
  const syns = unansweredSyns([0, 1]);
  const icmp = { ip: icmp4Error({ src: ROUTER, dst: C }, 3, 1, syns[1]!.ip), t: 1.002 };
  const { losses, a } = await analyze([...syns, icmp, elsewhere(30)]);
  assert.equal(a.skipped['not-tcp'], 1, 'the ICMP error is still counted as a frame without TCP');
  assert.deepEqual(
    losses.map((l) => l.cause.id),
    ['icmp-unreachable'],
  );
  const l = losses[0]!;
  assert.equal(l.cause.confidence, 'high');
  assert.equal(l.endpoint, `${C}:40000`);
  assert.equal(l.peer, `${S}:80`);
  assert.equal(l.cause.evidence['icmp_from'], ROUTER);
  assert.equal(l.cause.evidence['icmp'], 'ICMP host unreachable');
  assert.equal(l.cause.evidence['errno'], 'EHOSTUNREACH');
  assert.equal(l.cause.evidence['firewall'], false);
  assert.equal(l.cause.evidence['quoted_seq'], 1000);
  assert.deepEqual(l.proof, [3]);
  assert.match(l.cause.summary, /connect\(\) fails at once with EHOSTUNREACH/);
});

test('an ICMP error the client did not act on (it kept sending SYNs) is told in the connect timeout too', async () => {
  const syns = unansweredSyns([0, 1, 3, 7]);
  const icmp = { ip: icmp4Error({ src: S, dst: C }, 3, 3, syns[0]!.ip), t: 0.001 };
  const { losses } = await analyze(
    [syns[0]!, icmp, ...syns.slice(1), seg('s', 40, { seq: 1, ack: 1, flags: ACK })].map((f, i) => ({ ...f, t: [0, 0.001, 1, 3, 7, 40][i]! })),
  );
  const byId = new Map(losses.map((l) => [l.cause.id, l]));
  assert.deepEqual([...byId.keys()].sort(), ['connect-timeout', 'icmp-unreachable']);
  assert.match(String(byId.get('connect-timeout')!.cause.evidence['icmp']), /^ICMP port unreachable from 198\.51\.100\.2 \(frame 2\)/);
  const u = byId.get('icmp-unreachable')!;
  assert.equal(u.cause.evidence['firewall'], true);
  assert.equal(u.cause.evidence['errno'], 'ECONNREFUSED');
  assert.match(u.cause.summary, /\(what a firewall reject rule sends\); it kept sending SYNs after it \(3\)/);
});

test('ICMPv6 administratively prohibited about an established flow, and an ICMP error about a flow the capture has no packet of', async () => {
  const data = seg('c', 0.03, { seq: 1001, ack: 5001, flags: PSH | ACK, len: 100 }, true);
  const icmp = { ip: icmp6Error({ src: ROUTER6, dst: C6 }, 1, 1, data.ip), t: 0.031 };
  const again = seg('c', 0.3, { seq: 1001, ack: 5001, flags: PSH | ACK, len: 100 }, true);
  const stray = ipv4Tcp({ src: C, dst: '192.0.2.99' }, { sport: 41000, dport: 443, seq: 77, flags: SYN });
  const orphan = { ip: icmp4Error({ src: ROUTER, dst: C }, 3, 13, stray, { quoteBytes: 28 }), t: 0.5 };
  const { losses } = await analyze([...hs(true), data, icmp, again, orphan]);
  assert.equal(losses.length, 2);
  const [v6, none] = [losses.find((l) => l.family === 'ipv6')!, losses.find((l) => l.conn === null)!];
  assert.equal(v6.cause.id, 'icmp-unreachable');
  assert.equal(v6.cause.evidence['icmp'], 'ICMPv6 administratively prohibited');
  assert.equal(v6.cause.evidence['errno'], 'EACCES');
  assert.equal(v6.cause.evidence['sent_after'], 1);
  assert.equal(v6.role, 'client');
  assert.match(v6.cause.summary, /kept sending \(1 packet\(s\) after it\): an established connection takes the error as soft/);
  // 8 bytes of TCP quoted: ports and seq, not the flags
  assert.equal(none.cause.id, 'icmp-unreachable');
  assert.equal(none.endpoint, `${C}:41000`);
  assert.equal(none.peer, '192.0.2.99:443');
  assert.equal(none.role, null);
  assert.equal(none.frame, 7);
  assert.equal(none.cause.evidence['icmp'], 'ICMP communication administratively prohibited');
  assert.match(none.cause.summary, /the capture holds no packet of the flow itself/);
});

/** The server's response: 200 bytes acknowledged, then a 1448-byte segment at 5201. */
const response = (): At[] => [
  seg('c', 0.03, { seq: 1001, ack: 5001, flags: PSH | ACK, len: 50 }),
  seg('s', 0.04, { seq: 5001, ack: 1051, flags: PSH | ACK, len: 200 }),
  seg('c', 0.05, { seq: 1051, ack: 5201, flags: ACK }),
  seg('s', 0.06, { seq: 5201, ack: 1051, flags: ACK, len: 1448 }),
];

test('fragmentation needed about a full-size segment, then more full-size segments: the MTU black hole with the ICMP on the wire (high)', async () => {
  const frames = [...hs(), ...response()];
  const big = frames.at(-1)!;
  const icmp = { ip: icmp4Error({ src: ROUTER, dst: S }, 3, 4, big.ip, { mtu: 1400 }), t: 0.061 };
  const again = [0.3, 0.9].map((t) => seg('s', t, { seq: 5201, ack: 1051, flags: ACK, len: 1448 }));
  const { losses } = await analyze([...frames, icmp, ...again]);
  assert.deepEqual(
    losses.map((l) => l.cause.id),
    ['mtu-black-hole'],
  );
  const l = losses[0]!;
  assert.equal(l.cause.confidence, 'high');
  assert.equal(l.role, 'server');
  assert.equal(l.cause.evidence['shape'], 'icmp');
  assert.equal(l.cause.evidence['mtu'], 1400);
  assert.equal(l.cause.evidence['seg_len'], 1488);
  assert.equal(l.cause.evidence['too_big_after'], 2);
  assert.equal(l.cause.evidence['icmp'], 'ICMP fragmentation needed');
  assert.match(l.cause.summary, /giving a path MTU of 1400 .* the error never reached its socket/);
});

test('packet too big, and the sender fits its packets after it: path MTU discovery worked (low, IPv6)', async () => {
  const big = seg('s', 0.06, { seq: 5001, ack: 1001, flags: ACK, len: 1428 }, true);
  const icmp = { ip: icmp6Error({ src: ROUTER6, dst: S6 }, 2, 0, big.ip, { mtu: 1280 }), t: 0.061 };
  const fit = seg('s', 0.062, { seq: 5001, ack: 1001, flags: ACK, len: 1208 }, true);
  const { losses } = await analyze([...hs(true), big, icmp, fit]);
  assert.equal(losses.length, 1);
  assert.equal(losses[0]!.cause.id, 'mtu-black-hole');
  assert.equal(losses[0]!.cause.confidence, 'low');
  assert.equal(losses[0]!.cause.evidence['mtu'], 1280);
  assert.equal(losses[0]!.cause.evidence['icmp'], 'ICMPv6 packet too big');
  assert.match(losses[0]!.cause.summary, /path MTU discovery worked/);
});

test('a full-size segment sent again and again while smaller ones get through, no ICMP: the MTU black hole from the packets (medium)', async () => {
  const again = [0.3, 0.9, 2.1].map((t) => seg('s', t, { seq: 5201, ack: 1051, flags: ACK, len: 1448 }));
  // Linux's tcp_mtu_probing: the data again in smaller segments, and those get through
  const smaller = [seg('s', 4.5, { seq: 5201, ack: 1051, flags: ACK, len: 1000 }), seg('c', 4.51, { seq: 1051, ack: 6201, flags: ACK })];
  const { losses } = await analyze([...hs(), ...response(), ...again, ...smaller]);
  assert.deepEqual(
    losses.map((l) => l.cause.id),
    ['mtu-black-hole'],
  );
  const l = losses[0]!;
  assert.equal(l.cause.confidence, 'medium');
  assert.equal(l.cause.evidence['shape'], 'retransmissions');
  assert.equal(l.cause.evidence['retransmissions'], 3);
  assert.equal(l.cause.evidence['seg_len'], 1448);
  assert.equal(l.cause.evidence['smaller_frame'], 11);
  assert.equal(l.cause.evidence['through_frame'], 12);
  assert.deepEqual(l.proof, [8, 10, 11, 12]);
  // without the smaller re-sends, only the data before it got through and the client kept talking: low
  const talk = seg('c', 2.2, { seq: 1051, ack: 5201, flags: PSH | ACK, len: 10 });
  const low = await analyze([...hs(), ...response(), ...again, talk]);
  assert.equal(low.losses[0]?.cause.id, 'mtu-black-hole');
  assert.equal(low.losses[0]!.cause.confidence, 'low');
});

test('a lossy link: full-size segments got through before, one is sent again twice: no MTU black hole', async () => {
  const frames = [...hs(), seg('s', 0.03, { seq: 5001, ack: 1001, flags: ACK, len: 1448 }), seg('c', 0.04, { seq: 1001, ack: 6449, flags: ACK })];
  frames.push(seg('s', 0.05, { seq: 6449, ack: 1001, flags: ACK, len: 1448 }));
  frames.push(...[0.3, 0.9].map((t) => seg('s', t, { seq: 6449, ack: 1001, flags: ACK, len: 1448 })));
  frames.push(seg('c', 0.91, { seq: 1001, ack: 7897, flags: ACK }));
  const { a } = await analyze(frames);
  assert.equal(a.loss.retransmissions, 2);
  assert.equal(a.loss_findings, 0);
});

test('a receiver that stops reading: zero window, its stall, the probes and the reopening (high)', async () => {
  const frames = [
    ...hs(),
    seg('s', 0.03, { seq: 5001, ack: 1001, flags: ACK, len: 1000 }),
    seg('c', 0.04, { seq: 1001, ack: 6001, flags: ACK, win: 0 }),
    // Linux's probes: no data, one below the next sequence number
    seg('s', 0.5, { seq: 6000, ack: 1001, flags: ACK }),
    seg('c', 0.5, { seq: 1001, ack: 6001, flags: ACK, win: 0 }),
    seg('s', 1.5, { seq: 6000, ack: 1001, flags: ACK }),
    seg('c', 1.5, { seq: 1001, ack: 6001, flags: ACK, win: 0 }),
    seg('c', 2.54, { seq: 1001, ack: 6001, flags: ACK, win: 300 }),
    seg('s', 2.55, { seq: 6001, ack: 1001, flags: FIN | ACK }),
  ];
  const { losses, a } = await analyze(frames);
  assert.equal(a.loss.zero_windows, 3);
  assert.deepEqual(
    losses.map((l) => l.cause.id),
    ['zero-window'],
  );
  const l = losses[0]!;
  assert.equal(l.role, 'client');
  assert.equal(l.cause.confidence, 'high');
  assert.equal(l.cause.evidence['zero_windows'], 3);
  assert.equal(l.cause.evidence['first_frame'], 5);
  assert.equal(l.cause.evidence['longest_s'], 2.5);
  assert.equal(l.cause.evidence['probes'], 2);
  assert.equal(l.cause.evidence['reopened'], true);
  assert.equal(l.cause.evidence['reopen_frame'], 10);
  assert.deepEqual(l.proof, [5, 10]);
  // a window shut for 10 ms and reopened: a buffer briefly full, medium
  const brief = await analyze([...frames.slice(0, 5), seg('c', 0.05, { seq: 1001, ack: 6001, flags: ACK, win: 300 })]);
  assert.equal(brief.losses[0]!.cause.confidence, 'medium');
  assert.equal(brief.losses[0]!.cause.evidence['longest_s'], 0.01);
});

test('a healthy connection has no loss finding', async () => {
  const { a, losses } = await analyze([
    ...hs(),
    ...response(),
    seg('c', 0.07, { seq: 1051, ack: 6649, flags: ACK }),
    seg('s', 0.08, { seq: 6649, ack: 1051, flags: FIN | ACK }),
    seg('c', 0.09, { seq: 1051, ack: 6650, flags: FIN | ACK }),
    seg('s', 0.1, { seq: 6650, ack: 1052, flags: ACK }),
  ]);
  assert.equal(a.loss_findings, 0);
  assert.deepEqual(a.loss_by_cause, []);
  assert.deepEqual(losses, []);
});

test('analyze --json: loss lines and the summary validate against the schema; the text report lists the findings', async () => {
  const syns = unansweredSyns([0, 1, 3, 7]);
  const { file } = await analyze([...syns, elsewhere(30)]);
  const r = spawnSync(path.join(packageRoot, 'bin', 'tcpwhy'), ['analyze', file, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.some((l) => l['type'] === 'loss'));
  for (const l of lines) assert.deepEqual(analyzeLineProblems(l), [], JSON.stringify(l));
  const summary = lines.at(-1)!;
  assert.equal(summary['loss_findings'], 1);
  const t = spawnSync(path.join(packageRoot, 'bin', 'tcpwhy'), ['analyze', file, '--no-progress'], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /^loss findings:\n {2}#1 {2}conn 1 {2}client 192\.0\.2\.1:40000 \(peer 198\.51\.100\.2:80\)\n {6}=> connect-timeout \[high\]/m);
  assert.match(t.stdout, /loss causes: 1 finding\(s\)\n.*\n +1 +connect-timeout +1 high +#1/);
  // --limit 0 lists none, counts all
  const none = spawnSync(path.join(packageRoot, 'bin', 'tcpwhy'), ['analyze', file, '--no-progress', '--limit', '0'], { encoding: 'utf8' });
  assert.doesNotMatch(none.stdout, /^loss findings:/m);
  assert.match(none.stdout, /\(0 of 1 findings listed above/);
});
