// Builds capture files for the reader's tests: TCP segments inside IPv4/IPv6
// (IP options, fragments, extension headers), inside every link layer the reader
// knows, written as pcap or pcapng. Checksums are right, so tshark reads every
// file without a complaint (test/unit/capture-reader.test.ts holds it to that).
//
//   const ip = ipv4Tcp({ src: '192.0.2.1', dst: '198.51.100.2' },
//     { sport: 40000, dport: 80, seq: 1, flags: SYN, options: [mss(1460), sackPerm()] });
//   const file = pcap([{ data: ethernet(ip) }], { linktype: LINKTYPE.ETHERNET });
//   writeFileSync(p, file.bytes);
import { gzipSync } from 'node:zlib';

// ---------------------------------------------------------------------------
// Constants

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  FDDI: 10,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export const ETHERTYPE = {
  IPV4: 0x0800,
  IPV6: 0x86dd,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  ARP: 0x0806,
  PPPOE: 0x8864,
  MPLS: 0x8847,
  MPLS_MULTICAST: 0x8848,
  /** transparent Ethernet bridging (Ethernet inside GRE or Geneve) */
  TEB: 0x6558,
  ERSPAN_2: 0x88be,
  ERSPAN_3: 0x22eb,
  PPP: 0x880b,
  ARUBA: 0x8200,
} as const;

/** BSD address families as a NULL/LOOP header carries them */
export const AF = { INET: 2, INET6_BSD: 24, INET6_FREEBSD: 28, INET6_DARWIN: 30 } as const;

export type ByteOrder = 'little' | 'big';

// ---------------------------------------------------------------------------
// Small byte tools

/** The Internet checksum (RFC 1071) of the concatenated parts. */
export function inetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  let odd: number | null = null;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      if (odd === null) odd = p[i]!;
      else {
        sum += (odd << 8) | p[i]!;
        odd = null;
      }
    }
  }
  if (odd !== null) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipv4Bytes(text: string): Buffer {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
    throw new Error(`not an IPv4 address: ${text}`);
  }
  return Buffer.from(parts);
}

export function ipv6Bytes(text: string): Buffer {
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`not an IPv6 address: ${text}`);
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw new Error(`not an IPv6 address: ${text}`);
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`not an IPv6 address: ${text}`);
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  });
  return out;
}

function macBytes(text: string): Buffer {
  const b = Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
  if (b.length !== 6) throw new Error(`not a MAC address: ${text}`);
  return b;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

// ---------------------------------------------------------------------------
// TCP

export type TcpOption =
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackPermitted' }
  | { kind: 'timestamps'; val: number; ecr: number }
  | { kind: 'sack'; blocks: Array<[number, number]> }
  | { kind: 'nop' }
  | { kind: 'eol' }
  /** bytes as they are (kind, length and all): for odd or broken options */
  | { kind: 'raw'; bytes: Buffer };

export const mss = (value: number): TcpOption => ({ kind: 'mss', value });
export const wscale = (shift: number): TcpOption => ({ kind: 'wscale', shift });
export const sackPerm = (): TcpOption => ({ kind: 'sackPermitted' });
export const timestamps = (val: number, ecr: number): TcpOption => ({ kind: 'timestamps', val, ecr });
export const sack = (...blocks: Array<[number, number]>): TcpOption => ({ kind: 'sack', blocks });
export const nop = (): TcpOption => ({ kind: 'nop' });
export const eol = (): TcpOption => ({ kind: 'eol' });

/** Linux's SYN options: MSS, SACK-permitted, timestamps, NOP, window scale (20 bytes). */
export function linuxSynOptions(o: { mss?: number; tsVal?: number; tsEcr?: number; wscale?: number } = {}): TcpOption[] {
  return [mss(o.mss ?? 1460), sackPerm(), timestamps(o.tsVal ?? 1000, o.tsEcr ?? 0), nop(), wscale(o.wscale ?? 7)];
}

export function tcpOptionBytes(options: TcpOption[]): Buffer {
  const parts: Buffer[] = [];
  for (const o of options) {
    switch (o.kind) {
      case 'mss': {
        const b = Buffer.from([2, 4, 0, 0]);
        b.writeUInt16BE(o.value, 2);
        parts.push(b);
        break;
      }
      case 'wscale':
        parts.push(Buffer.from([3, 3, o.shift]));
        break;
      case 'sackPermitted':
        parts.push(Buffer.from([4, 2]));
        break;
      case 'timestamps': {
        const b = Buffer.from([8, 10, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.writeUInt32BE(o.val >>> 0, 2);
        b.writeUInt32BE(o.ecr >>> 0, 6);
        parts.push(b);
        break;
      }
      case 'sack': {
        const b = Buffer.alloc(2 + 8 * o.blocks.length);
        b[0] = 5;
        b[1] = b.length;
        o.blocks.forEach(([l, r], i) => {
          b.writeUInt32BE(l >>> 0, 2 + 8 * i);
          b.writeUInt32BE(r >>> 0, 6 + 8 * i);
        });
        parts.push(b);
        break;
      }
      case 'nop':
        parts.push(Buffer.from([1]));
        break;
      case 'eol':
        parts.push(Buffer.from([0]));
        break;
      case 'raw':
        parts.push(o.bytes);
        break;
    }
  }
  const raw = Buffer.concat(parts);
  // pad with end-of-option-list to a whole number of 32-bit words
  const out = Buffer.concat([raw, Buffer.alloc(pad4(raw.length) - raw.length)]);
  if (out.length > 40) throw new Error(`TCP options too long: ${out.length} bytes`);
  return out;
}

export interface TcpSpec {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** the flag byte (FIN 0x01 ... CWR 0x80); default ACK */
  flags?: number;
  win?: number;
  urgent?: number;
  options?: TcpOption[];
  payload?: Buffer | string;
  /** store this checksum instead of the right one */
  checksum?: number;
}

function payloadOf(p: Buffer | string | undefined): Buffer {
  if (p === undefined) return Buffer.alloc(0);
  return typeof p === 'string' ? Buffer.from(p) : p;
}

/** The TCP header and payload, checksummed over the given pseudo-header. */
function tcpBytes(t: TcpSpec, pseudo: (tcpLen: number) => Buffer): Buffer {
  const opts = tcpOptionBytes(t.options ?? []);
  const payload = payloadOf(t.payload);
  const h = Buffer.alloc(20 + opts.length);
  h.writeUInt16BE(t.sport, 0);
  h.writeUInt16BE(t.dport, 2);
  h.writeUInt32BE((t.seq ?? 0) >>> 0, 4);
  h.writeUInt32BE((t.ack ?? 0) >>> 0, 8);
  h[12] = (h.length / 4) << 4;
  h[13] = t.flags ?? ACK;
  h.writeUInt16BE(t.win ?? 65535, 14);
  h.writeUInt16BE(t.urgent ?? 0, 18);
  opts.copy(h, 20);
  const seg = Buffer.concat([h, payload]);
  seg.writeUInt16BE(t.checksum ?? inetChecksum(pseudo(seg.length), seg), 16);
  return seg;
}

// ---------------------------------------------------------------------------
// IPv4

export interface Ip4Spec {
  src: string;
  dst: string;
  ttl?: number;
  id?: number;
  tos?: number;
  df?: boolean;
  /** more-fragments bit */
  mf?: boolean;
  /** fragment offset in bytes (a multiple of 8) */
  fragOffset?: number;
  /** IP options, padded with end-of-list to a multiple of 4 bytes */
  options?: Buffer;
  protocol?: number;
}

/** IPv4 Router Alert option (RFC 2113), 4 bytes */
export const IPV4_ROUTER_ALERT = Buffer.from([0x94, 0x04, 0x00, 0x00]);
/** IPv4 Record Route option with room for 2 addresses, NOP-padded to 12 bytes */
export const IPV4_RECORD_ROUTE = Buffer.from([0x01, 0x07, 0x0b, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]);

/** An IPv4 packet around the given payload, header checksum filled in. */
export function ipv4Packet(ip: Ip4Spec, payload: Buffer): Buffer {
  const rawOpts = ip.options ?? Buffer.alloc(0);
  const opts = Buffer.concat([rawOpts, Buffer.alloc(pad4(rawOpts.length) - rawOpts.length)]);
  if (opts.length > 40) throw new Error('IPv4 options too long');
  const h = Buffer.alloc(20 + opts.length);
  const off = ip.fragOffset ?? 0;
  if (off % 8) throw new Error('IPv4 fragment offset must be a multiple of 8');
  h[0] = 0x40 | (h.length / 4);
  h[1] = ip.tos ?? 0;
  h.writeUInt16BE(h.length + payload.length, 2);
  h.writeUInt16BE(ip.id ?? 0, 4);
  h.writeUInt16BE((ip.df ? 0x4000 : 0) | (ip.mf ? 0x2000 : 0) | (off / 8), 6);
  h[8] = ip.ttl ?? 64;
  h[9] = ip.protocol ?? 6;
  ipv4Bytes(ip.src).copy(h, 12);
  ipv4Bytes(ip.dst).copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(inetChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

function ipv4Pseudo(ip: Ip4Spec) {
  return (len: number) => {
    const p = Buffer.alloc(12);
    ipv4Bytes(ip.src).copy(p, 0);
    ipv4Bytes(ip.dst).copy(p, 4);
    p[9] = 6;
    p.writeUInt16BE(len, 10);
    return p;
  };
}

/** The TCP segment alone (header + payload), checksummed for these IPv4 addresses. */
export function tcpForIpv4(ip: Ip4Spec, tcp: TcpSpec): Buffer {
  return tcpBytes(tcp, ipv4Pseudo(ip));
}

export function ipv4Tcp(ip: Ip4Spec, tcp: TcpSpec): Buffer {
  return ipv4Packet(ip, tcpForIpv4(ip, tcp));
}

/**
 * The TCP segment cut into IPv4 fragments carrying `chunk` bytes each (a multiple
 * of 8; the last carries the rest). All share ip.id; the TCP checksum covers the
 * whole segment, so a reassembler (tshark) finds it right.
 */
export function ipv4Fragments(ip: Ip4Spec, tcp: TcpSpec, chunk: number): Buffer[] {
  if (chunk <= 0 || chunk % 8) throw new Error('fragment size must be a positive multiple of 8');
  const seg = tcpForIpv4(ip, tcp);
  const out: Buffer[] = [];
  for (let at = 0; at < seg.length; at += chunk) {
    const part = seg.subarray(at, at + chunk);
    out.push(ipv4Packet({ ...ip, fragOffset: at, mf: at + chunk < seg.length }, part));
  }
  return out;
}

// ---------------------------------------------------------------------------
// IPv6

export type Ip6Ext =
  /** hop-by-hop (0) or destination (60) options; PadN fills the header to 8n bytes */
  | { type: 'hop' | 'dst'; options?: Buffer }
  /**
   * routing header (43) with segments left 0, so the header's destination is the
   * final one; default a Segment Routing header (type 4) listing that destination,
   * or `data` as the bytes after the first four
   */
  | { type: 'routing'; routingType?: number; data?: Buffer }
  /** fragment header (44); offset in bytes, a multiple of 8 */
  | { type: 'frag'; offset?: number; more?: boolean; id?: number }
  /** authentication header (51): its length counts 32-bit words (minus 2), unlike the others */
  | { type: 'ah'; spi?: number; seqNo?: number; icv?: Buffer };

const EXT_NUMBER = { hop: 0, routing: 43, frag: 44, ah: 51, dst: 60 } as const;

/** Hop-by-hop Router Alert option (RFC 2711), 4 bytes */
export const IPV6_ROUTER_ALERT = Buffer.from([0x05, 0x02, 0x00, 0x00]);

function padN(len: number): Buffer {
  if (len === 0) return Buffer.alloc(0);
  if (len === 1) return Buffer.from([0]); // Pad1
  const b = Buffer.alloc(len);
  b[0] = 1;
  b[1] = len - 2;
  return b;
}

function extBytes(e: Ip6Ext, next: number, dst: Buffer): Buffer {
  switch (e.type) {
    case 'hop':
    case 'dst': {
      const opts = e.options ?? Buffer.alloc(0);
      const total = Math.ceil((2 + opts.length) / 8) * 8;
      const b = Buffer.concat([Buffer.from([next, total / 8 - 1]), opts, padN(total - 2 - opts.length)]);
      return b;
    }
    case 'routing': {
      // SRH: last entry 0, flags 0, tag 0, then the one segment
      const data = e.data ?? Buffer.concat([Buffer.alloc(4), dst]);
      const total = Math.ceil((4 + data.length) / 8) * 8;
      const b = Buffer.alloc(total);
      b[0] = next;
      b[1] = total / 8 - 1;
      b[2] = e.routingType ?? 4;
      b[3] = 0; // segments left
      data.copy(b, 4);
      return b;
    }
    case 'frag': {
      const off = e.offset ?? 0;
      if (off % 8) throw new Error('IPv6 fragment offset must be a multiple of 8');
      const b = Buffer.alloc(8);
      b[0] = next;
      b.writeUInt16BE(off | (e.more ? 1 : 0), 2);
      b.writeUInt32BE((e.id ?? 0) >>> 0, 4);
      return b;
    }
    case 'ah': {
      const icv = e.icv ?? Buffer.alloc(12);
      const total = 12 + icv.length;
      if (total % 8) throw new Error('IPv6 AH must be a multiple of 8 bytes');
      const b = Buffer.alloc(total);
      b[0] = next;
      b[1] = total / 4 - 2;
      b.writeUInt32BE((e.spi ?? 0x100) >>> 0, 4);
      b.writeUInt32BE((e.seqNo ?? 1) >>> 0, 8);
      icv.copy(b, 12);
      return b;
    }
  }
}

export interface Ip6Spec {
  src: string;
  dst: string;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  /** extension headers in order, between the fixed header and TCP */
  ext?: Ip6Ext[];
}

function ipv6Pseudo(ip: Ip6Spec) {
  return (len: number) => {
    const p = Buffer.alloc(40);
    ipv6Bytes(ip.src).copy(p, 0);
    ipv6Bytes(ip.dst).copy(p, 16);
    p.writeUInt32BE(len, 32);
    p[39] = 6;
    return p;
  };
}

/** An IPv6 packet: fixed header, ip.ext headers chained in order, then `payload` of protocol `proto`. */
export function ipv6Packet(ip: Ip6Spec, proto: number, payload: Buffer): Buffer {
  const ext = ip.ext ?? [];
  const parts: Buffer[] = [];
  ext.forEach((e, i) => {
    const next = i + 1 < ext.length ? EXT_NUMBER[ext[i + 1]!.type] : proto;
    parts.push(extBytes(e, next, ipv6Bytes(ip.dst)));
  });
  const body = Buffer.concat([...parts, payload]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((6 << 28) | ((ip.trafficClass ?? 0) << 20) | (ip.flowLabel ?? 0)) >>> 0, 0);
  h.writeUInt16BE(body.length, 4);
  h[6] = ext.length ? EXT_NUMBER[ext[0]!.type] : proto;
  h[7] = ip.hopLimit ?? 64;
  ipv6Bytes(ip.src).copy(h, 8);
  ipv6Bytes(ip.dst).copy(h, 24);
  return Buffer.concat([h, body]);
}

export function tcpForIpv6(ip: Ip6Spec, tcp: TcpSpec): Buffer {
  return tcpBytes(tcp, ipv6Pseudo(ip));
}

export function ipv6Tcp(ip: Ip6Spec, tcp: TcpSpec): Buffer {
  return ipv6Packet(ip, 6, tcpForIpv6(ip, tcp));
}

// ---------------------------------------------------------------------------
// ICMP errors quoting a packet

/** The ICMP message: type, code, the 4 bytes after the checksum (a next-hop MTU), then the quote. */
function icmpMessage(type: number, code: number, rest: number, quote: Buffer): Buffer {
  const m = Buffer.alloc(8 + quote.length);
  m[0] = type;
  m[1] = code;
  m.writeUInt32BE(rest >>> 0, 4);
  quote.copy(m, 8);
  return m;
}

/**
 * An ICMP error (e.g. type 3 code 1, host unreachable; code 4 with `mtu`,
 * fragmentation needed) from `ip.src` quoting `quoted` (an IPv4 packet), cut
 * to `quoteBytes` (default: as much as fits 576 bytes, as Linux quotes).
 */
export function icmp4Error(ip: Ip4Spec, type: number, code: number, quoted: Buffer, o: { mtu?: number; quoteBytes?: number } = {}): Buffer {
  const m = icmpMessage(type, code, o.mtu ?? 0, quoted.subarray(0, o.quoteBytes ?? 576 - 28));
  m.writeUInt16BE(inetChecksum(m), 2);
  return ipv4Packet({ ...ip, protocol: 1 }, m);
}

/** An ICMPv6 error (type 1 destination unreachable, or 2 packet too big with `mtu`) quoting `quoted` (an IPv6 packet). */
export function icmp6Error(ip: Ip6Spec, type: number, code: number, quoted: Buffer, o: { mtu?: number; quoteBytes?: number } = {}): Buffer {
  const m = icmpMessage(type, code, o.mtu ?? 0, quoted.subarray(0, o.quoteBytes ?? 1280 - 48));
  const pseudo = Buffer.alloc(40);
  ipv6Bytes(ip.src).copy(pseudo, 0);
  ipv6Bytes(ip.dst).copy(pseudo, 16);
  pseudo.writeUInt32BE(m.length, 32);
  pseudo[39] = 58;
  m.writeUInt16BE(inetChecksum(pseudo, m), 2);
  return ipv6Packet(ip, 58, m);
}

/**
 * The TCP segment cut into IPv6 fragments of `chunk` bytes (a multiple of 8):
 * ip.ext (the unfragmentable part) then a fragment header with the given id.
 */
export function ipv6Fragments(ip: Ip6Spec, tcp: TcpSpec, chunk: number, id = 0x1234): Buffer[] {
  if (chunk <= 0 || chunk % 8) throw new Error('fragment size must be a positive multiple of 8');
  const seg = tcpForIpv6(ip, tcp);
  const out: Buffer[] = [];
  for (let at = 0; at < seg.length; at += chunk) {
    const ext: Ip6Ext[] = [...(ip.ext ?? []), { type: 'frag', offset: at, more: at + chunk < seg.length, id }];
    out.push(ipv6Packet({ ...ip, ext }, 6, seg.subarray(at, at + chunk)));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Link layers: each takes an IP packet (IPv4 or IPv6, told apart by its version
// nibble) and returns the frame bytes.

function ipEtherType(ip: Buffer): number {
  return ip.length && ip[0]! >> 4 === 6 ? ETHERTYPE.IPV6 : ETHERTYPE.IPV4;
}

export interface VlanTag {
  vid: number;
  pcp?: number;
  /** 0x8100 (802.1Q, default) or 0x88a8 (802.1ad outer tag) */
  tpid?: number;
}

export interface EthernetOpts {
  dst?: string;
  src?: string;
  /** tags outermost first */
  vlans?: VlanTag[];
  /** default: from the IP version */
  etherType?: number;
  /** pad to the 60-byte Ethernet minimum (the wire's trailer, not IP payload) */
  pad?: boolean;
}

export function ethernet(ip: Buffer, o: EthernetOpts = {}): Buffer {
  const parts: Buffer[] = [macBytes(o.dst ?? '02:00:00:00:00:02'), macBytes(o.src ?? '02:00:00:00:00:01')];
  for (const v of o.vlans ?? []) {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(v.tpid ?? ETHERTYPE.VLAN, 0);
    t.writeUInt16BE(((v.pcp ?? 0) << 13) | (v.vid & 0xfff), 2);
    parts.push(t);
  }
  const et = Buffer.alloc(2);
  et.writeUInt16BE(o.etherType ?? ipEtherType(ip), 0);
  parts.push(et, ip);
  const f = Buffer.concat(parts);
  return o.pad && f.length < 60 ? Buffer.concat([f, Buffer.alloc(60 - f.length)]) : f;
}

export interface SllOpts {
  /** 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 outgoing */
  pktType?: number;
  /** ARPHRD_ type, default 1 (Ethernet) */
  hatype?: number;
  addr?: string;
  /** default: from the IP version */
  protocol?: number;
  /** SLL2 only */
  ifindex?: number;
}

function sllAddr(o: SllOpts): Buffer {
  const a = Buffer.alloc(8);
  macBytes(o.addr ?? '02:00:00:00:00:01').copy(a);
  return a;
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 16-byte header) */
export function sll(ip: Buffer, o: SllOpts = {}): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(o.pktType ?? 0, 0);
  h.writeUInt16BE(o.hatype ?? 1, 2);
  h.writeUInt16BE(6, 4);
  sllAddr(o).copy(h, 6);
  h.writeUInt16BE(o.protocol ?? ipEtherType(ip), 14);
  return Buffer.concat([h, ip]);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 20-byte header) */
export function sll2(ip: Buffer, o: SllOpts = {}): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(o.protocol ?? ipEtherType(ip), 0);
  h.writeUInt32BE(o.ifindex ?? 2, 4);
  h.writeUInt16BE(o.hatype ?? 1, 8);
  h[10] = o.pktType ?? 0;
  h[11] = 6;
  sllAddr(o).copy(h, 12);
  return Buffer.concat([h, ip]);
}

/** LINKTYPE_NULL: the address family in the capturing host's byte order */
export function nullLink(ip: Buffer, o: { byteOrder?: ByteOrder; af?: number } = {}): Buffer {
  const h = Buffer.alloc(4);
  const af = o.af ?? (ipEtherType(ip) === ETHERTYPE.IPV6 ? AF.INET6_BSD : AF.INET);
  if ((o.byteOrder ?? 'little') === 'little') h.writeUInt32LE(af, 0);
  else h.writeUInt32BE(af, 0);
  return Buffer.concat([h, ip]);
}

/** LINKTYPE_LOOP (OpenBSD): the address family in network byte order */
export function loopLink(ip: Buffer, o: { af?: number } = {}): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(o.af ?? (ipEtherType(ip) === ETHERTYPE.IPV6 ? AF.INET6_BSD : AF.INET), 0);
  return Buffer.concat([h, ip]);
}

/** The frame for `ip` on a link of this type (NULL in the given byte order, default little). */
export function frameFor(linktype: number, ip: Buffer, byteOrder: ByteOrder = 'little'): Buffer {
  switch (linktype) {
    case LINKTYPE.ETHERNET:
      return ethernet(ip);
    case LINKTYPE.LINUX_SLL:
      return sll(ip);
    case LINKTYPE.LINUX_SLL2:
      return sll2(ip);
    case LINKTYPE.RAW:
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6:
      return Buffer.from(ip);
    case LINKTYPE.NULL:
      return nullLink(ip, { byteOrder });
    case LINKTYPE.LOOP:
      return loopLink(ip);
    default:
      throw new Error(`no framing for link type ${linktype}`);
  }
}

// ---------------------------------------------------------------------------
// File writers. Each returns the bytes and where every record/block starts, so a
// test can name the offset of a record (Frame.fileOffset, error offsets) or aim a
// mutation at a length field.

export interface Packet {
  data: Buffer;
  /** capture time; default 1_700_000_000 s + the packet's position, 0 ns */
  sec?: number;
  nsec?: number;
  /** length on the wire; default data.length */
  origlen?: number;
}

export interface RecordInfo {
  /** offset of the record (pcap) or block (pcapng) */
  offset: number;
  /** its total length (pcap: 16-byte header + stored data) */
  length: number;
  /** pcapng block type, or -1 for a pcap record */
  blockType: number;
  /** offset and length of the stored packet bytes, -1 where the block holds none */
  dataOffset: number;
  caplen: number;
}

export interface Built {
  bytes: Buffer;
  records: RecordInfo[];
  /** the packet-carrying records only (pcap records; EPB, SPB, OPB blocks), in order */
  packets: RecordInfo[];
}

const DEFAULT_SEC = 1_700_000_000;

export interface PcapOpts {
  linktype: number;
  byteOrder?: ByteOrder;
  /** nanosecond timestamps (magic a1b23c4d); default microseconds (a1b2c3d4) */
  nanos?: boolean;
  /** stored bytes are cut to this; default 262144 */
  snaplen?: number;
}

export function pcap(packets: Packet[], o: PcapOpts): Built {
  const le = (o.byteOrder ?? 'little') === 'little';
  const u32 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt32LE(v >>> 0, at) : b.writeUInt32BE(v >>> 0, at));
  const u16 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const snaplen = o.snaplen ?? 262144;
  const hdr = Buffer.alloc(24);
  u32(hdr, o.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  u16(hdr, 2, 4);
  u16(hdr, 4, 6);
  u32(hdr, snaplen, 16);
  u32(hdr, o.linktype, 20);
  const parts: Buffer[] = [hdr];
  const records: RecordInfo[] = [];
  let at = hdr.length;
  packets.forEach((p, i) => {
    const stored = p.data.subarray(0, Math.min(p.data.length, snaplen));
    const r = Buffer.alloc(16);
    const nsec = p.nsec ?? 0;
    u32(r, p.sec ?? DEFAULT_SEC + i, 0);
    u32(r, o.nanos ? nsec : Math.floor(nsec / 1000), 4);
    u32(r, stored.length, 8);
    u32(r, p.origlen ?? p.data.length, 12);
    parts.push(r, stored);
    records.push({ offset: at, length: 16 + stored.length, blockType: -1, dataOffset: at + 16, caplen: stored.length });
    at += 16 + stored.length;
  });
  return { bytes: Buffer.concat(parts), records, packets: records };
}

export type NgOptionValue = Buffer | string | { u8: number } | { u32: number } | { u64: bigint };
export interface NgOption {
  code: number;
  value: NgOptionValue;
}

/** opt_comment */
export const comment = (text: string): NgOption => ({ code: 1, value: text });

export type NgBlock =
  /** a section header; starts a new section (interfaces numbered from 0 again), in its own byte order */
  | { type: 'shb'; byteOrder?: ByteOrder; options?: NgOption[] }
  | {
      type: 'idb';
      linktype: number;
      /** 0 = no limit */
      snaplen?: number;
      /** if_tsresol byte: v < 128 is 10^-v s, 0x80|v is 2^-v s; absent = µs */
      tsresol?: number;
      name?: string;
      options?: NgOption[];
    }
  | { type: 'epb'; iface?: number; packet: Packet; options?: NgOption[] }
  /** simple packet block: interface 0, no timestamp; stored bytes cut to that interface's snaplen */
  | { type: 'spb'; packet: Packet }
  /** obsolete packet block (type 2) */
  | { type: 'opb'; iface?: number; packet: Packet; drops?: number; options?: NgOption[] }
  /** any block, body as given (padded to 4 bytes) */
  | { type: 'raw'; blockType: number; body: Buffer };

export const BLOCK = { SHB: 0x0a0d0d0a, IDB: 1, OPB: 2, SPB: 3, NRB: 4, ISB: 5, EPB: 6, DSB: 0x0a } as const;

/** Timestamp units per second for an if_tsresol byte. */
export function tsUnits(tsresol: number | undefined): bigint {
  if (tsresol === undefined) return 1_000_000n;
  return tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

export interface PcapngOpts {
  /** byte order of the first section (an explicit leading 'shb' block may say otherwise) */
  byteOrder?: ByteOrder;
}

export function pcapng(blocks: NgBlock[], o: PcapngOpts = {}): Built {
  const list: NgBlock[] = blocks[0]?.type === 'shb' ? blocks : [{ type: 'shb' }, ...blocks];
  let le = true;
  const u16 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const u32 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt32LE(v >>> 0, at) : b.writeUInt32BE(v >>> 0, at));
  const optionBytes = (opts: NgOption[]): Buffer => {
    if (!opts.length) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for (const { code, value } of opts) {
      let v: Buffer;
      if (Buffer.isBuffer(value)) v = value;
      else if (typeof value === 'string') v = Buffer.from(value);
      else if ('u8' in value) v = Buffer.from([value.u8]);
      else if ('u32' in value) {
        v = Buffer.alloc(4);
        u32(v, value.u32, 0);
      } else {
        v = Buffer.alloc(8);
        if (le) v.writeBigUInt64LE(value.u64);
        else v.writeBigUInt64BE(value.u64);
      }
      const h = Buffer.alloc(4);
      u16(h, code, 0);
      u16(h, v.length, 2);
      parts.push(h, v, Buffer.alloc(pad4(v.length) - v.length));
    }
    parts.push(Buffer.alloc(4)); // opt_endofopt
    return Buffer.concat(parts);
  };

  const parts: Buffer[] = [];
  const records: RecordInfo[] = [];
  const packets: RecordInfo[] = [];
  let at = 0;
  let ifaces: Array<{ snaplen: number; units: bigint }> = [];
  let packetNo = 0;

  const emit = (type: number, body: Buffer, dataAt = -1, caplen = 0) => {
    const padded = Buffer.concat([body, Buffer.alloc(pad4(body.length) - body.length)]);
    const len = 12 + padded.length;
    const head = Buffer.alloc(8);
    u32(head, type, 0);
    u32(head, len, 4);
    const tail = Buffer.alloc(4);
    u32(tail, len, 0);
    parts.push(head, padded, tail);
    const info: RecordInfo = { offset: at, length: len, blockType: type, dataOffset: dataAt < 0 ? -1 : at + 8 + dataAt, caplen };
    records.push(info);
    if (dataAt >= 0) packets.push(info);
    at += len;
  };
  const timestamp = (iface: number, p: Packet): [number, number] => {
    const units = ifaces[iface]?.units ?? 1_000_000n;
    const ts = BigInt(p.sec ?? DEFAULT_SEC + packetNo) * units + (BigInt(p.nsec ?? 0) * units) / 1_000_000_000n;
    return [Number(ts >> 32n), Number(ts & 0xffffffffn)];
  };
  const stored = (iface: number, p: Packet) => {
    const snap = ifaces[iface]?.snaplen ?? 0;
    return snap > 0 && p.data.length > snap ? p.data.subarray(0, snap) : p.data;
  };

  list.forEach((b, i) => {
    switch (b.type) {
      case 'shb': {
        le = (b.byteOrder ?? (i === 0 ? o.byteOrder : undefined) ?? 'little') === 'little';
        ifaces = [];
        const fixed = Buffer.alloc(16);
        u32(fixed, 0x1a2b3c4d, 0);
        u16(fixed, 1, 4);
        u16(fixed, 0, 6);
        fixed.writeBigInt64LE(-1n, 8); // section length unknown (all ones in either order)
        emit(BLOCK.SHB, Buffer.concat([fixed, optionBytes(b.options ?? [])]));
        break;
      }
      case 'idb': {
        const fixed = Buffer.alloc(8);
        u16(fixed, b.linktype, 0);
        u32(fixed, b.snaplen ?? 0, 4);
        const opts: NgOption[] = [];
        if (b.name !== undefined) opts.push({ code: 2, value: b.name });
        if (b.tsresol !== undefined) opts.push({ code: 9, value: { u8: b.tsresol } });
        opts.push(...(b.options ?? []));
        emit(BLOCK.IDB, Buffer.concat([fixed, optionBytes(opts)]));
        ifaces.push({ snaplen: b.snaplen ?? 0, units: tsUnits(b.tsresol) });
        break;
      }
      case 'epb': {
        const iface = b.iface ?? 0;
        const data = stored(iface, b.packet);
        const fixed = Buffer.alloc(20);
        const [hi, lo] = timestamp(iface, b.packet);
        u32(fixed, iface, 0);
        u32(fixed, hi, 4);
        u32(fixed, lo, 8);
        u32(fixed, data.length, 12);
        u32(fixed, b.packet.origlen ?? b.packet.data.length, 16);
        const padded = Buffer.concat([data, Buffer.alloc(pad4(data.length) - data.length)]);
        emit(BLOCK.EPB, Buffer.concat([fixed, padded, optionBytes(b.options ?? [])]), 20, data.length);
        packetNo++;
        break;
      }
      case 'spb': {
        const data = stored(0, b.packet);
        const fixed = Buffer.alloc(4);
        u32(fixed, b.packet.origlen ?? b.packet.data.length, 0);
        emit(BLOCK.SPB, Buffer.concat([fixed, data]), 4, data.length);
        packetNo++;
        break;
      }
      case 'opb': {
        const iface = b.iface ?? 0;
        const data = stored(iface, b.packet);
        const fixed = Buffer.alloc(20);
        const [hi, lo] = timestamp(iface, b.packet);
        u16(fixed, iface, 0);
        u16(fixed, b.drops ?? 0, 2);
        u32(fixed, hi, 4);
        u32(fixed, lo, 8);
        u32(fixed, data.length, 12);
        u32(fixed, b.packet.origlen ?? b.packet.data.length, 16);
        const padded = Buffer.concat([data, Buffer.alloc(pad4(data.length) - data.length)]);
        emit(BLOCK.OPB, Buffer.concat([fixed, padded, optionBytes(b.options ?? [])]), 20, data.length);
        packetNo++;
        break;
      }
      case 'raw':
        emit(b.blockType, b.body);
        break;
    }
  });
  return { bytes: Buffer.concat(parts), records, packets };
}

/**
 * An Interface Statistics Block body (type 5) for interface `iface`, with
 * isb_ifrecv / isb_ifdrop, in the given byte order: a known block the reader skips.
 */
export function isbBody(iface: number, byteOrder: ByteOrder = 'little'): Buffer {
  const le = byteOrder === 'little';
  const b = Buffer.alloc(12 + 12 + 12 + 4);
  const u32 = (v: number, at: number) => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  const u16 = (v: number, at: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  u32(iface, 0);
  u32(0, 4);
  u32(0, 8);
  u16(4, 12); // isb_ifrecv
  u16(8, 14);
  if (le) b.writeBigUInt64LE(10n, 16);
  else b.writeBigUInt64BE(10n, 16);
  u16(5, 24); // isb_ifdrop
  u16(8, 26);
  if (le) b.writeBigUInt64LE(0n, 28);
  else b.writeBigUInt64BE(0n, 28);
  return b; // the last 4 bytes stay zero: opt_endofopt
}

/** A Name Resolution Block body (type 4): one IPv4 record, then nrb_record_end. */
export function nrbBody(ip: string, name: string, byteOrder: ByteOrder = 'little'): Buffer {
  const le = byteOrder === 'little';
  const value = Buffer.concat([ipv4Bytes(ip), Buffer.from(`${name}\0`)]);
  const h = Buffer.alloc(4);
  if (le) {
    h.writeUInt16LE(1, 0);
    h.writeUInt16LE(value.length, 2);
  } else {
    h.writeUInt16BE(1, 0);
    h.writeUInt16BE(value.length, 2);
  }
  return Buffer.concat([h, value, Buffer.alloc(pad4(value.length) - value.length), Buffer.alloc(4)]);
}

export function gzip(b: Buffer): Buffer {
  return gzipSync(b);
}

// ---------------------------------------------------------------------------
// Tunnels and encapsulations (src/capture/encap.ts): each wraps bytes (an IP
// packet or an Ethernet frame) in one layer; nest them as the frame needs.

export const IPPROTO = { IPIP: 4, IPV6: 41, UDP: 17, GRE: 47 } as const;

export interface GreOpts {
  /** the protocol type (an EtherType, 0x88be/0x22eb ERSPAN, 0x8200 Aruba); default from the IP version */
  proto?: number;
  checksum?: boolean;
  key?: number;
  seq?: number;
  /** 1: PPTP's enhanced GRE (key = payload length and call id, always present) */
  version?: 0 | 1;
  ackNo?: number;
  /** the routing bit (RFC 1701 source routing): not decoded */
  routing?: boolean;
}

/** A GRE header and its payload (RFC 2784, key and sequence number of RFC 2890). */
export function gre(payload: Buffer, o: GreOpts = {}): Buffer {
  const version = o.version ?? 0;
  const hasKey = version === 1 || o.key !== undefined;
  let flags = version;
  if (o.checksum) flags |= 0x8000;
  if (o.routing) flags |= 0x4000;
  if (hasKey) flags |= 0x2000;
  if (o.seq !== undefined) flags |= 0x1000;
  if (version === 1 && o.ackNo !== undefined) flags |= 0x0080;
  const words: Buffer[] = [];
  const word = (v: number) => {
    const w = Buffer.alloc(4);
    w.writeUInt32BE(v >>> 0, 0);
    words.push(w);
  };
  if (o.checksum || o.routing) word(0);
  if (hasKey) word(version === 1 ? ((payload.length << 16) | (o.key ?? 7)) >>> 0 : o.key!);
  if (o.seq !== undefined) word(o.seq);
  if (version === 1 && o.ackNo !== undefined) word(o.ackNo);
  const h = Buffer.alloc(4);
  h.writeUInt16BE(flags, 0);
  h.writeUInt16BE(o.proto ?? ipEtherType(payload), 2);
  const out = Buffer.concat([h, ...words, payload]);
  if (o.checksum) out.writeUInt16BE(inetChecksum(out), 4);
  return out;
}

/** A UDP datagram (checksum 0: none, which IPv4 allows). */
export function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** VXLAN (RFC 7348) around an Ethernet frame, as the UDP payload. */
export function vxlan(frame: Buffer, vni = 42): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x08;
  h.writeUIntBE(vni, 4, 3);
  return Buffer.concat([h, frame]);
}

/** Geneve (RFC 8926) around `payload` of protocol `proto` (0x6558 Ethernet), with `optionBytes` of options (a multiple of 4). */
export function geneve(payload: Buffer, proto = 0x6558, optionBytes = 0, vni = 42): Buffer {
  const h = Buffer.alloc(8 + optionBytes);
  h[0] = optionBytes / 4;
  h.writeUInt16BE(proto, 2);
  h.writeUIntBE(vni, 4, 3);
  for (let i = 8; i + 4 <= h.length; i += 4) {
    // one option of 0 data words each: class 0x0100, type 1, length 0
    h.writeUInt16BE(0x0100, i);
    h[i + 2] = 1;
  }
  return Buffer.concat([h, payload]);
}

/** Teredo (RFC 4380): an IPv6 packet as UDP payload, optionally after an origin indication. */
export function teredo(ipv6: Buffer, o: { origin?: boolean; auth?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  if (o.auth) parts.push(Buffer.from([0, 1, 0, 0]), Buffer.alloc(8, 0x5a), Buffer.from([0]));
  if (o.origin) parts.push(Buffer.from([0, 0, 0xcf, 0xf2, 0x3f, 0x57, 0xfe, 0xfd]));
  return Buffer.concat([...parts, ipv6]);
}

/** A PPPoE session header and PPP protocol (0x0021 IPv4, 0x0057 IPv6) before `ip`: the payload of EtherType 0x8864. */
export function pppoe(ip: Buffer, session = 0x1234): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x11;
  h.writeUInt16BE(session, 2);
  h.writeUInt16BE(ip.length + 2, 4);
  h.writeUInt16BE(ipEtherType(ip) === ETHERTYPE.IPV6 ? 0x57 : 0x21, 6);
  return Buffer.concat([h, ip]);
}

/** PPP in HDLC-like framing (address, control, 2-byte protocol), as PPTP's GRE carries it. */
export function ppp(ip: Buffer, proto?: number): Buffer {
  const h = Buffer.from([0xff, 0x03, 0, 0]);
  h.writeUInt16BE(proto ?? (ipEtherType(ip) === ETHERTYPE.IPV6 ? 0x57 : 0x21), 2);
  return Buffer.concat([h, ip]);
}

/** An MPLS label stack (outermost first; bottom of stack set on the last), then `payload`. */
export function mpls(labels: number[], payload: Buffer, o: { controlWord?: boolean } = {}): Buffer {
  const stack = Buffer.alloc(4 * labels.length);
  labels.forEach((l, i) => {
    stack.writeUInt32BE(((l << 12) | (i === labels.length - 1 ? 0x100 : 0) | 64) >>> 0, 4 * i);
  });
  return Buffer.concat([stack, o.controlWord ? Buffer.alloc(4) : Buffer.alloc(0), payload]);
}

/** ERSPAN type II (version 1, 8 bytes) or III (version 2, 12 bytes, `subheader` adds the 8-byte platform one) before an Ethernet frame. */
export function erspan(frame: Buffer, type: 2 | 3, o: { session?: number; subheader?: boolean } = {}): Buffer {
  if (type === 2) {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(0x1000 | 0, 0);
    h.writeUInt16BE(o.session ?? 1, 2);
    return Buffer.concat([h, frame]);
  }
  const h = Buffer.alloc(12 + (o.subheader ? 8 : 0));
  h.writeUInt16BE(0x2000, 0);
  h.writeUInt16BE(o.session ?? 1, 2);
  h.writeUInt32BE(123456, 4);
  if (o.subheader) h[11] = 1;
  return Buffer.concat([h, frame]);
}

/** LLC/SNAP (AA AA 03, OUI 0) with the EtherType of `ip`. */
export function llcSnap(ip: Buffer): Buffer {
  const h = Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0, 0, 0]);
  h.writeUInt16BE(ipEtherType(ip), 6);
  return Buffer.concat([h, ip]);
}

/** An 802.11 QoS data frame to the DS carrying `ip` in LLC/SNAP, as Aruba's GRE tunnels it. */
export function wlanData(ip: Buffer, o: { protected?: boolean; qos?: boolean; fourAddr?: boolean } = {}): Buffer {
  const qos = o.qos ?? true;
  const h = Buffer.alloc(24 + (o.fourAddr ? 6 : 0) + (qos ? 2 : 0));
  h[0] = qos ? 0x88 : 0x08;
  h[1] = (o.fourAddr ? 0x03 : 0x01) | (o.protected ? 0x40 : 0);
  macBytes('02:00:00:00:00:0a').copy(h, 4);
  macBytes('02:00:00:00:00:0b').copy(h, 10);
  macBytes('02:00:00:00:00:0c').copy(h, 16);
  return Buffer.concat([h, llcSnap(ip)]);
}

/** An 802.3 frame (a length, not a type) carrying `ip` in LLC/SNAP. */
export function ethernetLlc(ip: Buffer): Buffer {
  const body = llcSnap(ip);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length, 0);
  return Buffer.concat([macBytes('02:00:00:00:00:02'), macBytes('02:00:00:00:00:01'), len, body]);
}

/** LINKTYPE_FDDI (10): frame control (LLC, 48-bit addresses), destination, source, LLC/SNAP. */
export function fddi(ip: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x50]), macBytes('02:00:00:00:00:02'), macBytes('02:00:00:00:00:01'), llcSnap(ip)]);
}
