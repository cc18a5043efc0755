import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STORM_KEY_LAYOUT, STORM_VAL_LAYOUT, DIR_SENT, KIND_PASSIVE } from '../../src/events/generated/contract.js';
import type { RstEvent } from '../../src/events/event.js';
import type { Verdict } from '../../src/events/verdict.js';
import { StormCounter, linearCount, stormKeyOfEvent, stormKeyOfLoss } from '../../src/live/storm.js';
import { lossEvent } from '../helpers/loss-event.js';

const K = STORM_KEY_LAYOUT.fields;
const V = STORM_VAL_LAYOUT.fields;
const REC = STORM_KEY_LAYOUT.size + STORM_VAL_LAYOUT.size;

/** A table of one interval as the kernel hands it over: one SYN-to-closed-port key. */
function table(count: number, shown: number, peersBits: number): ArrayBuffer {
  const buf = new ArrayBuffer(REC);
  const v = new DataView(buf);
  const b = new Uint8Array(buf);
  v.setUint32(K.netns.offset, 4026531840, true);
  v.setInt32(K.reason.offset, 2, true);
  b.set([192, 0, 2, 2], K.laddr.offset);
  v.setUint16(K.port.offset, 8080, true);
  v.setUint8(K.family.offset, 2);
  v.setUint8(K.direction.offset, DIR_SENT);
  v.setUint8(K.kind.offset, KIND_PASSIVE);
  v.setUint8(K.state.offset, 0);
  v.setUint8(K.seg_flags.offset, 0x02);
  const at = STORM_KEY_LAYOUT.size;
  v.setBigUint64(at + V.count.offset, BigInt(count), true);
  v.setBigUint64(at + V.shown.offset, BigInt(shown), true);
  v.setBigUint64(at + V.last_ns.offset, 5_000_000_000n, true);
  for (let i = 0; i < peersBits; i++) b[at + V.peers.offset + (i >> 3)]! |= 1 << (i & 7);
  b.set([192, 0, 2, 1], at + V.raddr.offset);
  v.setUint16(at + V.rport.offset, 40000, true);
  return buf;
}

const event = {
  netns: 4026531840,
  direction: 'sent',
  kind: 'passive',
  reason: 'NO_SOCKET',
  state: null,
  packet: { laddr: '192.0.2.2', lport: 8080, raddr: '192.0.2.9', rport: 1234 },
  socket: null,
  segment: { flags: 'SYN', seq: 1, ack: 0, len: 0 },
} as unknown as RstEvent;

const verdict: Verdict = { id: 'no-listener', title: 't', confidence: 'high', summary: 's', evidence: {}, fix: 'f' };

test('a storm table: totals, the record of a key not all shown, and the verdict of its shown RSTs', () => {
  const c = new StormCounter({ reasons: new Map([[2, 'NO_SOCKET']]), wallTime: () => 'T' });
  c.noteShown({ ...event, cause: verdict });
  const pending = c.take(table(5000, 100, 40), 1);
  assert.equal(pending.length, 1);
  const r = c.storm(pending[0]!);
  assert.equal(r.cause, verdict, 'paired by key with the event shown in full');
  assert.deepEqual(
    [r.count, r.shown, r.rate_per_s, r.local, r.segment, r.reason, r.kind, r.family],
    [5000, 100, 5000, { addr: '192.0.2.2', port: 8080 }, 'SYN', 'NO_SOCKET', 'passive', 'ipv4'],
  );
  assert.deepEqual(r.example_peer, { addr: '192.0.2.1', port: 40000 });
  assert.equal(r.peers, linearCount(512 - 40).n);
  // a key whose RSTs were all shown makes no record, but counts
  assert.deepEqual(c.take(table(7, 7, 1), 1), []);
  assert.deepEqual(c.summary(), {
    sent: 5007,
    received: 0,
    shown: 107,
    counted_only: 4900,
    lost: 0,
    unkeyed: 0,
    by_netns: { '4026531840': { sent: 5007, received: 0 } },
  });
});

test('the key of an event and of the kernel record agree; payload and other flags make other keys', () => {
  const c = new StormCounter({ reasons: new Map([[2, 'NO_SOCKET']]), wallTime: () => 'T' });
  const key = c.take(table(2, 1, 1), 1)[0]!.key;
  assert.equal(stormKeyOfEvent(event), key);
  assert.equal(stormKeyOfEvent({ ...event, packet: { ...event.packet!, laddr: '::ffff:192.0.2.2' } }), key, 'IPv4-mapped is the same endpoint');
  assert.notEqual(stormKeyOfEvent({ ...event, segment: { flags: 'ACK|PSH', seq: 1, ack: 1, len: 10 } }), key);
  // a client's connections: the service's port (the lower one) is the key's, whatever the client's own port
  const client = (lport: number) =>
    stormKeyOfEvent({
      ...event,
      packet: null,
      segment: null,
      direction: 'received',
      kind: null,
      state: 'ESTABLISHED',
      socket: { laddr: '192.0.2.2', lport, raddr: '192.0.2.9', rport: 443 },
    });
  assert.equal(client(40001), client(50002));
  assert.notEqual(client(40001), key);
});

test('a loss event without a socket keys on the service: a SYN goes to it, a SYN-ACK and an RST come from it', () => {
  const port = (k: string) => k.split('|')[6];
  const at = (lport: number, rport: number, flags: string, seq = 1000, direction: 'in' | 'out' = 'in') =>
    port(stormKeyOfLoss(lossEvent({ direction, packet: { laddr: '192.0.2.1', lport, raddr: '192.0.2.2', rport }, segment: { flags, seq, ack: 1, len: 0 } })));
  // a received SYN: the port it aimed at, even when the sender's is lower
  assert.equal(at(65000, 1234, 'SYN'), 'l65000');
  // a SYN-ACK and an RST (a closed port's answer to a SYN or an ACK): the sender's port, even when higher
  assert.equal(at(1234, 65000, 'RST|ACK', 0), 'r65000');
  assert.equal(at(2345, 65000, 'RST', 77), 'r65000');
  assert.equal(at(1234, 65000, 'SYN|ACK'), 'r65000');
  // sent: the mirror
  assert.equal(at(1234, 65000, 'SYN', 1000, 'out'), 'r65000');
  assert.equal(at(65000, 1234, 'SYN|ACK', 1000, 'out'), 'l65000');
  assert.equal(at(65000, 1234, 'RST', 77, 'out'), 'l65000');
  // anything else: the lower port
  assert.equal(at(1234, 65000, 'ACK'), 'l1234');
  assert.equal(at(40000, 443, 'ACK'), 'r443');
});

test('linear counting: exact when sparse, a lower bound when saturated', () => {
  assert.equal(linearCount(512).n, 0);
  assert.equal(linearCount(511).n, 1);
  assert.ok(Math.abs(linearCount(512 - 100).n - 110) < 15);
  assert.deepEqual(linearCount(0), { n: Math.round(512 * Math.log(512)), saturated: true });
});

test('RSTs counted without a key keep their namespace, or fold into "other"', () => {
  const c = new StormCounter({ reasons: new Map(), wallTime: () => 'T' });
  c.addUnkeyed(30, 5);
  c.addUnkeyedNetns([
    [7, DIR_SENT, 20],
    [7, 2, 5],
  ]);
  const s = c.summary();
  assert.equal(s.sent, 30);
  assert.deepEqual(s.by_netns, { '7': { sent: 20, received: 5 }, other: { sent: 10, received: 0 } });
});

test('drops, retransmissions and errors counted without a key join their type in the totals at the end', () => {
  const c = new StormCounter({ reasons: new Map(), wallTime: () => 'T' });
  c.addUnkeyedLoss(12);
  // the kernel's rows: (type * 16 + direction); 3 = drops, 4 = retransmissions, 5 = errors
  c.addUnkeyedNetns([
    [7, 3 * 16 + DIR_SENT, 5],
    [7, 3 * 16 + 2, 4],
    [8, 4 * 16, 2],
    [8, 5 * 16, 1],
  ]);
  const l = c.lossSummary();
  assert.deepEqual([l.drops, l.retransmits, l.errors, l.unkeyed, l.counted_only], [9, 2, 1, 12, 12]);
  // shown + counted only + lost = every one counted
  assert.equal(l.shown + l.counted_only + l.lost, l.drops + l.retransmits + l.errors);
  // the RSTs' totals are untouched
  assert.deepEqual(c.summary().by_netns, {});
});
