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
import type { Facts, KernelFacts } from '../causes/live-facts.js';

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
  private readonly kernel: KernelFacts;
  private readonly causes: readonly LiveCause[];
  private readonly stackFns = new Map<number, Set<string>>();

  constructor(opts: { history?: History; kernel?: KernelFacts; causes?: readonly Cause[] } = {}) {
    this.history = opts.history ?? new History();
    this.kernel = opts.kernel ?? { version: kernelVersion() };
    // in registry order, which is the order the live rules are tried in
    this.causes = (opts.causes ?? CAUSES).filter((c): c is LiveCause => c.match !== undefined);
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
      fns = new Set(e.stack.map((f) => f.replace(/\+0x[0-9a-f]+.*$/, '').replace(/\s.*$/, '').replace(/\.(isra|constprop|part|cold|llvm)\b.*$/, '')));
      if (id >= 0) this.stackFns.set(id, fns);
    }
    return fns;
  }

  facts(e: RstEvent, host: HostSnapshot | undefined): Facts {
    const fns = this.functionsOf(e);
    const tuple = e.packet ?? e.socket;
    const flags = e.segment ? new Set(e.segment.flags.split('|')) : null;
    const h = this.history;
    return {
      e,
      reason: e.reason && !EMPTY_REASONS.has(e.reason) ? e.reason : null,
      stackHas: (fn) => fns?.has(fn) ?? false,
      hasStack: fns !== null,
      conn: h.conn(e.netns, tuple),
      historyOf: (t) => h.conn(e.netns, t),
      sentByPeer: e.direction === 'received' ? h.sentByPeer(e.netns, e.socket, e.mono_ns, e.state === 'SYN_SENT') : null,
      sentHere: e.direction === 'received' ? h.sentHere(e.netns, e.socket, e.mono_ns) : null,
      listener: tuple ? h.listener(e.netns, tuple.lport) : { episodes: [] },
      host,
      kernel: this.kernel,
      tuple,
      seg:
        flags && e.segment
          ? { syn: flags.has('SYN'), ack: flags.has('ACK'), fin: flags.has('FIN'), rst: flags.has('RST'), len: e.segment.len }
          : null,
    };
  }

  /**
   * SYNs that found no socket are the shape of floods and port scans. Which
   * entry explains one depends only on the key below, so the entries before
   * it are skipped for the next SYN of that shape, and the verdict itself is
   * shared when the entry says it depends on nothing else (sameForShape). A
   * full scan of the registry costs microseconds; a flood brings an event
   * every 2 us. Events with a socket or a history are never cached.
   */
  private readonly memo = new Map<string, { index: number; verdict: Verdict | null }>();

  // (no rule looks at a connection's history for a SYN without a socket)
  private memoKey(e: RstEvent, host: HostSnapshot | undefined): string | null {
    const t = e.packet;
    if (e.direction !== 'sent' || e.socket || !t || e.segment?.flags !== 'SYN') return null;
    return this.shapeKey(e.netns, e.kind, e.reason, t.laddr, t.lport, host);
  }

  private shapeKey(netns: number, kind: string | null, reason: string | null, laddr: string, lport: number, host: HostSnapshot | undefined): string {
    return `${netns}|${kind}|${reason}|${laddr}|${lport}|${host?.takenAtMs ?? -1}|${this.history.listenerVersion}`;
  }

  /**
   * The shared verdict of a SYN that found no socket, when one of its shape
   * was diagnosed before: the JSON flood path asks this straight from the
   * kernel record, without building the event. Records the RST like
   * diagnose() would.
   */
  sharedSynVerdict(netns: number, reason: string | null, laddr: string, lport: number, monoNs: number, host: HostSnapshot | undefined): Verdict | null {
    // a flood repeats one shape: compare with the last one before building a key
    const l = this.lastShape;
    const version = this.history.listenerVersion;
    let v: Verdict | null | undefined;
    if (l && l.netns === netns && l.lport === lport && l.reason === reason && l.laddr === laddr && l.host === host && l.version === version) {
      v = l.verdict;
    } else {
      v = this.memo.get(this.shapeKey(netns, 'passive', reason, laddr, lport, host))?.verdict;
      if (!v) return null;
      this.lastShape = { netns, lport, reason, laddr, host, version, verdict: v, notedNs: 0 };
    }
    // the per-port record of refused SYNs only needs to be about right in time (it pairs receptions within 2 s)
    const last = this.lastShape!;
    if (monoNs - last.notedNs > 1e6) {
      last.notedNs = monoNs;
      this.history.noteRefused(netns, laddr, lport, monoNs, v);
    }
    return v;
  }

  private lastShape:
    | { netns: number; lport: number; reason: string | null; laddr: string; host: HostSnapshot | undefined; version: number; verdict: Verdict; notedNs: number }
    | undefined;

  /** The verdict for an RST; the RST then joins the history. */
  diagnose(e: RstEvent, host?: HostSnapshot): Verdict {
    const key = this.memoKey(e, host);
    const known = key === null ? undefined : this.memo.get(key);
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
        if (key !== null) {
          if (this.memo.size >= 4096) this.memo.clear();
          this.memo.set(key, { index: i, verdict: c.sameForShape ? verdict : null });
        }
      }
    }
    // the registry's live order ends with catch-alls for every direction and kind
    if (!verdict) throw new Error(`no cause matched a ${e.direction} ${e.kind ?? ''} RST: the registry lacks a catch-all`);
    e.cause = verdict;
    this.history.addReset(e);
    return verdict;
  }
}
