// Turning kernel bytes into text that is safe to print: addresses, ports,
// TCP flags, and untrusted names (process names are chosen by whoever runs
// the process, so they may carry terminal escapes or bidi overrides).

const AF_INET = 2;

export function formatIPv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text: lower case, longest run of zero groups (length >= 2) as "::". */
export function formatIPv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** "addr:port", with IPv6 addresses in brackets. */
export function endpoint(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** Parses an IPv4 or IPv6 address into the 16-byte key of the kernel's address filter. */
export function addrFilterKey(text: string): Buffer {
  const key = Buffer.alloc(16);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) throw new Error(`bad IPv4 address: ${text}`);
    key[10] = 0xff;
    key[11] = 0xff;
    parts.forEach((p, i) => (key[12 + i] = p));
    return key;
  }
  const s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) throw new Error(`not an IP address: ${text}`);
  const halves = s.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 address: ${text}`);
  const parse = (h: string, last: boolean): number[] => {
    if (!h) return [];
    const out: number[] = [];
    const groups = h.split(':');
    for (const [i, g] of groups.entries()) {
      if (g.includes('.')) {
        // an embedded IPv4 address can only be the last 32 bits
        if (!last || i !== groups.length - 1) throw new Error(`bad IPv6 address: ${text}`);
        const k = addrFilterKey(g);
        out.push((k[12]! << 8) | k[13]!, (k[14]! << 8) | k[15]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`bad IPv6 address: ${text}`);
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = parse(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? parse(halves[1]!, true) : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 2 && fill < 1) || (halves.length === 1 && fill !== 0)) {
    throw new Error(`bad IPv6 address: ${text}`);
  }
  const groups = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  groups.forEach((g, i) => key.writeUInt16BE(g, i * 2));
  return key;
}

const TCP_FLAG_NAMES: Array<[number, string]> = [
  [0x01, 'FIN'],
  [0x02, 'SYN'],
  [0x04, 'RST'],
  [0x08, 'PSH'],
  [0x10, 'ACK'],
  [0x20, 'URG'],
  [0x40, 'ECE'],
  [0x80, 'CWR'],
];

const flagText: string[] = [];

export function formatTcpFlags(flags: number): string {
  return (flagText[flags & 0xff] ??= flagNames(flags & 0xff));
}

function flagNames(flags: number): string {
  const names = TCP_FLAG_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n);
  return names.length ? names.join('|') : 'none';
}

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
