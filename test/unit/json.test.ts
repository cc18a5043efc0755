// The JSON writer works straight from kernel records for speed; it must say
// exactly what toEvent() says, for every shape of event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDecoder } from '../../src/events/layout.js';
import { EVENT_LAYOUT } from '../../src/events/generated/contract.js';
import { JsonWriter } from '../../src/events/json.js';
import * as ev from '../../src/events/event.js';
import { schemaProblems } from '../helpers/schema.js';
import { Diagnoser } from '../../src/diagnose/engine.js';
import { FieldText } from '../../src/events/text.js';
import { causeJson } from '../../src/diagnose/json.js';

const decoder = buildDecoder();
const at = (name: keyof typeof EVENT_LAYOUT.fields) => EVENT_LAYOUT.fields[name].offset;

function record(fill: (v: DataView, b: Uint8Array) => void): DataView {
  const buf = new ArrayBuffer(EVENT_LAYOUT.size);
  fill(new DataView(buf), new Uint8Array(buf));
  return new DataView(buf);
}

const ctx: ev.EventContext = {
  reasons: new Map([
    [1, 'NO_SOCKET'],
    [11, 'TCP_ABORT_ON_CLOSE'],
  ]),
  wallOffset: { sec: 1_764_000_000, nsec: 999_999_999 },
  stack: (id) => (id === 7 ? ['tcp_v4_send_reset+0x10', 'tcp_v4_rcv+0x20 [odd"module]'] : null),
  text: new FieldText(),
};

const shapes: Record<string, DataView> = {
  'passive, no socket, IPv4': record((v, b) => {
    v.setUint32(at('mono_ns'), 123_456_789, true);
    v.setUint32(at('mono_ns') + 4, 300, true);
    v.setUint16(at('family'), 2, true);
    v.setUint16(at('flags'), ev.F_HAS_PKT | ev.F_HAS_REASON, true);
    v.setInt32(at('reason'), 1, true);
    v.setInt32(at('stack_id'), 7, true);
    v.setUint8(at('direction'), ev.DIR_SENT);
    v.setUint8(at('kind'), ev.KIND_PASSIVE);
    v.setUint8(at('hook'), 1);
    v.setUint8(at('seg_flags'), 0x12);
    v.setUint32(at('seg_seq'), 0xfffffff0, true);
    b.set([192, 0, 2, 2], at('pkt_laddr'));
    b.set([192, 0, 2, 1], at('pkt_raddr'));
    v.setUint16(at('pkt_lport'), 8080, true);
    v.setUint16(at('pkt_rport'), 40000, true);
    b.set(Buffer.from('quote"back\\slash'), at('comm'));
  }),
  'active, full socket with owner and linger, IPv6, rate-limited stack': record((v, b) => {
    v.setUint16(at('family'), 10, true);
    v.setUint16(at('flags'), ev.F_HAS_SK | ev.F_FULL_SK | ev.F_HAS_REASON | ev.F_HAS_OWNER | ev.F_LINGER | ev.F_STACK_SKIPPED, true);
    v.setInt32(at('reason'), 11, true);
    v.setInt32(at('stack_id'), -1, true);
    v.setUint8(at('direction'), ev.DIR_SENT);
    v.setUint8(at('kind'), ev.KIND_ACTIVE);
    v.setUint8(at('state'), 7);
    v.setUint16(at('hz'), 250, true);
    v.setUint32(at('linger_jiffies'), 125, true);
    v.setUint32(at('rcv_unread'), 5, true);
    v.setUint32(at('sock_cookie'), 4242, true);
    v.setUint32(at('cgroup_id') + 4, 1, true);
    b.set([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2], at('sk_laddr'));
    b.set([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1], at('sk_raddr'));
    v.setUint16(at('sk_lport'), 443, true);
    v.setUint16(at('sk_rport'), 51000, true);
    v.setUint32(at('owner_pid'), 77, true);
    b.set(Buffer.from('srv\x1b[31m'), at('owner_comm'));
    b.set(Buffer.from('kworker/0:1'), at('comm'));
  }),
  'received, listener with accept queue, no reason, stack lost': record((v, b) => {
    v.setUint16(at('family'), 2, true);
    v.setUint16(at('flags'), ev.F_HAS_SK | ev.F_FULL_SK | ev.F_STACK_LOST, true);
    v.setInt32(at('stack_id'), -1, true);
    v.setUint8(at('direction'), ev.DIR_RECEIVED);
    v.setUint8(at('state'), 10);
    v.setUint32(at('ack_backlog'), 3, true);
    v.setUint32(at('max_ack_backlog'), 2, true);
    b.set([198, 51, 100, 7], at('sk_laddr'));
    v.setUint8(at('hook'), 99);
  }),
};

for (const [name, view] of Object.entries(shapes)) {
  test(`JSON line = toEvent(): ${name}`, () => {
    const raw = decoder.decode(view, 0);
    const e = ev.toEvent(raw, ctx);
    new Diagnoser().diagnose(e);
    const line = `${new JsonWriter(ctx).head(raw)},"cause":${causeJson(e.cause!)}}`;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(parsed, JSON.parse(JSON.stringify(e)));
    assert.deepEqual(schemaProblems(parsed), []);
  });
}

test('the shapes above cover every stack status and direction', () => {
  const events = Object.values(shapes).map((v) => ev.toEvent(decoder.decode(v, 0), ctx));
  assert.deepEqual(new Set(events.map((e) => e.stack_status)), new Set(['captured', 'rate_limited', 'lost']));
  assert.deepEqual(new Set(events.map((e) => e.direction)), new Set(['sent', 'received']));
  const active = events[1]!;
  assert.deepEqual(active.linger, { on: true, seconds: 0.5 });
  assert.equal(active.owner?.comm, 'srv\\x1b[31m');
  assert.equal(active.cgroup_id, String(2 ** 32));
});
