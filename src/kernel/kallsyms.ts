// Kernel stack symbolization from /proc/kallsyms, like the classic bcc tools:
// "function+0xoffset". The table is read once; stacks are symbolized once per
// distinct stack id by the caller's cache.
import { readFileSync } from 'node:fs';

export class Kallsyms {
  private readonly addrs: BigUint64Array;
  // All names in one string with start offsets: 200,000 small strings sliced
  // from the file's text would keep all of its megabytes alive.
  private readonly names: string;
  private readonly nameStart: Uint32Array;
  /** "[module]" per symbol, "" for the core kernel (few distinct values) */
  private readonly modules: string[];

  constructor(text: string) {
    const rows: Array<[bigint, string, string]> = [];
    for (const line of text.split('\n')) {
      // "ffffffff82069460 T inet_csk_clone_lock\t[module]"
      const sp1 = line.indexOf(' ');
      if (sp1 <= 0) continue;
      const type = line.charCodeAt(sp1 + 1) | 0x20; // lower case
      if (type !== 0x74 /* t */ && type !== 0x77 /* w */) continue;
      const rest = line.slice(sp1 + 3);
      const tab = rest.indexOf('\t');
      const name = tab >= 0 ? rest.slice(0, tab) : rest;
      const mod = tab >= 0 ? rest.slice(tab + 1).trim() : '';
      const addr = BigInt(`0x${line.slice(0, sp1)}`);
      if (addr !== 0n) rows.push([addr, name, mod]);
    }
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.addrs = BigUint64Array.from(rows.map((r) => r[0]));
    this.nameStart = new Uint32Array(rows.length + 1);
    let at = 0;
    rows.forEach((r, i) => {
      this.nameStart[i] = at;
      at += r[1].length;
    });
    this.nameStart[rows.length] = at;
    // join() makes one flat string that owns its characters
    this.names = rows.map((r) => r[1]).join('');
    const interned = new Map<string, string>();
    this.modules = rows.map((r) => {
      const m = interned.get(r[2]) ?? Buffer.from(r[2]).toString(); // a copy, not a slice of the file
      interned.set(m, m);
      return m;
    });
  }

  static load(path = '/proc/kallsyms'): Kallsyms {
    return new Kallsyms(readFileSync(path, 'utf8'));
  }

  get size(): number {
    return this.addrs.length;
  }

  private name(i: number): string {
    return this.names.slice(this.nameStart[i]!, this.nameStart[i + 1]!);
  }

  /** "name+0xoff", or the bare address when no symbol covers it. */
  symbolize(addr: bigint): string {
    let lo = 0;
    let hi = this.addrs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.addrs[mid]! <= addr) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return `0x${addr.toString(16)}`;
    const mod = this.modules[found];
    // the kernel's own %pS format: "func+0xoff [module]"
    return `${this.name(found)}+0x${(addr - this.addrs[found]!).toString(16)}${mod ? ` ${mod}` : ''}`;
  }
}

// Frames of the tracing machinery itself, above the kernel function of interest.
const TRACING_FRAME = /^(bpf_prog_|bpf_trace_run|__bpf_trace_|__traceiter_|bpf_get_stack|__bpf_prog_enter|bpf_trampoline|perf_trace_|trace_event_raw_event_|kprobe_|ftrace_)/;

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
