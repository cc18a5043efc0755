// Tunnels and encapsulations around the IP packet that carries TCP: what
// decode.ts calls when a frame is not plain IP/TCP. Each function takes the
// offset of its layer and the frame's end and returns the offset of the inner
// IP header (its version in `innerVersion`) or why there is none. Every read is
// checked against the frame's end: the bytes come from a capture, trusted in
// nothing. Nesting is bounded (MAX_LAYERS), so a hostile capture cannot make
// the decoder recurse through thousands of layers in one 256 KiB frame.
//
// Chosen where the packet does not say:
// - MPLS: after the bottom-of-stack label, a version nibble 4 or 6 is IPv4 or
//   IPv6; 0 is a pseudowire control word (RFC 4385) followed by Ethernet
//   (RFC 4448); 1 is a pseudowire associated channel (not decoded); anything
//   else is Ethernet without a control word. (Wireshark guesses the same way.)
// - Teredo (UDP port 3544 on either side): only when what follows the optional
//   authentication and origin indications is an IPv6 header whose length fills
//   the UDP payload exactly; other traffic from or to port 3544 stays UDP.
// - VXLAN is UDP to port 4789 with the I flag; Geneve UDP to port 6081, version 0.
// - ERSPAN over GRE 0x88be without a sequence number is type I (no ERSPAN
//   header); with one, type II (8-byte header, version 1); 0x22eb is type III
//   (12 bytes, version 2, plus the 8-byte platform subheader when O is set).
import type { SkipReason } from './types.js';

const u16 = (b: Buffer, at: number) => (b[at]! << 8) | b[at + 1]!;

/** How many encapsulations one frame may nest (a real one has 2 or 3). */
export const MAX_LAYERS = 8;

/** The inner IP header's version after a call that returned an offset. */
export let innerVersion = 0;
/** What an 'encapsulation' or 'unknown-linktype' skip was: the last one's words. */
export let skipNote = '';

let layers = 0;

/** A new frame: no layers yet. */
export function resetLayers(): void {
  layers = 0;
}

// the note strings are made once each: a capture of a million such packets makes no garbage
const notes = new Map<number, string>();
function noted(code: number, make: () => string): string {
  let s = notes.get(code);
  if (s === undefined) {
    s = make();
    if (notes.size < 4096) notes.set(code, s);
  }
  return s;
}

export function unsupported(what: string): SkipReason {
  skipNote = what;
  return 'encapsulation';
}

const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

export function unknownLinktype(name: string): SkipReason {
  skipNote = name;
  return 'unknown-linktype';
}

function deeper(): boolean {
  return ++layers > MAX_LAYERS;
}

const TOO_DEEP = `more than ${MAX_LAYERS} nested encapsulations`;

function ip(version: number, at: number): number {
  innerVersion = version;
  return at;
}

/**
 * The payload of an EtherType (from Ethernet, a cooked header, GRE, Geneve,
 * SNAP): IP, VLAN tags, PPPoE, MPLS, Ethernet bridged in GRE. Unknown types
 * are not IP; a tunnel that names one says so itself.
 */
export function encapEtherType(b: Buffer, proto: number, at: number, end: number): number | SkipReason {
  for (;;) {
    switch (proto) {
      case 0x0800:
        return ip(4, at);
      case 0x86dd:
        return ip(6, at);
      case 0x8100:
      case 0x88a8:
      case 0x9100:
        if (end - at < 4) return 'truncated';
        proto = u16(b, at + 2);
        at += 4;
        continue;
      case 0x8864:
        return pppoe(b, at, end);
      case 0x8847:
      case 0x8848:
        return mpls(b, at, end);
      case 0x6558:
        return ethernet(b, at, end);
    }
    return 'not-ip';
  }
}

/** An Ethernet header (inside a tunnel or a pseudowire), then its payload. */
export function ethernet(b: Buffer, at: number, end: number): number | SkipReason {
  if (deeper()) return unsupported(TOO_DEEP);
  if (end - at < 14) return 'truncated';
  const proto = u16(b, at + 12);
  // an 802.3 length rather than a type: LLC, maybe SNAP
  if (proto <= 1500) return llcSnap(b, at + 14, end);
  return encapEtherType(b, proto, at + 14, end);
}

/** 802.2 LLC with a SNAP header (AA AA 03, OUI, EtherType); other LLC carries no IP here. */
export function llcSnap(b: Buffer, at: number, end: number): number | SkipReason {
  if (end - at < 3) return 'truncated';
  if (b[at] !== 0xaa || b[at + 1] !== 0xaa || b[at + 2] !== 3) return 'not-ip';
  if (end - at < 8) return 'truncated';
  return encapEtherType(b, u16(b, at + 6), at + 8, end);
}

/** PPPoE session (RFC 2516): 6-byte header, then a PPP protocol number. */
function pppoe(b: Buffer, at: number, end: number): number | SkipReason {
  if (deeper()) return unsupported(TOO_DEEP);
  if (end - at < 8) return 'truncated';
  if (b[at] !== 0x11 || b[at + 1] !== 0) return 'not-ip';
  return pppProto(b, at + 6, end);
}

/** PPP in HDLC-like framing (PPTP's GRE): address and control may be absent, the protocol 1 or 2 bytes. */
function ppp(b: Buffer, at: number, end: number): number | SkipReason {
  if (deeper()) return unsupported(TOO_DEEP);
  if (end - at < 2) return 'truncated';
  if (b[at] === 0xff && b[at + 1] === 0x03) at += 2;
  return pppProto(b, at, end);
}

function pppProto(b: Buffer, at: number, end: number): number | SkipReason {
  if (end - at < 1) return 'truncated';
  let proto = b[at]!;
  // protocol field compression: an odd first byte is the whole number
  if (proto & 1) at += 1;
  else {
    if (end - at < 2) return 'truncated';
    proto = u16(b, at);
    at += 2;
  }
  if (proto === 0x21) return ip(4, at);
  if (proto === 0x57) return ip(6, at);
  if (proto === 0xfd || proto === 0xfb) return unsupported('PPP compressed or encrypted (CCP/ECP)');
  return 'not-ip';
}

/** An MPLS label stack down to bottom of stack, then the payload as the header comment says. */
function mpls(b: Buffer, at: number, end: number): number | SkipReason {
  if (deeper()) return unsupported(TOO_DEEP);
  for (;;) {
    if (end - at < 4) return 'truncated';
    const bottom = b[at + 2]! & 1;
    at += 4;
    if (bottom) break;
  }
  if (end - at < 1) return 'truncated';
  const nibble = b[at]! >> 4;
  if (nibble === 4) return ip(4, at);
  if (nibble === 6) return ip(6, at);
  if (nibble === 0) return ethernet(b, at + 4, end);
  if (nibble === 1) return unsupported('MPLS pseudowire associated channel');
  return ethernet(b, at, end);
}

/**
 * The payload of an IP packet of protocol `proto` at `at`, when it is a
 * tunnel: IPv4 or IPv6 in IP (4, 41), GRE (47), UDP to VXLAN, Geneve or
 * Teredo. Anything else is 'not-tcp', as before tunnels were decoded.
 */
export function ipInIp(b: Buffer, proto: number, at: number, end: number): number | SkipReason {
  switch (proto) {
    case 4:
      return deeper() ? unsupported(TOO_DEEP) : ip(4, at);
    case 41:
      return deeper() ? unsupported(TOO_DEEP) : ip(6, at);
    case 47:
      return deeper() ? unsupported(TOO_DEEP) : gre(b, at, end);
    case 17:
      return udp(b, at, end);
  }
  return 'not-tcp';
}

const VXLAN_PORT = 4789;
const GENEVE_PORT = 6081;
const TEREDO_PORT = 3544;

function udp(b: Buffer, at: number, end: number): number | SkipReason {
  if (end - at < 8) return 'not-tcp';
  const sport = u16(b, at);
  const dport = u16(b, at + 2);
  const p = at + 8;
  if (dport === VXLAN_PORT) {
    if (end - p < 8 || !(b[p]! & 0x08)) return 'not-tcp';
    return deeper() ? unsupported(TOO_DEEP) : ethernet(b, p + 8, end);
  }
  if (dport === GENEVE_PORT) {
    if (end - p < 8 || b[p]! >> 6 !== 0) return 'not-tcp';
    if (deeper()) return unsupported(TOO_DEEP);
    const inner = p + 8 + (b[p]! & 0x3f) * 4;
    if (inner > end) return 'truncated';
    const proto = u16(b, p + 2);
    const r = encapEtherType(b, proto, inner, end);
    return r === 'not-ip' && proto !== 0x6558 ? unsupported(noted(0x60810000 + proto, () => `Geneve protocol ${hex4(proto)}`)) : r;
  }
  if (sport === TEREDO_PORT || dport === TEREDO_PORT) return teredo(b, p, at + u16(b, at + 4), end);
  return 'not-tcp';
}

/** Teredo (RFC 4380): optional authentication and origin indications, then IPv6 filling the datagram. */
function teredo(b: Buffer, at: number, udpEnd: number, end: number): number | SkipReason {
  let p = at;
  if (end - p >= 4 && b[p] === 0 && b[p + 1] === 1) p += 4 + b[p + 2]! + b[p + 3]! + 9;
  if (end - p >= 8 && b[p] === 0 && b[p + 1] === 0) p += 8;
  if (end - p < 40 || b[p]! >> 4 !== 6 || p + 40 + u16(b, p + 4) !== udpEnd) return 'not-tcp';
  return deeper() ? unsupported(TOO_DEEP) : ip(6, p);
}

/** GRE (RFC 2784/2890, and PPTP's version 1 of RFC 2637). */
function gre(b: Buffer, at: number, end: number): number | SkipReason {
  if (end - at < 4) return 'truncated';
  const flags = u16(b, at);
  const proto = u16(b, at + 2);
  const version = flags & 7;
  let p = at + 4;
  if (version === 0) {
    if (flags & 0x4000) return unsupported('GRE with source routing');
    if (flags & 0x8000) p += 4;
    if (flags & 0x2000) p += 4;
    if (flags & 0x1000) p += 4;
  } else if (version === 1) {
    // key (payload length and call id) always; sequence and acknowledgement numbers when flagged
    p += 4;
    if (flags & 0x1000) p += 4;
    if (flags & 0x0080) p += 4;
  } else return unsupported(noted(0x47000000 + version, () => `GRE version ${version}`));
  if (p > end) return 'truncated';
  if (proto === 0x88be) {
    if (!(flags & 0x1000)) return ethernet(b, p, end);
    if (end - p < 8) return 'truncated';
    if (b[p]! >> 4 !== 1) return unsupported('ERSPAN type II of an unknown version');
    return ethernet(b, p + 8, end);
  }
  if (proto === 0x22eb) return erspan3(b, p, end);
  if (proto === 0x880b) return ppp(b, p, end);
  // Aruba's controllers tunnel 802.11 frames with these types
  if (proto >= 0x8200 && proto <= 0x8370 && (proto & 0xf) === 0) return wlan(b, p, end);
  const r = encapEtherType(b, proto, p, end);
  return r === 'not-ip' && proto !== 0x6558 ? unsupported(noted(0x47470000 + proto, () => `GRE protocol ${hex4(proto)}`)) : r;
}

/** ERSPAN type III: frame type 0 is Ethernet, 2 is IP. */
function erspan3(b: Buffer, at: number, end: number): number | SkipReason {
  if (end - at < 12) return 'truncated';
  if (b[at]! >> 4 !== 2) return unsupported('ERSPAN type III of an unknown version');
  const frameType = (b[at + 10]! >> 2) & 0x1f;
  const p = at + 12 + (b[at + 11]! & 1 ? 8 : 0);
  if (p > end) return 'truncated';
  if (frameType === 0) return ethernet(b, p, end);
  if (frameType === 2 && end - p >= 1) {
    const v = b[p]! >> 4;
    if (v === 4 || v === 6) return ip(v, p);
  }
  return unsupported(noted(0x22eb0000 + frameType, () => `ERSPAN type III frame type ${frameType}`));
}

/** An 802.11 data frame (Aruba GRE): header by its flags, then LLC/SNAP. */
function wlan(b: Buffer, at: number, end: number): number | SkipReason {
  if (end - at < 24) return 'truncated';
  const fc = b[at]!;
  const flags = b[at + 1]!;
  // management and control frames, and data frames without a body (null, CF-ack/poll only)
  if (((fc >> 2) & 3) !== 2 || fc & 0x40) return 'not-ip';
  if (flags & 0x40) return unsupported('802.11 protected (encrypted) frame');
  let p = at + 24;
  if ((flags & 3) === 3) p += 6;
  if (fc & 0x80) {
    p += 2;
    if (flags & 0x80) p += 4;
  }
  return llcSnap(b, p, end);
}
