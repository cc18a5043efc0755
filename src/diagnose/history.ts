// A short, bounded memory of what happened on this host: each connection's
// state changes and RSTs, and who listened on which port when. Rules ask it
// "was there a listener on :8080, and who closed it?" or "did this host
// know this connection a moment ago?". Bounded in entries (oldest forgotten
// first), so a busy host cannot make it grow without limit.
// Live, connections' state changes stay in the kernel (its conns map, read
// through `kernel` when a rule asks); only RSTs and listeners' changes are
// kept here. State changes given to addState() (tests, recordings) join them.
import type { RstEvent, StateEvent, Tuple } from '../events/event.js';
import { refusedSyn } from './flood.js';
import { BoundedMap, warnOnce } from '../memory/bounded.js';
import { BUDGETS, boundOf } from '../memory/budget.js';
import { plainAddr, type ConnView, type ListenEpisode, type ListenerView, type ResetRecord, type SentReset, type StateRecord } from '../causes/live-facts.js';

export { plainAddr };

export interface HistoryLimits {
  connections: number;
  perConnection: number;
  ports: number;
  sentResets: number;
}

/** The tables' sizes from their memory budgets (src/memory/budget.ts), for the heap this process has. */
function defaultLimits(): HistoryLimits {
  return { connections: boundOf('historyConnections'), perConnection: 12, ports: boundOf('historyPorts'), sentResets: boundOf('sentResets') };
}

export function isLoopback(a: string): boolean {
  const p = plainAddr(a);
  return p.startsWith('127.') || p === '::1';
}

export function tupleKey(t: Tuple): string {
  return `${plainAddr(t.laddr)} ${t.lport} ${plainAddr(t.raddr)} ${t.rport}`;
}

const EMPTY_CONN: ConnView = { states: [], resets: [] };

/** The kernel's state changes of a connection (src/live/conn-records.ts), oldest first. */
export type KernelConnLookup = (netns: number, t: Tuple) => StateRecord[];
const EMPTY_LISTENER: ListenerView = { episodes: [] };

interface ConnEntry {
  states: StateRecord[];
  resets: ResetRecord[];
}

function pushBounded<T>(list: T[], item: T, cap: number): void {
  list.push(item);
  if (list.length > cap) list.shift();
}

export class History {
  private readonly limits: HistoryLimits;
  private readonly conns: BoundedMap<string, ConnEntry>;
  private readonly ports: BoundedMap<string, ListenEpisode[]>;
  private readonly sent: BoundedMap<string, SentReset>;
  /** replies to SYNs (no socket), by the refused endpoint: one entry per port, not per client */
  private readonly refused: BoundedMap<string, SentReset>;

  private readonly kernel: KernelConnLookup | undefined;

  constructor(limits: Partial<HistoryLimits> = {}, kernel?: KernelConnLookup, warn?: (msg: string) => void) {
    this.kernel = kernel;
    this.limits = { ...defaultLimits(), ...limits };
    const told = warnOnce(warn);
    this.conns = new BoundedMap(BUDGETS.historyConnections.name, this.limits.connections, told);
    this.ports = new BoundedMap(BUDGETS.historyPorts.name, this.limits.ports, told);
    this.sent = new BoundedMap(BUDGETS.sentResets.name, this.limits.sentResets, told);
    this.refused = new BoundedMap(BUDGETS.refusedPorts.name, boundOf('refusedPorts'), told);
  }

  /** changes with every listen() or listener close seen: part of cache keys */
  listenerVersion = 0;

  get connections(): number {
    return this.conns.size;
  }

  /** Entries of each table (the bounds test fills them). */
  get sizes(): { connections: number; ports: number; sent: number; refused: number } {
    return { connections: this.conns.size, ports: this.ports.size, sent: this.sent.size, refused: this.refused.size };
  }

  addState(s: StateEvent): void {
    const rec: StateRecord = {
      mono_ns: s.mono_ns,
      old: s.old_state,
      new: s.new_state,
      pid: s.process.pid,
      comm: s.process.comm,
      owner: s.owner,
    };
    if (s.new_state === 'LISTEN' || (s.old_state === 'LISTEN' && s.new_state === 'CLOSE')) {
      this.addListenerChange(s, rec);
      return;
    }
    // a child just cloned from its listener still carries the listener's
    // tuple (remote port 0): it is not a connection yet
    if (s.old_state === 'LISTEN' || s.socket.rport === 0) return;
    const entry = this.conns.touch(`${s.netns} ${tupleKey(s.socket)}`, () => ({ states: [], resets: [] }));
    pushBounded(entry.states, rec, this.limits.perConnection);
  }

  private addListenerChange(s: StateEvent, rec: StateRecord): void {
    this.listenerVersion++;
    const episodes = this.ports.touch(`${s.netns} ${s.socket.lport}`, () => []);
    const laddr = plainAddr(s.socket.laddr);
    if (s.new_state === 'LISTEN') {
      pushBounded(
        episodes,
        { laddr, opened_ns: rec.mono_ns, closed_ns: null, owner: rec.owner ?? { pid: rec.pid, comm: rec.comm }, closer: null },
        this.limits.perConnection,
      );
      return;
    }
    // closing: the newest open episode on this address, else one that began before the history did
    const open = [...episodes].reverse().find((ep) => ep.closed_ns === null && ep.laddr === laddr);
    if (open) {
      open.closed_ns = rec.mono_ns;
      open.closer = { pid: rec.pid, comm: rec.comm };
    } else {
      pushBounded(
        episodes,
        { laddr, opened_ns: null, closed_ns: rec.mono_ns, owner: rec.owner, closer: { pid: rec.pid, comm: rec.comm } },
        this.limits.perConnection,
      );
    }
  }

  /**
   * Records an RST after its diagnosis. The connection keeps its active resets
   * (how this host ended it); sent ones are kept by tuple so that their
   * reception in another namespace of this host can name them.
   */
  addReset(e: RstEvent): void {
    const t = e.packet ?? e.socket;
    if (!t || t.rport === 0 || e.direction !== 'sent' || !e.cause) return;
    if (refusedSyn(e)) {
      this.noteRefused(e.netns, t.laddr, t.lport, e.mono_ns, e.cause);
      return;
    }
    const key = tupleKey(t);
    if (e.kind === 'active' || e.socket) {
      const entry = this.conns.touch(`${e.netns} ${key}`, () => ({ states: [], resets: [] }));
      pushBounded(entry.resets, { mono_ns: e.mono_ns, direction: e.direction, kind: e.kind, cause: e.cause.id }, this.limits.perConnection);
    }
    const rec = this.sent.touch(key, () => ({ netns: e.netns, mono_ns: e.mono_ns, cause: '', summary: '' }));
    rec.netns = e.netns;
    rec.mono_ns = e.mono_ns;
    rec.cause = e.cause.id;
    rec.summary = e.cause.summary;
  }

  /**
   * A SYN to laddr:lport answered without a socket: kept per port (a SYN flood
   * or port scan would churn a per-tuple map). The flood shortcut (flood.ts)
   * refreshes it without an event.
   */
  noteRefused(netns: number, laddr: string, lport: number, monoNs: number, cause: { id: string; summary: string }): void {
    const k = `${plainAddr(laddr)} ${lport}`;
    const r = this.refused.touch(k, () => ({ netns, mono_ns: monoNs, cause: cause.id, summary: cause.summary }));
    r.netns = netns;
    r.mono_ns = monoNs;
    r.cause = cause.id;
    r.summary = cause.summary;
  }

  conn(netns: number, t: Tuple | null): ConnView {
    if (!t) return EMPTY_CONN;
    const here = this.conns.get(`${netns} ${tupleKey(t)}`);
    const fromKernel = this.kernel?.(netns, t);
    if (!fromKernel?.length) return here ?? EMPTY_CONN;
    if (!here?.states.length) return { states: fromKernel, resets: here?.resets ?? [] };
    return { states: [...fromKernel, ...here.states].sort((a, b) => a.mono_ns - b.mono_ns), resets: here.resets };
  }

  listener(netns: number, lport: number): ListenerView {
    const eps = this.ports.get(`${netns} ${lport}`);
    return eps ? { episodes: eps } : EMPTY_LISTENER;
  }

  /** An RST this namespace itself sent on this connection within windowNs of a moment. */
  sentHere(netns: number, t: Tuple | null, atNs: number, windowNs = 1e6): SentReset | null {
    if (!t) return null;
    const s = this.sent.get(tupleKey(t));
    return s && s.netns === netns && Math.abs(atNs - s.mono_ns) <= windowNs ? s : null;
  }

  /** The RST another namespace of this host sent on this connection (its local side is our remote side). */
  sentByPeer(netns: number, t: Tuple | null, atNs: number, connecting: boolean, windowNs = 2e9): SentReset | null {
    if (!t) return null;
    const s =
      this.sent.get(`${plainAddr(t.raddr)} ${t.rport} ${plainAddr(t.laddr)} ${t.lport}`) ??
      (connecting ? this.refused.get(`${plainAddr(t.raddr)} ${t.rport}`) : undefined);
    if (!s || s.netns === netns || Math.abs(atNs - s.mono_ns) > windowNs) return null;
    // loopback addresses exist in every namespace: another namespace's RST on them is not ours
    if (isLoopback(t.raddr)) return null;
    return s;
  }
}
