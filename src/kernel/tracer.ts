// A live tracing session: probe the kernel, pick and load the programs, attach,
// and deliver decoded events in batches until stopped.
import { native, type KernelCounters, type NativeError, type NativeSession } from '../native.js';
import { buildDecoder, type Decoder, type RawEvent } from '../events/layout.js';
import { CONN_KEY_LAYOUT, CONN_LAYOUT, STACK_WINDOW_NS } from '../events/generated/contract.js';
import { addrFilterKey } from '../net/addr.js';
import { requireTracingCaps } from './capabilities.js';
import { SetupError } from './errors.js';
import { probeKernel, tracefsMounted, type KernelFeatures } from './features.js';
import { KernelSymbols, symbolizeStack } from './kallsyms.js';
import { chooseHooks, hookOptions, type Attempt, type EventKind, type HookChoice, type HookFamily, type Plan } from './plan.js';
import { bpfKconfig } from './kconfig.js';
import type { BoundedMap } from '../memory/bounded.js';
import { boundedTable } from '../memory/budget.js';

export interface TracerOptions {
  btfPath?: string;
  ports?: number[];
  addrs?: string[];
  pids?: number[];
  netns?: number[];
  family?: 4 | 6;
  /** ring buffer size in MiB (a power of two) */
  bufferMiB?: number;
  /** kernel stack walks per second per CPU; 0: every event */
  stackRate?: number;
  /** use this family of kernel hooks for sent RSTs (--hooks); default: the best that loads */
  hooks?: HookFamily;
  /** what to trace: resets and the kinds of loss events (default: all) */
  events?: ReadonlySet<EventKind>;
  /** RSTs shown in full per storm key per interval (the rest are counted); 0: all */
  fullPerKey?: number;
  /** RSTs shown in full per second per CPU over all keys; 0: no limit */
  fullRate?: number;
  /** kernel memory for the history of connections (the conns map), in MiB */
  historyMiB?: number;
  /** told once when a table of the tracer (the stack symbols) starts forgetting (none by default) */
  warn?: (msg: string) => void;
}

export const DEFAULT_BUFFER_MIB = 16;
export const DEFAULT_STACK_RATE = 2000;
export const DEFAULT_FULL_PER_KEY = 100;
export const DEFAULT_FULL_RATE = 1000;
export const DEFAULT_HISTORY_MIB = 16;
/** Kernel bytes per conns entry: the record, its key and the LRU hash's own element (about 64 bytes). */
const CONN_ENTRY_BYTES = CONN_LAYOUT.size + CONN_KEY_LAYOUT.size + 64;

/** Entries of the conns map for a budget in MiB (a power of two, so the LRU's lists divide evenly). */
export function connEntries(mib: number): number {
  const n = Math.max(1024, Math.floor((mib * 1024 * 1024) / CONN_ENTRY_BYTES));
  return 2 ** Math.floor(Math.log2(n));
}

let decoderCache: Decoder | undefined;

/** The decoder of the events of the BPF object built into the addon. */
export function eventDecoder(): Decoder {
  decoderCache ??= buildDecoder();
  return decoderCache;
}

/** When every plan failed with EPERM although we have the capabilities. */
function allRefused(errors: NativeError[]): boolean {
  return errors.length > 0 && errors.every((e) => e.errno === 1 /* EPERM */);
}

/**
 * The verifier's own reason for refusing a program: the last line of its log
 * in what libbpf printed (the lines before it are the instructions it walked).
 */
export function verifierSays(libbpf: string | undefined): string | null {
  const end = libbpf?.lastIndexOf('-- END PROG LOAD LOG --') ?? -1;
  if (!libbpf || end < 0) return null;
  const begin = libbpf.lastIndexOf('-- BEGIN PROG LOAD LOG --', end);
  const lines = libbpf
    .slice(Math.max(begin, 0), end)
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) =>
        l &&
        !l.startsWith('-- BEGIN') &&
        !l.startsWith('libbpf:') &&
        !/^(processed \d+ insns|verification time|stack depth|;|\d+: |from \d+ to \d+|R\d+\w*=)/.test(l),
    );
  return lines.at(-1) ?? null;
}

// Probing is done once per process (the lab opens a tracer per case).
const choiceCache = new Map<string, HookChoice>();

/** Maps at their smallest: a probe only asks whether the kernel takes a program. */
const PROBE_MAPS = { stacks: 1, owners: 1, listeners: 1, conns: 1 };

function noHooks(attempts: Attempt[]): SetupError {
  const errors = attempts.map((a) => a.cause as NativeError);
  const list = attempts.map((a) => `    ${a.hook}: ${a.error}`).join('\n');
  if (allRefused(errors)) {
    return new SetupError(
      `the kernel refused to load tcpwhy's programs (EPERM) although this process has the capabilities:\n${list}`,
      'check kernel lockdown (/sys/kernel/security/lockdown), an LSM policy that restricts BPF, or the locked-memory limit (ulimit -l)',
    );
  }
  const plainTried = attempts.some((a) => a.hook.startsWith('tracepoint/'));
  return new SetupError(
    `none of tcpwhy's kernel hooks for sent RSTs could be loaded on this kernel:\n${list}`,
    plainTried && !tracefsMounted()
      ? 'plain tracepoints attach through tracefs, which is not mounted: mount it (mount -t tracefs nodev /sys/kernel/tracing) and run tcpwhy again; see docs/kernel-support.md'
      : 'run with a kernel that has the tcp:tcp_send_reset tracepoint (4.15+) and BTF; see docs/kernel-support.md',
  );
}

/**
 * Symbolized kernel stacks by id, each read once. Ids are slots of the
 * kernel's stack map (16384), so they are bounded there, but their symbols
 * would take more than watch's heap: the cache keeps what its budget allows,
 * and a forgotten stack is read again from the kernel.
 */
export class StackSymbols {
  readonly cache: BoundedMap<number, string[] | null>;
  constructor(
    private readonly read: (id: number) => string[] | null,
    warn?: (msg: string) => void,
    heapBytes?: number,
  ) {
    this.cache = boundedTable('stackSymbols', warn, heapBytes);
  }

  get(id: number): string[] | null {
    return this.cache.touch(id, () => this.read(id));
  }
}

/**
 * Drop locations, symbolized once per address: the symbol table checks the
 * loaded modules before each use (a read of /proc/modules), too slow for
 * every drop of a storm.
 */
export class LocationSymbols {
  /** by the address's low 48 bits (exact in a number; kernel text lies in one 4 GB region) */
  readonly cache: BoundedMap<number, string>;

  constructor(
    private readonly read: (addr: bigint) => string,
    warn?: (msg: string) => void,
  ) {
    this.cache = boundedTable('locationSymbols', warn);
  }

  get(addr: bigint): string | null {
    return this.cache.touch(Number(addr & 0xffffffffffffn), () => this.read(addr)) || null;
  }
}

export class Tracer {
  private readonly stacks: StackSymbols;
  private readonly ksyms = new KernelSymbols();
  private readonly locations: LocationSymbols;
  private done: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly session: NativeSession,
    readonly plan: Plan,
    readonly features: KernelFeatures,
    readonly attached: string[],
    /** hooks tried before the plan was settled, and why they failed */
    readonly attempts: Attempt[],
    /** roles without a hook on this kernel, and what that costs */
    readonly missing: HookChoice['missing'],
    private readonly decoder: Decoder,
    warn?: (msg: string) => void,
  ) {
    this.locations = new LocationSymbols((addr) => this.ksyms.get().symbolize(addr), warn);
    this.stacks = new StackSymbols((id) => {
      const buf = native().stack(this.session, id);
      return buf ? symbolizeStack(this.ksyms.get(), new BigUint64Array(buf)) : null;
    }, warn);
  }

  static open(opts: TracerOptions = {}): Tracer {
    requireTracingCaps();
    const features = probeKernel(opts.btfPath);
    const decoder = eventDecoder();
    const filters = {
      ...(opts.ports?.length ? { ports: opts.ports } : {}),
      ...(opts.addrs?.length ? { addrs: opts.addrs.map(addrFilterKey) } : {}),
      ...(opts.pids?.length ? { pids: opts.pids } : {}),
      ...(opts.netns?.length ? { netns: opts.netns } : {}),
    };
    const ringbufBytes = (opts.bufferMiB ?? DEFAULT_BUFFER_MIB) * 1024 * 1024;
    const kconfig = bpfKconfig();
    const openPlan = (plan: Plan, probe: boolean): NativeSession =>
      native().open({
        programs: plan.programs,
        config: {
          send_tp_has_reason: plan.sendTpHasReason ? 1 : 0,
          drop_tp_params: plan.dropParams,
          filter_family: opts.family === 4 ? 2 : opts.family === 6 ? 10 : 0,
          stacks_per_window: Math.ceil(((opts.stackRate ?? DEFAULT_STACK_RATE) * STACK_WINDOW_NS) / 1e9),
          wakeup_bytes: Math.min(256 * 1024, ringbufBytes / 4),
          full_per_key: opts.fullPerKey ?? DEFAULT_FULL_PER_KEY,
          full_per_window: Math.ceil(((opts.fullRate ?? DEFAULT_FULL_RATE) * STACK_WINDOW_NS) / 1e9),
        },
        // 64 KiB: a power of two and a whole number of pages wherever pages are up to 64 KiB
        ringbufBytes: probe ? 1 << 16 : ringbufBytes,
        maxEntries: probe ? PROBE_MAPS : { conns: connEntries(opts.historyMiB ?? DEFAULT_HISTORY_MIB) },
        kconfig,
        ...(features.customBtf ? { btfPath: features.btfPath } : {}),
        ...(probe ? {} : filters),
      });
    // The first try is the real thing: when it loads, it is kept.
    let kept: { session: NativeSession; attached: string[] } | undefined;
    const tryPlan = (plan: Plan, first: boolean): NativeError | undefined => {
      let session: NativeSession | undefined;
      try {
        session = openPlan(plan, !first);
        const attached = native().attach(session);
        if (first) {
          kept = { session, attached };
          session = undefined;
        }
        return undefined;
      } catch (err) {
        const e = err as NativeError;
        const why = verifierSays(e.libbpf);
        if (why) e.message = `${e.message} (verifier: ${why})`;
        return e;
      } finally {
        if (session) native().close(session);
      }
    };
    const key = `${features.btfPath}\0${opts.hooks ?? ''}\0${[...(opts.events ?? [])].sort().join(',')}`;
    let choice = choiceCache.get(key);
    if (!choice) {
      choice = chooseHooks(hookOptions(features, opts.hooks, opts.events), tryPlan);
      if (!choice.plan) throw noHooks(choice.attempts);
      choiceCache.set(key, choice);
    }
    const plan = choice.plan!;
    if (kept) return new Tracer(kept.session, plan, features, kept.attached, choice.attempts, choice.missing, decoder, opts.warn);
    let session: NativeSession | undefined;
    try {
      session = openPlan(plan, false);
      const attached = native().attach(session);
      return new Tracer(session, plan, features, attached, choice.attempts, choice.missing, decoder, opts.warn);
    } catch (err) {
      if (session) native().close(session);
      const e = err as NativeError;
      // the probe loaded these programs: what differs is the size of the maps (memory) or the filters
      throw new SetupError(
        `cannot load tcpwhy's kernel programs (${plan.name}): ${e.message}`,
        e.errno === 1 || e.errno === 12
          ? 'check the locked-memory limit (ulimit -l) and free memory; a smaller --buffer-mb needs less'
          : 'see docs/kernel-support.md',
      );
    }
  }

  /**
   * Starts delivering events; the promise settles after stop() once the last
   * batch has been delivered. Events are handed over one by one as they are
   * decoded, and each RawEvent is only valid during its call: nothing of a
   * batch is kept alive, which keeps the garbage collector's work small
   * under a flood. onBatchEnd runs after each batch (to flush output).
   */
  start(onEvent: (e: RawEvent) => void, onBatchEnd?: () => void): Promise<void> {
    const { decoder } = this;
    const size = decoder.recordSize;
    // one event object, refilled for every record (see decodeInto)
    let scratch!: RawEvent;
    this.done = new Promise<void>((resolve, reject) => {
      let failed = false;
      native().start(this.session, (buf, count, error) => {
        if (failed) return;
        if (buf === null) {
          if (error < 0) reject(new Error(`the ring buffer reader stopped: errno ${-error}`));
          else resolve();
          return;
        }
        // the addon reuses one buffer for every batch: `count` records are valid, during this call
        if (count * size > buf.byteLength) {
          reject(new Error(`ring buffer batch of ${count} records of ${size} bytes in a ${buf.byteLength}-byte buffer`));
          return;
        }
        const view = new DataView(buf);
        scratch ??= decoder.decode(view, 0);
        try {
          for (let i = 0; i < count; i++) onEvent(decoder.decodeInto(scratch, view, i * size));
          onBatchEnd?.();
        } catch (err) {
          // e.g. EPIPE from stdout: stop the stream and report it to whoever awaits it
          failed = true;
          native().stop(this.session);
          reject(err);
        }
      });
    });
    return this.done;
  }

  /** Stops the stream: what the kernel already wrote is still delivered. */
  async stop(): Promise<void> {
    if (this.closed) return;
    if (this.done) {
      native().stop(this.session);
      await this.done.catch(() => undefined); // start()'s caller hears of failures
    }
  }

  counters(): KernelCounters {
    return native().counters(this.session);
  }

  /** Symbolized kernel stack, once per distinct id. */
  /** A kernel address as function+0xoffset. */
  symbol(addr: bigint): string | null {
    return this.locations.get(addr);
  }

  stack(id: number): string[] | null {
    return this.stacks.get(id);
  }

  /** Detaches the programs (nothing is counted any more); the maps stay readable until close(). */
  detach(): void {
    if (!this.closed) native().unlink(this.session);
  }

  /** The storm counts of the interval that ends (the kernel counts into a fresh table from now on). */
  stormSwap(): ArrayBuffer {
    return native().stormSwap(this.session);
  }

  /** RSTs counted without a storm key, per namespace: [netns, direction (DIR_*), count]. */
  unkeyed(): Array<[number, number, number]> {
    return native().unkeyed(this.session);
  }

  /** The kernel's record of a connection (struct tcpwhy_conn), or null. */
  conn(key: Buffer): ArrayBuffer | null {
    return native().conn(this.session, key);
  }

  /** Detaches and unloads everything. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().close(this.session);
  }
}
