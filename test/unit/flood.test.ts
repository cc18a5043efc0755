// The flood shortcut (src/diagnose/flood.ts): a SYN that found no socket, of
// a shape diagnosed before, gets its JSON line straight from the kernel record.
// The shortcut must say exactly what the normal path says, test the shape the
// same way on records and on events, record the RST as diagnose() would, and
// stop sharing when what the verdict depends on changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDecoder, type RawEvent } from '../../src/events/layout.js';
import { EVENT_LAYOUT } from '../../src/events/generated/contract.js';
import { JsonWriter } from '../../src/events/json.js';
import * as ev from '../../src/events/event.js';
import { Diagnoser } from '../../src/diagnose/engine.js';
import { causeJson } from '../../src/diagnose/json.js';
import { refusedSyn, refusedSynRecord } from '../../src/diagnose/flood.js';
import { DiagnosisPipeline, type HostSource } from '../../src/diagnose/pipeline.js';
import type { HostSnapshot } from '../../src/host/types.js';
import { FieldText } from '../../src/events/text.js';
import type { Cause } from '../../src/causes/types.js';

const decoder = buildDecoder();
const at = (name: keyof typeof EVENT_LAYOUT.fields) => EVENT_LAYOUT.fields[name].offset;

const NS = 4026532300;
const CLIENT_NS = 4026532299;
const T0 = 5_000_000_000_000;

const ctx: ev.EventContext = {
  reasons: new Map([[1, 'NO_SOCKET']]),
  wallOffset: { sec: 1_764_000_000, nsec: 0 },
  stack: () => ['tcp_v4_send_reset+0x10', 'tcp_v4_rcv+0x20'],
  text: new FieldText(),
};

interface Shape {
  segFlags?: number;
  direction?: number;
  kind?: number;
  flags?: number;
  lport?: number;
  rport?: number;
  monoNs?: number;
}

/** A kernel record: by default an IPv4 SYN to 192.0.2.2:8080 answered without a socket (NO_SOCKET). */
function record(s: Shape = {}): RawEvent {
  const buf = new ArrayBuffer(EVENT_LAYOUT.size);
  const v = new DataView(buf);
  const b = new Uint8Array(buf);
  const mono = BigInt(s.monoNs ?? T0);
  v.setUint32(at('mono_ns'), Number(mono & 0xffffffffn), true);
  v.setUint32(at('mono_ns') + 4, Number(mono >> 32n), true);
  v.setUint16(at('family'), 2, true);
  v.setUint16(at('flags'), (s.flags ?? ev.F_HAS_PKT) | ev.F_HAS_REASON, true);
  v.setInt32(at('reason'), 1, true);
  v.setInt32(at('stack_id'), 3, true);
  v.setUint8(at('direction'), s.direction ?? ev.DIR_SENT);
  v.setUint8(at('kind'), s.kind ?? ev.KIND_PASSIVE);
  v.setUint8(at('hook'), 1);
  v.setUint8(at('seg_flags'), s.segFlags ?? 0x02);
  v.setUint32(at('seg_seq'), 1000 + (s.rport ?? 40000), true);
  v.setUint32(at('netns'), NS, true);
  b.set([192, 0, 2, 2], at('pkt_laddr'));
  b.set([192, 0, 2, 1], at('pkt_raddr'));
  v.setUint16(at('pkt_lport'), s.lport ?? 8080, true);
  v.setUint16(at('pkt_rport'), s.rport ?? 40000, true);
  b.set([192, 0, 2, 2], at('sk_laddr'));
  v.setUint16(at('sk_lport'), s.lport ?? 8080, true);
  b.set(Buffer.from('swapper/0'), at('comm'));
  return decoder.decode(v, 0);
}

const snap = (takenAtMs = 1): HostSnapshot => ({ netns: NS, takenAtMs, listeners: [], sysctls: {}, counters: {}, rules: [], conntrack: null, errors: [] });

/** A pipeline whose host context is always there; what it delivers, as JSON lines the way watch makes them. */
function setup(opts: { causes?: readonly Cause[] } = {}) {
  let latest = snap();
  const hostSource: HostSource = { latest: () => latest, since: () => latest };
  const d = new Diagnoser({ kernel: { version: [6, 18] }, ...(opts.causes ? { causes: opts.causes } : {}) });
  const json = new JsonWriter(ctx);
  const lines: string[] = [];
  const p = new DiagnosisPipeline<string>(d, hostSource, (e, head) => lines.push(`${head},"cause":${causeJson(e.cause!)}}`));
  /** what watch --json does with a record: the shortcut, else the normal path */
  const take = (raw: RawEvent): 'shared' | 'pushed' => {
    const tail = p.tryShared(raw, ctx);
    if (tail !== null) {
      lines.push(json.head(raw) + Buffer.from(tail).toString());
      return 'shared';
    }
    p.push(ev.toEvent(raw, ctx), json.head(raw));
    return 'pushed';
  };
  return { d, p, lines, take, newSnapshot: (t: number) => (latest = snap(t)) };
}

test('the shape test on a kernel record says what the test on its event says (passive ones)', () => {
  let shaped = 0;
  for (const segFlags of [0x02, 0x12, 0x10, 0x03, 0x04, 0x00])
    for (const direction of [ev.DIR_SENT, ev.DIR_RECEIVED])
      for (const kind of [ev.KIND_PASSIVE, ev.KIND_ACTIVE, 0])
        for (const flags of [ev.F_HAS_PKT, ev.F_HAS_PKT | ev.F_HAS_SK, ev.F_HAS_PKT | ev.F_HAS_SK | ev.F_FULL_SK, ev.F_HAS_SK, 0]) {
          const raw = record({ segFlags, direction, kind, flags });
          const onRecord = refusedSynRecord(raw);
          const e = ev.toEvent(raw, ctx);
          assert.equal(onRecord, refusedSyn(e) && e.kind === 'passive', JSON.stringify({ segFlags, direction, kind, flags }));
          if (onRecord) shaped++;
        }
  assert.equal(shaped, 1);
});

test("the second SYN of a shape takes the shortcut, and its line is the normal path's line", () => {
  const { lines, take } = setup();
  assert.equal(take(record({ rport: 40000 })), 'pushed'); // nothing known of the shape yet
  assert.equal(take(record({ rport: 40001, monoNs: T0 + 1000 })), 'shared');
  assert.equal(lines.length, 2);
  // the same record through the normal path of a watch that has seen the first one
  const normal = setup();
  normal.take(record({ rport: 40000 }));
  normal.p.push(ev.toEvent(record({ rport: 40001, monoNs: T0 + 1000 }), ctx), new JsonWriter(ctx).head(record({ rport: 40001, monoNs: T0 + 1000 })));
  assert.equal(lines[1], normal.lines[1]);
  const parsed = JSON.parse(lines[1]!) as { cause: { id: string; confidence: string }; packet: { rport: number } };
  assert.deepEqual([parsed.cause.id, parsed.cause.confidence, parsed.packet.rport], ['no-listener', 'high', 40001]);
});

test('the shared tail is encoded once, and events of the shape share one verdict object', () => {
  const { d, p, take } = setup();
  take(record({ rport: 40000 }));
  const a = p.tryShared(record({ rport: 40001 }), ctx);
  const b = p.tryShared(record({ rport: 40002 }), ctx);
  assert.ok(a !== null && a === b);
  // diagnose() reuses the memo too: the verdict of an event of the shape is the one already given
  const e1 = ev.toEvent(record({ rport: 40003 }), ctx);
  const e2 = ev.toEvent(record({ rport: 40004 }), ctx);
  assert.equal(d.diagnose(e1, snap()), d.diagnose(e2, snap()));
  // another port is another shape
  const other = ev.toEvent(record({ lport: 9090 }), ctx);
  assert.notEqual(d.diagnose(other, snap()), e1.cause);
  assert.equal(p.tryShared(record({ lport: 9091 }), ctx), null);
});

test('the shortcut records the refused SYN per port, as diagnose() does, at most once a millisecond', () => {
  const { d, take } = setup();
  take(record({ rport: 40000, monoNs: T0 }));
  const clientSide = { laddr: '192.0.2.1', lport: 40001, raddr: '192.0.2.2', rport: 8080 };
  const seen = () => d.history.sentByPeer(CLIENT_NS, clientSide, T0 + 5e6, true);
  assert.equal(seen()?.mono_ns, T0);
  assert.equal(seen()?.cause, 'no-listener');
  assert.equal(take(record({ rport: 40001, monoNs: T0 + 2e6 })), 'shared');
  assert.equal(seen()?.mono_ns, T0 + 2e6); // the shortcut's first event of the shape
  assert.equal(take(record({ rport: 40002, monoNs: T0 + 2.5e6 })), 'shared');
  assert.equal(seen()?.mono_ns, T0 + 2e6); // within the millisecond: about right is enough
  assert.equal(take(record({ rport: 40003, monoNs: T0 + 3.5e6 })), 'shared');
  assert.equal(seen()?.mono_ns, T0 + 3.5e6);
  assert.equal(d.history.sentByPeer(NS, clientSide, T0 + 5e6, true), null); // not from its own namespace
});

test('sharing stops when the host snapshot or the listeners change', () => {
  const { d, take, newSnapshot } = setup();
  take(record());
  assert.equal(take(record({ rport: 40001 })), 'shared');
  newSnapshot(2);
  assert.equal(take(record({ rport: 40002 })), 'pushed');
  assert.equal(take(record({ rport: 40003 })), 'shared');
  d.addState({
    mono_ns: T0,
    netns: NS,
    family: 'ipv4',
    sock_cookie: '1',
    process: { pid: 9, comm: 'server' },
    owner: { pid: 9, comm: 'server' },
    rcv_unread: null,
    old_state: 'CLOSE',
    new_state: 'LISTEN',
    socket: { laddr: '192.0.2.2', lport: 7000, raddr: '0.0.0.0', rport: 0 },
  });
  assert.equal(take(record({ rport: 40004 })), 'pushed');
  assert.equal(take(record({ rport: 40005 })), 'shared');
});

test('nothing overtakes an event that waits: no shortcut while the pipeline holds events', () => {
  const { p, take } = setup();
  take(record());
  // a received RST waits for the end of its batch (its explanation may come just after it)
  p.push(ev.toEvent(record({ direction: ev.DIR_RECEIVED, segFlags: 0x04, flags: ev.F_HAS_SK | ev.F_FULL_SK }), ctx), '');
  assert.equal(p.pending, 1);
  assert.equal(p.tryShared(record({ rport: 40001 }), ctx), null);
  p.drain();
  assert.notEqual(p.tryShared(record({ rport: 40002 }), ctx), null);
});

test('a verdict is shared only when its entry says it depends on the shape alone', () => {
  const fixed = (sameForShape: boolean): Cause =>
    ({
      id: 'no-listener',
      title: 't',
      group: 'g',
      map: [],
      happened: 'h',
      why: 'w',
      evidence: {},
      recognized: 'r',
      fix: 'f',
      sameForShape,
      match: () => ({ confidence: 'low', summary: 's', evidence: {} }),
    }) as unknown as Cause;
  const shared = setup({ causes: [fixed(true)] });
  shared.take(record());
  assert.equal(shared.take(record({ rport: 40001 })), 'shared');
  const perEvent = setup({ causes: [fixed(false)] });
  perEvent.take(record());
  assert.equal(perEvent.take(record({ rport: 40001 })), 'pushed');
  // the entry that matched is still tried first: each event gets its own verdict from it
  assert.equal(perEvent.lines.length, 2);
  assert.notEqual(perEvent.d.diagnose(ev.toEvent(record(), ctx)), perEvent.d.diagnose(ev.toEvent(record(), ctx)));
});
