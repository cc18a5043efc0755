// Turning kernel bytes into text that is safe to print: addresses, ports,
// TCP flags, and untrusted names (process names are chosen by whoever runs
// the process, so they may carry terminal escapes or bidi overrides).

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
// formatted once; the caches are bounded because their keys come from traffic.

const CACHE_LIMIT = 4096;

function cached<K>(cache: Map<K, string>, key: K, make: () => string): string {
  let s = cache.get(key);
  if (s === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    s = make();
    cache.set(key, s);
  }
  return s;
}

const v4Cache = new Map<number, string>();
const v6Cache = new Map<string, string>();
const commCache = new Map<string, string>();

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

  get(view: DataView, off: number, cache: Map<string, string>, make: () => string): string {
    const a = view.getUint32(off);
    const b = view.getUint32(off + 4);
    const c = view.getUint32(off + 8);
    const d = view.getUint32(off + 12);
    if (a !== this.a || b !== this.b || c !== this.c || d !== this.d) {
      this.text = cached(cache, `${a},${b},${c},${d}`, make);
      this.a = a;
      this.b = b;
      this.c = c;
      this.d = d;
    }
    return this.text;
  }
}

// One memo per field of the event (`slot`), so that two fields read in turn
// do not push each other out.
const lastV6 = [new Last16(), new Last16(), new Last16(), new Last16()];
const lastComm = [new Last16(), new Last16()];

/** The address at `off` in `view` (IPv4 in its first 4 bytes); slot 0-3. */
export function addrAt(view: DataView, off: number, family: number, slot = 0): string {
  if (family === AF_INET) {
    return cached(v4Cache, view.getUint32(off), () => formatIPv4(bytesOf(view, off, 4)));
  }
  return lastV6[slot & 3]!.get(view, off, v6Cache, () => formatIPv6(bytesOf(view, off, 16)));
}

/** The NUL-terminated 16-byte kernel name at `off`, decoded and escaped; slot 0-1. */
export function commAt(view: DataView, off: number, slot = 0): string {
  return lastComm[slot & 1]!.get(view, off, commCache, () => cString(bytesOf(view, off, 16)));
}
