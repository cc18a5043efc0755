// Streaming reader for pcap and pcapng captures, plain or gzip-compressed.
//
// Written by hand on purpose (docs/capture.md): the npm packages for the job
// either read one of the two formats only (pcap-parser 0.2.1: pcap;
// pcap-ng-parser 1.0.0: pcapng) and emit an event with a fresh object per
// packet, or bind libpcap (pcap 3.x, a native build). The analysis needs both
// formats at millions of frames per second in bounded memory, which means one
// reused frame object, no per-frame allocation and records parsed straight out
// of a large read buffer. The formats are small (draft-ietf-opsawg-pcap,
// draft-ietf-opsawg-pcapng); what is read and what is skipped is listed there.
import { decompressed, openSource, type ByteSource, type CaptureSource } from './source.js';
import { CaptureError, type CaptureInterface, type Frame, type ReadSummary } from './types.js';

/** Read size: large enough that per-read overhead vanishes, small enough to stay cache-friendly. */
const CHUNK = 4 << 20;
/** No real capture has a record this large (snaplen tops out at 256 KiB; pcapng blocks with
 * huge options are unheard of): a larger length is corruption, and refusing it bounds memory. */
export const MAX_RECORD = 16 << 20;

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

export interface ReadOptions {
  /** called about every CHUNK of input with bytes read so far and the file's size (compressed bytes for gzip); not for a stream */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /**
   * Stops the reading (a stream: Ctrl-C): what was read is handed out and the
   * summary returned as for a complete capture (a record cut by the stop is not damage)
   */
  signal?: AbortSignal;
}

/** Room kept in front of each read: the unparsed tail of the previous chunk (a record cut by the chunk boundary) is copied there. Larger than any snapshot length. */
const HEAD = 512 << 10;

/**
 * A window over the stream with read-ahead: `buf[pos, end)` holds bytes not
 * yet parsed; `base` is the stream offset of buf[0]. While the parser works
 * on one buffer, the next chunk is already being read into the other (the
 * read runs on libuv's thread pool, so reading and parsing overlap on two
 * cores). When the parser runs out, the buffers swap and only the cut
 * record at the end of the old one is copied, in front of the new chunk.
 */
class Window {
  buf = Buffer.allocUnsafe(HEAD + CHUNK);
  /** buf as a DataView: getUint32(at, littleEndian) compiles to plain loads in either byte order */
  view = viewOf(this.buf);
  pos = HEAD;
  end = HEAD;
  base = -HEAD;
  /** the buffer the read-ahead fills, at [HEAD, HEAD + CHUNK) */
  private spare = Buffer.allocUnsafe(HEAD + CHUNK);
  /** the read under way; null once the stream ended (or was settled) */
  private ahead: Promise<number> | null;

  constructor(
    private readonly src: ByteSource,
    private readonly progress: (() => void) | null,
  ) {
    this.ahead = this.readAhead();
  }

  private readAhead(): Promise<number> {
    const p = this.src.fill(this.spare, HEAD, CHUNK);
    // a read that fails while the parser is busy (or after it stopped at a
    // damaged record) must not count as an unhandled rejection: need() and
    // settle() still see the error when they await it
    p.catch(() => {});
    return p;
  }

  /** Makes at least n bytes available at pos (unless the stream ends first); returns the bytes available. */
  async need(n: number): Promise<number> {
    while (this.end - this.pos < n && this.ahead) {
      const got = await this.ahead;
      this.ahead = null;
      this.progress?.();
      if (got === 0) break;
      const tail = this.end - this.pos;
      const next = this.spare;
      if (tail <= HEAD) {
        // the usual case: the cut record goes in front of the new chunk
        this.buf.copy(next, HEAD - tail, this.pos, this.end);
        const old = this.buf;
        this.base += this.pos - (HEAD - tail);
        this.buf = next;
        this.view = viewOf(next);
        this.pos = HEAD - tail;
        this.end = HEAD + got;
        // a buffer grown for a long record is not kept as the spare
        this.spare = old.length === HEAD + CHUNK ? old : Buffer.allocUnsafe(HEAD + CHUNK);
      } else {
        // a record longer than HEAD spans chunks: join them (rare; records stop at MAX_RECORD)
        const joined = Buffer.allocUnsafe(tail + got);
        this.buf.copy(joined, 0, this.pos, this.end);
        next.copy(joined, tail, HEAD, HEAD + got);
        this.base += this.pos;
        this.buf = joined;
        this.view = viewOf(joined);
        this.pos = 0;
        this.end = tail + got;
      }
      this.ahead = this.readAhead();
    }
    return this.end - this.pos;
  }

  /** Waits for the read-ahead (its result unused), so that the source can be closed. */
  async settle(): Promise<void> {
    if (this.ahead) await this.ahead.catch(() => 0);
    this.ahead = null;
  }

  offset(): number {
    return this.base + this.pos;
  }
}

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.length);
}

// plain byte arithmetic for the cold paths: Buffer's readUInt32* validate their arguments on every call
function u32(buf: Buffer, at: number, le: boolean): number {
  return le
    ? (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0
    : ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}
function u16(buf: Buffer, at: number, le: boolean): number {
  return le ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
}

/**
 * Splits a 64-bit timestamp of `perSec` units into seconds and nanoseconds
 * exactly. Nanosecond pcapng stamps exceed 2^53, where doubles lose units, so
 * the remainder is computed modulo `perSec` in pieces that stay exact.
 */
function splitTimestamp(high: number, low: number, perSec: number, f: Frame): void {
  if (high < 0x200000) {
    const v = high * 4294967296 + low;
    const sec = Math.floor(v / perSec);
    const rem = v - sec * perSec;
    f.sec = sec;
    f.nsec = perSec === 1e9 ? rem : perSec === 1e6 ? rem * 1000 : Math.floor((rem * 1e9) / perSec);
    return;
  }
  if (perSec <= 0x1000000) {
    // (high * 2^32) mod perSec, in 16-bit steps so every product stays below 2^53
    let m = high % perSec;
    m = (m * 65536) % perSec;
    m = (m * 65536) % perSec;
    const rem = (m + (low % perSec)) % perSec;
    f.sec = Math.round((high * 4294967296 + low - rem) / perSec);
    f.nsec = Math.floor((rem * 1e9) / perSec);
    return;
  }
  const v = (BigInt(high) << 32n) | BigInt(low);
  const p = BigInt(perSec);
  f.sec = Number(v / p);
  f.nsec = Number(((v % p) * 1_000_000_000n) / p);
}

/** if_tsresol: high bit clear = 10^-n, set = 2^-n units per second. */
function tsResolution(code: number): number {
  const n = code & 0x7f;
  return code & 0x80 ? 2 ** n : 10 ** n;
}

/**
 * Reads a capture and calls onFrame for every frame, in file order, with one
 * reused Frame object. Throws CaptureError when the input is not a capture at
 * all; a capture that is cut short or corrupt later resolves with
 * `error` set, after every frame before the damage was delivered.
 */
export async function readCapture(input: string | CaptureSource, onFrame: (f: Frame) => void, opts: ReadOptions = {}): Promise<ReadSummary> {
  const opened = typeof input === 'string' ? await openSource(input, opts.signal) : input;
  let src: ByteSource = opened.raw;
  let gzip = false;
  try {
    ({ src, gzip } = await decompressed(opened.raw));
    const summary = await readFrom(src, gzip, opened.size, onFrame, opts);
    // a stop cuts whatever record was arriving: that is not damage
    if (opts.signal?.aborted && summary.error) summary.error = null;
    return summary;
  } finally {
    await src.close();
  }
}

async function readFrom(src: ByteSource, gzip: boolean, total: number | null, onFrame: (f: Frame) => void, opts: ReadOptions): Promise<ReadSummary> {
  let lastReport = -1;
  const progress =
    opts.onProgress && total !== null
      ? () => {
          const done = src.consumed();
          if (done !== lastReport) {
            lastReport = done;
            opts.onProgress!(done, total!);
          }
        }
      : null;
  const w = new Window(src, progress);
  try {
    const have = await w.need(4);
    if (have < 4) throw new CaptureError(have === 0 ? 'empty file: not a pcap or pcapng capture' : 'file too short for a capture header', 0);
    const magicLE = w.buf.readUInt32LE(w.pos);
    const magicBE = w.buf.readUInt32BE(w.pos);
    if (magicLE === PCAPNG_SHB) return await readPcapng(w, onFrame, gzip);
    if (magicLE === PCAP_US || magicLE === PCAP_NS) return await readPcap(w, onFrame, gzip, true, magicLE === PCAP_NS);
    if (magicBE === PCAP_US || magicBE === PCAP_NS) return await readPcap(w, onFrame, gzip, false, magicBE === PCAP_NS);
    throw new CaptureError(`not a pcap or pcapng capture (magic 0x${magicBE.toString(16).padStart(8, '0')}${gzip ? ', after gunzip' : ''})`, 0);
  } catch (err) {
    if (gzip && !(err instanceof CaptureError) && isZlibError(err)) {
      // gunzip failing mid-stream is a damaged file, like a cut record
      throw new CaptureError(`gzip data is corrupt: ${(err as Error).message}`, w.offset());
    }
    throw err;
  } finally {
    await w.settle();
  }
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** Reads n more bytes for a record; a gzip stream that breaks mid-file is reported like a cut record. */
async function needOrDamage(w: Window, n: number, summary: ReadSummary): Promise<number> {
  try {
    return await w.need(n);
  } catch (err) {
    if (!isZlibError(err)) throw err;
    summary.error = new CaptureError(`gzip data is corrupt or cut short: ${(err as Error).message}`, w.offset());
    return -1;
  }
}

/**
 * Hands out the whole pcap records in the window, from w.pos on. Returns how
 * many bytes the next record needs (16 for its header, or 16 + its length),
 * or minus that when its length is impossible. A plain loop apart from the
 * async reading, so that it is compiled as one (the JIT optimizes a
 * synchronous function more reliably than a loop inside an async one).
 */
function pcapRecords(w: Window, f: Frame, onFrame: (f: Frame) => void, le: boolean, nsMul: number): number {
  const buf = w.buf;
  const dv = w.view;
  const end = w.end;
  const base = w.base;
  let p = w.pos;
  for (;;) {
    if (end - p < 16) {
      w.pos = p;
      return 16;
    }
    const caplen = dv.getUint32(p + 8, le);
    if (caplen > MAX_RECORD) {
      w.pos = p;
      return -(16 + caplen);
    }
    if (end - p < 16 + caplen) {
      w.pos = p;
      return 16 + caplen;
    }
    f.index++;
    f.sec = dv.getUint32(p, le);
    f.nsec = dv.getUint32(p + 4, le) * nsMul;
    f.caplen = caplen;
    f.origlen = dv.getUint32(p + 12, le);
    f.buf = buf;
    f.off = p + 16;
    f.fileOffset = base + p;
    p += 16 + caplen;
    // the consumer may look at the window's position (offsets in errors): keep it current
    w.pos = p;
    onFrame(f);
  }
}

async function readPcap(w: Window, onFrame: (f: Frame) => void, gzip: boolean, le: boolean, nano: boolean): Promise<ReadSummary> {
  const summary: ReadSummary = { format: 'pcap', gzip, byteOrder: le ? 'little' : 'big', interfaces: [], frames: 0, bytes: 0, error: null };
  if ((await needOrDamage(w, 24, summary)) < 24) {
    summary.error ??= new CaptureError('pcap file header cut short (24 bytes expected)', w.offset());
    return summary;
  }
  const b = w.buf;
  const snaplen = u32(b, w.pos + 16, le);
  // the upper bits of the link type field carry FCS information
  const linktype = u32(b, w.pos + 20, le) & 0x0fffffff;
  const iface: CaptureInterface = { linktype, snaplen, name: null, tsPerSec: nano ? 1e9 : 1e6 };
  summary.interfaces.push(iface);
  w.pos += 24;
  const f: Frame = { index: 0, sec: 0, nsec: 0, iface: 0, linktype, caplen: 0, origlen: 0, buf: w.buf, off: 0, fileOffset: 0 };
  const nsMul = nano ? 1 : 1000;
  for (;;) {
    // every whole record the window holds, synchronously; then more bytes
    const need = pcapRecords(w, f, onFrame, le, nsMul);
    if (need < 0) {
      summary.error = new CaptureError(`pcap record length ${-need - 16} is impossible (corrupt file)`, w.offset());
      break;
    }
    const avail = await needOrDamage(w, need, summary);
    if (avail <= 0) break;
    if (avail < need) {
      summary.error =
        need === 16
          ? new CaptureError(`pcap record header cut short (${avail} of 16 bytes)`, w.offset())
          : new CaptureError(`pcap record cut short (${avail - 16} of ${need - 16} bytes)`, w.offset());
      break;
    }
  }
  summary.frames = f.index;
  summary.bytes = w.offset();
  return summary;
}

/**
 * Interfaces listed in the summary: a capture may declare an interface block
 * per packet (some writers do), and a million of them as objects held 310 MB.
 * The rest are counted (ReadSummary.interfacesUnlisted).
 */
export const LISTED_INTERFACES = 64;
/** Interfaces a section may declare: a section declaring more is read no further (corrupt). */
export const MAX_INTERFACES = 1 << 20;

/**
 * A section's interfaces, what reading its packets needs of each, in typed
 * arrays (about 24 bytes an interface) grown by doubling.
 */
class Interfaces {
  count = 0;
  linktype = new Int32Array(8);
  snaplen = new Uint32Array(8);
  tsPerSec = new Float64Array(8);
  /** if_tsoffset seconds */
  tsOffset = new Float64Array(8);

  add(i: CaptureInterface, tsOffset: number): void {
    if (this.count === this.linktype.length) {
      const n = this.count * 2;
      const grow = <T extends Int32Array | Uint32Array | Float64Array>(a: T, b: T): T => {
        b.set(a);
        return b;
      };
      this.linktype = grow(this.linktype, new Int32Array(n));
      this.snaplen = grow(this.snaplen, new Uint32Array(n));
      this.tsPerSec = grow(this.tsPerSec, new Float64Array(n));
      this.tsOffset = grow(this.tsOffset, new Float64Array(n));
    }
    const k = this.count++;
    this.linktype[k] = i.linktype;
    this.snaplen[k] = i.snaplen;
    this.tsPerSec[k] = i.tsPerSec;
    this.tsOffset[k] = tsOffset;
  }
}

interface Section {
  le: boolean;
  ifaces: Interfaces;
}

async function readPcapng(w: Window, onFrame: (f: Frame) => void, gzip: boolean): Promise<ReadSummary> {
  const summary: ReadSummary = { format: 'pcapng', gzip, byteOrder: 'little', interfaces: [], frames: 0, bytes: 0, error: null };
  const f: Frame = { index: 0, sec: 0, nsec: 0, iface: 0, linktype: 0, caplen: 0, origlen: 0, buf: w.buf, off: 0, fileOffset: 0 };
  let sec: Section | null = null;
  let first = true;
  for (;;) {
    let avail = w.end - w.pos;
    if (avail < 12) {
      avail = await needOrDamage(w, 12, summary);
      if (avail <= 0) break;
      if (avail < 12) {
        summary.error = new CaptureError(`pcapng block header cut short (${avail} bytes)`, w.offset());
        break;
      }
    }
    let buf = w.buf;
    let dv = w.view;
    let p = w.pos;
    const typeLE = dv.getUint32(p, true);
    if (typeLE === PCAPNG_SHB) {
      const bom = buf.readUInt32LE(p + 8);
      const le = bom === PCAPNG_BOM;
      if (!le && buf.readUInt32BE(p + 8) !== PCAPNG_BOM) {
        summary.error = new CaptureError('pcapng section header with an unknown byte-order magic', w.offset());
        break;
      }
      if (first) summary.byteOrder = le ? 'little' : 'big';
      sec = { le, ifaces: new Interfaces() };
    } else if (!sec) {
      summary.error = new CaptureError('pcapng block before any section header', w.offset());
      break;
    }
    first = false;
    const le = sec.le;
    const type = dv.getUint32(p, le);
    const len = dv.getUint32(p + 4, le);
    if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) {
      summary.error = new CaptureError(`pcapng block length ${len} is invalid (corrupt file)`, w.offset());
      break;
    }
    if (avail < len) {
      avail = await needOrDamage(w, len, summary);
      if (avail < 0) break;
      if (avail < len) {
        summary.error = new CaptureError(`pcapng block cut short (${avail} of ${len} bytes)`, w.offset());
        break;
      }
      buf = w.buf;
      dv = w.view;
      p = w.pos;
    }
    if (dv.getUint32(p + len - 4, le) !== len) {
      summary.error = new CaptureError(`pcapng block trailer length ${u32(buf, p + len - 4, le)} differs from its header ${len} (corrupt file)`, w.offset());
      break;
    }
    const body = p + 8;
    const bodyEnd = p + len - 4;
    let bad: string | null = null;
    if (type === 6 || type === 2) {
      // EPB: iface u32; OPB: iface u16 + drops u16. Then ts high, ts low, caplen, origlen.
      if (bodyEnd - body < 20) bad = 'packet block too short';
      else {
        const ifId = type === 6 ? dv.getUint32(body, le) : dv.getUint16(body, le);
        const ifs = sec.ifaces;
        const caplen = dv.getUint32(body + 12, le);
        if (ifId >= ifs.count) bad = `packet block for undeclared interface ${ifId}`;
        else if (caplen > bodyEnd - body - 20) bad = `packet length ${caplen} exceeds its block`;
        else {
          f.index++;
          splitTimestamp(dv.getUint32(body + 4, le), dv.getUint32(body + 8, le), ifs.tsPerSec[ifId]!, f);
          f.sec += ifs.tsOffset[ifId]!;
          f.iface = ifId;
          f.linktype = ifs.linktype[ifId]!;
          f.caplen = caplen;
          f.origlen = dv.getUint32(body + 16, le);
          f.buf = buf;
          f.off = body + 20;
          f.fileOffset = w.base + p;
          w.pos = p + len;
          onFrame(f);
          continue;
        }
      }
    } else if (type === 3) {
      // SPB: original length, then the packet, cut to the snaplen of interface 0
      const ifs = sec.ifaces;
      if (ifs.count === 0) bad = 'simple packet block without interface 0';
      else if (bodyEnd - body < 4) bad = 'simple packet block too short';
      else {
        const origlen = u32(buf, body, le);
        let caplen = Math.min(origlen, bodyEnd - body - 4);
        if (ifs.snaplen[0]! > 0) caplen = Math.min(caplen, ifs.snaplen[0]!);
        f.index++;
        f.sec = 0;
        f.nsec = 0;
        f.iface = 0;
        f.linktype = ifs.linktype[0]!;
        f.caplen = caplen;
        f.origlen = origlen;
        f.buf = buf;
        f.off = body + 4;
        f.fileOffset = w.base + p;
        w.pos = p + len;
        onFrame(f);
        continue;
      }
    } else if (type === 1) {
      if (bodyEnd - body < 8) bad = 'interface description block too short';
      else if (sec.ifaces.count >= MAX_INTERFACES) bad = `more than ${MAX_INTERFACES} interfaces in a section`;
      else {
        const iface: CaptureInterface = { linktype: u16(buf, body, le), snaplen: u32(buf, body + 4, le), name: null, tsPerSec: 1e6 };
        let tsOffset = 0;
        for (const [code, at, olen] of options(buf, body + 8, bodyEnd, le)) {
          if (code === 2) iface.name = buf.toString('utf8', at, at + olen);
          else if (code === 9 && olen >= 1) iface.tsPerSec = tsResolution(buf[at]!);
          // if_tsoffset: signed seconds
          else if (code === 14 && olen >= 8) tsOffset = (u32(buf, at + (le ? 4 : 0), le) | 0) * 4294967296 + u32(buf, at + (le ? 0 : 4), le);
        }
        sec.ifaces.add(iface, tsOffset);
        if (summary.interfaces.length < LISTED_INTERFACES) summary.interfaces.push(iface);
        else summary.interfacesUnlisted = (summary.interfacesUnlisted ?? 0) + 1;
      }
    }
    // other blocks (name resolution, statistics, custom, decryption secrets ...) carry nothing we use
    if (bad) {
      summary.error = new CaptureError(`${bad} (corrupt file)`, w.offset());
      break;
    }
    w.pos = p + len;
  }
  summary.frames = f.index;
  summary.bytes = w.offset();
  return summary;
}

/** The options of a block body: [code, value offset, value length]; stops at opt_endofopt or malformed data. */
function* options(buf: Buffer, at: number, end: number, le: boolean): Generator<[number, number, number]> {
  while (at + 4 <= end) {
    const code = u16(buf, at, le);
    const len = u16(buf, at + 2, le);
    if (code === 0 || at + 4 + len > end) return;
    yield [code, at + 4, len];
    at += 4 + ((len + 3) & ~3);
  }
}
