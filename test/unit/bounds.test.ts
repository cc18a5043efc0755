// Every table of user space whose keys come from traffic has a bound (item 3
// of issue 11): filled to exactly its cap it holds it all; past it, it
// forgets the oldest, counts what it forgot, and says so once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RstEvent } from '../../src/events/event.js';
import type { HostSnapshot } from '../../src/host/types.js';
import { BoundedMap, fullMessage } from '../../src/memory/bounded.js';
import { BUDGETS, WORKING_SET_SHARE, boundOf, entriesFor, snapshotOutputBytes, type TableId } from '../../src/memory/budget.js';
import { FieldText } from '../../src/events/text.js';
import { StackSymbols } from '../../src/kernel/tracer.js';
import { StackCounts } from '../../src/cli/output.js';
import { HostContext } from '../../src/host/context.js';
import { netnsPathCache } from '../../src/host/netns-path.js';
import { Diagnoser } from '../../src/diagnose/engine.js';
import { DiagnosisPipeline } from '../../src/diagnose/pipeline.js';
import { rstEvent } from '../helpers/rst-event.js';

/** watch's heap (bin/tcpwhy: --max-semi-space-size=4 --max-old-space-size=64): V8's heap_size_limit */
const WATCH_HEAP = 76 * 1024 * 1024;

/**
 * Fills a table through its owner, `add(i)` making key i. Filled to its cap:
 * all there, nothing forgotten, nothing said. One more: the oldest half is
 * forgotten and counted, the newest kept, said once. Three times the cap: the
 * size never passed the cap, and still said once.
 */
function fillsToItsBound(
  table: BoundedMap<string | number, unknown>,
  add: (i: number) => void,
  key: (i: number) => string | number,
  /** what the owner was told (null: this table tells no one) */
  warnings: string[] | null,
  budget: number,
): void {
  // two generations of half the budget each (an odd budget loses one entry)
  const cap = table.cap;
  assert.equal(cap, budget - (budget % 2), `${table.name}: the cap is the budget's`);
  for (let i = 0; i < cap; i++) {
    add(i);
    assert.ok(table.size <= cap);
  }
  assert.equal(table.size, cap, `${table.name}: filled to exactly its cap`);
  assert.equal(table.evicted, 0);
  if (warnings) assert.deepEqual(warnings, []);
  assert.ok(table.has(key(0)));
  add(cap);
  assert.ok(!table.has(key(0)), `${table.name}: the oldest is forgotten`);
  assert.ok(table.has(key(cap)), `${table.name}: the newest is kept`);
  assert.ok(table.has(key(cap - 1)));
  assert.equal(table.evicted, cap / 2);
  assert.equal(table.size, cap / 2 + 1);
  if (warnings) assert.deepEqual(warnings, [fullMessage(table.name, cap)]);
  for (let i = cap + 1; i < 3 * cap; i++) {
    add(i);
    assert.ok(table.size <= cap);
  }
  assert.equal(table.evicted, 3 * cap - table.size, `${table.name}: every entry forgotten is counted`);
  if (warnings) assert.equal(warnings.length, 1, `${table.name}: said once`);
}

describe('BoundedMap', () => {
  test('two generations: the oldest half goes at once, counted, said once', () => {
    const said: string[] = [];
    const m = new BoundedMap<string, number>('things', 8, { onFull: (n, c) => said.push(fullMessage(n, c)) });
    fillsToItsBound(
      m as BoundedMap<string | number, unknown>,
      (i) => m.set(`k${i}`, i),
      (i) => `k${i}`,
      said,
      8,
    );
    assert.equal(said[0], 'things is full (8 entries): forgetting the oldest');
  });

  test('touch makes a key young; get does not; null is a value; iteration is oldest first', () => {
    const m = new BoundedMap<number, string | null>('t', 4);
    m.set(1, null);
    m.set(2, 'b');
    m.set(3, 'c'); // 1, 2 old; 3 young
    assert.equal(m.get(1), null);
    assert.equal(
      m.touch(1, () => 'x'),
      null,
      'a stored null is found, not made again',
    );
    m.set(4, 'd'); // young {3, 1} becomes old; the old {2} is dropped
    assert.ok(m.has(1) && m.has(3) && m.has(4));
    assert.ok(!m.has(2), 'the key not touched is forgotten');
    assert.deepEqual(
      [...m.entries()].map(([k]) => k),
      [3, 1, 4],
    );
    assert.equal(m.evicted, 1);
    assert.ok(m.delete(4) && !m.has(4));
  });

  test('an odd cap is rounded down to two whole generations', () => {
    const m = new BoundedMap<number, number>('t', 5);
    assert.equal(m.cap, 4);
    for (let i = 0; i < 100; i++) m.set(i, i);
    assert.ok(m.size <= 4);
  });
});

describe('budget', () => {
  test('entriesFor: what fits in the share, between floor and ceiling', () => {
    assert.equal(entriesFor(1024, 0.5, 1, 1e9, 1 << 20), 512);
    assert.equal(entriesFor(1024, 0.5, 600, 1e9, 1 << 20), 600);
    assert.equal(entriesFor(1024, 0.5, 1, 100, 1 << 20), 100);
  });

  test('the shares leave the working set its part of the heap', () => {
    const total = Object.values(BUDGETS).reduce((s, b) => s + b.share, 0) + 0.08; // + the snapshot output
    assert.ok(total <= 1 - WORKING_SET_SHARE, `shares add up to ${total}`);
  });

  test("under watch's heap every table gets a bound, and all of them full leave the working set its share", (t) => {
    let bytes = 0;
    for (const id of Object.keys(BUDGETS) as TableId[]) {
      const n = boundOf(id, WATCH_HEAP);
      t.diagnostic(`${id}: ${n} entries × ${BUDGETS[id].bytesPerEntry} B`);
      assert.ok(n >= BUDGETS[id].floor && n <= BUDGETS[id].ceiling);
      bytes += n * BUDGETS[id].bytesPerEntry;
    }
    assert.ok(bytes + snapshotOutputBytes(WATCH_HEAP) <= WATCH_HEAP * (1 - WORKING_SET_SHARE));
    assert.equal(snapshotOutputBytes(WATCH_HEAP), Math.floor(WATCH_HEAP * 0.08));
  });
});

describe('every table of user space, filled through its owner', () => {
  test('FieldText: IPv4, IPv6 and name texts', () => {
    const said: string[] = [];
    const ft = new FieldText({ warn: (m) => said.push(m) });
    const b = new Uint8Array(96);
    const view = new DataView(b.buffer);
    const r = (family: number) => ({ view, family, sk_family: family, pkt_laddr: 0, pkt_raddr: 16, sk_laddr: 32, sk_raddr: 48, comm: 64, owner_comm: 80 });
    const [v4, v6, names] = ft.caches as [BoundedMap<number, string>, BoundedMap<string, string>, BoundedMap<string, string>];
    // IPv4 by the address as a big-endian word
    fillsToItsBound(
      v4 as BoundedMap<string | number, unknown>,
      (i) => {
        view.setUint32(0, 0x0a000000 + i);
        assert.equal(ft.packetLocal(r(2)), `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      },
      (i) => 0x0a000000 + i,
      said,
      boundOf('ipv4Texts'),
    );
    said.length = 0;
    fillsToItsBound(
      v6 as BoundedMap<string | number, unknown>,
      (i) => {
        view.setUint32(0, 0x20010db8);
        view.setUint32(12, i + 1);
        assert.match(ft.packetLocal(r(10)), /^2001:db8::/);
      },
      (i) => `${0x20010db8},0,0,${i + 1}`,
      said,
      boundOf('ipv6Texts'),
    );
    said.length = 0;
    fillsToItsBound(
      names as BoundedMap<string | number, unknown>,
      (i) => {
        b.fill(0, 64, 80);
        b.set(Buffer.from(`worker-${i}`), 64);
        assert.equal(ft.comm(r(2)), `worker-${i}`);
      },
      (i) => {
        const n = new Uint8Array(16);
        n.set(Buffer.from(`worker-${i}`));
        const d = new DataView(n.buffer);
        return `${d.getUint32(0)},${d.getUint32(4)},${d.getUint32(8)},${d.getUint32(12)}`;
      },
      said,
      boundOf('nameTexts'),
    );
  });

  test('StackSymbols (tracer): a forgotten stack is read again', () => {
    const said: string[] = [];
    const reads: number[] = [];
    const s = new StackSymbols(
      (id) => {
        reads.push(id);
        return id % 7 === 0 ? null : [`tcp_v4_send_reset+0x${id.toString(16)}/0x5c0`];
      },
      (m) => said.push(m),
      WATCH_HEAP,
    );
    const cap = s.cache.cap;
    fillsToItsBound(
      s.cache as BoundedMap<string | number, unknown>,
      (i) => s.get(i),
      (i) => i,
      said,
      boundOf('stackSymbols', WATCH_HEAP),
    );
    const n = reads.length;
    assert.equal(s.get(3 * cap - 1)?.[0], `tcp_v4_send_reset+0x${(3 * cap - 1).toString(16)}/0x5c0`);
    assert.equal(reads.length, n, 'a kept stack is not read again');
    assert.equal(s.get(0), null);
    assert.equal(reads.length, n + 1, 'a forgotten one is');
  });

  test('StackCounts (--count): forgotten groups are said in the output', () => {
    const said: string[] = [];
    const c = new StackCounts({ warn: (m) => said.push(m), heapBytes: WATCH_HEAP });
    const base = { cause: null, direction: 'sent', kind: 'passive', reason: 'NO_SOCKET', state: null, stack: ['f+0x1/0x2'] } as unknown as RstEvent;
    const cap = c.counts.cap;
    const key = (i: number) => `undefined|sent|passive|NO_SOCKET|null|${i}`;
    fillsToItsBound(c.counts as BoundedMap<string | number, unknown>, (i) => c.add({ ...base, stack_id: i }), key, said, boundOf('stackCounts', WATCH_HEAP));
    c.add({ ...base, stack_id: 3 * cap - 1 });
    assert.equal(c.counts.get(key(3 * cap - 1))?.n, 2, 'a group still counting is counted');
    assert.match(c.render(), new RegExp(`\\(${c.counts.evicted} older groups not shown: stack counts \\(--count\\) was full\\)\\n$`));
    assert.doesNotMatch(new StackCounts().render(), /not shown/);
  });

  test('HostContext: snapshots per network namespace', async () => {
    const said: string[] = [];
    const ctx = new HostContext({ warn: (m) => said.push(m), take: async (n) => snap(n) });
    const cap = boundOf('hostSnapshots');
    const added: Array<Promise<HostSnapshot> | HostSnapshot> = [];
    fillsToItsBound(
      ctx.table as BoundedMap<string | number, unknown>,
      (i) => added.push(ctx.fresh(1000 + i)),
      (i) => 1000 + i,
      said,
      cap,
    );
    await Promise.all(added);
    assert.equal(ctx.latest(1000), undefined);
    assert.equal(ctx.latest(1000 + 3 * cap - 1)?.netns, 1000 + 3 * cap - 1);
  });

  test('netnsPath: paths by namespace inode', () => {
    // the module's own table, filled as netnsPath() fills it (it tells no one:
    // a forgotten path is searched again, no fact is lost)
    netnsPathCache.clear();
    fillsToItsBound(
      netnsPathCache as BoundedMap<string | number, unknown>,
      (i) => netnsPathCache.set(4026531000 + i, `/proc/${100000 + i}/ns/net`),
      (i) => 4026531000 + i,
      null,
      boundOf('netnsPaths'),
    );
    netnsPathCache.clear();
  });
});

const snap = (netns: number, takenAtMs = Date.now(), errors: string[] = []): HostSnapshot => ({
  netns,
  takenAtMs,
  listeners: [],
  sysctls: {},
  counters: { 'Tcp.OutRsts': 1 },
  rules: [],
  conntrack: null,
  errors,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HostContext under load: a slow snapshot does not hold verdicts back', () => {
  test('a first snapshot later than maxWaitMs: its waiters get one that read nothing, and say so', async () => {
    let release!: (s: HostSnapshot) => void;
    let takes = 0;
    const ctx = new HostContext({
      maxWaitMs: 30,
      take: (n) => {
        takes++;
        return new Promise((r) => (release = () => r(snap(n))));
      },
    });
    const t0 = Date.now();
    const p = ctx.since(5, t0 - 1000);
    assert.ok(p instanceof Promise);
    const got = await p;
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(got.takenAtMs, 0);
    assert.match(got.stale!, /taken more than 30 ms/);
    assert.ok(got.errors.includes('ss -Htlnp: not read yet'), 'a rule relying on the listeners sees they were not read');
    const again = ctx.since(5, Date.now() - 1000);
    assert.equal(again, got, 'later events get the same stand-in at once');
    assert.equal(takes, 1, 'and no second snapshot is begun');
    release(snap(5));
    await sleep(0);
    assert.equal(ctx.latest(5)?.stale, undefined);
    assert.equal(takes, 1);
  });

  test('a late refresh: waiters get the older snapshot marked stale; after it, a backoff; never unreadable', async () => {
    let slow = false;
    let takes = 0;
    const ctx = new HostContext({
      maxAgeMs: 0,
      maxWaitMs: 30,
      take: async (n) => {
        takes++;
        const s = snap(n);
        if (slow) await sleep(60);
        return s;
      },
    });
    const first = await ctx.fresh(6);
    assert.equal(first.stale, undefined);
    await sleep(5);
    slow = true;
    const late = await ctx.since(6, Date.now());
    assert.equal(late.takenAtMs, first.takenAtMs);
    assert.deepEqual(late.counters, first.counters);
    assert.match(late.stale!, /taken more than 30 ms/);
    await sleep(60); // the slow refresh ends
    assert.ok(ctx.latest(6)!.takenAtMs > first.takenAtMs);
    assert.equal(takes, 2);
    // the refresh took longer than maxWaitMs: the next one waits a while
    const paused = ctx.since(6, Date.now() + 1);
    assert.ok(!(paused instanceof Promise));
    assert.match(paused.stale!, /slow: the next one is begun after a pause/);
    assert.equal(takes, 2);
  });

  test('at most maxConcurrent snapshots at once; the others queue', async () => {
    let running = 0;
    let peak = 0;
    const ctx = new HostContext({
      maxConcurrent: 2,
      take: async (n) => {
        peak = Math.max(peak, ++running);
        await sleep(5);
        running--;
        return snap(n);
      },
    });
    const got = await Promise.all([1, 2, 3, 4, 5].map((n) => ctx.fresh(n)));
    assert.deepEqual(
      got.map((s) => s.netns),
      [1, 2, 3, 4, 5],
    );
    assert.equal(peak, 2);
  });

  test('the pipeline, as it is, delivers within maxWaitMs and says what was missing once', async () => {
    const warnings: string[] = [];
    const ctx = new HostContext({ maxWaitMs: 30, take: () => new Promise(() => undefined) });
    const out: RstEvent[] = [];
    const p = new DiagnosisPipeline<undefined>(
      new Diagnoser(),
      ctx,
      (e) => out.push(e as RstEvent),
      (m) => warnings.push(m),
    );
    const ev = (i: number) => rstEvent(i, { mono_ns: 1e12 + i, netns: 9 });
    const t0 = Date.now();
    p.push(ev(0), undefined);
    p.push(ev(1), undefined);
    await p.flushed();
    p.push(ev(2), undefined);
    await p.flushed();
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(out.length, 3);
    assert.ok(out.every((e) => e.cause?.id === 'no-listener'));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /network namespace 9 is incomplete: namespace 9: its snapshot has taken more than 30 ms; ss -Htlnp: not read yet/);
    assert.doesNotMatch(warnings[0]!, /unavailable/, 'a slow snapshot does not make the namespace unreadable');
  });
});
