// Turning kernel bytes into text that is safe to print: addresses, ports,
// TCP flags, and untrusted names (process names are chosen by whoever runs
// the process, so they may carry terminal escapes or bidi overrides).

import type { BoundedMap } from '../memory/bounded.js';
import { boundedTable } from '../memory/budget.js';
import { formatIPv4, formatIPv6 } from '../net/addr.js';

// the address and flag codec is net/'s; the event code reads it through here

const AF_INET = 2;

// C0 and C1 controls, DEL, the backslash itself, and the Unicode format
// characters that reorder or hide text (bidi overrides, zero-width marks).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\\\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufffd]/g;

/** Makes an untrusted string safe for a terminal, a log line or JSON consumers' -r output. */
export function escapeText(s: string): string {
  return s.replace(UNSAFE, (c) => {
    if (c === '\\') return '\\\\';
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A NUL-terminated kernel string (comm), decoded and escaped. */
export function cString(bytes: Uint8Array): string {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  let ascii = true;
  for (let i = 0; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c > 0x7e || c === 0x5c) {
      ascii = false;
      break;
    }
  }
  if (ascii) return String.fromCharCode(...bytes.subarray(0, end));
  // The kernel cuts names at 15 bytes, possibly inside a UTF-8 character:
  // decode the longest valid prefix, show the bytes after it as \xNN.
  for (let cut = end; cut >= Math.max(0, end - 3); cut--) {
    try {
      return escapeText(utf8.decode(bytes.subarray(0, cut))) + bytesEscaped(bytes.subarray(cut, end));
    } catch {
      /* a shorter prefix may be valid */
    }
  }
  return bytesEscaped(bytes.subarray(0, end));
}

/** Printable ASCII as is, every other byte as \xNN. */
function bytesEscaped(bytes: Uint8Array): string {
  let out = '';
  for (const c of bytes) {
    out += c >= 0x20 && c <= 0x7e && c !== 0x5c ? String.fromCharCode(c) : c === 0x5c ? '\\\\' : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return out;
}

// ---- the event path: the same, read straight from a ring-buffer batch ----
// Flood traffic repeats the same few addresses and process names, so each is
// formatted once; the caches are bounded (src/memory/budget.ts) because their
// keys come from traffic: a flood from random sources makes one per packet.

function bytesOf(view: DataView, off: number, len: number): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset + off, len);
}

/**
 * Remembers the last 16-byte value and its text: flood traffic repeats the same
 * name or address event after event, and comparing four words allocates nothing.
 */
class Last16 {
  private a = -1;
  private b = -1;
  private c = -1;
  private d = -1;
  private text = '';

  get(view: DataView, off: number, cache: BoundedMap<string, string>, make: () => string): string {
    const a = view.getUint32(off);
    const b = view.getUint32(off + 4);
    const c = view.getUint32(off + 8);
    const d = view.getUint32(off + 12);
    if (a !== this.a || b !== this.b || c !== this.c || d !== this.d) {
      this.text = cache.touch(`${a},${b},${c},${d}`, make);
      this.a = a;
      this.b = b;
      this.c = c;
      this.d = d;
    }
    return this.text;
  }
}

/** Where an address or a name sits in a kernel record (the members of struct tcpwhy_event). */
interface TextFields {
  view: DataView;
  family: number;
  sk_family: number;
  pkt_laddr: number;
  pkt_raddr: number;
  sk_laddr: number;
  sk_raddr: number;
  comm: number;
  owner_comm: number;
}

/**
 * The text of the address and name fields of kernel records, with the caches
 * that make a flood cheap. Each reader of records (the JSON writer, the event
 * builder) owns one: a field keeps its own last value, so that two fields read
 * in turn do not push each other out.
 */
export class FieldText {
  private readonly v4: BoundedMap<number, string>;
  private readonly v6: BoundedMap<string, string>;
  private readonly names: BoundedMap<string, string>;
  private readonly lastPktL = new Last16();
  private readonly lastPktR = new Last16();
  private readonly lastSkL = new Last16();
  private readonly lastSkR = new Last16();
  private readonly lastComm = new Last16();
  private readonly lastOwner = new Last16();

  /** warn: told once per cache that starts forgetting (the owner's warning channel; none by default) */
  constructor(opts: { warn?: (msg: string) => void } = {}) {
    this.v4 = boundedTable('ipv4Texts', opts.warn);
    this.v6 = boundedTable('ipv6Texts', opts.warn);
    this.names = boundedTable('nameTexts', opts.warn);
  }

  /** the caches, for tests of their bounds */
  get caches(): ReadonlyArray<BoundedMap<string | number, string>> {
    return [this.v4, this.v6, this.names] as ReadonlyArray<BoundedMap<string | number, string>>;
  }

  private addr(view: DataView, off: number, family: number, last: Last16): string {
    if (family === AF_INET) return this.v4.touch(view.getUint32(off), () => formatIPv4(bytesOf(view, off, 4)));
    return last.get(view, off, this.v6, () => formatIPv6(bytesOf(view, off, 16)));
  }

  private name(view: DataView, off: number, last: Last16): string {
    return last.get(view, off, this.names, () => cString(bytesOf(view, off, 16)));
  }

  packetLocal(r: TextFields): string {
    return this.addr(r.view, r.pkt_laddr, r.family, this.lastPktL);
  }

  packetRemote(r: TextFields): string {
    return this.addr(r.view, r.pkt_raddr, r.family, this.lastPktR);
  }

  socketLocal(r: TextFields): string {
    return this.addr(r.view, r.sk_laddr, r.sk_family, this.lastSkL);
  }

  socketRemote(r: TextFields): string {
    return this.addr(r.view, r.sk_raddr, r.sk_family, this.lastSkR);
  }

  /** the current task's name, decoded and escaped */
  comm(r: TextFields): string {
    return this.name(r.view, r.comm, this.lastComm);
  }

  /** the socket owner's name, decoded and escaped */
  ownerComm(r: TextFields): string {
    return this.name(r.view, r.owner_comm, this.lastOwner);
  }
}
