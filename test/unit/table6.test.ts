// The IPv6 connection table against a Map, and its side order against the
// string keys IPv6 connections were keyed by before (their order decides
// which endpoint is side 0, which reports show first).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTcp, newIcmpQuote, newSegment } from '../../src/capture/decode.js';
import { before6, Table6 } from '../../src/capture/table6.js';
import { Tracker } from '../../src/capture/track.js';
import type { Frame, TcpSegment } from '../../src/capture/types.js';
import { ACK, icmp6Error, ipv6Tcp, LINKTYPE, RST, SYN } from '../helpers/capture-build.js';

/** a seeded generator: n > 0 gives 0 .. n-1 */
function random(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return Math.floor(((s >>> 8) / 0x1000000) * n);
  };
}

type Key9 = [number, number, number, number, number, number, number, number, number];

test('Table6 agrees with a Map through inserts, lookups, deletes and growth, and iterates over every value once', () => {
  const rnd = random(42);
  // a tiny first table: growth happens again and again
  const t = new Table6<number>(2);
  const m = new Map<string, number>();
  const keyOf = (k: Key9) => k.join(',');
  for (let round = 0; round < 3; round++) {
    // few distinct keys (long runs, many deletes), then many (growth), then many differing in one word only
    const space = round === 0 ? 300 : 200_000;
    for (let i = 0; i < 150_000; i++) {
      const x = rnd(space);
      const k: Key9 =
        round === 2
          ? [0x20010db8, 0, 0, 1, 0x20010db8, 0, 0, 2, (x | 0x8000) << 16]
          : [0x20010db8 | 0, x & 3, -1, x, 0xfe800000 | 0, 0, x >> 2, 7, ((x & 0xffff) << 16) | 443];
      const s = keyOf(k);
      const op = rnd(3);
      if (op === 0) {
        t.set(...k, i);
        m.set(s, i);
      } else if (op === 1) assert.equal(t.delete(...k), m.delete(s));
      else assert.equal(t.get(...k), m.get(s));
    }
    assert.equal(t.size, m.size);
    for (const [s, v] of m) assert.equal(t.get(...(s.split(',').map(Number) as Key9)), v);
    const seen: number[] = [];
    t.forEach((v) => {
      seen.push(v);
    });
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [...m.values()].sort((a, b) => a - b),
      'every value once',
    );
  }
  t.clear();
  m.clear();
  assert.equal(t.size, 0);
  assert.equal(t.get(0x20010db8, 0, 0, 1, 0x20010db8, 0, 0, 2, 0x80000000 | 0), undefined);
  for (let i = 0; i < 1000; i++) t.set(i, 0, 0, 0, 0, 0, 0, 0, 0, i);
  const after: number[] = [];
  t.forEach((v) => {
    after.push(v);
  });
  assert.deepEqual(
    after.sort((a, b) => a - b),
    [...Array(1000).keys()],
  );
});

// ---- side order: the words against the strings ----

/** 16-bit groups the order is most likely to get wrong: signs, surrogates, ends */
const EDGE_GROUPS = [0, 1, 0x7fff, 0x8000, 0x8001, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffe, 0xffff];
const EDGE_PORTS = [0, 1, 80, 0x7fff, 0x8000, 0xd800, 0xdfff, 0xfffe, 0xffff];

const text6 = (g: number[]) => g.map((x) => x.toString(16)).join(':');

/** A raw IPv6 frame of one TCP segment, decoded as the tracker gets it. */
function decoded(src: number[], sport: number, dst: number[], dport: number, flags = ACK, seq = 1): TcpSegment {
  const buf = ipv6Tcp({ src: text6(src), dst: text6(dst) }, { sport, dport, seq, ack: 1, flags });
  const f: Frame = { index: 1, sec: 0, nsec: 0, iface: 0, linktype: LINKTYPE.RAW, caplen: buf.length, origlen: buf.length, buf, off: 0, fileOffset: 0 };
  const seg = newSegment();
  assert.equal(decodeTcp(f, seg), null);
  return seg;
}

/** what IPv6 connections were keyed by: side 0 is the endpoint whose key sorts first */
const stringBefore = (s: TcpSegment) => s.srcKey + String.fromCharCode(s.sport) < s.dstKey + String.fromCharCode(s.dport);

test('IPv6 sides: the words order endpoints as their string keys do, and the keys stay the addresses', () => {
  const rnd = random(7);
  const group = () => (rnd(3) === 0 ? EDGE_GROUPS[rnd(EDGE_GROUPS.length)]! : rnd(0x10000));
  const port = () => (rnd(2) === 0 ? EDGE_PORTS[rnd(EDGE_PORTS.length)]! : rnd(0x10000));
  let checked = 0;
  for (let i = 0; i < 6000; i++) {
    const a = Array.from({ length: 8 }, group);
    // b shares a's first groups (up to all of them): the order is decided at every group and at the port
    const same = rnd(9);
    const b = a.map((g, j) => (j < same ? g : group()));
    const pa = port();
    const pb = rnd(4) === 0 ? pa : port();
    for (const [s, sp, d, dp] of [
      [a, pa, b, pb],
      [b, pb, a, pa],
    ] as const) {
      const seg = decoded(s, sp, d, dp);
      const words = [seg.src6a, seg.src6b, seg.src6c, seg.src6d, seg.dst6a, seg.dst6b, seg.dst6c, seg.dst6d];
      for (let w = 0; w < 8; w++) {
        const g = w < 4 ? s : d;
        const j = (w & 3) * 2;
        assert.equal(words[w], (g[j]! << 16) | g[j + 1]! | 0, 'word of the address');
      }
      assert.equal(seg.srcKey, String.fromCharCode(...s));
      assert.equal(seg.dstKey, String.fromCharCode(...d));
      const got = before6(seg.src6a, seg.src6b, seg.src6c, seg.src6d, seg.sport, seg.dst6a, seg.dst6b, seg.dst6c, seg.dst6d, seg.dport);
      assert.equal(got, stringBefore(seg), `${text6(s)}.${sp} before ${text6(d)}.${dp}`);
      checked++;
    }
  }
  assert.equal(checked, 12000);
});

test('the tracker finds IPv6 connections by their words: both directions, interleaved, ICMPv6 quotes, and refused SYNs sent again', () => {
  const rnd = random(3);
  const done: number[] = [];
  const t = new Tracker({ onReset() {}, onConnDone: (c) => void done.push(c.id) });
  const hosts = Array.from({ length: 6 }, () => Array.from({ length: 8 }, () => (rnd(2) ? EDGE_GROUPS[rnd(EDGE_GROUPS.length)]! : rnd(0x10000))));
  // the same tuple keyed the old way, and the connection it got
  const byString = new Map<string, number>();
  let frame = 0;
  for (let i = 0; i < 4000; i++) {
    const x = rnd(hosts.length);
    const y = (x + 1 + rnd(hosts.length - 1)) % hosts.length;
    const px = EDGE_PORTS[rnd(EDGE_PORTS.length)]!;
    const py = rnd(2) ? 443 : 0x8000;
    // runs of a few packets on one connection (the fast path), then another
    for (let r = 1 + rnd(4); r > 0; r--) {
      const fromX = rnd(2) === 0;
      const seg = fromX ? decoded(hosts[x]!, px, hosts[y]!, py) : decoded(hosts[y]!, py, hosts[x]!, px);
      t.now = 1_700_000_000 + frame / 1000;
      const c = t.segment(seg, ++frame);
      const a = seg.srcKey + String.fromCharCode(seg.sport);
      const b = seg.dstKey + String.fromCharCode(seg.dport);
      const side = a < b ? 0 : 1;
      const key = side === 0 ? a + b : b + a;
      const id = byString.get(key);
      if (id === undefined) byString.set(key, c.id);
      else assert.equal(c.id, id, 'the same tuple, the same connection');
      assert.equal(c.family, 6);
      assert.equal(c.addrOf(side), seg.srcKey);
      assert.equal(c.portOf(side), seg.sport);
      assert.equal(c.addrOf(1 - side), seg.dstKey);
      assert.equal(c.portOf(1 - side), seg.dport);
    }
  }
  assert.equal(t.connections, byString.size);

  // an ICMPv6 error quoting a segment of a tracked connection lands on it
  const [h0, h1] = [hosts[0]!, hosts[1]!];
  const conn = t.segment(decoded(h0, 0x8000, h1, 443), ++frame);
  const quoted = ipv6Tcp({ src: text6(h1), dst: text6(h0) }, { sport: 443, dport: 0x8000, seq: 5, ack: 1, flags: ACK });
  const icmp = icmp6Error({ src: '2001:db8::1', dst: text6(h1) }, 1, 3, quoted);
  const q = newIcmpQuote();
  const f: Frame = {
    index: ++frame,
    sec: 0,
    nsec: 0,
    iface: 0,
    linktype: LINKTYPE.RAW,
    caplen: icmp.length,
    origlen: icmp.length,
    buf: icmp,
    off: 0,
    fileOffset: 0,
  };
  assert.equal(decodeTcp(f, newSegment(), q), 'not-tcp');
  assert.ok(q.found);
  assert.equal(t.icmp(q, frame), conn);
  assert.equal(conn.unreach?.side, conn.addr0 === q.srcKey && conn.port0 === q.sport ? 0 : 1);

  // a SYN refused by a reset, then sent again with its ISN: the retry is the refused one's (marked a retransmission)
  const [c6, s6] = [hosts[2]!, hosts[3]!];
  const syn = t.segment(decoded(c6, 40000, s6, 80, SYN, 1000), ++frame);
  const synId = syn.id;
  const rst = decoded(s6, 80, c6, 40000, RST | ACK, 0);
  rst.ack = 1001;
  t.segment(rst, ++frame);
  assert.ok(done.includes(synId), 'the refused connection is finished at once');
  const again = t.segment(decoded(c6, 40000, s6, 80, SYN, 1000), ++frame);
  assert.notEqual(again.id, synId);
  assert.equal(again.dir(again.client).synRetrans, 1, 'the SYN sent again repeats the refused one');

  t.end();
  assert.equal(new Set(done).size, done.length, 'every connection finished once');
  assert.equal(done.length, t.connections);
});
