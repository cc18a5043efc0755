// What the connection tracker retains per connection, and that it reuses
// finished connections instead of making new ones: the per-connection cost
// that made a capture of a million open connections take 171 s and 920 MB
// (a typed array per connection, objects left to the collector). Heap
// measurements, not timings: the speed targets are the benchmark's
// (bench/capture-analyze.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString, getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { newSegment } from '../../src/capture/decode.js';
import { type Conn, generationSize, kthLargest, LOSS_SYN_RETRANS, sortById, Tracker } from '../../src/capture/track.js';
import { ringLoss } from '../../src/capture/ring.js';
import { ACK, RST, SYN } from '../../src/net/flags.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** the JS heap and the typed arrays' memory outside it */
const heapUsed = () => {
  gc();
  gc();
  return getHeapStatistics().used_heap_size + process.memoryUsage().arrayBuffers;
};

const SERVER = 0xc0000202;
/** new connections per generation for this process's heap (a third of the connections tracked at once) */
const GENERATION = generationSize();

/** A tracker whose hooks keep nothing, and a segment from client address `a`, port `p`. */
function tracker(): { t: Tracker; send: (a: number, p: number, flags: number, seq: number, server?: boolean) => Conn; done: () => number } {
  let finished = 0;
  const t = new Tracker({ onReset() {}, onConnDone: () => void finished++ });
  const seg = newSegment();
  let frame = 0;
  const send = (a: number, p: number, flags: number, seq: number, server = false) => {
    seg.family = 4;
    seg.src4 = server ? SERVER : a;
    seg.dst4 = server ? a : SERVER;
    seg.sport = server ? 80 : p;
    seg.dport = server ? p : 80;
    seg.flags = flags;
    seg.seq = seq;
    seg.ack = server ? seq + 1 : 0;
    seg.win = server ? 0 : 64240;
    seg.ttl = 64;
    t.now = 1_700_000_000 + frame / 1e5;
    return t.segment(seg, ++frame);
  };
  return { t, send, done: () => finished };
}

test('an open connection retains at most 2.2 KB of tracker heap (its ring slot included)', (tc) => {
  const { t, send } = tracker();
  const n = Math.min(40_000, GENERATION - 1);
  const before = heapUsed();
  // SYNs never answered: every connection stays tracked (fewer than a generation's worth)
  for (let i = 0; i < n; i++) send(0x0a000000 + i, 1024 + (i & 1023), SYN, i * 7919);
  const per = (heapUsed() - before) / n;
  tc.diagnostic(`${per.toFixed(0)} bytes per open connection`);
  assert.ok(per <= 2200, `${per.toFixed(0)} bytes per connection`);
  // SYN retransmissions touch the same connections: a few numbers stored the first time at most
  const mid = heapUsed();
  for (let i = 0; i < n; i++) send(0x0a000000 + i, 1024 + (i & 1023), SYN, i * 7919);
  const again = (heapUsed() - mid) / n;
  tc.diagnostic(`${again.toFixed(0)} bytes per retransmission`);
  assert.ok(again < 128, `${again.toFixed(0)} bytes per retransmission`);
  t.end();
});

test('refused connections are reused: a SYN flood of 300,000 answered by RSTs leaves the heap as it was', () => {
  const { t, send, done } = tracker();
  // warm up: the pool and the table reach their size
  for (let i = 0; i < 20_000; i++) {
    send(0x0a000001, 1024 + (i % 60_000), SYN, i);
    send(0x0a000001, 1024 + (i % 60_000), RST | ACK, i, true);
  }
  const before = heapUsed();
  const objects = new Set<Conn>();
  for (let i = 0; i < 300_000; i++) {
    objects.add(send(0x0a000001, 1024 + (i % 60_000), SYN, i));
    send(0x0a000001, 1024 + (i % 60_000), RST | ACK, i, true);
  }
  assert.equal(done(), 320_000, 'every refused connection finished at its RST');
  assert.ok(objects.size <= 2, `${objects.size} connection objects for one connection at a time`);
  const grew = heapUsed() - before;
  assert.ok(grew < 1 << 20, `heap grew by ${(grew / 2 ** 20).toFixed(1)} MB`);
  t.end();
});

test('connections finished at a generation change are reused by the next ones: objects and rings bounded by the most tracked at once', (tc) => {
  const { t, send } = tracker();
  const objects = new Set<Conn>();
  const rings = new Set<Uint32Array>();
  // connections that close (SYN, then RST from the client), never touched again
  const burst = (from: number) => {
    for (let i = from; i < from + GENERATION; i++) {
      const c = send(0x0b000000 + i, 2000, SYN, i);
      send(0x0b000000 + i, 2000, RST | ACK, i + 1);
      assert.ok(c.closed());
      objects.add(c);
      rings.add(c.ru);
    }
  };
  // the table reaches its size in the first generations
  for (let g = 0; g < 4; g++) burst(g * GENERATION);
  const before = heapUsed();
  for (let g = 4; g < 8; g++) burst(g * GENERATION);
  const grew = heapUsed() - before;
  tc.diagnostic(
    `${objects.size} connection objects and ${rings.size} ring slabs for ${8 * GENERATION} connections; heap grew by ${(grew / 2 ** 20).toFixed(2)} MB over the last ${4 * GENERATION}`,
  );
  // a generation's worth is tracked, and the one before until its connections are finished
  assert.ok(objects.size <= 2 * GENERATION + 1, `${objects.size} connection objects`);
  // rings come in slabs of thousands, not one array per connection
  assert.ok(rings.size <= Math.ceil(objects.size / 1024), `${rings.size} ring arrays for ${objects.size} connections`);
  assert.ok(grew < 4 << 20, `heap grew by ${(grew / 2 ** 20).toFixed(1)} MB`);
  t.end();
});

test('a reused connection object starts as a new one', () => {
  const { send } = tracker();
  const first = send(0x0c000001, 3000, SYN, 1);
  send(0x0c000001, 3000, RST | ACK, 1, true);
  const again = send(0x0c000002, 3001, SYN | ACK, 5, true);
  assert.equal(again, first, 'the refused connection object was reused');
  assert.equal(again.handshake, 'syn-ack');
  assert.equal(again.ringLen, 1);
  assert.equal(again.resets, 0);
  assert.equal(again.d0.packets + again.d1.packets, 1);
});

test('kthLargest (the cut among open idle connections at a generation change) agrees with a sort, ties and all', () => {
  let seed = 12345;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let t = 0; t < 2000; t++) {
    const n = 1 + Math.floor(rand() * 300);
    const k = 1 + Math.floor(rand() * n);
    const a = new Float64Array(n).map(() => Math.floor(rand() * (t % 2 ? 5 : 1000)));
    const want = [...a].sort((x, y) => y - x)[k - 1];
    assert.equal(kthLargest(a, n, k), want, `n ${n} k ${k}`);
  }
});

test('SYNs nobody answered for a generation are finished, not kept as quiet open connections; one sent again is still a retransmission', () => {
  const finished: Conn[] = [];
  const t = new Tracker({ onReset() {}, onConnDone: (c) => void finished.push(c) });
  const seg = newSegment();
  let frame = 0;
  const syn = (a: number, p: number, seq: number, flags = SYN) => {
    seg.family = 4;
    seg.src4 = a;
    seg.dst4 = SERVER;
    seg.sport = p;
    seg.dport = 80;
    seg.flags = flags;
    seg.seq = seq;
    seg.ack = 0;
    seg.win = 64240;
    seg.ttl = 64;
    t.now = 1_700_000_000 + frame / 1e5;
    return t.segment(seg, ++frame);
  };
  const first = syn(0x0d000001, 4000, 777);
  const firstId = first.id;
  // two generations of other connections (each closed by its client: the memory of
  // unanswered SYNs is a table of 4,096 slots, which a flood of them would overwrite)
  for (let i = 0; i < 2 * t.generationSize; i++) {
    syn(0x0e000000 + i, 5000, i);
    syn(0x0e000000 + i, 5000, i + 1, RST);
  }
  assert.ok(
    finished.some((c) => c.id === firstId),
    'the unanswered SYN was finished at a generation change',
  );
  assert.equal(t.forgottenOpen, 0, 'nothing counted as an open connection forgotten');
  // well under 300 s of capture time: a quiet open connection would have been kept
  assert.ok(t.now - 1_700_000_000 < 10);
  const again = syn(0x0d000001, 4000, 777);
  assert.notEqual(again.id, firstId, 'a new connection');
  assert.equal(again.dir(again.client).synRetrans, 1, 'its SYN is a retransmission of the finished one');
  assert.ok(ringLoss(again, again.newest()) & LOSS_SYN_RETRANS, 'the packet is marked a SYN retransmission');
});

test('sortById (the order connections are finished in) agrees with a comparison sort', () => {
  let seed = 99;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const scratch = { ids: new Float64Array(0) };
  for (const n of [0, 1, 2, 17, 5000]) {
    const cs = Array.from({ length: n }, () => ({ id: 1 + rnd(1_000_000_000) }) as Conn);
    const want = [...cs].sort((a, b) => a.id - b.id);
    sortById(cs, scratch);
    assert.deepEqual(
      cs.map((c) => c.id),
      want.map((c) => c.id),
    );
    assert.ok(cs.every((c, i) => c === want[i] || c.id === want[i]!.id));
  }
});
