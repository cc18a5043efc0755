// What a TCP RST segment carries as data, for the offline capture analyzer.
//
// RFC 9293 (3.5.3, SHLD-2) lets a reset carry data explaining why it was sent.
// Three kinds are told apart here:
//
// 1. The IETF "TCP RST Diagnostic Payload" (draft-ietf-tcpm-rst-diagnostic-payload,
//    read at -02 of 5 May 2026, the latest announced revision; the format is the
//    same in -00..-03 and in the individual draft-boucadair-...-17 before them).
//    It is fixed-size, not CBOR: exactly 8 bytes, network byte order:
//
//      bytes 0-1  magic number 0x33AA
//      bytes 2-3  reason-code, 16 bits; 0 is reserved and never sent
//      bytes 4-7  pen, a 32-bit IANA Private Enterprise Number. 0 means the
//                 reason-code comes from the IANA "TCP Failure Causes" registry
//                 the draft creates; any other PEN means the code is that
//                 vendor's own (there is no separate vendor-reason field)
//
//    A payload that starts with the magic but is not exactly that (other length,
//    reason-code 0) is malformed, and the draft says a receiver ignores it, as if
//    the RST had no data. Here it is reported as 'binary' with `malformed` set,
//    since an analyst wants to see it anyway.
//
//    Earlier individual revisions used other encodings, still decoded here since
//    experimental stacks may have followed them:
//    - 'free-description' (draft-boucadair-...-15/-16): magic 0xF317, then
//      UTF-8 text to the end of the segment.
//    - 'cbor' (draft-boucadair-... up to at least -11): a CBOR sequence
//      (RFC 8742): the unsigned integer 12345 (a placeholder for the RFC number,
//      bytes 19 30 39), then a map with integer keys 1 = reason-code (uint),
//      2 = pen (uint), 3 = reason-description (text). At least one of 1 and 3
//      must be present. The array form [12345, {...}] is accepted too.
//
// 2. Plain text: some stacks and middleboxes put an ASCII/UTF-8 message in the
//    reset. Returned unescaped (the caller escapes for output) and capped.
//
// 3. Anything else: 'binary', with the first bytes in hex. (The Linux
//    experiment in the draft's appendix A, a 1000-byte payload whose first
//    byte is the kernel's sk_rst_reason, lands here: those numbers are not
//    stable across kernel versions, so no name is guessed for them.)
//
// The decoder takes untrusted bytes from captures: it never throws, and every
// loop is bounded by the payload size or a fixed limit.

/** How the payload was understood. */
export type RstPayloadFormat = 'ietf-diagnostic' | 'text' | 'binary';

/** Which encoding of the IETF diagnostic payload (see the file comment). */
export type RstDiagnosticEncoding = 'compact' | 'free-description' | 'cbor';

export interface RstPayload {
  format: RstPayloadFormat;
  /** payload bytes looked at (the captured part of the segment's data) */
  length: number;
  /** 'ietf-diagnostic' only: which revision's encoding carried it */
  encoding?: RstDiagnosticEncoding;
  /**
   * 'ietf-diagnostic': the reason-code. With pen 0 (or no pen) it is from the
   * IANA "TCP Failure Causes" registry; with another pen it is that vendor's.
   */
  reasonCode?: number;
  /**
   * Short name of reasonCode when it is a registry code (pen 0 or absent) the
   * draft lists (see REASON_NAMES_DRAFT); absent for vendor or unknown codes.
   */
  reasonName?: string;
  /** 'ietf-diagnostic': the Private Enterprise Number (0 = IANA registry) */
  pen?: number;
  /**
   * 'ietf-diagnostic' with the free-description or CBOR encodings: the
   * sender's reason description, unescaped, at most MAX_TEXT_CHARS characters.
   */
  description?: string;
  /**
   * 'text': the payload as text, unescaped (the caller escapes it for output),
   * trailing NUL padding dropped, at most MAX_TEXT_CHARS characters.
   */
  text?: string;
  /** set when description or text was cut to MAX_TEXT_CHARS */
  truncated?: boolean;
  /** 'binary': lowercase hex of the first HEX_BYTES bytes */
  hex?: string;
  /**
   * 'binary' only: the payload carries a diagnostic-payload magic number but
   * breaks that format; says how. Per the draft such a payload is to be ignored.
   */
  malformed?: string;
}

/** Longest text or description returned, in characters (code points). */
export const MAX_TEXT_CHARS = 256;
/** Bytes shown in hex for a binary payload. */
export const HEX_BYTES = 32;

/** The draft revision whose initial registry REASON_NAMES follows. */
export const REASON_NAMES_DRAFT = 'draft-ietf-tcpm-rst-diagnostic-payload-02';

/**
 * Initial "TCP Failure Causes" codes (pen 0), as proposed in REASON_NAMES_DRAFT,
 * in our own short wording. IANA has not created the registry yet, and the
 * authors' editor's copy marked -03 renumbers codes 2..19, so a name is only a
 * hint: the numeric code is always reported beside it.
 */
export const REASON_NAMES: ReadonlyMap<number, string> = new Map([
  [1, 'illegal option length'],
  [2, 'desynchronized state'],
  [3, 'new data after close'],
  [4, 'abort'],
  [5, 'unexpected ACK in non-synchronized state'],
  [6, 'unexpected SYN in window'],
  [7, 'unexpected security compartment'],
  [8, 'malformed message'],
  [9, 'not authorized'],
  [10, 'resource exceeded'],
  [11, 'network failure'],
  [12, 'reset received from peer'],
  [13, 'destination unreachable'],
  [14, 'connection timeout'],
  [15, 'too much outstanding data (MPTCP)'],
  [16, 'unacceptable performance (MPTCP)'],
  [17, 'middlebox interference (MPTCP)'],
]);

const MAGIC_COMPACT = 0x33aa;
const MAGIC_FREE = 0xf317;
const COMPACT_LEN = 8;
const CBOR_COOKIE = 12345;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes the data of a RST segment: buf[off, off + len). Out-of-range
 * off/len are clamped to the buffer. Returns null when there is no data.
 * Never throws.
 */
export function decodeRstPayload(buf: Buffer, off: number, len: number): RstPayload | null {
  if (!Number.isFinite(off) || !Number.isFinite(len)) return null;
  const start = Math.max(0, Math.floor(off));
  const end = Math.min(buf.length, start + Math.max(0, Math.floor(len)));
  if (end <= start) return null;
  const p = buf.subarray(start, end);

  if (p.length >= 2) {
    const magic = p.readUInt16BE(0);
    if (magic === MAGIC_COMPACT) return compact(p);
    if (magic === MAGIC_FREE) return freeDescription(p);
  }
  // 0x19 0x30 0x39 is the CBOR uint 12345; 0x82 opens a 2-element array
  if ((p[0] === 0x19 || p[0] === 0x82) && p.length >= 3) {
    const r = cborDiagnostic(p);
    if (r) return r;
  }
  const t = asText(p);
  if (t !== null) return { format: 'text', length: p.length, ...capped('text', t) };
  return binary(p);
}

function binary(p: Buffer, malformed?: string): RstPayload {
  const r: RstPayload = { format: 'binary', length: p.length, hex: p.subarray(0, HEX_BYTES).toString('hex') };
  if (malformed) r.malformed = malformed;
  return r;
}

function diagnostic(
  p: Buffer,
  encoding: RstDiagnosticEncoding,
  code: number | undefined,
  pen: number | undefined,
  description: string | undefined,
): RstPayload {
  const r: RstPayload = { format: 'ietf-diagnostic', length: p.length, encoding };
  if (code !== undefined) {
    r.reasonCode = code;
    if (!pen) {
      const name = REASON_NAMES.get(code);
      if (name) r.reasonName = name;
    }
  }
  if (pen !== undefined) r.pen = pen;
  if (description !== undefined) Object.assign(r, capped('description', description));
  return r;
}

function compact(p: Buffer): RstPayload {
  if (p.length !== COMPACT_LEN) {
    return binary(p, `magic 0x33aa but ${p.length} bytes, the diagnostic payload is ${COMPACT_LEN}`);
  }
  const code = p.readUInt16BE(2);
  if (code === 0) return binary(p, 'magic 0x33aa with reserved reason-code 0');
  return diagnostic(p, 'compact', code, p.readUInt32BE(4), undefined);
}

function freeDescription(p: Buffer): RstPayload {
  if (p.length === 2) return binary(p, 'magic 0xf317 without a description');
  const s = decodeUtf8(p.subarray(2));
  if (s === null) return binary(p, 'magic 0xf317 but the description is not UTF-8');
  return diagnostic(p, 'free-description', undefined, undefined, s);
}

/** The legacy CBOR encoding, or null when the bytes are not it at all. */
function cborDiagnostic(p: Buffer): RstPayload | null {
  const rd = new CborReader(p);
  const first = rd.item(0);
  if (first === FAIL) return null;
  let reason: CborValue | typeof FAIL;
  if (first === CBOR_COOKIE) {
    // sequence: cookie, then the reason map
    reason = rd.item(0);
  } else if (Array.isArray(first) && first.length === 2 && first[0] === CBOR_COOKIE) {
    reason = first[1] as CborValue;
  } else {
    return null;
  }
  const bad = (why: string) => binary(p, `CBOR cookie 12345 but ${why}`);
  if (reason === FAIL) return bad('the reason is not well-formed CBOR');
  if (rd.pos !== p.length) return bad('bytes follow the reason map');
  if (!(reason instanceof Map)) return bad('the reason is not a map');
  const code = reason.get(1);
  const pen = reason.get(2);
  const desc = reason.get(3);
  if (code !== undefined && !isUint(code)) return bad('reason-code (key 1) is not an unsigned integer');
  if (pen !== undefined && !isUint(pen)) return bad('pen (key 2) is not an unsigned integer');
  if (desc !== undefined && typeof desc !== 'string') return bad('reason-description (key 3) is not text');
  if (code === undefined && desc === undefined) return bad('neither reason-code nor reason-description');
  return diagnostic(p, 'cbor', code as number | undefined, pen as number | undefined, desc as string | undefined);
}

function isUint(v: CborValue | undefined): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function decodeUtf8(b: Uint8Array): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

// C0 controls other than tab, LF, CR; DEL; C1 controls
const NON_PRINTABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** The payload as text, or null when it is not printable UTF-8. */
function asText(p: Buffer): string | null {
  let end = p.length;
  while (end > 0 && p[end - 1] === 0) end--; // C-string NUL padding
  if (end === 0) return null;
  const s = decodeUtf8(p.subarray(0, end));
  if (s === null || NON_PRINTABLE.test(s)) return null;
  return s;
}

/** `{ [key]: s }` cut to MAX_TEXT_CHARS code points, with truncated when cut. */
function capped(key: 'text' | 'description', s: string): Partial<RstPayload> {
  // a code point is at most 2 UTF-16 units, so a short string needs no walk
  if (s.length <= MAX_TEXT_CHARS) return { [key]: s };
  let units = 0;
  let chars = 0;
  while (units < s.length && chars < MAX_TEXT_CHARS) {
    const c = s.codePointAt(units)!;
    units += c > 0xffff ? 2 : 1;
    chars++;
  }
  if (units >= s.length) return { [key]: s };
  return { [key]: s.slice(0, units), truncated: true };
}

// ---------------------------------------------------------------------------
// A minimal CBOR (RFC 8949) reader for the legacy encoding above. Hand-written
// rather than a dependency: it needs ~80 lines for definite-length items, and
// general libraries (cbor-x and the like) throw on bad input and do not bound
// nesting or item counts the way a decoder of untrusted capture bytes must.
// Supported: unsigned and negative integers, byte and text strings, arrays,
// maps, tags (content kept, tag dropped), simple values and floats (skipped,
// read as UNSUPPORTED). Indefinite lengths are refused. Every length is
// checked against the bytes left before anything is allocated or looped over.

const FAIL = Symbol('cbor-fail');
const UNSUPPORTED = Symbol('cbor-unsupported');
type CborValue = number | string | Uint8Array | CborValue[] | Map<CborValue, CborValue> | typeof UNSUPPORTED;

const CBOR_MAX_DEPTH = 8;
const CBOR_MAX_ITEMS = 64;

class CborReader {
  pos = 0;
  private items = 0;
  constructor(private readonly b: Buffer) {}

  /** Next data item, or FAIL for anything malformed, truncated or over a limit. */
  item(depth: number): CborValue | typeof FAIL {
    if (depth > CBOR_MAX_DEPTH || ++this.items > CBOR_MAX_ITEMS) return FAIL;
    if (this.pos >= this.b.length) return FAIL;
    const ib = this.b[this.pos++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (major === 7) return this.simple(ai);
    const n = this.arg(ai);
    if (n === null) return FAIL;
    const left = this.b.length - this.pos;
    switch (major) {
      case 0:
        return n <= Number.MAX_SAFE_INTEGER ? Number(n) : UNSUPPORTED;
      case 1:
        return n < Number.MAX_SAFE_INTEGER ? -1 - Number(n) : UNSUPPORTED;
      case 2:
      case 3: {
        if (n > BigInt(left)) return FAIL;
        const bytes = this.b.subarray(this.pos, this.pos + Number(n));
        this.pos += Number(n);
        if (major === 2) return Uint8Array.from(bytes);
        const s = decodeUtf8(bytes);
        return s === null ? FAIL : s;
      }
      case 4: {
        // every element takes at least one byte
        if (n > BigInt(left)) return FAIL;
        const out: CborValue[] = [];
        for (let i = 0; i < Number(n); i++) {
          const v = this.item(depth + 1);
          if (v === FAIL) return FAIL;
          out.push(v);
        }
        return out;
      }
      case 5: {
        if (n * 2n > BigInt(left)) return FAIL;
        const out = new Map<CborValue, CborValue>();
        for (let i = 0; i < Number(n); i++) {
          const k = this.item(depth + 1);
          if (k === FAIL) return FAIL;
          const v = this.item(depth + 1);
          if (v === FAIL) return FAIL;
          // keys compare by value only for numbers and strings; others are kept apart
          if (out.has(k)) return FAIL; // duplicate key
          out.set(k, v);
        }
        return out;
      }
      case 6:
        return this.item(depth + 1);
      default:
        return FAIL;
    }
  }

  /** The argument that follows the initial byte, or null (truncated, indefinite, reserved). */
  private arg(ai: number): bigint | null {
    if (ai < 24) return BigInt(ai);
    const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    if (size === 0 || this.pos + size > this.b.length) return null; // 28-30 reserved, 31 indefinite
    const at = this.pos;
    this.pos += size;
    switch (size) {
      case 1:
        return BigInt(this.b[at]!);
      case 2:
        return BigInt(this.b.readUInt16BE(at));
      case 4:
        return BigInt(this.b.readUInt32BE(at));
      default:
        return this.b.readBigUInt64BE(at);
    }
  }

  /** Major type 7: simple values and floats, skipped. */
  private simple(ai: number): CborValue | typeof FAIL {
    if (ai < 24) return UNSUPPORTED; // false, true, null, undefined, unassigned
    const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    if (size === 0 || this.pos + size > this.b.length) return FAIL; // 31 is a stray "break"
    this.pos += size;
    return UNSUPPORTED;
  }
}
