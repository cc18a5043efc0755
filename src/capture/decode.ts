// From a captured frame to its TCP segment: link layer, IP (v4 with options,
// v6 with extension headers), TCP header and options. Fills one reused
// TcpSegment; frames that carry no decodable TCP say why (SkipReason). An
// ICMP or ICMPv6 error that quotes a TCP segment fills a reused IcmpQuote
// besides (the frame still counts as not TCP). Tunnels and encapsulations
// (GRE, ERSPAN, VXLAN, Geneve, Teredo, IP-in-IP, PPPoE, MPLS, LLC/SNAP) are
// in encap.ts, reached only from the branches where plain IP/TCP fails.
import { encapEtherType, innerVersion, ipInIp, llcSnap, resetLayers, unknownLinktype } from './encap.js';
import { SYN } from '../net/flags.js';
import type { Frame, IcmpQuote, SkipReason, TcpSegment } from './types.js';

// rules.ts names addresses through here

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export function linktypeName(t: number): string {
  const names: Record<number, string> = {
    0: 'BSD loopback',
    1: 'Ethernet',
    10: 'FDDI',
    12: 'raw IP',
    14: 'raw IP',
    101: 'raw IP',
    108: 'OpenBSD loopback',
    113: 'Linux cooked (SLL)',
    228: 'raw IPv4',
    229: 'raw IPv6',
    276: 'Linux cooked v2 (SLL2)',
  };
  return names[t] ?? `link type ${t}`;
}

/**
 * The reused segment. Address keys are made only when asked for: the tracker
 * keys connections by the numbers, and most frames never need text.
 */
class Segment implements TcpSegment {
  family: 4 | 6 = 4;
  src4 = 0;
  dst4 = 0;
  src6a = 0;
  src6b = 0;
  src6c = 0;
  src6d = 0;
  dst6a = 0;
  dst6b = 0;
  dst6c = 0;
  dst6d = 0;
  sport = 0;
  dport = 0;
  ttl = 0;
  ipId = -1;
  df = false;
  ipExtra = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  win = 0;
  len = 0;
  payloadOff = 0;
  captured = 0;
  mss = -1;
  wscale = -1;
  sackPermitted = false;
  tsVal = 0;
  tsEcr = 0;
  hasTs = false;
  sackBlocks = 0;
  optLen = 0;
  reserved = 0;
  optOrder = 0;
  mptcpRst = -1;

  get srcKey(): string {
    return this.family === 4 ? key4(this.src4) : key6(this.src6a, this.src6b, this.src6c, this.src6d);
  }

  get dstKey(): string {
    return this.family === 4 ? key4(this.dst4) : key6(this.dst6a, this.dst6b, this.dst6c, this.dst6d);
  }
}

// IPv4 keys of recent addresses: a capture's connections mostly share a few
// addresses, and a new string per connection and side was garbage to collect.
// Direct-mapped: a slot remembers the last address that hashed to it.
const KEY4_SLOTS = 1024;
const key4Addr = new Float64Array(KEY4_SLOTS).fill(-1);
const key4Text: string[] = new Array<string>(KEY4_SLOTS).fill('');

/** The IPv6 header at `ip`: both addresses as four int32 words each (a segment's or a quote's). */
function words6(
  o: { src6a: number; src6b: number; src6c: number; src6d: number; dst6a: number; dst6b: number; dst6c: number; dst6d: number },
  b: Buffer,
  ip: number,
): void {
  o.src6a = i32(b, ip + 8);
  o.src6b = i32(b, ip + 12);
  o.src6c = i32(b, ip + 16);
  o.src6d = i32(b, ip + 20);
  o.dst6a = i32(b, ip + 24);
  o.dst6b = i32(b, ip + 28);
  o.dst6c = i32(b, ip + 32);
  o.dst6d = i32(b, ip + 36);
}

function key4(a: number): string {
  const i = (Math.imul(a, 0x9e3779b1) >>> 22) & (KEY4_SLOTS - 1);
  if (key4Addr[i] === a) return key4Text[i]!;
  const k = String.fromCharCode(a >>> 16, a & 0xffff);
  key4Addr[i] = a;
  key4Text[i] = k;
  return k;
}

// IPv6 keys of recent addresses, the same way (the four 32-bit words of the address, as int32s).
const KEY6_SLOTS = 1024;
const key6Words = new Int32Array(KEY6_SLOTS * 4);
const key6Text: string[] = new Array<string>(KEY6_SLOTS).fill('');

function key6(a: number, b: number, c: number, d: number): string {
  const i = (Math.imul(a ^ Math.imul(b ^ Math.imul(c ^ Math.imul(d, 0x85ebca77), 0xc2b2ae3d), 0x27d4eb2f), 0x9e3779b1) >>> 22) & (KEY6_SLOTS - 1);
  const w = i * 4;
  // an empty text marks a slot never filled (the words of :: would match it)
  if (key6Words[w] === a && key6Words[w + 1] === b && key6Words[w + 2] === c && key6Words[w + 3] === d && key6Text[i] !== '') return key6Text[i]!;
  const k = String.fromCharCode(a >>> 16, a & 0xffff, b >>> 16, b & 0xffff, c >>> 16, c & 0xffff, d >>> 16, d & 0xffff);
  key6Words[w] = a;
  key6Words[w + 1] = b;
  key6Words[w + 2] = c;
  key6Words[w + 3] = d;
  key6Text[i] = k;
  return k;
}

export function newSegment(): TcpSegment {
  return new Segment();
}

export function newIcmpQuote(): IcmpQuote {
  return {
    found: false,
    family: 4,
    type: 0,
    code: 0,
    mtu: 0,
    fromKey: '',
    src4: 0,
    dst4: 0,
    src6a: 0,
    src6b: 0,
    src6c: 0,
    src6d: 0,
    dst6a: 0,
    dst6b: 0,
    dst6c: 0,
    dst6d: 0,
    srcKey: '',
    dstKey: '',
    sport: 0,
    dport: 0,
    seq: 0,
    flags: -1,
    quotedLen: 0,
  };
}

// Buffer's readUInt*BE check their arguments on every call; the decoder has
// checked its bounds already, and runs for every frame.
const u16 = (b: Buffer, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Buffer, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
/** A big-endian 32-bit word as a signed int32: the form the connection tables keep */
const i32 = (b: Buffer, at: number) => (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

/** Offset of the IP header in the frame and its version (4 or 6), or a skip reason. */
let ipVersion = 0;
function ipStart(f: Frame): number | SkipReason {
  const b = f.buf;
  const o = f.off;
  const n = f.caplen;
  let proto: number;
  let at: number;
  switch (f.linktype) {
    case 1: {
      if (n < 14) return 'truncated';
      proto = u16(b, o + 12);
      at = 14;
      // 802.1Q, 802.1ad and the old QinQ type, stacked
      while (proto === 0x8100 || proto === 0x88a8 || proto === 0x9100) {
        if (n < at + 4) return 'truncated';
        proto = u16(b, o + at + 2);
        at += 4;
      }
      break;
    }
    case 113:
      if (n < 16) return 'truncated';
      proto = u16(b, o + 14);
      at = 16;
      break;
    case 276:
      if (n < 20) return 'truncated';
      proto = u16(b, o);
      at = 20;
      break;
    case 12:
    case 14:
    case 101:
      if (n < 1) return 'truncated';
      ipVersion = b[o]! >> 4;
      return ipVersion === 4 || ipVersion === 6 ? o : 'not-ip';
    case 228:
      ipVersion = 4;
      return o;
    case 229:
      ipVersion = 6;
      return o;
    case 0:
    case 108: {
      if (n < 4) return 'truncated';
      // NULL: the address family in the writer's byte order; LOOP: network order
      const le = b.readUInt32LE(o);
      const be = u32(b, o);
      const af = f.linktype === 108 ? be : le < 0x10000 ? le : be;
      if (af === 2) ipVersion = 4;
      else if (af === 24 || af === 28 || af === 30 || af === 10) ipVersion = 6;
      else return 'not-ip';
      return o + 4;
    }
    case 10:
      // FDDI: frame control, two addresses, then LLC; only LLC frames (not MAC or SMT) carry IP
      if (n < 13) return 'truncated';
      return (b[o]! & 0x30) === 0x10 ? inner(llcSnap(b, o + 13, o + n)) : 'not-ip';
    default:
      return unknownLinktype(linkNote(f.linktype));
  }
  if (proto === ETH_IPV4) ipVersion = 4;
  else if (proto === ETH_IPV6) ipVersion = 6;
  // an 802.3 length rather than a type (or SLL's 0x0004): LLC, maybe SNAP
  else return inner(proto <= 1500 ? llcSnap(b, o + at, o + n) : encapEtherType(b, proto, o + at, o + n));
  return o + at;
}

/** An encapsulation's answer: the inner IP header's offset (and its version), or why none. */
function inner(r: number | SkipReason): number | SkipReason {
  if (typeof r === 'number') ipVersion = innerVersion;
  return r;
}

const linkNotes = new Map<number, string>();
function linkNote(t: number): string {
  let s = linkNotes.get(t);
  if (s === undefined) linkNotes.set(t, (s = `link type ${t}`));
  return s;
}

/**
 * Fills seg (made by newSegment()) from the frame's TCP segment; null when it
 * did, else why not. With `icmp`, a frame that is an ICMP error quoting a TCP
 * segment fills it and sets icmp.found (the answer stays 'not-tcp').
 */
export function decodeTcp(f: Frame, seg: TcpSegment, icmp?: IcmpQuote): SkipReason | null {
  // cleared before anything can return: a quote must not outlive its frame
  if (icmp !== undefined) icmp.found = false;
  resetLayers();
  const start = ipStart(f);
  if (typeof start !== 'number') return start;
  return decodeIp(f, seg, icmp, start);
}

/** From the IP header at `start` (version in ipVersion); a tunnel's inner packet comes round again (bounded by encap.ts). */
function decodeIp(f: Frame, seg: TcpSegment, icmp: IcmpQuote | undefined, start: number): SkipReason | null {
  const b = f.buf;
  const end = f.off + f.caplen;
  let tcp: number;
  let tcpLen: number; // TCP header + payload, from the IP lengths
  if (ipVersion === 4) {
    if (end - start < 20) return 'truncated';
    const vihl = b[start]!;
    if (vihl >> 4 !== 4) return 'bad-header';
    const ihl = (vihl & 15) * 4;
    if (ihl < 20) return 'bad-header';
    if (end - start < ihl) return 'truncated';
    const frag = u16(b, start + 6);
    if (frag & 0x3fff) return 'fragment';
    if (b[start + 9] !== 6) {
      const proto = b[start + 9]!;
      if (proto === 1) {
        if (icmp !== undefined) icmp4(b, start + ihl, end, u32(b, start + 12), icmp);
        return 'not-tcp';
      }
      const r = inner(ipInIp(b, proto, start + ihl, end));
      return typeof r === 'number' ? decodeIp(f, seg, icmp, r) : r;
    }
    let total = u16(b, start + 2);
    // TSO/GRO captures may carry 0 for lengths above 64 KiB: fall back to the frame length
    if (total === 0) total = f.origlen - (start - f.off);
    if (total < ihl) return 'bad-header';
    seg.family = 4;
    seg.src4 = u32(b, start + 12);
    seg.dst4 = u32(b, start + 16);
    seg.ttl = b[start + 8]!;
    seg.ipId = u16(b, start + 4);
    seg.df = (frag & 0x4000) !== 0;
    seg.ipExtra = ihl - 20;
    tcp = start + ihl;
    tcpLen = total - ihl;
  } else {
    if (end - start < 40) return 'truncated';
    if (b[start]! >> 4 !== 6) return 'bad-header';
    let next = b[start + 6]!;
    let payload = u16(b, start + 4);
    if (payload === 0) payload = f.origlen - (start - f.off) - 40; // jumbogram or TSO
    let at = start + 40;
    let extra = 0;
    for (;;) {
      if (next === 6) break;
      if (next === 0 || next === 43 || next === 60 || next === 51 || next === 44) {
        if (end - at < 8) return 'truncated';
        let hlen: number;
        if (next === 44) {
          // a fragment header with offset 0 and M clear (an atomic fragment) holds the whole segment
          if (u16(b, at + 2) & 0xfff9) return 'fragment';
          hlen = 8;
        } else if (next === 51) hlen = (b[at + 1]! + 2) * 4;
        else hlen = (b[at + 1]! + 1) * 8;
        next = b[at]!;
        at += hlen;
        extra += hlen;
        if (at > end) return 'truncated';
        continue;
      }
      if (next === 58) {
        if (icmp !== undefined) icmp6(b, start + 8, at, end, icmp);
        return 'not-tcp';
      }
      const r = inner(ipInIp(b, next, at, end));
      return typeof r === 'number' ? decodeIp(f, seg, icmp, r) : r;
    }
    seg.family = 6;
    seg.src4 = 0;
    seg.dst4 = 0;
    words6(seg, b, start);
    seg.ttl = b[start + 7]!;
    seg.ipId = -1;
    seg.df = false;
    seg.ipExtra = extra;
    tcp = at;
    tcpLen = payload - extra;
  }
  if (end - tcp < 20) return 'truncated';
  const doff = (b[tcp + 12]! >> 4) * 4;
  if (doff < 20 || tcpLen < doff) return 'bad-header';
  // options cut by the snaplen would read as absent: say so instead
  if (end - tcp < doff) return 'truncated';
  seg.sport = u16(b, tcp);
  seg.dport = u16(b, tcp + 2);
  seg.seq = u32(b, tcp + 4);
  seg.ack = u32(b, tcp + 8);
  seg.flags = b[tcp + 13]!;
  seg.reserved = b[tcp + 12]! & 0x0e;
  seg.win = u16(b, tcp + 14);
  seg.len = tcpLen - doff;
  seg.payloadOff = tcp + doff;
  seg.captured = Math.max(0, Math.min(seg.len, end - seg.payloadOff));
  seg.optLen = doff - 20;
  seg.mss = -1;
  seg.wscale = -1;
  seg.sackPermitted = false;
  seg.hasTs = false;
  seg.sackBlocks = 0;
  seg.optOrder = 0;
  seg.mptcpRst = -1;
  if (doff > 20) parseOptions(b, tcp + 20, Math.min(tcp + doff, end), seg);
  return null;
}

// ---- ICMP errors: only frames of protocol 1 or 58 come here ----

/** An IPv6 address key (8 chars of 16-bit groups), as segments make it. */
function key6At(b: Buffer, at: number): string {
  return key6(i32(b, at), i32(b, at + 4), i32(b, at + 8), i32(b, at + 12));
}

/** The quoted TCP header's ports and seq (RFC 792 quotes at least 8 bytes), and its flags when quoted. */
function quotedTcp(b: Buffer, tcp: number, end: number, q: IcmpQuote): void {
  q.sport = u16(b, tcp);
  q.dport = u16(b, tcp + 2);
  q.seq = u32(b, tcp + 4);
  q.flags = end - tcp >= 14 ? b[tcp + 13]! : -1;
  q.found = true;
}

/** ICMP destination unreachable (type 3) quoting an IPv4 TCP segment. */
function icmp4(b: Buffer, at: number, end: number, from: number, q: IcmpQuote): void {
  if (end - at < 8 + 20 || b[at] !== 3) return;
  const inner = at + 8;
  const vihl = b[inner]!;
  const ihl = (vihl & 15) * 4;
  if (vihl >> 4 !== 4 || ihl < 20 || b[inner + 9] !== 6 || u16(b, inner + 6) & 0x1fff || end - inner < ihl + 8) return;
  q.family = 4;
  q.type = 3;
  q.code = b[at + 1]!;
  // RFC 1191: the next-hop MTU of "fragmentation needed"; 0 from routers older than it
  q.mtu = q.code === 4 ? u16(b, at + 6) : 0;
  q.fromKey = key4(from);
  q.src4 = u32(b, inner + 12);
  q.dst4 = u32(b, inner + 16);
  q.srcKey = key4(q.src4);
  q.dstKey = key4(q.dst4);
  q.quotedLen = u16(b, inner + 2);
  quotedTcp(b, inner + ihl, end, q);
}

/** ICMPv6 destination unreachable (1) or packet too big (2) quoting an IPv6 TCP segment. */
function icmp6(b: Buffer, src: number, at: number, end: number, q: IcmpQuote): void {
  if (end - at < 8 + 40) return;
  const type = b[at]!;
  if (type !== 1 && type !== 2) return;
  const inner = at + 8;
  if (b[inner]! >> 4 !== 6) return;
  // the quoted packet's extension headers, as the segment decoder walks them
  let next = b[inner + 6]!;
  let tcp = inner + 40;
  for (let i = 0; next !== 6 && i < 8; i++) {
    if (!(next === 0 || next === 43 || next === 60 || next === 51 || next === 44) || end - tcp < 8) return;
    if (next === 44 && u16(b, tcp + 2) & 0xfff8) return;
    const hlen = next === 44 ? 8 : next === 51 ? (b[tcp + 1]! + 2) * 4 : (b[tcp + 1]! + 1) * 8;
    next = b[tcp]!;
    tcp += hlen;
  }
  if (next !== 6 || end - tcp < 8) return;
  q.family = 6;
  q.type = type;
  q.code = b[at + 1]!;
  q.mtu = type === 2 ? u32(b, at + 4) : 0;
  q.fromKey = key6At(b, src);
  q.src4 = 0;
  q.dst4 = 0;
  words6(q, b, inner);
  q.srcKey = key6(q.src6a, q.src6b, q.src6c, q.src6d);
  q.dstKey = key6(q.dst6a, q.dst6b, q.dst6c, q.dst6d);
  q.quotedLen = u16(b, inner + 4) + 40;
  quotedTcp(b, tcp, end, q);
}

function parseOptions(b: Buffer, at: number, end: number, seg: TcpSegment): void {
  let order = 1;
  // only a SYN's order is read (track.ts: synOrder): other segments, the hot path, skip building it
  let kinds = seg.flags & SYN ? 0 : 12;
  while (at < end) {
    const kind = b[at]!;
    if (kinds < 12) {
      order = order * 16 + (kind > 14 ? 15 : kind);
      seg.optOrder = order;
      kinds++;
    }
    if (kind === 0) return;
    if (kind === 1) {
      at++;
      continue;
    }
    if (at + 1 >= end) return;
    const len = b[at + 1]!;
    if (len < 2 || at + len > end) return;
    switch (kind) {
      case 2:
        if (len === 4) seg.mss = u16(b, at + 2);
        break;
      case 3:
        if (len === 3) seg.wscale = b[at + 2]!;
        break;
      case 4:
        seg.sackPermitted = true;
        break;
      case 5:
        seg.sackBlocks = (len - 2) >> 3;
        break;
      case 8:
        if (len === 10) {
          seg.hasTs = true;
          seg.tsVal = u32(b, at + 2);
          seg.tsEcr = u32(b, at + 6);
        }
        break;
      case 30:
        // MPTCP; subtype 8 is MP_TCPRST: flags U V W T in the low nibble, then the reason
        if (len === 4 && b[at + 2]! >> 4 === 8) seg.mptcpRst = b[at + 3]! | ((b[at + 2]! & 15) << 8);
        break;
    }
    at += len;
  }
}
