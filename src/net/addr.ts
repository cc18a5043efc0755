// IP addresses as text: the one form tcpwhy prints (dotted quad, RFC 5952 for
// IPv6) and the one parser for the forms it reads (--addr, --conn, tshark's
// fields). Three representations meet here: kernel bytes (events), the
// capture's address keys (below), and the 16-byte key of the kernel's address
// filter.

export function formatIPv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/**
 * RFC 5952 text of eight 16-bit groups: lower case, the longest run of two or
 * more zero groups (the first on a tie) as "::", ::ffff:a.b.c.d for an
 * IPv4-mapped address so the IPv4 address stays readable.
 */
function groupsText(g: readonly number[]): string {
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: readonly number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** RFC 5952 text of 16 address bytes. */
export function formatIPv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  return groupsText(g);
}

/** "addr:port", with IPv6 addresses in brackets. */
export function endpoint(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

export interface ParsedAddr {
  family: 4 | 6;
  /** IPv4: its four bytes; IPv6: its eight 16-bit groups */
  parts: number[];
}

/**
 * Reads an IPv4 address (dotted quad) or an IPv6 address (RFC 4291 text, in
 * brackets or not, an IPv4 address allowed as its last 32 bits). Throws an
 * Error that names what is wrong.
 */
export function parseAddr(text: string): ParsedAddr {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) throw new Error(`bad IPv4 address: ${text}`);
    return { family: 4, parts };
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
        const k = parseAddr(g);
        if (k.family !== 4) throw new Error(`bad IPv4 address: ${g}`);
        out.push((k.parts[0]! << 8) | k.parts[1]!, (k.parts[2]! << 8) | k.parts[3]!);
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
  return { family: 6, parts: [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail] };
}

/** An IPv4 or IPv6 address as the 16-byte key of the kernel's address filter (IPv4 mapped into IPv6). */
export function addrFilterKey(text: string): Buffer {
  const a = parseAddr(text);
  const key = Buffer.alloc(16);
  if (a.family === 4) {
    key[10] = 0xff;
    key[11] = 0xff;
    a.parts.forEach((p, i) => {
      key[12 + i] = p;
    });
  } else
    a.parts.forEach((g, i) => {
      key.writeUInt16BE(g, i * 2);
    });
  return key;
}

// ---- capture address keys ----
// The capture decoder names an address by a short string of 16-bit char codes
// (two for IPv4, eight for IPv6): cheap to make, compare and hash per packet.
// Text is made only for what is reported.

/** An address key (TcpSegment.srcKey/dstKey) as text: dotted quad or RFC 5952 IPv6. */
export function addrText(key: string): string {
  if (key.length === 2) {
    const a = key.charCodeAt(0);
    const c = key.charCodeAt(1);
    return `${a >> 8}.${a & 255}.${c >> 8}.${c & 255}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(key.charCodeAt(i));
  return groupsText(g);
}

/** The address key of an address's text; null when it is not one. */
export function addrKey(text: string): string | null {
  let a: ParsedAddr;
  try {
    a = parseAddr(text);
  } catch {
    return null;
  }
  const p = a.parts;
  return a.family === 4 ? String.fromCharCode((p[0]! << 8) | p[1]!, (p[2]! << 8) | p[3]!) : String.fromCharCode(...p);
}
