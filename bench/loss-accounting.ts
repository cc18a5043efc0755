// What `tcpwhy watch --json` accounted for of its loss events (drops,
// retransmissions, errors), per kind, network namespace and reason, read back
// from the file its stdout went to.
//
// The kernel counts every loss event under its storm key and sends only the first
// --full-per-key of each key per second in full; for each key and second in which
// some were only counted, a {"type":"storm","event":KIND,...} line gives the count
// of all of them and how many of those were shown in full. So the events of a key
// are its storm lines' counts plus its full lines of the seconds without a storm
// line: sum(count) - sum(shown) + full lines. The {"type":"summary"} line's `loss`
// object holds the host-wide totals, what was lost and what was counted without a key.
import type { LossTotals } from '../src/live/storm.js';
import { forEachLine } from './json-lines.js';

export type LossKind = 'drop' | 'retransmit' | 'error';

interface KeyCounts {
  full: number;
  stormCount: number;
  stormShown: number;
  stormLines: number;
}

/** The summary's `loss` totals (src/live/storm.ts). */
export type LossSummary = LossTotals;

export interface LossAccounting {
  /** by `${kind} ${netns} ${reason}` */
  keys: Map<string, KeyCounts>;
  /** the summary's loss object; undefined without one (tcpwhy died, or watched no loss) */
  loss: LossSummary | undefined;
  /** the summary's RST `lost` */
  rstLost: number | undefined;
  unreadable: number;
}

const KINDS = new Set(['drop', 'retransmit', 'error']);

export function readLossAccounting(file: string): LossAccounting {
  const keys = new Map<string, KeyCounts>();
  let loss: LossSummary | undefined;
  let rstLost: number | undefined;
  let unreadable = 0;
  const entry = (kind: string, netns: unknown, reason: unknown): KeyCounts => {
    const k = `${kind} ${String(netns)} ${String(reason)}`;
    let e = keys.get(k);
    if (!e) keys.set(k, (e = { full: 0, stormCount: 0, stormShown: 0, stormLines: 0 }));
    return e;
  };
  unreadable += forEachLine(file, (line) => {
    // RSTs shown in full have no type: not ours, and the costliest to parse
    if (!line.startsWith('{"type":')) return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      unreadable++;
      return;
    }
    const type = o['type'];
    if (typeof type === 'string' && KINDS.has(type)) entry(type, o['netns'], o['reason']).full++;
    else if (type === 'storm' && typeof o['event'] === 'string' && KINDS.has(o['event'])) {
      const e = entry(o['event'], o['netns'], o['reason']);
      e.stormCount += Number(o['count'] ?? 0);
      e.stormShown += Number(o['shown'] ?? 0);
      e.stormLines++;
    } else if (type === 'summary') {
      loss = o['loss'] as LossSummary | undefined;
      rstLost = typeof o['lost'] === 'number' ? o['lost'] : undefined;
    }
  });
  return { keys, loss, rstLost, unreadable };
}

export interface KeyTotal {
  /** events accounted: sum(count) - sum(shown) + full lines */
  events: number;
  full: number;
  stormLines: number;
}

/** The events of one kind in one namespace, of one reason (any when undefined). */
export function lossEvents(a: LossAccounting, kind: LossKind, netns: number, reason?: string): KeyTotal {
  const t: KeyTotal = { events: 0, full: 0, stormLines: 0 };
  for (const [k, e] of a.keys) {
    const [kk, ns, r] = k.split(' ');
    if (kk !== kind || Number(ns) !== netns || (reason !== undefined && r !== reason)) continue;
    t.events += e.stormCount - e.stormShown + e.full;
    t.full += e.full;
    t.stormLines += e.stormLines;
  }
  return t;
}

/** Every key of a namespace other than `kind`/`reason`, as "drop NO_SOCKET 12, ..." (what else happened there). */
export function otherEvents(a: LossAccounting, netns: number, except: Array<[LossKind, string | undefined]>): string {
  const parts: string[] = [];
  for (const [k, e] of a.keys) {
    const [kind, ns, r] = k.split(' ');
    if (Number(ns) !== netns) continue;
    if (except.some(([xk, xr]) => xk === kind && (xr === undefined || xr === r))) continue;
    parts.push(`${kind} ${r} ${e.stormCount - e.stormShown + e.full}`);
  }
  return parts.join(', ');
}
