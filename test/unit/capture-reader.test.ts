// The capture reader and TCP decoder on files built byte by byte
// (test/helpers/capture-build.ts): every link type, both pcap byte orders and
// timestamp units, pcapng with several interfaces, SPB, OPB and skipped blocks,
// VLAN stacks, IPv4 options and fragments, IPv6 extension headers, snaplen cuts,
// gzip, empty and damaged files. The last tests hold the reader to what tshark
// reads from the same files.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readCapture } from '../../src/capture/reader.js';
import { decodeTcp, newSegment } from '../../src/capture/decode.js';
import { addrText } from '../../src/net/addr.js';
import { CaptureError, type Frame, type ReadSummary, type SkipReason, type TcpSegment } from '../../src/capture/types.js';
import * as B from '../helpers/capture-build.js';
import { ACK, FIN, PSH, RST, SYN, LINKTYPE } from '../helpers/capture-build.js';
import { tsharkAvailable, tsharkFields } from '../helpers/tshark.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-capture-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function put(bytes: Buffer, name = 'capture.pcap'): string {
  const p = path.join(dir, `${++fileNo}-${name}`);
  writeFileSync(p, bytes);
  return p;
}

type FrameGot = Omit<Frame, 'buf' | 'off'> & { data: Buffer };
type SegGot = TcpSegment & { src: string; dst: string; payload: Buffer };
interface Got {
  frame: FrameGot;
  skip: SkipReason | null;
  seg: SegGot | null;
}

/** Reads the file, copying every frame and its decoded segment out of the reused objects. */
async function read(file: string): Promise<{ summary: ReadSummary; got: Got[] }> {
  const got: Got[] = [];
  const seg = newSegment();
  const summary = await readCapture(file, (f) => {
    const { buf, off, ...rest } = f;
    assert.ok(off >= 0 && off + f.caplen <= buf.length, `frame ${f.index}: [${off}, ${off + f.caplen}) outside its buffer`);
    const frame: FrameGot = { ...rest, data: Buffer.from(buf.subarray(off, off + f.caplen)) };
    const skip = decodeTcp(f, seg);
    got.push({
      frame,
      skip,
      seg: skip
        ? null
        : {
            ...seg,
            src: addrText(seg.srcKey),
            dst: addrText(seg.dstKey),
            payload: Buffer.from(buf.subarray(seg.payloadOff, seg.payloadOff + seg.captured)),
          },
    });
  });
  return { summary, got };
}

async function readBytes(bytes: Buffer, name?: string) {
  return read(put(bytes, name));
}

/** The decoded segment has these values (only the keys given are compared). */
function assertSeg(g: Got | undefined, exp: Partial<SegGot>, what = ''): void {
  assert.ok(g, `${what}: no such frame`);
  assert.equal(g.skip, null, `${what}: frame ${g.frame.index} skipped as ${g.skip}`);
  const actual = Object.fromEntries(Object.keys(exp).map((k) => [k, g.seg![k as keyof SegGot]]));
  assert.deepEqual(actual, exp, `${what}: frame ${g.frame.index}`);
}

// ---------------------------------------------------------------------------
// The segments most tests carry

const A4: B.Ip4Spec = { src: '192.0.2.1', dst: '198.51.100.2', ttl: 61, id: 0x1234, df: true };
const A6: B.Ip6Spec = { src: '2001:db8::1', dst: '2001:db8:0:1::2', hopLimit: 59 };

// seq and ack above 2^31: they must come out unsigned, as tshark's seq_raw
const SYN_TCP: B.TcpSpec = {
  sport: 40000,
  dport: 443,
  seq: 0xfffffff0,
  flags: SYN,
  win: 64240,
  options: B.linuxSynOptions({ mss: 1460, tsVal: 0x87654321, tsEcr: 0, wscale: 7 }),
};
const DATA_TCP: B.TcpSpec = {
  sport: 443,
  dport: 40000,
  seq: 1000,
  ack: 0xfffffff1,
  flags: PSH | ACK,
  win: 501,
  options: [B.nop(), B.nop(), B.timestamps(5, 0x87654321), B.nop(), B.nop(), B.sack([1, 2], [0xfffffff0, 10])],
  payload: 'hello world',
};

const SYN4 = B.ipv4Tcp(A4, SYN_TCP);
const DATA4 = B.ipv4Tcp(A4, DATA_TCP);
const DATA6 = B.ipv6Tcp(A6, DATA_TCP);

const SYN4_EXPECT: Partial<SegGot> = {
  family: 4,
  src: '192.0.2.1',
  dst: '198.51.100.2',
  sport: 40000,
  dport: 443,
  seq: 0xfffffff0,
  ack: 0,
  flags: SYN,
  win: 64240,
  len: 0,
  captured: 0,
  ttl: 61,
  ipId: 0x1234,
  df: true,
  ipExtra: 0,
  mss: 1460,
  wscale: 7,
  sackPermitted: true,
  hasTs: true,
  tsVal: 0x87654321,
  tsEcr: 0,
  sackBlocks: 0,
  optLen: 20,
};
const DATA_EXPECT: Partial<SegGot> = {
  sport: 443,
  dport: 40000,
  seq: 1000,
  ack: 0xfffffff1,
  flags: PSH | ACK,
  win: 501,
  len: 11,
  captured: 11,
  mss: -1,
  wscale: -1,
  sackPermitted: false,
  hasTs: true,
  tsVal: 5,
  tsEcr: 0x87654321,
  sackBlocks: 2,
  optLen: 32,
  payload: Buffer.from('hello world'),
};
const DATA4_EXPECT: Partial<SegGot> = { ...DATA_EXPECT, family: 4, src: '192.0.2.1', dst: '198.51.100.2', ttl: 61, ipId: 0x1234, df: true, ipExtra: 0 };
const DATA6_EXPECT: Partial<SegGot> = {
  ...DATA_EXPECT,
  family: 6,
  src: '2001:db8::1',
  dst: '2001:db8:0:1::2',
  ttl: 59,
  ipId: -1,
  df: false,
  ipExtra: 0,
};

/** Ethernet, IPv4 and DATA_TCP's 52-byte TCP header (32 bytes of options) before the payload */
const HDR4 = 14 + 20 + 52;

const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

// ---------------------------------------------------------------------------

describe('link types', () => {
  const cases: Array<[string, number, Buffer[], Array<Partial<SegGot>>]> = [
    ['Ethernet', LINKTYPE.ETHERNET, [SYN4, DATA6], [SYN4_EXPECT, DATA6_EXPECT]],
    ['Linux SLL', LINKTYPE.LINUX_SLL, [SYN4, DATA6], [SYN4_EXPECT, DATA6_EXPECT]],
    ['Linux SLL2', LINKTYPE.LINUX_SLL2, [SYN4, DATA6], [SYN4_EXPECT, DATA6_EXPECT]],
    ['RAW', LINKTYPE.RAW, [SYN4, DATA6], [SYN4_EXPECT, DATA6_EXPECT]],
    ['IPV4', LINKTYPE.IPV4, [SYN4, DATA4], [SYN4_EXPECT, DATA4_EXPECT]],
    ['IPV6', LINKTYPE.IPV6, [DATA6], [DATA6_EXPECT]],
    ['NULL', LINKTYPE.NULL, [SYN4, DATA6], [SYN4_EXPECT, DATA6_EXPECT]],
    ['LOOP', LINKTYPE.LOOP, [SYN4, DATA6], [SYN4_EXPECT, DATA6_EXPECT]],
  ];
  for (const [name, linktype, ips, expect] of cases) {
    test(`${name} (${linktype}) carries TCP over IPv4 and IPv6`, async () => {
      const frames = ips.map((ip) => B.frameFor(linktype, ip));
      const built = B.pcap(
        frames.map((data) => ({ data })),
        { linktype },
      );
      const { summary, got } = await readBytes(built.bytes);
      assert.equal(summary.error, null);
      assert.equal(summary.frames, frames.length);
      assert.equal(got.length, frames.length);
      got.forEach((g, i) => {
        assert.equal(g.frame.index, i + 1);
        assert.equal(g.frame.linktype, linktype);
        assert.equal(g.frame.iface, 0);
        assert.equal(g.frame.caplen, frames[i]!.length);
        assert.equal(g.frame.origlen, frames[i]!.length);
        assert.equal(g.frame.fileOffset, built.records[i]!.offset);
        assert.deepEqual(g.frame.data, frames[i]);
        assertSeg(g, expect[i]!, name);
      });
    });
  }

  test('NULL: the address family in either byte order, all three IPv6 values', async () => {
    for (const byteOrder of ['little', 'big'] as const) {
      const packets = [
        { data: B.nullLink(SYN4, { byteOrder }) },
        ...[B.AF.INET6_BSD, B.AF.INET6_FREEBSD, B.AF.INET6_DARWIN].map((af) => ({ data: B.nullLink(DATA6, { byteOrder, af }) })),
        // AF 7 (ISO): not IP
        { data: B.nullLink(SYN4, { byteOrder, af: 7 }) },
      ];
      const { summary, got } = await readBytes(B.pcap(packets, { linktype: LINKTYPE.NULL, byteOrder }).bytes);
      assert.equal(summary.frames, 5);
      assertSeg(got[0], SYN4_EXPECT, `NULL ${byteOrder} AF_INET`);
      for (const i of [1, 2, 3]) assertSeg(got[i], DATA6_EXPECT, `NULL ${byteOrder} AF_INET6 #${i}`);
      assert.equal(got[4]!.skip, 'not-ip');
    }
  });

  test('LOOP: the address family in network order, all three IPv6 values', async () => {
    const packets = [B.AF.INET6_BSD, B.AF.INET6_FREEBSD, B.AF.INET6_DARWIN].map((af) => ({ data: B.loopLink(DATA6, { af }) }));
    const { got } = await readBytes(B.pcap(packets, { linktype: LINKTYPE.LOOP, byteOrder: 'little' }).bytes);
    assert.equal(got.length, 3);
    for (const g of got) assertSeg(g, DATA6_EXPECT, 'LOOP');
  });

  test('RAW: the version nibble decides; neither 4 nor 6 is not IP', async () => {
    const junk = Buffer.from(SYN4);
    junk[0] = 0x55;
    const { got } = await readBytes(B.pcap([{ data: DATA6 }, { data: SYN4 }, { data: junk }], { linktype: LINKTYPE.RAW }).bytes);
    assertSeg(got[0], DATA6_EXPECT, 'RAW v6');
    assertSeg(got[1], SYN4_EXPECT, 'RAW v4');
    assert.equal(got[2]!.skip, 'not-ip');
  });

  test('SLL and SLL2 take the protocol from their own header; a link type nobody knows is said so', async () => {
    const arp = Buffer.alloc(28);
    const { got } = await readBytes(
      B.pcap([{ data: B.sll(DATA6, { pktType: 4 }) }, { data: B.sll(arp, { protocol: B.ETHERTYPE.ARP }) }], { linktype: LINKTYPE.LINUX_SLL }).bytes,
    );
    assertSeg(got[0], DATA6_EXPECT, 'SLL outgoing');
    assert.equal(got[1]!.skip, 'not-ip');
    const r2 = await readBytes(
      B.pcap([{ data: B.sll2(SYN4, { ifindex: 7 }) }, { data: B.sll2(arp, { protocol: B.ETHERTYPE.ARP }) }], { linktype: LINKTYPE.LINUX_SLL2 }).bytes,
    );
    assertSeg(r2.got[0], SYN4_EXPECT, 'SLL2');
    assert.equal(r2.got[1]!.skip, 'not-ip');
    const r3 = await readBytes(B.pcap([{ data: SYN4 }], { linktype: 147 /* USER0 */ }).bytes);
    assert.equal(r3.got[0]!.frame.linktype, 147);
    assert.equal(r3.got[0]!.skip, 'unknown-linktype');
  });
});

describe('pcap', () => {
  for (const byteOrder of ['little', 'big'] as const) {
    for (const nanos of [false, true]) {
      test(`${byteOrder}-endian, ${nanos ? 'nanosecond' : 'microsecond'} timestamps`, async () => {
        const stamps: Array<[number, number]> = [
          [1_700_000_000, 123_456_789],
          [0, 0],
          [4_294_967_295, 999_999_999],
          [1_234_567_890, 1],
        ];
        const frame = B.ethernet(SYN4);
        const built = B.pcap(
          stamps.map(([sec, nsec]) => ({ data: frame, sec, nsec })),
          { linktype: LINKTYPE.ETHERNET, byteOrder, nanos, snaplen: 65535 },
        );
        const { summary, got } = await readBytes(built.bytes);
        assert.deepEqual(summary, {
          format: 'pcap',
          gzip: false,
          byteOrder,
          interfaces: [{ linktype: LINKTYPE.ETHERNET, snaplen: 65535, name: null, tsPerSec: nanos ? 1e9 : 1e6 }],
          frames: 4,
          bytes: built.bytes.length,
          error: null,
        });
        got.forEach((g, i) => {
          const [sec, nsec] = stamps[i]!;
          assert.equal(g.frame.sec, sec, `frame ${i + 1} sec`);
          // microsecond files keep whole microseconds: the writer dropped the rest
          assert.equal(g.frame.nsec, nanos ? nsec : Math.floor(nsec / 1000) * 1000, `frame ${i + 1} nsec`);
          assertSeg(g, SYN4_EXPECT, `${byteOrder} ${nanos}`);
        });
      });
    }
  }

  test('the FCS bits above the link type are not part of it', async () => {
    const built = B.pcap([{ data: B.ethernet(SYN4) }], { linktype: LINKTYPE.ETHERNET });
    built.bytes.writeUInt32LE(0x10000000 | LINKTYPE.ETHERNET, 20); // "FCS present" flag set, length 0
    const { summary, got } = await readBytes(built.bytes);
    assert.equal(summary.interfaces[0]!.linktype, LINKTYPE.ETHERNET);
    assertSeg(got[0], SYN4_EXPECT, 'FCS bits');
  });

  test('onProgress counts up to the file size', async () => {
    const built = B.pcap(
      Array.from({ length: 50 }, () => ({ data: B.ethernet(DATA4) })),
      { linktype: LINKTYPE.ETHERNET },
    );
    const file = put(built.bytes);
    const calls: Array<[number, number]> = [];
    const summary = await readCapture(file, () => {}, { onProgress: (d, t) => calls.push([d, t]) });
    assert.equal(summary.frames, 50);
    assert.ok(calls.length >= 1, 'no progress reported');
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i]![0] >= calls[i - 1]![0], 'progress went backwards');
    for (const [, t] of calls) assert.equal(t, built.bytes.length);
    assert.equal(calls.at(-1)![0], built.bytes.length);
  });
});

describe('pcapng', () => {
  /** Three interfaces (µs Ethernet, ns SLL2, 2^-10 s raw IP), one declared after packets; blocks the reader skips in between. */
  function mixed(byteOrder: B.ByteOrder): B.Built {
    return B.pcapng([
      { type: 'shb', byteOrder, options: [B.comment('built by capture-build'), { code: 4, value: 'tcpwhy tests' }] },
      { type: 'idb', linktype: LINKTYPE.ETHERNET, name: 'eth0', options: [B.comment('the first')] },
      { type: 'raw', blockType: B.BLOCK.NRB, body: B.nrbBody('192.0.2.1', 'client.example', byteOrder) },
      { type: 'idb', linktype: LINKTYPE.LINUX_SLL2, snaplen: 262144, tsresol: 9, name: 'any' },
      {
        type: 'epb',
        iface: 0,
        packet: { data: B.ethernet(SYN4), sec: 1_700_000_001, nsec: 123_456_000 },
        options: [B.comment('a SYN'), { code: 2, value: { u32: 1 } }, { code: 4, value: { u64: 7n } }],
      },
      { type: 'epb', iface: 1, packet: { data: B.sll2(DATA6), sec: 1_700_000_002, nsec: 123_456_789 } },
      { type: 'raw', blockType: 0x40000abc, body: Buffer.from('a custom block nobody reads') },
      { type: 'idb', linktype: LINKTYPE.RAW, tsresol: 0x80 | 10 },
      { type: 'epb', iface: 2, packet: { data: DATA4, sec: 1_700_000_003, nsec: 500_000_000 } },
      { type: 'raw', blockType: B.BLOCK.ISB, body: B.isbBody(0, byteOrder) },
      { type: 'epb', iface: 0, packet: { data: B.ethernet(DATA6), sec: 4_000_000_000, nsec: 999_999_000 } },
      { type: 'epb', iface: 1, packet: { data: B.sll2(SYN4), sec: 4_000_000_000, nsec: 999_999_999 } },
    ]);
  }

  for (const byteOrder of ['little', 'big'] as const) {
    test(`${byteOrder}-endian: interfaces of different link types and if_tsresol, options and other blocks skipped`, async () => {
      const built = mixed(byteOrder);
      const { summary, got } = await readBytes(built.bytes, 'mixed.pcapng');
      assert.deepEqual(summary, {
        format: 'pcapng',
        gzip: false,
        byteOrder,
        interfaces: [
          { linktype: LINKTYPE.ETHERNET, snaplen: 0, name: 'eth0', tsPerSec: 1e6 },
          { linktype: LINKTYPE.LINUX_SLL2, snaplen: 262144, name: 'any', tsPerSec: 1e9 },
          { linktype: LINKTYPE.RAW, snaplen: 0, name: null, tsPerSec: 1024 },
        ],
        frames: 5,
        bytes: built.bytes.length,
        error: null,
      });
      const want: Array<[number, number, number, number, Partial<SegGot>]> = [
        // iface, linktype, sec, nsec, segment
        [0, LINKTYPE.ETHERNET, 1_700_000_001, 123_456_000, SYN4_EXPECT],
        [1, LINKTYPE.LINUX_SLL2, 1_700_000_002, 123_456_789, DATA6_EXPECT],
        [2, LINKTYPE.RAW, 1_700_000_003, 500_000_000, DATA4_EXPECT],
        [0, LINKTYPE.ETHERNET, 4_000_000_000, 999_999_000, DATA6_EXPECT],
        [1, LINKTYPE.LINUX_SLL2, 4_000_000_000, 999_999_999, SYN4_EXPECT],
      ];
      got.forEach((g, i) => {
        const [iface, linktype, sec, nsec, seg] = want[i]!;
        assert.deepEqual(
          { index: g.frame.index, iface: g.frame.iface, linktype: g.frame.linktype, sec: g.frame.sec, nsec: g.frame.nsec, fileOffset: g.frame.fileOffset },
          { index: i + 1, iface, linktype, sec, nsec, fileOffset: built.packets[i]!.offset },
        );
        assertSeg(g, seg, `pcapng ${byteOrder}`);
      });
    });
  }

  test('if_tsoffset is signed seconds added to the timestamps (either byte order)', async () => {
    for (const byteOrder of ['little', 'big'] as const) {
      for (const [offset, want] of [
        [3600n, 1_700_003_600],
        [(1n << 64n) - 3600n, 1_699_996_400],
      ] as const) {
        const built = B.pcapng(
          [
            { type: 'idb', linktype: LINKTYPE.ETHERNET, options: [{ code: 14, value: { u64: offset } }] },
            { type: 'epb', packet: { data: B.ethernet(SYN4), sec: 1_700_000_000, nsec: 5000 } },
          ],
          { byteOrder },
        );
        const { got } = await readBytes(built.bytes, 'tsoffset.pcapng');
        assert.deepEqual([got[0]!.frame.sec, got[0]!.frame.nsec], [want, 5000], `${byteOrder}, offset ${offset}`);
      }
    }
  });

  test('an interface with a snaplen: EPB data as stored, origlen as on the wire', async () => {
    const big = B.ethernet(B.ipv4Tcp(A4, { ...DATA_TCP, payload: bytes(400) }));
    const built = B.pcapng([
      { type: 'idb', linktype: LINKTYPE.ETHERNET, snaplen: 100, tsresol: 9 },
      { type: 'epb', packet: { data: big } },
    ]);
    const { got } = await readBytes(built.bytes, 'snap.pcapng');
    assert.equal(got[0]!.frame.caplen, 100);
    assert.equal(got[0]!.frame.origlen, big.length);
    assertSeg(got[0], { ...DATA4_EXPECT, len: 400, captured: 100 - HDR4, payload: bytes(400).subarray(0, 100 - HDR4) }, 'EPB snaplen');
  });

  test('simple packet blocks: interface 0, caplen = min(origlen, snaplen, block space), padding not data', async () => {
    const long = B.ethernet(B.ipv4Tcp(A4, { ...DATA_TCP, payload: bytes(100) })); // 186 bytes
    const syn = B.ethernet(SYN4); // 74 bytes: 2 bytes of block padding follow
    for (const snaplen of [96, 0]) {
      const built = B.pcapng([
        { type: 'idb', linktype: LINKTYPE.ETHERNET, snaplen },
        { type: 'spb', packet: { data: long } },
        { type: 'spb', packet: { data: syn } },
      ]);
      const { summary, got } = await readBytes(built.bytes, 'spb.pcapng');
      assert.equal(summary.error, null);
      assert.equal(summary.frames, 2);
      const cap0 = snaplen ? 96 : long.length;
      assert.deepEqual(
        got.map((g) => [g.frame.iface, g.frame.linktype, g.frame.caplen, g.frame.origlen, g.frame.fileOffset]),
        [
          [0, LINKTYPE.ETHERNET, cap0, long.length, built.packets[0]!.offset],
          [0, LINKTYPE.ETHERNET, syn.length, syn.length, built.packets[1]!.offset],
        ],
      );
      assert.deepEqual(got[0]!.frame.data, long.subarray(0, cap0));
      assert.deepEqual(got[1]!.frame.data, syn);
      // an SPB has no timestamp: the reader says 0
      assert.deepEqual([got[0]!.frame.sec, got[0]!.frame.nsec], [0, 0]);
      assertSeg(got[0], { ...DATA4_EXPECT, len: 100, captured: cap0 - HDR4, payload: bytes(100).subarray(0, cap0 - HDR4) }, `SPB snaplen ${snaplen}`);
      assertSeg(got[1], SYN4_EXPECT, 'SPB');
    }
  });

  test('obsolete packet blocks (type 2) with their 16-bit interface id and drop count', async () => {
    const built = B.pcapng(
      [
        { type: 'idb', linktype: LINKTYPE.ETHERNET },
        { type: 'idb', linktype: LINKTYPE.LINUX_SLL, tsresol: 9 },
        { type: 'opb', iface: 1, drops: 3, packet: { data: B.sll(DATA6), sec: 1_600_000_000, nsec: 42 }, options: [B.comment('old style')] },
        { type: 'opb', iface: 0, packet: { data: B.ethernet(SYN4), sec: 1_600_000_001, nsec: 7_000 } },
        { type: 'epb', iface: 1, packet: { data: B.sll(SYN4), sec: 1_600_000_002, nsec: 8 } },
      ],
      { byteOrder: 'big' },
    );
    const { summary, got } = await readBytes(built.bytes, 'opb.pcapng');
    assert.equal(summary.error, null);
    assert.deepEqual(
      got.map((g) => [g.frame.index, g.frame.iface, g.frame.linktype, g.frame.sec, g.frame.nsec, g.frame.fileOffset]),
      [
        [1, 1, LINKTYPE.LINUX_SLL, 1_600_000_000, 42, built.packets[0]!.offset],
        [2, 0, LINKTYPE.ETHERNET, 1_600_000_001, 7_000, built.packets[1]!.offset],
        [3, 1, LINKTYPE.LINUX_SLL, 1_600_000_002, 8, built.packets[2]!.offset],
      ],
    );
    assertSeg(got[0], DATA6_EXPECT, 'OPB');
    assertSeg(got[1], SYN4_EXPECT, 'OPB');
    assertSeg(got[2], SYN4_EXPECT, 'EPB after OPB');
  });

  test('a second section in the other byte order starts its own interfaces', async () => {
    const built = B.pcapng([
      { type: 'shb', byteOrder: 'little' },
      { type: 'idb', linktype: LINKTYPE.ETHERNET },
      { type: 'epb', packet: { data: B.ethernet(SYN4), sec: 10, nsec: 1000 } },
      { type: 'shb', byteOrder: 'big' },
      { type: 'idb', linktype: LINKTYPE.LINUX_SLL, tsresol: 3 },
      { type: 'epb', packet: { data: B.sll(DATA6), sec: 20, nsec: 5_000_000 } },
    ]);
    const { summary, got } = await readBytes(built.bytes, 'sections.pcapng');
    assert.equal(summary.error, null);
    assert.equal(summary.byteOrder, 'little');
    assert.equal(summary.frames, 2);
    // Frame.iface: not asserted here; tshark numbers interfaces per section (frame.interface_id 0 for both)
    assert.deepEqual(
      got.map((g) => [g.frame.linktype, g.frame.sec, g.frame.nsec]),
      [
        [LINKTYPE.ETHERNET, 10, 1000],
        [LINKTYPE.LINUX_SLL, 20, 5_000_000],
      ],
    );
    assertSeg(got[0], SYN4_EXPECT, 'section 1');
    assertSeg(got[1], DATA6_EXPECT, 'section 2');
  });
});

describe('decoding', () => {
  test('VLAN, QinQ and stacked tags; Ethernet padding is not payload', async () => {
    const rst = B.ipv4Tcp(A4, { sport: 80, dport: 50000, seq: 7, ack: 8, flags: RST | ACK, win: 0 });
    const frames = [
      B.ethernet(SYN4, { vlans: [{ vid: 100 }] }),
      B.ethernet(DATA6, {
        vlans: [
          { tpid: B.ETHERTYPE.QINQ, vid: 200 },
          { vid: 300, pcp: 5 },
        ],
      }),
      B.ethernet(DATA4, { vlans: [{ tpid: B.ETHERTYPE.QINQ, vid: 1 }, { vid: 2 }, { vid: 3 }] }),
      B.ethernet(rst, { pad: true }),
      B.ethernet(rst, { vlans: [{ vid: 5 }], pad: true }),
      B.ethernet(Buffer.alloc(28), { vlans: [{ vid: 9 }], etherType: B.ETHERTYPE.ARP }),
    ];
    assert.equal(frames[3]!.length, 60);
    const { got } = await readBytes(
      B.pcap(
        frames.map((data) => ({ data })),
        { linktype: LINKTYPE.ETHERNET },
      ).bytes,
    );
    assertSeg(got[0], SYN4_EXPECT, '802.1Q');
    assertSeg(got[1], DATA6_EXPECT, 'QinQ');
    assertSeg(got[2], DATA4_EXPECT, 'three tags');
    const rstExpect = { sport: 80, dport: 50000, seq: 7, ack: 8, flags: RST | ACK, win: 0, len: 0, captured: 0, optLen: 0, mss: -1, hasTs: false };
    assertSeg(got[3], rstExpect, 'padded to 60');
    assertSeg(got[4], rstExpect, 'VLAN, padded to 60');
    assert.equal(got[5]!.skip, 'not-ip');
  });

  test('every TCP flag bit; a segment without options', async () => {
    const all = B.ipv4Tcp(A4, { sport: 1, dport: 2, flags: 0xff, win: 0, urgent: 3 });
    const fin = B.ipv6Tcp(A6, { sport: 65535, dport: 1, seq: 0xffffffff, ack: 0x80000000, flags: FIN | ACK, win: 65535 });
    const { got } = await readBytes(B.pcap([{ data: all }, { data: fin }], { linktype: LINKTYPE.RAW }).bytes);
    assertSeg(got[0], { flags: 0xff, sport: 1, dport: 2, optLen: 0, mss: -1, wscale: -1, sackPermitted: false, hasTs: false, sackBlocks: 0 }, 'all flags');
    assertSeg(got[1], { flags: FIN | ACK, sport: 65535, dport: 1, seq: 0xffffffff, ack: 0x80000000, win: 65535, len: 0 }, 'FIN');
  });

  test('malformed headers say why; odd TCP options are skipped, not trusted', async () => {
    const patched = (ip: Buffer, at: number, v: number) => {
      const b = Buffer.from(ip);
      b[at] = v;
      return b;
    };
    const withOpts = (bytes: number[]) => B.ipv4Tcp(A4, { ...DATA_TCP, options: [{ kind: 'raw', bytes: Buffer.from(bytes) }] });
    const cases: Array<[string, Buffer, SkipReason | null]> = [
      ['IPv4 IHL 4', patched(DATA4, 0, 0x44), 'bad-header'],
      ['IPv4 total length shorter than the TCP header', patched(patched(DATA4, 2, 0), 3, 40), 'bad-header'],
      ['TCP data offset 4', patched(DATA4, 20 + 12, 0x40), 'bad-header'],
      ['version 5 behind ethertype IPv4', patched(DATA4, 0, 0x55), 'bad-header'],
      // IP-in-IP was 'not-tcp' before tunnels were decoded (issue 13): now the inner SYN (capture-encap.test.ts)
      ['IP in IP', B.ipv4Packet({ ...A4, protocol: 4 }, SYN4), null],
      ['IPv6 no next header', B.ipv6Packet(A6, 59, Buffer.alloc(0)), 'not-tcp'],
      ['IPv6 ESP', B.ipv6Packet(A6, 50, Buffer.alloc(32)), 'not-tcp'],
      // MSS, then an option of length 0: parsing stops there
      ['option length 0', withOpts([2, 4, 5, 0xb4, 8, 0, 1, 1]), null],
      // an MSS of length 3 and a window scale of length 4 are not MSS and window scale
      ['wrong option lengths', withOpts([2, 3, 5, 3, 4, 7, 0, 1, 4, 2, 1, 1]), null],
      // a timestamp option running past the header
      ['option past the header', withOpts([1, 1, 8, 10, 0, 0, 0, 1]), null],
    ];
    const { got } = await readBytes(
      B.pcap(
        cases.map(([, ip]) => ({ data: B.ethernet(ip) })),
        { linktype: LINKTYPE.ETHERNET },
      ).bytes,
    );
    assert.deepEqual(
      got.map((g, i) => [cases[i]![0], g.skip]),
      cases.map(([what, , skip]) => [what, skip]),
    );
    assertSeg(got[7], { mss: 1460, hasTs: false, optLen: 8, len: 11 }, 'option length 0');
    assertSeg(got[8], { mss: -1, wscale: -1, sackPermitted: true, optLen: 12 }, 'wrong option lengths');
    assertSeg(got[9], { hasTs: false, optLen: 8, len: 11 }, 'option past the header');
  });

  test('IPv4 options: the TCP header starts after them', async () => {
    const rr = B.ipv4Tcp({ ...A4, options: B.IPV4_RECORD_ROUTE }, DATA_TCP);
    const ra = B.ipv4Tcp({ ...A4, options: B.IPV4_ROUTER_ALERT, df: false, id: 0 }, SYN_TCP);
    const max = B.ipv4Tcp({ ...A4, options: Buffer.concat([Buffer.alloc(39, 1), Buffer.alloc(1)]) }, DATA_TCP); // IHL 15
    const { got } = await readBytes(
      B.pcap([{ data: B.ethernet(rr) }, { data: B.ethernet(ra) }, { data: B.ethernet(max) }], { linktype: LINKTYPE.ETHERNET }).bytes,
    );
    assertSeg(got[0], { ...DATA4_EXPECT, ipExtra: 12 }, 'record route');
    assertSeg(got[1], { ...SYN4_EXPECT, ipExtra: 4, df: false, ipId: 0 }, 'router alert');
    assertSeg(got[2], { ...DATA4_EXPECT, ipExtra: 40 }, 'IHL 15');
  });

  test('IPv4 fragments are skipped, first and later; DF alone is not a fragment', async () => {
    const frags = B.ipv4Fragments({ ...A4, df: false, id: 0x4321 }, { ...DATA_TCP, payload: bytes(100) }, 64);
    assert.equal(frags.length, 3); // 152 bytes of TCP: 64 + 64 + 24
    const udp = B.ipv4Packet({ ...A4, protocol: 17 }, Buffer.from([0, 53, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4]));
    const { got } = await readBytes(
      B.pcap(
        [...frags, DATA4, udp].map((ip) => ({ data: B.ethernet(ip) })),
        { linktype: LINKTYPE.ETHERNET },
      ).bytes,
    );
    assert.deepEqual(
      got.map((g) => g.skip),
      ['fragment', 'fragment', 'fragment', null, 'not-tcp'],
    );
    assertSeg(got[3], DATA4_EXPECT, 'DF set');
  });

  test('IPv6 extension headers walked to TCP: hop-by-hop, destination, routing, AH, atomic fragment', async () => {
    // An atomic fragment (offset 0, M clear: RFC 6946) holds the whole segment, so it
    // decodes like an unfragmented packet. AH counts its length in 32-bit words (minus 2),
    // the others in 8-byte units (minus 1): 8 + 8 + 24 + 24 + 8 + 8 = 80 bytes.
    const chain: B.Ip6Ext[] = [
      { type: 'hop', options: B.IPV6_ROUTER_ALERT },
      { type: 'dst' },
      { type: 'routing' },
      { type: 'ah', icv: Buffer.alloc(12, 0xaa) },
      { type: 'frag', id: 0xdeadbeef },
      { type: 'dst', options: Buffer.from([0x1e, 3, 1, 2, 3]) },
    ];
    const full = B.ipv6Tcp({ ...A6, ext: chain }, DATA_TCP);
    const hopOnly = B.ipv6Tcp({ ...A6, ext: [{ type: 'hop', options: Buffer.alloc(20, 0) }] }, SYN_TCP); // Pad1s: 24 bytes
    const ah16 = B.ipv6Tcp({ ...A6, ext: [{ type: 'ah', icv: Buffer.alloc(20, 0xbb) }] }, DATA_TCP); // 32 bytes, length field 6
    const frags = B.ipv6Fragments({ ...A6, ext: [{ type: 'hop' }] }, { ...DATA_TCP, payload: bytes(100) }, 64);
    const { got } = await readBytes(
      B.pcap(
        [full, hopOnly, ah16, ...frags].map((ip) => ({ data: B.ethernet(ip) })),
        { linktype: LINKTYPE.ETHERNET },
      ).bytes,
    );
    assertSeg(got[0], { ...DATA6_EXPECT, ipExtra: 80 }, 'six extension headers');
    assertSeg(got[1], { ...SYN4_EXPECT, family: 6, src: A6.src, dst: A6.dst, ttl: 59, ipId: -1, df: false, ipExtra: 24 }, 'hop-by-hop');
    assertSeg(got[2], { ...DATA6_EXPECT, ipExtra: 32 }, 'AH with a 20-byte ICV');
    assert.deepEqual(
      got.slice(3).map((g) => g.skip),
      frags.map(() => 'fragment'),
    );
  });

  test('IPv6 address text', async () => {
    const addrs: Array<[string, string]> = [
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::1', '::1'],
      ['fe80::', 'fe80::'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::ffff:c000:205', '::ffff:192.0.2.5'],
    ];
    const packets = addrs.map(([src]) => ({ data: B.ipv6Tcp({ src, dst: '::', hopLimit: 1 }, SYN_TCP) }));
    const { got } = await readBytes(B.pcap(packets, { linktype: LINKTYPE.IPV6 }).bytes);
    assert.deepEqual(
      got.map((g) => [g.seg?.src, g.seg?.dst]),
      addrs.map(([, text]) => [text, '::']),
    );
  });

  test('snaplen: the payload length comes from IP, captured counts what is stored; a cut TCP or IP header is truncated', async () => {
    const payload = bytes(1000);
    const ip4 = B.ipv4Tcp(A4, { ...DATA_TCP, payload });
    const ip6 = B.ipv6Tcp({ ...A6, ext: [{ type: 'dst' }] }, { ...DATA_TCP, payload });
    const built = B.pcap([{ data: B.ethernet(ip4) }, { data: B.ethernet(ip6) }], { linktype: LINKTYPE.ETHERNET, snaplen: 128 });
    const { got } = await readBytes(built.bytes);
    assert.deepEqual(
      got.map((g) => [g.frame.caplen, g.frame.origlen]),
      [
        [128, 14 + ip4.length],
        [128, 14 + ip6.length],
      ],
    );
    assertSeg(got[0], { ...DATA4_EXPECT, len: 1000, captured: 128 - HDR4, payload: payload.subarray(0, 128 - HDR4) }, 'IPv4 cut');
    assertSeg(got[1], { ...DATA6_EXPECT, ipExtra: 8, len: 1000, captured: 128 - 114, payload: payload.subarray(0, 128 - 114) }, 'IPv6 cut');

    // cut by the writer at other places: inside the TCP options, inside the fixed TCP
    // header, inside the IP header, right after the TCP header
    const eth = B.ethernet(ip4);
    const cut = (n: number) => ({ data: eth.subarray(0, n), origlen: eth.length });
    const r = await readBytes(B.pcap([cut(14 + 20 + 30), cut(14 + 20 + 10), cut(14 + 12), cut(HDR4)], { linktype: LINKTYPE.ETHERNET }).bytes);
    assert.equal(r.got[0]!.skip, 'truncated', 'cut inside the TCP options');
    assert.equal(r.got[1]!.skip, 'truncated', 'cut inside the TCP header');
    assert.equal(r.got[2]!.skip, 'truncated', 'cut inside the IP header');
    assertSeg(r.got[3], { ...DATA4_EXPECT, len: 1000, captured: 0, payload: Buffer.alloc(0) }, 'cut after the TCP header');
  });
});

describe('gzip', () => {
  test('a gzip-compressed pcapng reads like the plain file, offsets in the decompressed stream', async () => {
    const built = B.pcapng([
      { type: 'idb', linktype: LINKTYPE.ETHERNET, tsresol: 9 },
      ...Array.from({ length: 20 }, (_, i): B.NgBlock => ({ type: 'epb', packet: { data: B.ethernet(i % 2 ? DATA6 : SYN4), sec: 100 + i, nsec: i } })),
    ]);
    const plain = await readBytes(built.bytes, 'plain.pcapng');
    for (const name of ['z.pcapng.gz', 'z-without-suffix.pcapng']) {
      const gz = await readBytes(B.gzip(built.bytes), name);
      assert.deepEqual(gz.summary, { ...plain.summary, gzip: true }, name);
      assert.deepEqual(gz.got, plain.got, name);
      assert.deepEqual(
        gz.got.map((g) => g.frame.fileOffset),
        built.packets.map((p) => p.offset),
      );
    }
  });

  test('a gzip-compressed pcap', async () => {
    const built = B.pcap([{ data: B.sll2(SYN4), sec: 5, nsec: 6 }], { linktype: LINKTYPE.LINUX_SLL2, byteOrder: 'big', nanos: true });
    const { summary, got } = await readBytes(B.gzip(built.bytes), 'a.pcap.gz');
    assert.equal(summary.gzip, true);
    assert.equal(summary.format, 'pcap');
    assert.equal(summary.byteOrder, 'big');
    assert.equal(summary.bytes, built.bytes.length);
    assert.deepEqual([got[0]!.frame.sec, got[0]!.frame.nsec], [5, 6]);
    assertSeg(got[0], SYN4_EXPECT, 'gzip pcap');
  });
});

describe('reading in chunks', () => {
  // The reader reads 4 MiB chunks ahead while it parses the previous one, and
  // copies a record cut by a chunk boundary in front of the next chunk (up to
  // 512 KiB; longer records are joined). Records of every size around those
  // numbers, over files of several chunks, must come out byte for byte, with
  // their offsets, in all four container forms.
  const sizes = [60, 1514, 65535, 262144, 524288 - 16, 524288 + 7, 700001, 3 << 20, (4 << 20) + 5, 9 << 20];
  const packets = Array.from({ length: 60 }, (_, i) => ({ data: bytes(sizes[(i * 7) % sizes.length]!, i), sec: 1000 + i }));
  const check = (what: string, built: B.Built, got: Got[], summary: ReadSummary) => {
    assert.equal(summary.error, null, `${what}: ${summary.error?.message}`);
    assert.equal(got.length, packets.length, what);
    got.forEach((g, i) => {
      const r = built.packets[i]!;
      assert.equal(g.frame.fileOffset, r.offset, `${what}: frame ${i + 1} offset`);
      assert.equal(g.frame.caplen, packets[i]!.data.length, `${what}: frame ${i + 1} length`);
      assert.ok(g.frame.data.equals(packets[i]!.data), `${what}: frame ${i + 1} bytes differ`);
    });
    assert.equal(summary.bytes, built.bytes.length, what);
  };

  test('pcap and pcapng, plain and gzip, records from 60 bytes to 9 MiB', async () => {
    const pc = B.pcap(packets, { linktype: LINKTYPE.ETHERNET, snaplen: 16 << 20 });
    const ng = B.pcapng([{ type: 'idb', linktype: LINKTYPE.ETHERNET }, ...packets.map((packet) => ({ type: 'epb' as const, packet }))]);
    assert.ok(pc.bytes.length > 40 << 20, 'the file spans many chunks');
    for (const [what, built] of [
      ['pcap', pc],
      ['pcapng', ng],
    ] as const) {
      const plain = await readBytes(built.bytes, `${what}.cap`);
      check(what, built, plain.got, plain.summary);
      const gz = await readBytes(gzipSync(built.bytes, { level: 1 }), `${what}.gz`);
      check(`${what} gzip`, built, gz.got, gz.summary);
    }
  });

  test('a cut inside a record longer than a chunk: the frames before it and the offset of that record', async () => {
    const built = B.pcap(packets.slice(0, 10), { linktype: LINKTYPE.ETHERNET, snaplen: 16 << 20 });
    const big = built.records.findIndex((r) => r.caplen === 9 << 20);
    assert.ok(big > 0);
    const r = built.records[big]!;
    const { summary, got } = await readBytes(built.bytes.subarray(0, r.offset + (6 << 20)));
    assert.equal(got.length, big);
    assert.equal(summary.error?.offset, r.offset, summary.error?.message);
  });
});

describe('empty, damaged and foreign files', () => {
  test('empty captures: a pcap header only, a pcapng section without packets', async () => {
    const p = B.pcap([], { linktype: LINKTYPE.LINUX_SLL });
    const r1 = await readBytes(p.bytes);
    assert.deepEqual(r1.summary, {
      format: 'pcap',
      gzip: false,
      byteOrder: 'little',
      interfaces: [{ linktype: LINKTYPE.LINUX_SLL, snaplen: 262144, name: null, tsPerSec: 1e6 }],
      frames: 0,
      bytes: 24,
      error: null,
    });
    assert.equal(r1.got.length, 0);
    const shbOnly = B.pcapng([], { byteOrder: 'big' });
    const r2 = await readBytes(shbOnly.bytes, 'e.pcapng');
    assert.deepEqual(r2.summary, { format: 'pcapng', gzip: false, byteOrder: 'big', interfaces: [], frames: 0, bytes: shbOnly.bytes.length, error: null });
    const withIdb = B.pcapng([
      { type: 'idb', linktype: LINKTYPE.RAW },
      { type: 'raw', blockType: B.BLOCK.ISB, body: B.isbBody(0) },
    ]);
    const r3 = await readBytes(withIdb.bytes, 'e2.pcapng');
    assert.equal(r3.summary.error, null);
    assert.equal(r3.summary.frames, 0);
    assert.equal(r3.summary.interfaces.length, 1);
    const r4 = await readBytes(B.gzip(p.bytes), 'e.pcap.gz');
    assert.equal(r4.summary.error, null);
    assert.equal(r4.summary.frames, 0);
  });

  // Where reading stopped is the start of the record that could not be read: every
  // byte before it was consumed (summary.bytes) and every frame before it delivered.
  test('a pcap cut inside a record: the frames before it, and the offset of the cut record', async () => {
    const packets = [SYN4, DATA4, DATA6, SYN4].map((ip, i) => ({ data: B.ethernet(ip), sec: 1000 + i }));
    const built = B.pcap(packets, { linktype: LINKTYPE.ETHERNET });
    const third = built.records[2]!;
    for (const at of [third.offset + 16 + 5, third.offset + 7, third.offset + 16, third.offset + third.length - 1]) {
      const { summary, got } = await readBytes(built.bytes.subarray(0, at));
      assert.equal(got.length, 2, `cut at ${at}`);
      assert.equal(summary.frames, 2);
      assert.ok(summary.error instanceof CaptureError, `cut at ${at}: no error`);
      assert.equal(summary.error.offset, third.offset, `cut at ${at}: ${summary.error.message}`);
      assert.match(summary.error.message, /byte offset/);
      assert.equal(summary.bytes, third.offset);
      assertSeg(got[0], SYN4_EXPECT, 'before the cut');
      assertSeg(got[1], DATA4_EXPECT, 'before the cut');
    }
    // cut exactly between records: not damage
    const clean = await readBytes(built.bytes.subarray(0, third.offset));
    assert.equal(clean.summary.error, null);
    assert.equal(clean.summary.frames, 2);
  });

  test('a pcapng cut inside a block, and a gzip stream cut short', async () => {
    const built = B.pcapng([
      { type: 'idb', linktype: LINKTYPE.ETHERNET },
      ...[SYN4, DATA4, DATA6, SYN4].map((ip): B.NgBlock => ({ type: 'epb', packet: { data: B.ethernet(ip) } })),
    ]);
    const third = built.packets[2]!;
    for (const at of [third.offset + 6, third.offset + 40, third.offset + third.length - 2]) {
      const { summary, got } = await readBytes(built.bytes.subarray(0, at), 'cut.pcapng');
      assert.equal(got.length, 2, `cut at ${at}`);
      assert.ok(summary.error instanceof CaptureError, `cut at ${at}: no error`);
      assert.equal(summary.error.offset, third.offset, `cut at ${at}: ${summary.error.message}`);
      assert.match(summary.error.message, /byte offset/);
    }

    // a long gzip'd capture whose compressed stream stops two thirds in
    const many = B.pcap(
      Array.from({ length: 400 }, (_, i) => ({ data: B.ethernet(B.ipv4Tcp(A4, { ...DATA_TCP, seq: i, payload: bytes(200, i) })) })),
      { linktype: LINKTYPE.ETHERNET },
    );
    const gz = B.gzip(many.bytes);
    const { summary, got } = await readBytes(gz.subarray(0, Math.floor((gz.length * 2) / 3)), 'cut.pcap.gz');
    assert.ok(summary.error instanceof CaptureError, 'a cut gzip stream is damage');
    assert.match(summary.error.message, /byte offset/);
    assert.ok(got.length > 0 && got.length < 400, `${got.length} frames`);
    assert.equal(summary.error.offset, many.records[got.length]!.offset, 'stops at the first record not delivered');
    got.forEach((g, i) => {
      assertSeg(g, { seq: i, len: 200, payload: bytes(200, i) }, 'before the gzip cut');
    });
  });

  test('files that are no capture at all throw a CaptureError at offset 0', async () => {
    const foreign: Array<[string, Buffer]> = [
      ['text', Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n')],
      ['empty', Buffer.alloc(0)],
      ['three bytes', Buffer.from([0xd4, 0xc3, 0xb2])],
      ['gzip of text', B.gzip(Buffer.from('this is not a capture, only compressed\n'))],
      ['gzip of nothing', B.gzip(Buffer.alloc(0))],
      ['ELF', Buffer.from('\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00', 'latin1')],
    ];
    for (const [what, data] of foreign) {
      const file = put(data, 'foreign.bin');
      let frames = 0;
      await assert.rejects(
        readCapture(file, () => frames++),
        (e: unknown) => {
          assert.ok(e instanceof CaptureError, `${what}: ${String(e)}`);
          assert.equal(e.offset, 0, what);
          assert.match(e.message, /byte offset 0/, what);
          return true;
        },
        what,
      );
      assert.equal(frames, 0);
    }
  });
});

// ---------------------------------------------------------------------------
// tshark as the witness: for the same file, its fields equal the reader's.

const TSHARK_FIELDS = [
  'frame.number',
  'frame.interface_id',
  'frame.time_epoch',
  'frame.len',
  'frame.cap_len',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'ip.ttl',
  'ipv6.hlim',
  'ip.id',
  'ip.checksum.status',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.flags',
  'tcp.window_size_value',
  'tcp.len',
  'tcp.hdr_len',
  'tcp.checksum.status',
  'tcp.options.mss_val',
  'tcp.options.wscale.shift',
  'tcp.options.timestamp.tsval',
  'tcp.options.timestamp.tsecr',
  'tcp.options.sack.count',
  'tcp.payload',
];

function ours(g: Got, spb: boolean): Record<string, string> {
  const f = g.frame;
  const row: Record<string, string> = {
    'frame.number': String(f.index),
    'frame.interface_id': String(f.iface),
    'frame.time_epoch': spb ? '' : `${f.sec}.${String(f.nsec).padStart(9, '0')}`,
    'frame.len': String(f.origlen),
    'frame.cap_len': String(f.caplen),
  };
  const s = g.seg;
  if (!s) return row;
  const opt = (v: number) => (v < 0 ? '' : String(v));
  Object.assign(row, {
    [s.family === 4 ? 'ip.src' : 'ipv6.src']: s.src,
    [s.family === 4 ? 'ip.dst' : 'ipv6.dst']: s.dst,
    [s.family === 4 ? 'ip.ttl' : 'ipv6.hlim']: String(s.ttl),
    'tcp.srcport': String(s.sport),
    'tcp.dstport': String(s.dport),
    'tcp.seq_raw': String(s.seq),
    'tcp.ack_raw': String(s.ack),
    'tcp.flags': String(s.flags),
    'tcp.window_size_value': String(s.win),
    'tcp.len': String(s.len),
    'tcp.hdr_len': String(20 + s.optLen),
    'tcp.options.mss_val': opt(s.mss),
    'tcp.options.wscale.shift': opt(s.wscale),
    'tcp.options.timestamp.tsval': s.hasTs ? String(s.tsVal) : '',
    'tcp.options.timestamp.tsecr': s.hasTs ? String(s.tsEcr) : '',
    'tcp.options.sack.count': s.sackBlocks ? String(s.sackBlocks) : '',
    'tcp.payload': s.payload.toString('hex'),
  });
  if (s.family === 4) row['ip.id'] = String(s.ipId);
  return row;
}

/** tshark's row in our terms: numbers in decimal, absent interface id (pcap) as 0. */
function theirs(t: Record<string, string>): Record<string, string> {
  const row = { ...t };
  if (row['frame.interface_id'] === '') row['frame.interface_id'] = '0';
  for (const k of ['tcp.flags', 'ip.id']) if (row[k]) row[k] = String(parseInt(row[k]!, 16));
  return row;
}

async function crossCheck(what: string, built: B.Built, name: string): Promise<void> {
  const file = put(built.bytes, name);
  const { summary, got } = await read(file);
  assert.equal(summary.error, null, what);
  const rows = tsharkFields(file, TSHARK_FIELDS);
  assert.equal(rows.length, got.length, `${what}: frame count`);
  got.forEach((g, i) => {
    const t = theirs(rows[i]!);
    const spb = built.packets[i]!.blockType === B.BLOCK.SPB;
    const o = ours(g, spb);
    const keys = Object.keys(o);
    const pick = (r: Record<string, string>) => Object.fromEntries(keys.map((k) => [k, r[k] ?? '']));
    assert.deepEqual(pick(o), pick(t), `${what}: frame ${i + 1} (${g.skip ?? 'decoded'})`);
    // (tshark does dissect the TCP header in a first fragment: not compared)
    if (g.skip === 'not-tcp' || g.skip === 'not-ip') {
      assert.equal(t['tcp.srcport'], '', `${what}: frame ${i + 1}: tshark found TCP where we skipped (${g.skip})`);
    }
    // the builder's checksums: right wherever tshark can check them
    if (t['ip.checksum.status']) assert.equal(t['ip.checksum.status'], '1', `${what}: frame ${i + 1}: IPv4 header checksum`);
    if (g.seg && g.seg.captured === g.seg.len) assert.equal(t['tcp.checksum.status'], '1', `${what}: frame ${i + 1}: TCP checksum`);
  });
}

describe('tshark agrees', { skip: tsharkAvailable() ? false : 'tshark is not installed' }, () => {
  test('pcapng of several interfaces, SPB and OPB, both byte orders', async () => {
    for (const byteOrder of ['little', 'big'] as const) {
      const built = B.pcapng([
        { type: 'shb', byteOrder, options: [B.comment('cross-check')] },
        { type: 'idb', linktype: LINKTYPE.ETHERNET, snaplen: 200, name: 'eth0' },
        { type: 'idb', linktype: LINKTYPE.LINUX_SLL2, tsresol: 9 },
        { type: 'idb', linktype: LINKTYPE.RAW, tsresol: 0x80 | 10 },
        { type: 'epb', iface: 0, packet: { data: B.ethernet(SYN4), sec: 1_700_000_001, nsec: 123_456_000 }, options: [B.comment('syn')] },
        { type: 'epb', iface: 1, packet: { data: B.sll2(DATA6), sec: 1_700_000_002, nsec: 123_456_789 } },
        { type: 'raw', blockType: B.BLOCK.NRB, body: B.nrbBody('192.0.2.1', 'client.example', byteOrder) },
        { type: 'epb', iface: 2, packet: { data: DATA4, sec: 1_700_000_003, nsec: 250_000_000 } },
        { type: 'spb', packet: { data: B.ethernet(B.ipv4Tcp(A4, { ...DATA_TCP, payload: bytes(300) })) } },
        { type: 'opb', iface: 1, drops: 2, packet: { data: B.sll2(SYN4), sec: 1_700_000_004, nsec: 999_999_999 } },
        { type: 'raw', blockType: B.BLOCK.ISB, body: B.isbBody(1, byteOrder) },
      ]);
      await crossCheck(`pcapng ${byteOrder}`, built, `x-${byteOrder}.pcapng`);
    }
  });

  test('Ethernet pcap: VLANs, IPv4 options and fragments, IPv6 extension headers and fragments, snaplen cuts', async () => {
    const ips = [
      B.ipv4Tcp({ ...A4, options: B.IPV4_RECORD_ROUTE }, DATA_TCP),
      ...B.ipv4Fragments({ ...A4, df: false, id: 77 }, { ...DATA_TCP, payload: bytes(100) }, 64),
      B.ipv6Tcp(
        { ...A6, ext: [{ type: 'hop', options: B.IPV6_ROUTER_ALERT }, { type: 'dst' }, { type: 'routing' }, { type: 'ah' }, { type: 'dst' }] },
        SYN_TCP,
      ),
      ...B.ipv6Fragments(A6, { ...DATA_TCP, payload: bytes(100) }, 64),
      B.ipv4Tcp(A4, { ...DATA_TCP, payload: bytes(1000) }),
      B.ipv4Tcp(A4, { sport: 9, dport: 10, flags: RST, win: 0 }),
    ];
    const frames = ips.map((ip, i) =>
      B.ethernet(ip, { vlans: i % 3 === 1 ? [{ vid: i }] : i % 3 === 2 ? [{ tpid: B.ETHERTYPE.QINQ, vid: 1 }, { vid: i }] : [], pad: true }),
    );
    for (const nanos of [false, true]) {
      const built = B.pcap(
        frames.map((data, i) => ({ data, sec: 1_600_000_000 + i, nsec: 1_001 * i + 1 })),
        { linktype: LINKTYPE.ETHERNET, snaplen: 512, nanos, byteOrder: nanos ? 'big' : 'little' },
      );
      await crossCheck(`ethernet pcap ${nanos ? 'ns' : 'µs'}`, built, 'x.pcap');
    }
  });

  test('NULL, LOOP, SLL and raw links in big-endian nanosecond pcaps', async () => {
    for (const linktype of [LINKTYPE.NULL, LINKTYPE.LOOP, LINKTYPE.LINUX_SLL, LINKTYPE.RAW]) {
      const built = B.pcap(
        [SYN4, DATA6, DATA4].map((ip, i) => ({ data: B.frameFor(linktype, ip, 'big'), sec: 1_500_000_000, nsec: 999_999_990 + i })),
        { linktype, byteOrder: 'big', nanos: true },
      );
      await crossCheck(`link type ${linktype}`, built, `x-${linktype}.pcap`);
    }
  });
});
