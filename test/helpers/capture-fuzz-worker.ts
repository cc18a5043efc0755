// The capture fuzz cases, run in a worker thread so that the test can stop a
// reader stuck in a loop (a synchronous loop never yields to a timer in the same
// thread). See test/unit/capture-fuzz.test.ts for the properties and the protocol.
import { parentPort, workerData } from 'node:worker_threads';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { constants as zc, gunzipSync } from 'node:zlib';
import { readCapture } from '../../src/capture/reader.js';
import { decodeTcp, newSegment } from '../../src/capture/decode.js';
import { CaptureError } from '../../src/capture/types.js';
import * as B from './capture-build.js';

export interface FuzzInput {
  seed: number;
  cases: number;
  /** where the case files go; a failing case's file is kept there */
  dir: string;
}

export type FuzzMessage =
  | { type: 'start'; i: number; what: string }
  | { type: 'done'; i: number; ms: number; rss: number; external: number }
  | { type: 'fail'; i: number; what: string; file: string; problems: string[] }
  | { type: 'end'; outcomes: Record<string, number>; maxFrames: number };

/** mulberry32: small, seeded, good enough to pick mutations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Base {
  name: string;
  built: B.Built;
  gzip: boolean;
}

/** Valid captures of every shape the reader and decoder know, each a few hundred bytes to a few KiB. */
function bases(): Base[] {
  const a4: B.Ip4Spec = { src: '192.0.2.1', dst: '198.51.100.2', id: 9, df: true };
  const a6: B.Ip6Spec = { src: '2001:db8::1', dst: '2001:db8::2' };
  const syn: B.TcpSpec = { sport: 1000, dport: 80, seq: 1, flags: B.SYN, options: B.linuxSynOptions() };
  const data: B.TcpSpec = { sport: 80, dport: 1000, seq: 2, ack: 3, options: [B.nop(), B.nop(), B.timestamps(1, 2), B.sack([5, 6])], payload: 'x'.repeat(120) };
  const ips = [
    B.ipv4Tcp(a4, syn),
    B.ipv6Tcp(a6, data),
    B.ipv4Tcp({ ...a4, options: B.IPV4_RECORD_ROUTE }, data),
    B.ipv6Tcp({ ...a6, ext: [{ type: 'hop' }, { type: 'routing' }, { type: 'ah' }, { type: 'frag' }, { type: 'dst' }] }, syn),
    ...B.ipv4Fragments({ ...a4, df: false }, data, 64),
    ...B.ipv6Fragments(a6, data, 64),
  ];
  const eth = ips.map((ip, i) => B.ethernet(ip, { vlans: i % 2 ? [{ vid: i }] : [], pad: true }));
  const pkts = (frames: Buffer[]) => frames.map((data, i) => ({ data, sec: 1_700_000_000 + i, nsec: i * 1001 }));
  const ng = (byteOrder: B.ByteOrder) =>
    B.pcapng([
      { type: 'shb', byteOrder, options: [B.comment('fuzz base')] },
      { type: 'idb', linktype: B.LINKTYPE.ETHERNET, snaplen: 0, name: 'eth0' },
      { type: 'idb', linktype: B.LINKTYPE.LINUX_SLL2, snaplen: 100, tsresol: 9 },
      { type: 'raw', blockType: B.BLOCK.NRB, body: B.nrbBody('192.0.2.1', 'a.example', byteOrder) },
      ...ips.map(
        (ip, i): B.NgBlock => ({ type: 'epb', iface: i % 2, packet: { data: i % 2 ? B.sll2(ip) : B.ethernet(ip), nsec: i }, options: [B.comment(`p${i}`)] }),
      ),
      { type: 'spb', packet: { data: eth[0]! } },
      { type: 'idb', linktype: B.LINKTYPE.RAW, tsresol: 0x80 | 20 },
      { type: 'opb', iface: 2, packet: { data: ips[1]! } },
      { type: 'raw', blockType: 0x40000abc, body: Buffer.from('custom') },
      { type: 'raw', blockType: B.BLOCK.ISB, body: B.isbBody(1, byteOrder) },
      { type: 'epb', iface: 2, packet: { data: ips[2]! } },
    ]);
  // the decoder's tunnels (src/capture/encap.ts): length and flag fields for the mutations to hit
  const o4 = (protocol: number, payload: Buffer) => B.ipv4Packet({ ...a4, protocol }, payload);
  const teb = (ip: Buffer) => B.ethernet(ip, { vlans: [{ vid: 7 }] });
  const tunnels = [
    B.ethernet(o4(B.IPPROTO.GRE, B.gre(ips[0]!, { checksum: true, key: 5, seq: 6 }))),
    B.ethernet(o4(B.IPPROTO.GRE, B.gre(B.erspan(teb(ips[1]!), 2), { proto: B.ETHERTYPE.ERSPAN_2, seq: 1 }))),
    B.ethernet(o4(B.IPPROTO.GRE, B.gre(B.erspan(teb(ips[0]!), 3, { subheader: true }), { proto: B.ETHERTYPE.ERSPAN_3, seq: 2 }))),
    B.ethernet(o4(B.IPPROTO.GRE, B.gre(B.wlanData(ips[2]!), { proto: B.ETHERTYPE.ARUBA }))),
    B.ethernet(o4(B.IPPROTO.GRE, B.gre(B.ppp(ips[0]!), { version: 1, proto: B.ETHERTYPE.PPP, seq: 1, ackNo: 1 }))),
    B.ethernet(o4(B.IPPROTO.UDP, B.udp(1, 4789, B.vxlan(teb(ips[1]!))))),
    B.ethernet(o4(B.IPPROTO.UDP, B.udp(1, 6081, B.geneve(teb(ips[0]!), B.ETHERTYPE.TEB, 8)))),
    B.ethernet(o4(B.IPPROTO.UDP, B.udp(3544, 1, B.teredo(ips[1]!, { origin: true, auth: true })))),
    B.ethernet(o4(B.IPPROTO.IPV6, ips[3]!)),
    B.ethernet(B.ipv6Packet(a6, B.IPPROTO.IPIP, o4(B.IPPROTO.IPIP, ips[0]!))),
    B.ethernet(B.pppoe(ips[1]!), { etherType: B.ETHERTYPE.PPPOE, vlans: [{ tpid: B.ETHERTYPE.QINQ, vid: 1 }, { vid: 2 }] }),
    B.ethernet(B.mpls([16, 17], ips[0]!), { etherType: B.ETHERTYPE.MPLS }),
    B.ethernet(B.mpls([16], teb(ips[2]!), { controlWord: true }), { etherType: B.ETHERTYPE.MPLS_MULTICAST }),
    B.ethernetLlc(ips[0]!),
  ];
  const list: Base[] = [
    { name: 'pcap-le-us-ethernet', built: B.pcap(pkts(eth), { linktype: B.LINKTYPE.ETHERNET }), gzip: false },
    { name: 'pcap-le-tunnels', built: B.pcap(pkts(tunnels), { linktype: B.LINKTYPE.ETHERNET }), gzip: false },
    { name: 'pcap-be-fddi', built: B.pcap(pkts(ips.map((ip) => B.fddi(ip))), { linktype: B.LINKTYPE.FDDI, byteOrder: 'big' }), gzip: false },
    {
      name: 'pcap-be-ns-sll2-snap',
      built: B.pcap(pkts(ips.map((ip) => B.sll2(ip))), { linktype: B.LINKTYPE.LINUX_SLL2, byteOrder: 'big', nanos: true, snaplen: 90 }),
      gzip: false,
    },
    {
      name: 'pcap-be-null',
      built: B.pcap(pkts(ips.map((ip) => B.nullLink(ip, { byteOrder: 'big' }))), { linktype: B.LINKTYPE.NULL, byteOrder: 'big' }),
      gzip: false,
    },
    { name: 'pcap-le-raw', built: B.pcap(pkts(ips), { linktype: B.LINKTYPE.RAW }), gzip: false },
    { name: 'pcapng-le', built: ng('little'), gzip: false },
    { name: 'pcapng-be', built: ng('big'), gzip: false },
    { name: 'pcap-le-us-ethernet.gz', built: B.pcap(pkts(eth), { linktype: B.LINKTYPE.ETHERNET }), gzip: true },
    { name: 'pcapng-be.gz', built: ng('big'), gzip: true },
  ];
  return list;
}

const HUGE = [0xfffffff0, 0xffffffff, 0x7fffffff, 0x80000000, (16 << 20) + 4, 16 << 20, (16 << 20) - 4, 0x10000, 0xfff0];

/** Applies one random mutation to a copy of the capture; returns it and what was done. */
function mutate(base: Base, rnd: () => number): { bytes: Buffer; what: string; compressedDamage: boolean } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (n: number) => Math.floor(rnd() * n);
  const b = Buffer.from(base.built.bytes);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d || (b.readUInt32LE(0) === B.BLOCK.SHB && b.readUInt32LE(8) === 0x1a2b3c4d);
  const put32 = (at: number, v: number) => {
    if (at + 4 > b.length) return;
    if (le) b.writeUInt32LE(v >>> 0, at);
    else b.writeUInt32BE(v >>> 0, at);
  };
  const put16 = (at: number, v: number) => {
    if (at + 2 > b.length) return;
    if (le) b.writeUInt16LE(v & 0xffff, at);
    else b.writeUInt16BE(v & 0xffff, at);
  };
  const recs = base.built.records;
  const rec = pick(recs);
  const pcapng = rec.blockType >= 0;
  const kinds = ['flip', 'flip', 'flip-packet', 'truncate', 'huge', 'huge', 'zero', 'trailer', 'splice', 'header'] as const;
  const kind = base.gzip && rnd() < 0.25 ? 'gzip-damage' : pick(kinds);
  let what: string = kind;
  let out: Buffer = b;
  switch (kind) {
    case 'flip': {
      const n = 1 + int(8);
      const at: string[] = [];
      for (let k = 0; k < n; k++) {
        const o = int(b.length);
        b[o] = int(256);
        at.push(`${o}=${b[o]}`);
      }
      what += ` ${at.join(',')}`;
      break;
    }
    case 'flip-packet': {
      // inside one packet's stored bytes: link, IP and TCP length fields for the decoder
      const p = pick(base.built.packets);
      const n = 1 + int(4);
      const at: string[] = [];
      for (let k = 0; k < n && p.caplen > 0; k++) {
        const o = p.dataOffset + int(Math.min(p.caplen, 80));
        b[o] = pick([0, 0xff, 0x0f, 0xf0, int(256)]);
        at.push(`${o}=${b[o]}`);
      }
      what += ` ${at.join(',')}`;
      break;
    }
    case 'truncate': {
      const n = int(b.length);
      out = b.subarray(0, n);
      what += ` at ${n} of ${b.length}`;
      break;
    }
    case 'huge':
    case 'zero': {
      const v = kind === 'zero' ? 0 : pick(HUGE);
      // the length fields: pcap caplen/origlen; pcapng block length, packet caplen/origlen, IDB snaplen, an option length
      const fields = pcapng
        ? rec.blockType === B.BLOCK.EPB || rec.blockType === B.BLOCK.OPB
          ? [4, 20, 24, 28]
          : rec.blockType === B.BLOCK.SPB
            ? [4, 8]
            : rec.blockType === B.BLOCK.IDB
              ? [4, 12, 18]
              : [4, 26]
        : [8, 12];
      const f = pick(fields);
      if (f === 18 || f === 26) put16(rec.offset + f, v);
      else put32(rec.offset + f, v);
      what += ` ${v.toString(16)} at ${rec.offset}+${f} (${pcapng ? `block type ${rec.blockType}` : 'pcap record'})`;
      break;
    }
    case 'trailer': {
      if (pcapng) {
        const v = pick([0, rec.length + 4, rec.length - 4, 0xfffffff0, int(0x10000)]);
        put32(rec.offset + rec.length - 4, v);
        what += ` ${v} in the trailer of block ${rec.offset}`;
      } else {
        put32(rec.offset + 8, rec.caplen + pick([1, 4, -1, 1000]));
        what += ` caplen of record ${rec.offset} off by a little`;
      }
      break;
    }
    case 'splice': {
      const from = int(b.length);
      const len = 1 + int(64);
      const to = int(b.length);
      out = Buffer.concat([b.subarray(0, to), b.subarray(from, from + len), b.subarray(to)]);
      what += ` ${len} bytes from ${from} inserted at ${to}`;
      break;
    }
    case 'header': {
      // file header / first block fields: snaplen, link type, version, byte-order magic
      const o = pick(pcapng ? [4, 8, 12, 14, 16, 24, 28] : [4, 6, 16, 20, 22]);
      b[o] = int(256);
      what += ` byte ${o}=${b[o]}`;
      break;
    }
    case 'gzip-damage':
      break;
  }
  if (!base.gzip) return { bytes: out, what, compressedDamage: false };
  const gz = B.gzip(out);
  if (kind !== 'gzip-damage') return { bytes: gz, what: `${what}, then gzip`, compressedDamage: false };
  if (rnd() < 0.5) {
    const n = int(gz.length);
    return { bytes: gz.subarray(0, n), what: `gzip cut at ${n} of ${gz.length}`, compressedDamage: true };
  }
  const o = 10 + int(gz.length - 10);
  gz[o] = int(256);
  return { bytes: gz, what: `gzip byte ${o}=${gz[o]}`, compressedDamage: true };
}

/** Length of the decompressed stream the reader sees (as much as zlib gets out of a damaged one). */
function streamLength(bytes: Buffer): number {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes.length;
  try {
    return gunzipSync(bytes, { finishFlush: zc.Z_SYNC_FLUSH }).length;
  } catch {
    // a corrupt deflate stream: bounded by the most deflate can expand (1032:1)
    return bytes.length * 1032;
  }
}

async function run(input: FuzzInput): Promise<void> {
  const post = (m: FuzzMessage) => parentPort!.postMessage(m);
  const rnd = prng(input.seed);
  const list = bases();
  const seg = newSegment();
  const outcomes: Record<string, number> = {};
  let maxFrames = 0;
  for (let i = 0; i < input.cases; i++) {
    const base = list[i % list.length]!;
    const { bytes, what: how } = mutate(base, rnd);
    const what = `seed ${input.seed} case ${i}: ${base.name}, ${how}`;
    const file = path.join(input.dir, `case-${i}-${base.name.replace(/\W/g, '_')}.bin`);
    writeFileSync(file, bytes);
    const streamLen = streamLength(bytes);
    const bound = Math.floor(streamLen / 16);
    const problems: string[] = [];
    post({ type: 'start', i, what });
    const t0 = performance.now();
    let frames = 0;
    let lastOffset = -1;
    let external = 0;
    try {
      const summary = await readCapture(file, (f) => {
        frames++;
        if (frames > bound + 1) {
          if (frames === bound + 2) problems.push(`more than ${bound} frames from ${streamLen} bytes`);
          return;
        }
        if (f.index !== frames) problems.push(`frame ${frames} has index ${f.index}`);
        if (!(f.off >= 0 && f.caplen >= 0 && f.off + f.caplen <= f.buf.length))
          problems.push(`frame ${f.index}: [${f.off}, +${f.caplen}) outside a buffer of ${f.buf.length}`);
        if (!(f.fileOffset > lastOffset && f.fileOffset < streamLen))
          problems.push(`frame ${f.index}: file offset ${f.fileOffset} after ${lastOffset}, stream ${streamLen}`);
        lastOffset = f.fileOffset;
        try {
          decodeTcp(f, seg);
        } catch (e) {
          problems.push(`decodeTcp threw on frame ${f.index}: ${(e as Error).stack ?? String(e)}`);
        }
        if ((frames & 63) === 0) external = Math.max(external, process.memoryUsage().arrayBuffers);
      });
      if (summary.frames !== frames) problems.push(`summary.frames ${summary.frames}, delivered ${frames}`);
      if (summary.bytes < 0 || summary.bytes > streamLen) problems.push(`summary.bytes ${summary.bytes} of a ${streamLen}-byte stream`);
      if (summary.error) {
        if (!(summary.error instanceof CaptureError)) problems.push(`summary.error is not a CaptureError: ${String(summary.error)}`);
        else {
          if (!/byte offset/.test(summary.error.message)) problems.push(`error message without a byte offset: ${summary.error.message}`);
          if (summary.error.offset < 0 || summary.error.offset > streamLen)
            problems.push(`error offset ${summary.error.offset} outside the ${streamLen}-byte stream`);
        }
        outcomes.damaged = (outcomes.damaged ?? 0) + 1;
      } else outcomes.clean = (outcomes.clean ?? 0) + 1;
    } catch (e) {
      outcomes.thrown = (outcomes.thrown ?? 0) + 1;
      if (!(e instanceof CaptureError)) problems.push(`threw something else than a CaptureError: ${(e as Error).stack ?? String(e)}`);
      else {
        if (e.offset !== 0) problems.push(`threw a CaptureError past the start (offset ${e.offset}): ${e.message}`);
        if (!/byte offset/.test(e.message)) problems.push(`error message without a byte offset: ${e.message}`);
        if (frames) problems.push(`threw after delivering ${frames} frames: ${e.message}`);
      }
    }
    maxFrames = Math.max(maxFrames, frames);
    const mem = process.memoryUsage();
    external = Math.max(external, mem.arrayBuffers);
    post({ type: 'done', i, ms: performance.now() - t0, rss: mem.rss, external });
    if (problems.length) post({ type: 'fail', i, what, file, problems });
    else rmSync(file, { force: true });
  }
  post({ type: 'end', outcomes, maxFrames });
}

if (parentPort) {
  run(workerData as FuzzInput).catch((e) => {
    // let the test see it; the worker's 'error' event carries it
    throw e;
  });
}
