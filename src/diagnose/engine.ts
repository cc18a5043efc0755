// Turns one RST plus what is known around it (history, host context, kernel)
// into a verdict from the cause registry (src/causes/). Synchronous and cheap: the pipeline
// (pipeline.ts) makes sure the host context is there before calling it.
import { release } from 'node:os';
import type { RstEvent, StateEvent } from '../events/event.js';
import type { HostSnapshot } from '../host/types.js';
import { CAUSES } from '../causes/index.js';
import type { Cause } from '../causes/types.js';
import type { Verdict } from '../events/verdict.js';
import { History } from './history.js';
import { FloodShortcut } from './flood.js';
import type { BoundedMap } from '../memory/bounded.js';
import { boundedTable } from '../memory/budget.js';
import type { ConnView, Facts, KernelFacts } from '../causes/live-facts.js';
import { LossDiagnoser } from './loss.js';

export function kernelVersion(rel = release()): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** Reasons that say nothing: treated like no reason (6.10-6.11 report NOT_SPECIFIED for every active reset). */
const EMPTY_REASONS = new Set(['NOT_SPECIFIED']);

/** A cause the live diagnosis can recognize: one with a live rule. */
type LiveCause = Cause & Required<Pick<Cause, 'match'>>;

export class Diagnoser {
  readonly history: History;
  /** the SYN-to-no-socket shortcut: its memo serves diagnose() too */
  readonly flood: FloodShortcut;
  private readonly kernel: KernelFacts;
  private readonly causes: readonly LiveCause[];
  private readonly stackFns: BoundedMap<number, Set<string>>;
  /** the diagnosis of drops, retransmissions and errors (its stories also serve received RSTs) */
  readonly loss: LossDiagnoser;

  constructor(opts: { history?: History; kernel?: KernelFacts; causes?: readonly Cause[]; warn?: (msg: string) => void } = {}) {
    this.history = opts.history ?? new History({}, undefined, opts.warn);
    this.flood = new FloodShortcut(this.history, opts.warn);
    this.stackFns = boundedTable('stackFunctions', opts.warn);
    this.loss = new LossDiagnoser({ warn: opts.warn });
    this.kernel = opts.kernel ?? { version: kernelVersion() };
    // in registry order, which is the order the live rules are tried in
    this.causes = (opts.causes ?? CAUSES).filter((c): c is LiveCause => c.match !== undefined);
  }

  /** Stacks whose function names are remembered. */
  get stackFunctionSets(): number {
    return this.stackFns.size;
  }

  addState(s: StateEvent): void {
    this.history.addState(s);
  }

  private functionsOf(e: RstEvent): Set<string> | null {
    if (!e.stack) return null;
    const id = e.stack_id ?? -1;
    let fns = id >= 0 ? this.stackFns.get(id) : undefined;
    if (!fns) {
      // "tcp_v4_rcv+0x8ca", "foo.isra.0+0x12 [mod]": the function, without compiler clone suffixes
      fns = new Set(
        e.stack.map((f) =>
          f
            .replace(/\+0x[0-9a-f]+.*$/, '')
            .replace(/\s.*$/, '')
            .replace(/\.(isra|constprop|part|cold|llvm)\b.*$/, ''),
        ),
      );
      if (id >= 0) this.stackFns.set(id, fns);
    }
    return fns;
  }

  facts(e: RstEvent, host: HostSnapshot | undefined): Facts {
    const fns = this.functionsOf(e);
    const tuple = e.packet ?? e.socket;
    const flags = e.segment ? new Set(e.segment.flags.split('|')) : null;
    const h = this.history;
    // read when a rule asks: live, it is a kernel map lookup
    let conn: ConnView | undefined;
    return {
      e,
      reason: e.reason && !EMPTY_REASONS.has(e.reason) ? e.reason : null,
      stackHas: (fn) => fns?.has(fn) ?? false,
      hasStack: fns !== null,
      get conn() {
        conn ??= h.conn(e.netns, tuple);
        return conn;
      },
      historyOf: (t) => h.conn(e.netns, t),
      sentByPeer: e.direction === 'received' ? h.sentByPeer(e.netns, e.socket, e.mono_ns, e.state === 'SYN_SENT') : null,
      sentHere: e.direction === 'received' ? h.sentHere(e.netns, e.socket, e.mono_ns) : null,
      droppedByPeer: e.direction === 'received' && tuple ? this.loss.peerDrop(e.netns, tuple, e.mono_ns) : null,
      listener: tuple ? h.listener(e.netns, tuple.lport) : { episodes: [] },
      host,
      kernel: this.kernel,
      tuple,
      seg: flags && e.segment ? { syn: flags.has('SYN'), ack: flags.has('ACK'), fin: flags.has('FIN'), rst: flags.has('RST'), len: e.segment.len } : null,
    };
  }

  /** The verdict for an RST; the RST then joins the history. */
  diagnose(e: RstEvent, host?: HostSnapshot): Verdict {
    // SYNs that found no socket (floods, port scans): the entry that explained
    // their shape before is tried first, or its verdict shared (flood.ts)
    const key = this.flood.keyOf(e, host);
    const known = key === null ? undefined : this.flood.known(key);
    if (known?.verdict) {
      e.cause = known.verdict;
      this.history.addReset(e);
      return known.verdict;
    }
    const f = this.facts(e, host);
    let verdict: Verdict | null = null;
    if (known) {
      const c = this.causes[known.index]!;
      const m = c.match(f);
      if (m) verdict = { id: c.id, title: c.title, confidence: m.confidence, summary: m.summary, evidence: m.evidence, fix: c.fix };
    }
    for (let i = 0; !verdict && i < this.causes.length; i++) {
      const c = this.causes[i]!;
      const m = c.match(f);
      if (m) {
        verdict = { id: c.id, title: c.title, confidence: m.confidence, summary: m.summary, evidence: m.evidence, fix: c.fix };
        if (key !== null) this.flood.remember(key, i, c.sameForShape ? verdict : null);
      }
    }
    // the registry's live order ends with catch-alls for every direction and kind
    if (!verdict) throw new Error(`no cause matched a ${e.direction} ${e.kind ?? ''} RST: the registry lacks a catch-all`);
    e.cause = verdict;
    this.history.addReset(e);
    return verdict;
  }
}
