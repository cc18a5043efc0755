import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_FIELDS, buildDecoder, layoutMismatches } from '../../src/events/layout.js';
import type { StructMember } from '../../src/native.js';

type Kind = (typeof EVENT_FIELDS)[keyof typeof EVENT_FIELDS];

function shapeOf(kind: Kind): Omit<StructMember, 'name' | 'offset'> {
  switch (kind) {
    case 'u64':
      return { size: 8, signed: false, count: 0 };
    case 'u32':
      return { size: 4, signed: false, count: 0 };
    case 's32':
      return { size: 4, signed: true, count: 0 };
    case 'u16':
      return { size: 2, signed: false, count: 0 };
    case 'u8':
      return { size: 1, signed: false, count: 0 };
    case 'bytes16':
      return { size: 1, signed: true, count: 16 }; // char[16]: signed in C
  }
}

/** Members laid out in EVENT_FIELDS order, naturally aligned, like clang would. */
function syntheticLayout(): { members: StructMember[]; size: number } {
  let off = 0;
  const members: StructMember[] = [];
  for (const [name, kind] of Object.entries(EVENT_FIELDS) as Array<[string, Kind]>) {
    const s = shapeOf(kind);
    off = Math.ceil(off / s.size) * s.size;
    members.push({ name, offset: off, ...s });
    off += s.size * (s.count || 1);
  }
  return { members, size: Math.ceil(off / 8) * 8 };
}

describe('layoutMismatches', () => {
  test('a layout equal to EVENT_FIELDS has no problems', () => {
    const { members } = syntheticLayout();
    assert.equal(members.length, Object.keys(EVENT_FIELDS).length);
    assert.deepEqual(layoutMismatches(members), []);
  });

  test('member order does not matter', () => {
    const { members } = syntheticLayout();
    assert.deepEqual(layoutMismatches([...members].reverse()), []);
  });

  test('a missing member is named', () => {
    const { members } = syntheticLayout();
    const p = layoutMismatches(members.filter((m) => m.name !== 'stack_id'));
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^stack_id\b/);
  });

  test('an extra member is named', () => {
    const { members } = syntheticLayout();
    const p = layoutMismatches([...members, { name: 'new_field', offset: 400, size: 4, signed: false, count: 0 }]);
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^new_field\b/);
  });

  test('a wrong size is named', () => {
    const { members } = syntheticLayout();
    const p = layoutMismatches(members.map((m) => (m.name === 'seg_len' ? { ...m, size: 2 } : m)));
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^seg_len\b/);
    assert.match(p[0]!, /u32/);
  });

  test('a wrong signedness of a scalar is named, of a char array is not', () => {
    const { members } = syntheticLayout();
    const p = layoutMismatches(members.map((m) => (m.name === 'reason' ? { ...m, signed: false } : m)));
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^reason\b/);
    const q = layoutMismatches(members.map((m) => (m.name === 'comm' ? { ...m, signed: false } : m)));
    assert.deepEqual(q, []);
  });

  test('a wrong array length is named', () => {
    const { members } = syntheticLayout();
    const p = layoutMismatches(members.map((m) => (m.name === 'comm' ? { ...m, count: 32 } : m)));
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^comm\b/);
    const q = layoutMismatches(members.map((m) => (m.name === 'hook' ? { ...m, count: 4 } : m)));
    assert.equal(q.length, 1);
    assert.match(q[0]!, /^hook\b/);
  });

  test('several problems are all reported', () => {
    const { members } = syntheticLayout();
    const changed = members
      .filter((m) => m.name !== 'pid')
      .map((m) => (m.name === 'mono_ns' ? { ...m, size: 4 } : m))
      .concat([{ name: 'bogus', offset: 500, size: 1, signed: false, count: 0 }]);
    const p = layoutMismatches(changed);
    assert.equal(p.length, 3);
    for (const name of ['pid', 'mono_ns', 'bogus']) {
      assert.ok(p.some((x) => x.startsWith(`${name}:`)), `${name} in ${JSON.stringify(p)}`);
    }
  });
});

describe('buildDecoder', () => {
  test('decodes a hand-built record', () => {
    const { members, size } = syntheticLayout();
    const at = (name: string) => members.find((m) => m.name === name)!.offset;
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

    const dec = buildDecoder(members, size);
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
    // every field of EVENT_FIELDS is present, and the view, nothing else
    assert.deepEqual(Object.keys(ev).sort(), [...Object.keys(EVENT_FIELDS), 'view'].sort());
  });

  test('u64 is little-endian', () => {
    const { members, size } = syntheticLayout();
    const view = new DataView(new ArrayBuffer(size));
    view.setUint8(0, 1); // mono_ns is at offset 0: lowest byte
    assert.equal(buildDecoder(members, size).decode(view, 0).mono_ns, 1);
    view.setUint8(4, 1); // the high half
    assert.equal(buildDecoder(members, size).decode(view, 0).mono_ns, 2 ** 32 + 1);
  });

  test('bytes16 fields point into the batch, they are not copied', () => {
    const { members, size } = syntheticLayout();
    const buf = new ArrayBuffer(size * 2);
    const view = new DataView(buf);
    const ev = buildDecoder(members, size).decode(view, size);
    const off = members.find((m) => m.name === 'sk_raddr')!.offset;
    assert.equal(ev.sk_raddr, size + off);
    new Uint8Array(buf)[size + off + 3] = 0x99;
    assert.equal(ev.view.getUint8(ev.sk_raddr + 3), 0x99);
  });

  test('decodes consecutive records with the BTF offsets', () => {
    const { members, size } = syntheticLayout();
    const buf = new ArrayBuffer(size * 3);
    const view = new DataView(buf);
    const pidOff = members.find((m) => m.name === 'pid')!.offset;
    for (let i = 0; i < 3; i++) view.setUint32(i * size + pidOff, 100 + i, true);
    const dec = buildDecoder(members, size);
    assert.deepEqual([0, 1, 2].map((i) => dec.decode(view, i * size).pid), [100, 101, 102]);
  });

  test('uses the given offsets, not EVENT_FIELDS order', () => {
    const { members, size } = syntheticLayout();
    // swap the offsets of pid and tid (same size): the decoder must follow BTF
    const pid = members.find((m) => m.name === 'pid')!.offset;
    const tid = members.find((m) => m.name === 'tid')!.offset;
    const swapped = members.map((m) => (m.name === 'pid' ? { ...m, offset: tid } : m.name === 'tid' ? { ...m, offset: pid } : m));
    const view = new DataView(new ArrayBuffer(size));
    view.setUint32(pid, 1, true);
    view.setUint32(tid, 2, true);
    const ev = buildDecoder(swapped, size).decode(view, 0);
    assert.equal(ev.pid, 2);
    assert.equal(ev.tid, 1);
  });

  test('throws on a mismatch, naming the field', () => {
    const { members, size } = syntheticLayout();
    assert.throws(
      () => buildDecoder(members.filter((m) => m.name !== 'owner_comm'), size),
      /owner_comm/,
    );
    assert.throws(
      () => buildDecoder(members.map((m) => (m.name === 'hz' ? { ...m, size: 4 } : m)), size),
      /hz/,
    );
  });
});
