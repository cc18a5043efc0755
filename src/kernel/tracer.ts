// A live tracing session: probe the kernel, pick and load the programs, attach,
// and deliver decoded events in batches until stopped.
import { existsSync } from 'node:fs';
import { native, type KernelCounters, type NativeError, type NativeSession } from '../native.js';
import { bpfObjectPath } from '../paths.js';
import { buildDecoder, type Decoder, type RawEvent } from '../events/layout.js';
import { addrFilterKey } from '../events/text.js';
import { requireTracingCaps } from './capabilities.js';
import { SetupError } from './errors.js';
import { probeKernel, tracefsMounted, type KernelFeatures } from './features.js';
import { Kallsyms, symbolizeStack } from './kallsyms.js';
import { planCandidates, type Plan } from './plan.js';
import { bpfKconfig } from './kconfig.js';

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
}

export const DEFAULT_BUFFER_MIB = 16;
export const DEFAULT_STACK_RATE = 2000;

export interface Attempt {
  plan: string;
  error: string;
}

let decoderCache: Decoder | undefined;

/** The decoder for this build's BPF object (derived from its BTF). */
export function eventDecoder(objPath = bpfObjectPath): Decoder {
  if (!decoderCache) {
    const layout = native().structLayout(objPath, 'tcpwhy_event');
    decoderCache = buildDecoder(layout, layout.structSize);
  }
  return decoderCache;
}

/** When every plan failed with EPERM although we have the capabilities. */
function allRefused(errors: NativeError[]): boolean {
  return errors.length > 0 && errors.every((e) => e.errno === 1 /* EPERM */);
}

export class Tracer {
  private stackCache = new Map<number, string[] | null>();
  private ksyms: Kallsyms | undefined;
  private done: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly session: NativeSession,
    readonly plan: Plan,
    readonly features: KernelFeatures,
    readonly attached: string[],
    /** plans tried before this one, and why they failed */
    readonly attempts: Attempt[],
    private readonly decoder: Decoder,
  ) {}

  static open(opts: TracerOptions = {}): Tracer {
    requireTracingCaps();
    if (!existsSync(bpfObjectPath)) {
      throw new SetupError(`the BPF object ${bpfObjectPath} is missing`, 'build tcpwhy first: make build');
    }
    const features = probeKernel(opts.btfPath);
    const decoder = eventDecoder();
    const filters = {
      ...(opts.ports?.length ? { ports: opts.ports } : {}),
      ...(opts.addrs?.length ? { addrs: opts.addrs.map(addrFilterKey) } : {}),
      ...(opts.pids?.length ? { pids: opts.pids } : {}),
      ...(opts.netns?.length ? { netns: opts.netns } : {}),
    };
    const ringbufBytes = (opts.bufferMiB ?? DEFAULT_BUFFER_MIB) * 1024 * 1024;
    const attempts: Attempt[] = [];
    const errors: NativeError[] = [];
    for (const plan of planCandidates(features)) {
      let session: NativeSession | undefined;
      try {
        session = native().open(bpfObjectPath, {
          programs: plan.programs,
          config: {
            sendTpHasReason: plan.sendTpHasReason ? 1 : 0,
            filterFamily: opts.family === 4 ? 2 : opts.family === 6 ? 10 : 0,
            withStacks: 1,
            stacksPerWindow: Math.ceil((opts.stackRate ?? DEFAULT_STACK_RATE) / 10), // 100 ms windows
            wakeupBytes: Math.min(256 * 1024, ringbufBytes / 4),
          },
          ringbufBytes,
          kconfig: bpfKconfig(),
          ...(features.customBtf ? { btfPath: features.btfPath } : {}),
          ...filters,
        });
        const attached = native().attach(session);
        return new Tracer(session, plan, features, attached, attempts, decoder);
      } catch (err) {
        if (session) native().close(session);
        const e = err as NativeError;
        errors.push(e);
        attempts.push({ plan: plan.name, error: e.message });
      }
    }
    if (allRefused(errors)) {
      throw new SetupError(
        `the kernel refused to load tcpwhy's programs (EPERM) although this process has the capabilities:\n${attempts.map((a) => `    ${a.plan}: ${a.error}`).join('\n')}`,
        'check kernel lockdown (/sys/kernel/security/lockdown), an LSM policy that restricts BPF, or the locked-memory limit (ulimit -l)',
      );
    }
    const plainTried = attempts.some((a) => a.plan.startsWith('tracepoint/'));
    throw new SetupError(
      `no set of tcpwhy's kernel programs could be loaded on this kernel:\n${attempts.map((a) => `    ${a.plan}: ${a.error}`).join('\n')}`,
      plainTried && !tracefsMounted()
        ? 'plain tracepoints attach through tracefs, which is not mounted: mount it (mount -t tracefs nodev /sys/kernel/tracing) and run tcpwhy again; see docs/kernel-support.md'
        : 'run with a kernel that has the tcp:tcp_send_reset tracepoint (4.15+) and BTF; see docs/kernel-support.md',
    );
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
  stack(id: number): string[] | null {
    let s = this.stackCache.get(id);
    if (s === undefined) {
      const buf = native().stack(this.session, id);
      if (buf) {
        this.ksyms ??= Kallsyms.load();
        s = symbolizeStack(this.ksyms, new BigUint64Array(buf));
      } else {
        s = null;
      }
      this.stackCache.set(id, s);
    }
    return s;
  }

  /** Detaches and unloads everything. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().close(this.session);
  }
}
