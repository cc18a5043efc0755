// The wire rules and the tracker on hand-built conversations: each test writes
// a small pcap the way a Linux host would have put the packets on the wire
// (kernel-rst-map.md, "Reading a capture") and checks the verdict.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { analyzeCapture, parseConnFilter, type ConnReport, type ResetReport } from '../../src/capture/analyze.js';
import { Direction } from '../../src/capture/track.js';
import { CAUSES, causeById, WIRE_ORDER, WIRE_RULES } from '../../src/causes/index.js';
import { ACK, ethernet, FIN, ipv4Tcp, LINKTYPE, pcap, PSH, RST, SYN, type Packet } from '../helpers/capture-build.js';
import { lossSigns, tsharkLossSigns } from '../helpers/loss-signs.js';
import { C, S, type Seg, writeConversation } from '../helpers/conversation.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A conversation between C:cport and S:sport, as an Ethernet pcap; returns the analysis. */
async function run(segs: Seg[], o: { sport?: number; v6?: boolean; ladder?: boolean } = {}) {
  const file = path.join(dir, `c${n++}.pcap`);
  writeConversation(file, segs, o);
  const resets: ResetReport[] = [];
  const conns: ConnReport[] = [];
  const a = await analyzeCapture(file, { ladder: o.ladder, onReset: (r) => resets.push(r), onConn: (c) => conns.push(c) });
  // every verdict of this file: only evidence names its wire rule documents
  for (const r of resets) {
    const declared = Object.keys(causeById(r.cause.id)!.wire!.evidence);
    for (const k of Object.keys(r.cause.evidence)) assert.ok(declared.includes(k), `${r.cause.id}: capture evidence ${k} not documented`);
  }
  return { a, resets, conns, file };
}

/** handshake: client ISN 1000, server ISN 5000 */
const hs = (ts = true): Seg[] => [
  { from: 'c', flags: SYN, seq: 1000, ts },
  { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, ts },
  { from: 'c', flags: ACK, seq: 1001, ack: 5001, ts },
];

test('every wire rule and every cause it says it cannot rule out is in the catalogue', () => {
  for (const r of WIRE_RULES) {
    assert.ok(causeById(r.id), r.id);
    for (const a of r.alike) assert.ok(causeById(a), `${r.id} alike ${a}`);
    assert.ok(r.recognized.length > 10, r.id);
  }
});

test('the wire order names every cause that has a wire rule, once, and ends with a catch-all', () => {
  const withRule = CAUSES.filter((c) => c.wire).map((c) => c.id);
  const ordered = WIRE_ORDER.map((c) => c.id);
  assert.equal(new Set(ordered).size, ordered.length);
  assert.deepEqual([...ordered].sort(), [...withRule].sort());
  for (const c of WIRE_ORDER) for (const k of Object.keys(c.wire!.evidence)) assert.match(k, /^[a-z_]+$/, `${c.id}: ${k}`);
  assert.equal(ordered[ordered.length - 1], 'unclassified-active');
});

test('a SYN answered by RST+ACK seq 0 is a passive reset: no listener (IPv4 and IPv6)', async () => {
  for (const v6 of [false, true]) {
    const { resets, a } = await run(
      [
        { from: 'c', flags: SYN, seq: 1000, ts: true },
        { from: 's', flags: RST | ACK, seq: 0, ack: 1001, win: 0 },
      ],
      { v6 },
    );
    assert.equal(resets.length, 1);
    const r = resets[0]!;
    assert.equal(r.kind, 'passive');
    assert.equal(r.role, 'server');
    assert.equal(r.answers?.frame, 1);
    assert.equal(r.cause.id, 'no-listener');
    assert.ok(r.cause.alternatives.includes('listener-gone'));
    assert.equal(a.handshakes.refused, 1);
  }
});

test('a port that accepted earlier connections and now refuses: listener gone', async () => {
  const { resets } = await run([
    ...hs(),
    { from: 'c', flags: FIN | ACK, seq: 1001, ack: 5001 },
    { from: 's', flags: FIN | ACK, seq: 5001, ack: 1002 },
    { from: 'c', flags: ACK, seq: 1002, ack: 5002 },
    { from: 'c', flags: SYN, seq: 9000, cport: 40001 },
    { from: 's', flags: RST | ACK, seq: 0, ack: 9001, cport: 40001 },
  ]);
  assert.equal(resets.length, 1);
  assert.equal(resets[0]!.cause.id, 'listener-gone');
});

test("data after the FIN of the side that resets: data after close (passive, seq = the data's ack)", async () => {
  const { resets } = await run([
    ...hs(),
    { from: 's', flags: FIN | ACK, seq: 5001, ack: 1001 },
    { from: 'c', flags: ACK, seq: 1001, ack: 5002 },
    { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5002, len: 5 },
    { from: 's', flags: RST, seq: 5002, ack: 0, win: 0 },
  ]);
  const r = resets[0]!;
  assert.equal(r.kind, 'passive');
  assert.equal(r.answers?.frame, 6);
  assert.equal(r.cause.id, 'data-after-close');
  assert.equal(r.cause.confidence, 'high');
});

test('an active reset after unanswered data: close with unread data; with nothing pending: linger 0', async () => {
  const unread = await run([
    ...hs(),
    { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, len: 5, ts: true },
    { from: 's', flags: ACK, seq: 5001, ack: 1006, ts: true },
    { from: 's', flags: RST | ACK, seq: 5001, ack: 1006, ts: true },
  ]);
  assert.equal(unread.resets[0]!.kind, 'active');
  assert.equal(unread.resets[0]!.cause.id, 'close-with-unread-data');
  const linger = await run([...hs(), { from: 'c', flags: RST | ACK, seq: 1001, ack: 5001, ts: true }]);
  assert.equal(linger.resets[0]!.kind, 'active');
  assert.equal(linger.resets[0]!.cause.id, 'linger-zero-close');
  assert.deepEqual(linger.resets[0]!.cause.alternatives.includes('socket-destroyed'), true);
});

test('unanswered keepalive probes, then an active reset: keepalive timeout', async () => {
  const { resets } = await run([
    ...hs(),
    { from: 'c', flags: ACK, seq: 1000, ack: 5001, ts: true, t: 1 },
    { from: 'c', flags: ACK, seq: 1000, ack: 5001, ts: true, t: 2 },
    { from: 'c', flags: RST | ACK, seq: 1001, ack: 5001, ts: true, t: 3 },
  ]);
  assert.equal(resets[0]!.cause.id, 'keepalive-timeout');
  assert.equal(resets[0]!.cause.evidence.probes, 2);
});

test("an RST with another TTL than its sender's packets: injected by a middlebox", async () => {
  const { resets } = await run([
    ...hs(),
    { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, len: 10, ts: true },
    { from: 's', flags: RST | ACK, seq: 5001, ack: 1011, ttl: 57 },
  ]);
  assert.equal(resets[0]!.cause.id, 'middlebox-reset');
  assert.match(String(resets[0]!.cause.evidence.differs), /TTL 57, the sender's other packets 64/);
});

test('two active resets from one listener port within 10 ms on idle connections: listener closed with pending', async () => {
  const { resets } = await run([
    ...hs(),
    { from: 'c', flags: SYN, seq: 7000, cport: 40001 },
    { from: 's', flags: SYN | ACK, seq: 8000, ack: 7001, cport: 40001 },
    { from: 'c', flags: ACK, seq: 7001, ack: 8001, cport: 40001 },
    { from: 's', flags: RST | ACK, seq: 5001, ack: 1001, t: 0.5 },
    { from: 's', flags: RST | ACK, seq: 8001, ack: 7001, cport: 40001, t: 0.5005 },
  ]);
  assert.deepEqual(
    resets.map((r) => r.cause.id),
    ['listener-closed-with-pending', 'listener-closed-with-pending'],
  );
});

test('a reused port with a new SYN is a new connection generation', async () => {
  const { a } = await run([
    ...hs(),
    { from: 'c', flags: RST | ACK, seq: 1001, ack: 5001 },
    { from: 'c', flags: SYN, seq: 3000 },
    { from: 's', flags: SYN | ACK, seq: 6000, ack: 3001 },
    { from: 'c', flags: ACK, seq: 3001, ack: 6001 },
  ]);
  assert.equal(a.connections, 2);
  assert.equal(a.handshakes.completed, 2);
});

test('loss signs: a retransmission, duplicate ACKs, a zero window, a SYN retransmission', async () => {
  const { a, conns } = await run([
    { from: 'c', flags: SYN, seq: 1000, t: 0 },
    { from: 'c', flags: SYN, seq: 1000, t: 1 },
    { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, t: 1.001 },
    { from: 'c', flags: ACK, seq: 1001, ack: 5001, t: 1.002 },
    { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, len: 100, t: 1.01 },
    { from: 'c', flags: PSH | ACK, seq: 1101, ack: 5001, len: 100, t: 1.02 },
    // the first ACK opens the window (a window update); the second repeats it: a duplicate ACK
    { from: 's', flags: ACK, seq: 5001, ack: 1001, win: 510, t: 1.03 },
    { from: 's', flags: ACK, seq: 5001, ack: 1001, win: 510, t: 1.04 },
    { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, len: 100, t: 1.3 },
    { from: 's', flags: ACK, seq: 5001, ack: 1201, win: 0, t: 1.31 },
  ]);
  assert.equal(a.loss.syn_retransmits, 1);
  // like Wireshark's tcp.analysis.retransmission, the repeated SYN counts as a retransmission too
  assert.equal(a.loss.retransmissions, 2);
  assert.equal(a.loss.dup_acks, 1);
  assert.equal(a.loss.zero_windows, 1);
  assert.equal(conns.length, 1);
  assert.equal(conns[0]!.loss.client.retransmissions, 2);
  assert.deepEqual(conns[0]!.loss_frames.client, [2, 9]);
});

// The loss signs follow Wireshark's tcp_analyze_sequence_number() rule for
// rule (docs/capture.md, "Loss"). Each conversation below isolates one rule;
// tshark reads the same file and must flag the same frames, so the expected
// values are Wireshark's, not a reading of its source.

/** Runs a conversation; its loss signs per frame must be `expected`, and tshark's. */
async function expectSigns(segs: Seg[], expected: Record<number, string[]>): Promise<void> {
  const { file } = await run(segs);
  const ours = await lossSigns(file, S, 80);
  assert.deepEqual(tsharkLossSigns(file), expected, 'tshark');
  assert.deepEqual(ours, expected, 'tcpwhy');
}

/** handshake with an RTT of 1 ms (SYN to the client's ACK): client ISN 1000, server ISN 5000 */
const hs1ms = (cport = 40000): Seg[] => [
  { from: 'c', flags: SYN, seq: 1000, t: 0, cport },
  { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, t: 0.0005, cport },
  { from: 'c', flags: ACK, seq: 1001, ack: 5001, t: 0.001, cport },
];
const data = (seq: number, t: number, cport = 40000): Seg => ({ from: 'c', flags: ACK, seq, ack: 5001, len: 100, t, cport });
const sack = (ack: number, t: number, win = 502, cport = 40000): Seg => ({ from: 's', flags: ACK, seq: 5001, ack, win, t, cport });

test('loss: a segment below the highest is out of order within the handshake RTT of it, else retransmitted (3 ms without a handshake)', async () => {
  const gaps: Seg[] = [
    data(1001, 0.01),
    data(1201, 0.011),
    data(1101, 0.0115), // 0.5 ms after the highest: out of order
    data(1301, 0.02),
    data(1501, 0.021),
    data(1401, 0.023), // 2 ms: more than the RTT
    data(1601, 0.03),
    data(1801, 0.031),
    data(1701, 0.032), // 1 ms exactly: not less than the RTT
  ];
  await expectSigns([...hs1ms(), ...gaps], { 6: ['out of order'], 9: ['retransmission'], 12: ['retransmission'] });
  // the capture missed the handshake: no RTT, Wireshark's 3 ms
  await expectSigns(gaps, { 3: ['out of order'], 6: ['out of order'], 9: ['out of order'] });
});

test('loss: a segment the receiver had acknowledged is a spurious retransmission, even soon after the highest', async () => {
  await expectSigns([...hs1ms(), data(1001, 0.01), data(1101, 0.0101), sack(1201, 0.0102), data(1001, 0.0103)], {
    7: ['retransmission', 'spurious retransmission'],
  });
});

test('loss: a retransmission of what two duplicate ACKs ask for is fast when the last of them came less than 20 ms before', async () => {
  const lost = (cport: number, resend: number): Seg[] => [
    ...hs1ms(cport),
    data(1001, 0.01, cport),
    data(1201, 0.011, cport),
    sack(1101, 0.0111, 502, cport),
    data(1301, 0.012, cport),
    sack(1101, 0.0121, 502, cport),
    data(1401, 0.013, cport),
    sack(1101, 0.0131, 502, cport),
    data(1101, resend, cport),
  ];
  await expectSigns([...lost(40000, 0.02), ...lost(40001, 0.04)], {
    8: ['dup ack'],
    10: ['dup ack'],
    11: ['fast retransmission', 'retransmission'],
    19: ['dup ack'],
    21: ['dup ack'],
    22: ['retransmission'],
  });
});

test("loss: an ACK of data the capture missed leaves the other side's duplicate ACK count alone", async () => {
  await expectSigns(
    [
      ...hs1ms(),
      data(1001, 0.01),
      data(1201, 0.011),
      sack(1101, 0.0111),
      data(1301, 0.012),
      sack(1101, 0.0121),
      data(1401, 0.013),
      sack(1101, 0.0131),
      // acknowledges 100 bytes of the server's the capture did not show
      { from: 'c', flags: ACK, seq: 1501, ack: 5101, t: 0.014 },
      data(1101, 0.015),
    ],
    { 8: ['dup ack'], 10: ['dup ack'], 12: ['fast retransmission', 'retransmission'] },
  );
});

test('loss: the ACK of a keepalive repeats the previous ACK but is no duplicate ACK', async () => {
  await expectSigns(
    [
      ...hs1ms(),
      data(1001, 0.01),
      sack(1101, 0.011),
      { from: 'c', flags: ACK, seq: 1100, ack: 5001, t: 1 },
      sack(1101, 1.0001),
      { from: 'c', flags: ACK, seq: 1100, ack: 5001, t: 2 },
      sack(1101, 2.0001),
      // the client's last segment is still the keepalive
      sack(1101, 2.5),
      data(1101, 3),
      sack(1201, 3.001),
      // now a duplicate
      sack(1201, 3.002),
    ],
    { 6: ['keepalive'], 8: ['keepalive'], 13: ['dup ack'] },
  );
});

test('loss: a zero window probe (one byte at the next sequence number into a zero window) does not advance the sequence', async () => {
  await expectSigns(
    [
      ...hs1ms(),
      data(1001, 0.01),
      sack(1101, 0.011, 0),
      { from: 'c', flags: ACK, seq: 1101, ack: 5001, len: 1, t: 0.2 },
      sack(1101, 0.2001, 0),
      { from: 'c', flags: ACK, seq: 1101, ack: 5001, len: 1, t: 0.6 },
      sack(1101, 0.6001, 0),
      // the window opens; the data goes on from the probes' byte
      sack(1101, 1),
      data(1101, 1.001),
      // one byte into an open window does advance it; more bytes from that byte on are no retransmission
      { from: 'c', flags: ACK, seq: 1201, ack: 5001, len: 1, t: 1.01 },
      data(1201, 1.02),
    ],
    { 5: ['zero window'], 7: ['zero window'], 9: ['zero window'] },
  );
});

test('loss: a SYN, SYN-ACK or FIN sent again is a retransmission, never spurious (spurious needs data)', async () => {
  await expectSigns(
    [
      { from: 'c', flags: SYN, seq: 1000, t: 0 },
      { from: 'c', flags: SYN, seq: 1000, t: 1 },
      { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, t: 1.0005 },
      { from: 'c', flags: ACK, seq: 1001, ack: 5001, t: 1.001 },
      { from: 'c', flags: FIN | ACK, seq: 1001, ack: 5001, t: 1.01 },
      { from: 's', flags: ACK, seq: 5001, ack: 1002, t: 1.0101 },
      // both already acknowledged
      { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, t: 1.2 },
      { from: 'c', flags: FIN | ACK, seq: 1001, ack: 5001, t: 1.3 },
    ],
    { 2: ['SYN retransmission', 'retransmission'], 7: ['SYN retransmission', 'retransmission'], 8: ['retransmission'] },
  );
});

test('loss: a zero window on the first segment a capture has of a connection counts', async () => {
  await expectSigns([sack(1101, 0, 0)], { 1: ['zero window'] });
});

test('loss: a segment without data beyond the highest sequence number shows a segment the capture missed; the gap filled later is a retransmission', async () => {
  await expectSigns([...hs1ms(), data(1001, 0.01), { from: 'c', flags: ACK, seq: 1201, ack: 5001, t: 0.02 }, data(1101, 0.05)], { 6: ['retransmission'] });
});

test('an RST carrying the IETF diagnostic payload is decoded, text escaped', async () => {
  const diag = Buffer.from([0x33, 0xaa, 0x00, 0x02, 0, 0, 0, 0]);
  const { resets } = await run([...hs(false), { from: 's', flags: RST | ACK, seq: 5001, ack: 1001, payload: diag }]);
  assert.equal(resets[0]!.payload?.format, 'ietf-diagnostic');
  assert.equal(resets[0]!.payload?.reason_code, 2);
  const text = await run([...hs(false), { from: 's', flags: RST | ACK, seq: 5001, ack: 1001, payload: 'bye\u001b[31m' }]);
  assert.ok(!text.resets[0]!.payload?.text?.includes('\u001b'), 'control characters escaped');
});

test('a verdict that waits names the sides of its own connection, though the tracker reused the connection object', async () => {
  // an RST+ACK with a seq of its own from a server not seen before is active and waits
  // 100 ms; meanwhile a refused handshake's object serves the next connection (roles unknown)
  const { resets } = await run(
    [
      { from: 'c', flags: SYN, seq: 1000 },
      { from: 's', flags: RST | ACK, seq: 5555, ack: 1001 },
      { from: 'c', flags: ACK, seq: 7, ack: 9, cport: 40001, t: 0.05 },
      { from: 'c', flags: ACK, seq: 7, ack: 9, cport: 40001, t: 0.5 },
    ],
    { ladder: true },
  );
  assert.equal(resets.length, 1);
  assert.equal(resets[0]!.kind, 'active');
  assert.equal(resets[0]!.role, 'server');
  assert.deepEqual(
    resets[0]!.ladder!.map((r) => `${r.from} ${r.flags}`),
    ['client S', 'server R.'],
  );
});

test('a capture clock that jumps back ends the wait of the resets before the jump (it cannot end it by advancing)', async () => {
  // an active reset stamped ~80 years ahead, then a refused SYN at the old times: the
  // active one is decided when the clock goes back, not held to the end of the capture
  const { resets } = await run([
    ...hs(false),
    { from: 'c', flags: RST | ACK, seq: 1001, ack: 5001, t: 2.5e9 },
    { from: 'c', flags: SYN, seq: 300, cport: 40001, t: 0.01 },
    { from: 's', flags: RST | ACK, seq: 0, ack: 301, cport: 40001, t: 0.011 },
  ]);
  assert.deepEqual(
    resets.map((r) => `${r.frame} ${r.kind}`),
    ['4 active', '6 passive'],
  );
});

test('a report limit keeps the first resets of the capture, though a waiting verdict is decided after later ones', async () => {
  const { file } = await run([
    ...hs(false),
    { from: 'c', flags: RST | ACK, seq: 1001, ack: 5001, t: 0.003 },
    { from: 'c', flags: SYN, seq: 300, cport: 40001, t: 0.01 },
    { from: 's', flags: RST | ACK, seq: 0, ack: 301, cport: 40001, t: 0.011 },
    { from: 'c', flags: SYN, seq: 700, cport: 40002, t: 0.2 },
  ]);
  const got: number[] = [];
  const a = await analyzeCapture(file, { reportLimit: 1, onReset: (r) => got.push(r.frame) });
  assert.equal(a.resets, 2);
  assert.deepEqual(got, [4]);
});

test('ladders hold the packets before the RST, the RST last', async () => {
  const { resets } = await run([...hs(), { from: 'c', flags: RST | ACK, seq: 1001, ack: 5001, ts: true }], { ladder: true });
  const l = resets[0]!.ladder!;
  assert.deepEqual(
    l.map((r) => r.frame),
    [1, 2, 3, 4],
  );
  assert.deepEqual(
    l.map((r) => r.from),
    ['client', 'server', 'client', 'client'],
  );
});

test('--conn parses IPv4 and bracketed IPv6 endpoints and rejects junk', () => {
  assert.ok(parseConnFilter('192.0.2.1:80'));
  assert.ok(parseConnFilter('192.0.2.1:80-198.51.100.7:443'));
  assert.ok(parseConnFilter('[2001:db8::1]:80-[2001:db8::2]:5000'));
  assert.equal(parseConnFilter('192.0.2.1'), null);
  assert.equal(parseConnFilter('300.0.2.1:80'), null);
  assert.equal(parseConnFilter('[2001:db8::zz]:80'), null);
});

test('a pooled direction is cleared of every field a fresh one has', () => {
  const d = new Direction();
  for (const k of Object.keys(d) as Array<keyof Direction>) {
    const v = d[k];
    (d as unknown as Record<string, unknown>)[k] = typeof v === 'number' ? 12345 : typeof v === 'boolean' ? !v : [1];
  }
  d.clear();
  assert.deepEqual({ ...d }, { ...new Direction() });
});

test('memory stays bounded through a flood, and a quiet open connection survives it; one idle past 300 s does not', async () => {
  // templates patched in place: the reader does not check checksums
  const syn = ethernet(ipv4Tcp({ src: C, dst: S, ttl: 64 }, { sport: 1, dport: 9, seq: 1, flags: SYN }));
  const rst = ethernet(ipv4Tcp({ src: S, dst: C, ttl: 64 }, { sport: 9, dport: 1, seq: 0, ack: 2, flags: RST | ACK, win: 0 }));
  const tcpAt = 14 + 20;
  const packets: Packet[] = [];
  const conv = (sport: number, t: number, from: 'c' | 's', flags: number, seq: number, ack: number, server = 80) => {
    const tcp = { sport: from === 'c' ? sport : server, dport: from === 'c' ? server : sport, seq, ack, flags };
    packets.push({ data: ethernet(ipv4Tcp({ src: from === 'c' ? C : S, dst: from === 'c' ? S : C, ttl: 64 }, tcp)), sec: 1_700_000_000 + t, nsec: 0 });
  };
  // two quiet connections
  for (const p of [50000, 50001]) {
    conv(p, 0, 'c', SYN, 100, 0);
    conv(p, 0, 's', SYN | ACK, 900, 101);
    conv(p, 0, 'c', ACK, 101, 901);
  }
  const flood = 140_000;
  for (let i = 0; i < flood; i++) {
    const port = 1024 + (i % 60_000);
    const t = 1 + Math.floor((i / flood) * 50);
    const s = Buffer.from(syn);
    s.writeUInt16BE(port, tcpAt);
    s.writeUInt32BE(i + 1, tcpAt + 4);
    const r = Buffer.from(rst);
    r.writeUInt16BE(port, tcpAt + 2);
    r.writeUInt32BE(i + 2, tcpAt + 8);
    packets.push({ data: s, sec: 1_700_000_000 + t, nsec: 0 }, { data: r, sec: 1_700_000_000 + t, nsec: 1000 });
  }
  // the first quiet connection speaks at 300 s, then SYNs that stay unanswered (kept until a
  // generation change) push generations along from 310 s to 450 s: the second one, silent
  // since 0 s, is dropped; both speak again at 500 s
  conv(50000, 300, 'c', ACK, 101, 901);
  for (let i = 0; i < 140_000; i++) conv(2000 + (i % 40_000), 310 + Math.floor(i / 1000), 'c', SYN, 7_000_000 + i * 10, 0, 81 + Math.floor(i / 40_000));
  conv(50000, 500, 'c', PSH | ACK, 101, 901);
  conv(50001, 500, 'c', PSH | ACK, 101, 901);
  const file = path.join(dir, 'rotation.pcap');
  writeFileSync(file, pcap(packets, { linktype: LINKTYPE.ETHERNET }).bytes);
  const before = process.memoryUsage().rss;
  const a = await analyzeCapture(file);
  assert.equal(a.resets, flood);
  assert.equal(a.handshakes.refused, flood);
  // the connection that spoke within 300 s is still the same one; the other came back mid-connection
  assert.equal(a.handshakes.midstream, 1);
  assert.ok(process.memoryUsage().rss - before < 300e6, `RSS grew by ${Math.round((process.memoryUsage().rss - before) / 1e6)} MB`);
});

test("a FIN that crossed the sender's own reset is answered by another: the verdict says so", async () => {
  const { resets } = await run([
    ...hs(),
    { from: 's', flags: RST | ACK, seq: 5001, ack: 1001, ts: true },
    { from: 'c', flags: FIN | ACK, seq: 1001, ack: 5001 },
    { from: 's', flags: RST, seq: 5001, win: 0 },
  ]);
  const second = resets.find((r) => r.frame === 6)!;
  assert.equal(second.kind, 'passive');
  assert.equal(second.cause.id, 'connection-forgotten');
  assert.match(second.cause.summary, /had reset the connection itself \(frame 4\)/);
  assert.deepEqual(second.proof, [4, 5]);
});

test('a client that answers the SYN-ACK to its SYN with an RST had no socket: a SYN scan or a connect() given up', async () => {
  const { resets } = await run([
    { from: 'c', flags: SYN, seq: 1000 },
    { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001 },
    { from: 'c', flags: RST, seq: 1001, ack: 0, win: 0 },
  ]);
  const r = resets[0]!;
  assert.deepEqual([r.kind, r.answers?.frame, r.cause.id, r.cause.confidence], ['passive', 2, 'connection-forgotten', 'medium']);
  assert.match(r.cause.summary, /SYN scan/);
});

test('a reset to a SYN that does not acknowledge it is injected, and refuses nothing', async () => {
  const { resets, a } = await run([
    { from: 'c', flags: SYN, seq: 1000 },
    { from: 's', flags: RST | ACK, seq: 0, ack: 1000, win: 0 },
    { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, t: 1 },
    { from: 'c', flags: ACK, seq: 1001, ack: 5001, t: 1 },
  ]);
  assert.equal(resets[0]!.cause.id, 'middlebox-reset');
  assert.match(resets[0]!.cause.summary, /does not acknowledge the SYN/);
  assert.equal(a.handshakes.refused, 0);
});

test("after its FIN, a side's first RST answers the peer's data, the next the peer's FIN", async () => {
  const { resets } = await run([
    ...hs(),
    { from: 's', flags: FIN | ACK, seq: 5001, ack: 1001 },
    { from: 'c', flags: ACK, seq: 1001, ack: 5002 },
    { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5002, len: 5 },
    { from: 'c', flags: FIN | ACK, seq: 1006, ack: 5002 },
    { from: 's', flags: RST, seq: 5002, ack: 0, win: 0 },
    { from: 's', flags: RST, seq: 5002, ack: 0, win: 0 },
  ]);
  assert.deepEqual(
    resets.map((r) => [r.answers?.frame, r.cause.id, r.cause.confidence]),
    [
      [6, 'data-after-close', 'high'],
      [7, 'connection-forgotten', 'high'],
    ],
  );
});
