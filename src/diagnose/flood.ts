// The flood shortcut. An RST answering a SYN that found no socket is the shape
// of SYN floods and port scans: under hping3 against a closed port one comes
// every 2 us, and a full diagnosis (the event object, a scan of the registry,
// the cause's JSON) costs several times that. Which registry entry explains
// such an RST depends only on its shape key (below), so the verdict is found
// once per shape and reused.
//
// Every hot-path trick of that shortcut lives here, and nowhere else:
// - the shape test, on the event (refusedSyn) and on the kernel record
//   (refusedSynRecord: the same test before any event exists);
// - the shape key, and the memo from key to the registry entry that matched
//   (and its verdict, shared when the entry says it depends on nothing else:
//   Cause.sameForShape);
// - the last shape seen, compared field by field, so that a flood of one shape
//   builds no key string and looks nothing up in a Map;
// - the shared verdict's JSON tail (`,"cause":{...}}`), encoded to UTF-8 once,
//   so each line copies bytes instead of encoding the same text again;
// - the per-port record of refused SYNs in the history, refreshed at most once
//   a millisecond from the shortcut.
// A flood event that takes the shortcut allocates nothing here. bench/rst-flood.ts
// (`tcpwhy watch --json` during an hping3 SYN flood) measures this path:
// keep it that way.
import type { RstEvent, Tuple, EventContext } from '../events/event.js';
import { DIR_SENT, F_HAS_PKT, F_HAS_SK, KIND_PASSIVE, reasonOf } from '../events/event.js';
import type { RawEvent } from '../events/layout.js';
import type { HostSnapshot } from '../host/types.js';
import type { Verdict } from '../events/verdict.js';
import { causeJson } from './json.js';
import type { BoundedMap } from '../memory/bounded.js';
import { boundedTable } from '../memory/budget.js';

const SYN_ONLY = 0x02;

/** The shape on an event: a SYN this host answered with an RST because no socket took it. */
export function refusedSyn(e: RstEvent): e is RstEvent & { packet: Tuple } {
  return e.direction === 'sent' && !e.socket && !!e.packet && e.segment?.flags === 'SYN';
}

/**
 * The shape on a kernel record, for the shortcut (passive only: its key says
 * 'passive'). A record passes exactly when its event passes refusedSyn() with
 * kind 'passive' (a unit test holds the two together).
 */
export function refusedSynRecord(raw: RawEvent): boolean {
  return raw.seg_flags === SYN_ONLY && raw.direction === DIR_SENT && raw.kind === KIND_PASSIVE && (raw.flags & (F_HAS_SK | F_HAS_PKT)) === F_HAS_PKT;
}

/** What the shortcut reads and writes of the history (history.ts). */
export interface RefusedSynHistory {
  /** changes with every listener opened or closed: part of the shape key */
  readonly listenerVersion: number;
  /** the per-port record of refused SYNs (a reception in another namespace of this host is paired with it) */
  noteRefused(netns: number, laddr: string, lport: number, monoNs: number, cause: { id: string; summary: string }): void;
}

/** What the shortcut reads of the host context: the newest snapshot, never a refresh. */
export interface LatestHost {
  latest(netns: number): HostSnapshot | undefined;
}

/** The registry entry that explained a shape, and its verdict when every event of the shape may share it. */
export interface ShapeMemo {
  readonly index: number;
  readonly verdict: Verdict | null;
  /** the verdict's JSON tail, made the first time the shortcut hands it out */
  tail: Uint8Array | undefined;
}

interface LastShape {
  netns: number;
  lport: number;
  reason: string | null;
  laddr: string;
  host: HostSnapshot | undefined;
  version: number;
  verdict: Verdict;
  tail: Uint8Array;
  /** mono_ns of the last refresh of the per-port record */
  notedNs: number;
}

export class FloodShortcut {
  private readonly memo: BoundedMap<string, ShapeMemo>;
  private last: LastShape | undefined;

  constructor(
    private readonly history: RefusedSynHistory,
    warn?: (msg: string) => void,
  ) {
    this.memo = boundedTable('floodShapes', warn);
  }

  /**
   * Everything an entry's verdict may depend on for an RST of this shape. No
   * rule looks at a connection's history for a SYN without a socket, and the
   * client's address is not in it (a flood's clients are spoofed).
   */
  private key(netns: number, kind: string | null, reason: string | null, laddr: string, lport: number, host: HostSnapshot | undefined): string {
    return `${netns}|${kind}|${reason}|${laddr}|${lport}|${host?.takenAtMs ?? -1}|${this.history.listenerVersion}`;
  }

  /** The shape key of an event (for the engine), or null when it is not of the shape (then nothing is remembered). */
  keyOf(e: RstEvent, host: HostSnapshot | undefined): string | null {
    if (!refusedSyn(e)) return null;
    return this.key(e.netns, e.kind, e.reason, e.packet.laddr, e.packet.lport, host);
  }

  /** Shapes remembered. */
  get size(): number {
    return this.memo.size;
  }

  /** What the engine learned of this shape before: skip the entries before `index`, or take `verdict` as is. */
  known(key: string): ShapeMemo | undefined {
    return this.memo.get(key);
  }

  /** After a full scan of the registry: entry `index` explained this shape; `verdict` if every event of it may share it. */
  remember(key: string, index: number, verdict: Verdict | null): void {
    this.memo.set(key, { index, verdict, tail: undefined });
  }

  /**
   * The one call of the watch path, straight from the kernel record (valid
   * during the call only), without building the event: when the record is of
   * the shape and its shape was diagnosed before with a shared verdict, that
   * verdict's JSON tail `,"cause":{...}}` as UTF-8 (the line is the record's
   * JSON head followed by it), after recording the RST as diagnose() would.
   * Otherwise null: take the normal path. The caller makes sure the event may
   * be delivered now (nothing waits before it).
   */
  tryShared(raw: RawEvent, ctx: EventContext, hosts: LatestHost): Uint8Array | null {
    if (!refusedSynRecord(raw)) return null;
    const netns = raw.netns;
    const lport = raw.pkt_lport;
    const reason = reasonOf(raw, ctx);
    const laddr = ctx.text.packetLocal(raw);
    // the newest snapshot, never a refresh: a flood of one shape would read
    // the host every second for nothing (listeners that come and go are in the history)
    const host = hosts.latest(netns);
    const version = this.history.listenerVersion;
    // a flood repeats one shape: compare with the last one before building a key
    let l = this.last;
    if (!(l && l.netns === netns && l.lport === lport && l.reason === reason && l.laddr === laddr && l.host === host && l.version === version)) {
      const m = this.memo.get(this.key(netns, 'passive', reason, laddr, lport, host));
      if (!m?.verdict) return null;
      m.tail ??= Buffer.from(`,"cause":${causeJson(m.verdict)}}`);
      l = this.last = { netns, lport, reason, laddr, host, version, verdict: m.verdict, tail: m.tail, notedNs: 0 };
    }
    // the per-port record of refused SYNs only needs to be about right in time (it pairs receptions within 2 s)
    const monoNs = raw.mono_ns;
    if (monoNs - l.notedNs > 1e6) {
      l.notedNs = monoNs;
      this.history.noteRefused(netns, laddr, lport, monoNs, l.verdict);
    }
    return l.tail;
  }
}
