import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildDecoder, type FieldKind, type Layout } from '../../src/events/layout.js';
import { EVENT_LAYOUT } from '../../src/events/generated/contract.js';

const sizeOf = (kind: FieldKind): number => (kind.startsWith('bytes') ? Number(kind.slice(5)) : Number(kind.slice(1)) / 8);
const alignOf = (kind: FieldKind): number => (kind.startsWith('bytes') ? 1 : sizeOf(kind));

/** The event's members laid out in their order, naturally aligned, like clang would:
 * offsets unlike the real ones where the tests need to tell them apart. */
function syntheticLayout(): Layout & { fields: Record<string, { offset: number; kind: FieldKind }> } {
  let off = 0;
  const fields: Record<string, { offset: number; kind: FieldKind }> = {};
  for (const [name, { kind }] of Object.entries(EVENT_LAYOUT.fields)) {
    off = Math.ceil(off / alignOf(kind)) * alignOf(kind);
    fields[name] = { offset: off, kind };
    off += sizeOf(kind);
  }
  return { size: Math.ceil(off / 8) * 8, fields };
}

test('the decoder of the generated layout reads every member', () => {
  const dec = buildDecoder();
  assert.equal(dec.recordSize, EVENT_LAYOUT.size);
  const ev = dec.decode(new DataView(new ArrayBuffer(EVENT_LAYOUT.size)), 0);
  assert.deepEqual(Object.keys(ev).sort(), [...Object.keys(EVENT_LAYOUT.fields), 'view'].sort());
});

describe('buildDecoder', () => {
  test('decodes a hand-built record', () => {
    const layout = syntheticLayout();
    const { size } = layout;
    const at = (name: string) => layout.fields[name]!.offset;
    const base = 24; // the record does not start at 0 of the view
    const buf = new ArrayBuffer(8 + base + size);
    const view = new DataView(buf, 8); // nor does the view start at 0 of the buffer
    const o = base;
    view.setBigUint64(o + at('mono_ns'), 0x0001030405060708n, true);
    view.setBigUint64(o + at('sock_cookie'), 0x001cba9876543210n, true);
    view.setBigUint64(o + at('cgroup_id'), 12345n, true);
    view.setUint32(o + at('netns'), 4026531840, true);
    view.setUint32(o + at('pid'), 4242, true);
    view.setInt32(o + at('reason'), -7, true);
    view.setInt32(o + at('stack_id'), -14, true);
    view.setUint32(o + at('seg_seq'), 0xdeadbeef, true);
    view.setUint16(o + at('pkt_lport'), 443, true);
    view.setUint16(o + at('pkt_rport'), 0xffff, true);
    view.setUint16(o + at('family'), 10, true);
    view.setUint8(o + at('state'), 7);
    view.setUint8(o + at('hook'), 255);
    const addr = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
    new Uint8Array(buf, 8 + o + at('pkt_laddr'), 16).set(addr);
    new Uint8Array(buf, 8 + o + at('comm'), 16).set(Buffer.from('curl\0'));

    const dec = buildDecoder(layout);
    assert.equal(dec.recordSize, size);
    const ev = dec.decode(view, o);
    // u64 are numbers, exact below 2^53
    assert.equal(ev.mono_ns, 0x0001030405060708);
    assert.equal(ev.sock_cookie, 0x001cba9876543210);
    assert.equal(ev.cgroup_id, 12345);
    assert.equal(ev.netns, 4026531840);
    assert.equal(ev.pid, 4242);
    assert.equal(ev.reason, -7);
    assert.equal(ev.stack_id, -14);
    assert.equal(ev.seg_seq, 0xdeadbeef);
    assert.equal(ev.pkt_lport, 443);
    assert.equal(ev.pkt_rport, 0xffff);
    assert.equal(ev.family, 10);
    assert.equal(ev.state, 7);
    assert.equal(ev.hook, 255);
    assert.equal(ev.tid, 0);
    // byte arrays: the offset of their bytes in the event's view
    const bytes = (off: number, n: number) => [...new Uint8Array(view.buffer, view.byteOffset + off, n)];
    assert.equal(ev.view, view);
    assert.equal(ev.pkt_laddr, o + at('pkt_laddr'));
    assert.deepEqual(bytes(ev.pkt_laddr, 16), [...addr]);
    assert.deepEqual(bytes(ev.pkt_raddr, 16), new Array(16).fill(0));
    assert.deepEqual(bytes(ev.comm, 5), [...Buffer.from('curl\0')]);
    // every member is present, and the view, nothing else
    assert.deepEqual(Object.keys(ev).sort(), [...Object.keys(EVENT_LAYOUT.fields), 'view'].sort());
  });

  test('u64 is little-endian', () => {
    const layout = syntheticLayout();
    const { size } = layout;
    const view = new DataView(new ArrayBuffer(size));
    view.setUint8(0, 1); // mono_ns is at offset 0: lowest byte
    assert.equal(buildDecoder(layout).decode(view, 0).mono_ns, 1);
    view.setUint8(4, 1); // the high half
    assert.equal(buildDecoder(layout).decode(view, 0).mono_ns, 2 ** 32 + 1);
  });

  test('bytes16 fields point into the batch, they are not copied', () => {
    const layout = syntheticLayout();
    const { size } = layout;
    const buf = new ArrayBuffer(size * 2);
    const view = new DataView(buf);
    const ev = buildDecoder(layout).decode(view, size);
    const off = layout.fields['sk_raddr']!.offset;
    assert.equal(ev.sk_raddr, size + off);
    new Uint8Array(buf)[size + off + 3] = 0x99;
    assert.equal(ev.view.getUint8(ev.sk_raddr + 3), 0x99);
  });

  test('decodes consecutive records with the BTF offsets', () => {
    const layout = syntheticLayout();
    const { size } = layout;
    const buf = new ArrayBuffer(size * 3);
    const view = new DataView(buf);
    const pidOff = layout.fields['pid']!.offset;
    for (let i = 0; i < 3; i++) view.setUint32(i * size + pidOff, 100 + i, true);
    const dec = buildDecoder(layout);
    assert.deepEqual(
      [0, 1, 2].map((i) => dec.decode(view, i * size).pid),
      [100, 101, 102],
    );
  });

  test('uses the given offsets, not the order of the members', () => {
    const layout = syntheticLayout();
    const { size } = layout;
    // swap the offsets of pid and tid (same size): the decoder must follow the layout
    const pid = layout.fields['pid']!;
    const tid = layout.fields['tid']!;
    const swapped = { size, fields: { ...layout.fields, pid: tid, tid: pid } };
    const view = new DataView(new ArrayBuffer(size));
    view.setUint32(pid.offset, 1, true);
    view.setUint32(tid.offset, 2, true);
    const ev = buildDecoder(swapped).decode(view, 0);
    assert.equal(ev.pid, 2);
    assert.equal(ev.tid, 1);
  });
});
