// Kernel stack symbolization from /proc/kallsyms, like the classic bcc tools:
// "function+0xoffset" ("function+0xoffset [module]" for module code). The
// table is read again only when the loaded modules change (KernelSymbols);
// stacks are symbolized once per distinct stack id by the caller's cache.
//
// The file has some 120,000 text symbols. Parsing it into JavaScript strings
// and BigInts cost 50 MB of memory at the peak (the whole budget of a tracer
// that must stay small), so it is scanned as bytes into typed arrays: the
// addresses as two 32-bit halves, the names in one byte blob.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

const NL = 0x0a;
const SP = 0x20;
const TAB = 0x09;

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Growable typed-array column. */
class U32 {
  a = new Uint32Array(1 << 14);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

/** Parses kallsyms lines, chunk by chunk, into columns. */
class Parser {
  readonly hi = new U32();
  readonly lo = new U32();
  readonly nameStart = new U32();
  readonly nameEnd = new U32();
  readonly mod = new U32();
  blob = Buffer.allocUnsafe(1 << 20);
  blobLen = 0;
  readonly modules: string[] = [''];
  private readonly moduleIndex = new Map<string, number>();

  /** Parses the whole lines in buf[pos, limit). */
  feed(buf: Buffer, pos: number, limit: number): void {
    while (pos < limit) {
      let end = pos;
      while (end < limit && buf[end] !== NL) end++;
      this.line(buf, pos, end);
      pos = end + 1;
    }
  }

  // "ffffffff82069460 T inet_csk_clone_lock\t[module]"
  private line(buf: Buffer, pos: number, end: number): void {
    let h = 0;
    let l = 0;
    let i = pos;
    for (; i < end; i++) {
      const d = hexDigit(buf[i]!);
      if (d < 0) break;
      h = (h * 16 + Math.floor(l / 0x10000000)) >>> 0;
      l = (((l * 16) % 0x100000000) + d) >>> 0;
    }
    const type = (buf[i + 1] ?? 0) | 0x20;
    if (i === pos || buf[i] !== SP || buf[i + 2] !== SP || (type !== 0x74 /* t */ && type !== 0x77) /* w */ || !(h || l)) return;
    const start = i + 3;
    let tab = start;
    while (tab < end && buf[tab] !== TAB) tab++;
    let mod = 0;
    if (tab < end) {
      const name = buf.toString('latin1', tab + 1, end).trim();
      mod = this.moduleIndex.get(name) ?? 0;
      if (!mod) {
        mod = this.modules.push(name) - 1;
        this.moduleIndex.set(name, mod);
      }
    }
    const len = tab - start;
    if (this.blobLen + len > this.blob.length) {
      const b = Buffer.allocUnsafe(Math.max(this.blob.length * 2, this.blobLen + len));
      this.blob.copy(b, 0, 0, this.blobLen);
      this.blob = b;
    }
    this.nameStart.push(this.blobLen);
    this.blobLen += buf.copy(this.blob, this.blobLen, start, tab);
    this.nameEnd.push(this.blobLen);
    this.hi.push(h);
    this.lo.push(l);
    this.mod.push(mod);
  }
}

/**
 * Each module's code and data, [start, end) from /proc/modules ("name size
 * refcount deps state 0xaddress"). /proc/kallsyms can go on listing a
 * module's init symbols after their memory was freed and reused (6.1 listed
 * inet_diag_init at the address of tcp_diag_destroy, loaded there next): a
 * module symbol is believed only inside its module.
 */
export function moduleRanges(text: string): Map<string, [bigint, bigint]> {
  const out = new Map<string, [bigint, bigint]>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const addr = f[5];
    if (f.length < 6 || !/^\d+$/.test(f[1]!) || !addr || !/^0x[0-9a-f]+$/i.test(addr)) continue;
    const start = BigInt(addr);
    if (start) out.set(f[0]!, [start, start + BigInt(f[1]!)]);
  }
  return out;
}

export class Kallsyms {
  /** address halves of symbol i at [2i] (high) and [2i+1] (low), sorted */
  private readonly addr: Uint32Array;
  private readonly nameStart: Uint32Array;
  private readonly nameEnd: Uint32Array;
  private readonly moduleOf: Uint16Array;
  private readonly blob: Buffer;
  private readonly modules: string[];

  /** `ranges`: where each module lies (moduleRanges); module symbols outside theirs are left out. */
  constructor(text: string | Buffer | Parser, ranges?: Map<string, [bigint, bigint]>) {
    let p: Parser;
    if (text instanceof Parser) {
      p = text;
    } else {
      const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
      p = new Parser();
      p.feed(buf, 0, buf.length);
    }
    const hi = p.hi.a;
    const lo = p.lo.a;
    // /proc/kallsyms is sorted but for module symbols: sort an index
    const kept: number[] = [];
    for (let k = 0; k < p.hi.n; k++) {
      const r = p.mod.a[k] && ranges?.get(p.modules[p.mod.a[k]!]!.replace(/^\[|\]$/g, ''));
      if (r) {
        const a = (BigInt(hi[k]!) << 32n) | BigInt(lo[k]!);
        if (a < r[0] || a >= r[1]) continue;
      }
      kept.push(k);
    }
    const n = kept.length;
    const order = Uint32Array.from(kept);
    order.sort((a, b) => hi[a]! - hi[b]! || lo[a]! - lo[b]!);
    this.addr = new Uint32Array(2 * n);
    this.nameStart = new Uint32Array(n);
    this.nameEnd = new Uint32Array(n);
    this.moduleOf = new Uint16Array(n);
    order.forEach((k, j) => {
      this.addr[2 * j] = hi[k]!;
      this.addr[2 * j + 1] = lo[k]!;
      this.nameStart[j] = p.nameStart.a[k]!;
      this.nameEnd[j] = p.nameEnd.a[k]!;
      this.moduleOf[j] = p.mod.a[k]!;
    });
    this.blob = Buffer.from(p.blob.subarray(0, p.blobLen));
    this.modules = p.modules;
  }

  /** Reads the file in small chunks: /proc/kallsyms is megabytes of text. */
  static load(path = '/proc/kallsyms', ranges?: Map<string, [bigint, bigint]>): Kallsyms {
    const p = new Parser();
    const chunk = Buffer.allocUnsafe(1 << 16);
    let carry = Buffer.alloc(0);
    const fd = openSync(path, 'r');
    try {
      for (;;) {
        const n = readSync(fd, chunk, 0, chunk.length, null);
        const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
        if (n === 0) {
          p.feed(data, 0, data.length);
          break;
        }
        const cut = data.lastIndexOf(NL) + 1;
        p.feed(data, 0, cut);
        carry = Buffer.from(data.subarray(cut));
      }
    } finally {
      closeSync(fd);
    }
    return new Kallsyms(p, ranges);
  }

  get size(): number {
    return this.nameStart.length;
  }

  /** "name+0xoff [module]", or the bare address when no symbol covers it. */
  symbolize(address: bigint): string {
    const h = Number(address >> 32n);
    const l = Number(address & 0xffffffffn);
    let lo = 0;
    let hi = this.size - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const mh = this.addr[2 * mid]!;
      if (mh < h || (mh === h && this.addr[2 * mid + 1]! <= l)) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return `0x${address.toString(16)}`;
    const base = (BigInt(this.addr[2 * found]!) << 32n) | BigInt(this.addr[2 * found + 1]!);
    const name = this.blob.toString('latin1', this.nameStart[found]!, this.nameEnd[found]!);
    const mod = this.modules[this.moduleOf[found]!];
    // the kernel's own %pS format: "func+0xoff [module]"
    return `${name}+0x${(address - base).toString(16)}${mod ? ` ${mod}` : ''}`;
  }
}

/**
 * The symbol table, kept in step with the modules: a module loaded after the
 * table was read (tcp_diag, loaded by the first `ss -K`) would otherwise have
 * its code named after whatever symbol precedes it. /proc/modules (names and
 * load addresses, a few KB) is compared before each new stack is symbolized.
 */
export class KernelSymbols {
  private table: Kallsyms | undefined;
  private modules: string | undefined;

  constructor(
    private readonly readModules: () => string = () => {
      try {
        return readFileSync('/proc/modules', 'latin1');
      } catch {
        return '';
      }
    },
    private readonly load: (ranges: Map<string, [bigint, bigint]>) => Kallsyms = (ranges) => Kallsyms.load('/proc/kallsyms', ranges),
  ) {}

  get(): Kallsyms {
    const text = this.readModules();
    // the name and address of each module (the other fields change with use counts)
    const now = text
      .split('\n')
      .map((l) => {
        const f = l.split(' ');
        return `${f[0]} ${f[5] ?? ''}`;
      })
      .join('\n');
    if (!this.table || now !== this.modules) {
      this.table = this.load(moduleRanges(text));
      this.modules = now;
    }
    return this.table;
  }
}

// Frames of the tracing machinery itself, above the kernel function of interest.
const TRACING_FRAME =
  /^(bpf_prog_|bpf_trace_run|__bpf_trace_|__traceiter_|bpf_get_stack|__bpf_prog_enter|bpf_trampoline|perf_trace_|trace_event_raw_event_|kprobe_|ftrace_)/;

/** Symbolizes a zero-terminated list of return addresses, dropping tracing frames on top. */
export function symbolizeStack(ksyms: Kallsyms, ips: BigUint64Array): string[] {
  const frames: string[] = [];
  for (const ip of ips) {
    if (ip === 0n) break;
    frames.push(ksyms.symbolize(ip));
  }
  let first = 0;
  while (first < frames.length - 1 && TRACING_FRAME.test(frames[first]!)) first++;
  return frames.slice(first);
}
