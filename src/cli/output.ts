// The three ways `tcpwhy watch` shows events: a table, JSON lines, and counts
// by kernel stack. All text from events is already escaped by the decoder.
import type { RstEvent } from '../events/event.js';
import type { LossEvent } from '../events/loss-event.js';
import type { Verdict } from '../events/verdict.js';
import { endpoint } from '../net/addr.js';
import { causeById } from '../causes/index.js';
import { tableRow as padded } from '../text/table.js';
import type { BoundedMap } from '../memory/bounded.js';
import { boundedTable } from '../memory/budget.js';

export interface Column {
  title: string;
  width: number;
  get(e: RstEvent): string;
  /** a longer cell is cut to the width, its end marked "…" (a process name, escaped, can be four times its length) */
  elide?: boolean;
}

function endpoints(e: RstEvent): { local: string; remote: string } {
  const t = e.packet ?? e.socket;
  if (!t) return { local: '-', remote: '-' };
  return { local: endpoint(t.laddr, t.lport), remote: endpoint(t.raddr, t.rport) };
}

/** The table's columns; PID/COMM name the socket's owner, or "(comm)" for the task that merely ran. */
export const COLUMNS: Column[] = [
  { title: 'TIME', width: 12, get: (e) => e.time.slice(11, 23) },
  { title: 'PID', width: 7, get: (e) => String(e.owner?.pid ?? e.process.pid) },
  { title: 'COMM', width: 16, get: (e) => (e.owner ? e.owner.comm : `(${e.process.comm})`), elide: true },
  { title: 'LOCAL', width: 22, get: (e) => endpoints(e).local },
  { title: 'REMOTE', width: 22, get: (e) => endpoints(e).remote },
  { title: 'STATE', width: 11, get: (e) => e.state ?? '-' },
  { title: 'DIR', width: 4, get: (e) => (e.direction === 'sent' ? 'SENT' : 'RECV') },
  { title: 'KIND', width: 7, get: (e) => e.kind ?? '-' },
  { title: 'REASON', width: 0, get: (e) => e.reason ?? '-' },
];

function row(cells: string[]): string {
  for (let i = 0; i < cells.length; i++) {
    const col = COLUMNS[i];
    if (col?.elide && cells[i]!.length > col.width) cells[i] = `${cells[i]!.slice(0, col.width - 1)}…`;
  }
  return padded(cells, COLUMNS, ' ').trimEnd();
}

export function tableHeader(): string {
  return row(COLUMNS.map((c) => c.title));
}

export function tableRow(e: RstEvent): string {
  return row(COLUMNS.map((c) => c.get(e)));
}

const LOSS_DIR: Record<LossEvent['type'], string> = { drop: 'DROP', retransmit: 'RTX', error: 'ERR' };

/**
 * A drop, retransmission or error in the same table: DIR says which
 * (DROP, RTX, ERR), KIND a drop's way (in, out), REASON the drop reason,
 * the kind of retransmission or the errno.
 */
export function lossRow(e: LossEvent): string {
  const t = e.packet ?? e.socket;
  const cells = [
    e.time.slice(11, 23),
    String(e.owner?.pid ?? e.process.pid),
    e.owner ? e.owner.comm : `(${e.process.comm})`,
    t ? endpoint(t.laddr, t.lport) : '-',
    t ? endpoint(t.raddr, t.rport) : '-',
    e.state ?? '-',
    LOSS_DIR[e.type],
    e.direction ?? '-',
    e.reason,
  ];
  return row(cells);
}

export function stackLines(e: { stack: string[] | null; stack_status: RstEvent['stack_status'] | null }, indent = '        '): string[] {
  if (!e.stack) {
    const why = e.stack_status === 'rate_limited' ? 'over the stack rate limit' : 'lost: the stack table was full or its slot taken by another stack';
    return [`${indent}[stack not captured: ${why}]`];
  }
  return e.stack.map((f) => `${indent}${f}`);
}

/** What a group of --count keeps of its first event: what render prints, not the whole event. */
type CountedEvent = Pick<RstEvent, 'direction' | 'kind' | 'reason' | 'state' | 'stack' | 'stack_status'> & { cause: { id: string } | null };

const counted = (e: RstEvent): CountedEvent => ({
  direction: e.direction,
  kind: e.kind,
  reason: e.reason,
  state: e.state,
  stack: e.stack,
  stack_status: e.stack_status,
  cause: e.cause ? { id: e.cause.id } : null,
});

/** `--count`: like bpftrace's @[kstack] = count(), but with the reason beside each stack. */
export class StackCounts {
  // a group per verdict, reason, state and stack: few on a real host, but a
  // stack id per slot of the kernel's map is possible, and each group keeps an event
  readonly counts: BoundedMap<string, { n: number; e: CountedEvent }>;

  /** warn: told once when groups start being forgotten (none by default) */
  constructor(opts: { warn?: (msg: string) => void; heapBytes?: number } = {}) {
    this.counts = boundedTable('stackCounts', opts.warn, opts.heapBytes);
  }

  add(e: RstEvent): void {
    const key = `${e.cause?.id}|${e.direction}|${e.kind}|${e.reason}|${e.state}|${e.stack_id}`;
    // touched, not just read: a group still counting is not the oldest
    this.counts.touch(key, () => ({ n: 0, e: counted(e) })).n++;
  }

  /** A drop, retransmission or error, grouped by cause, type, reason, state and (drops) stack. */
  addLoss(e: LossEvent): void {
    const what = `${e.type}${e.direction ? ` ${e.direction}` : ''}`;
    const key = `${e.cause?.id}|${what}|${e.reason}|${e.state}|${e.stack?.join(',') ?? e.location ?? ''}`;
    this.counts.touch(key, () => ({
      n: 0,
      e: {
        direction: what as RstEvent['direction'],
        kind: null,
        reason: e.reason,
        state: e.state,
        stack: e.stack ?? (e.location ? [e.location] : null),
        stack_status: e.type === 'drop' ? (e.stack_status ?? 'lost') : 'captured',
        cause: e.cause ? { id: e.cause.id } : null,
      },
    })).n++;
  }

  get total(): number {
    let t = 0;
    for (const c of this.counts.values()) t += c.n;
    return t;
  }

  render(): string {
    const rows = [...this.counts.values()].sort((a, b) => a.n - b.n);
    const out: string[] = [];
    for (const { n, e } of rows) {
      out.push(
        `${String(n).padStart(8)}  ${e.cause?.id ?? 'undiagnosed'}  ${e.direction}${e.kind ? ` ${e.kind}` : ''}  reason=${e.reason ?? '-'}  state=${e.state ?? 'no-socket'}`,
      );
      if (e.stack || e.stack_status !== 'captured') out.push(...stackLines(e, '          '));
      out.push('');
    }
    if (this.counts.evicted) out.push(`(${this.counts.evicted} older groups not shown: ${this.counts.name} was full)`, '');
    return out.join('\n');
  }
}

/** The facts of one event as indented lines (the demo's long form). */
export function detailLines(e: RstEvent, indent = '    '): string[] {
  const ep = (t: { laddr: string; lport: number; raddr: string; rport: number }) => {
    return `${endpoint(t.laddr, t.lport)} <- ${endpoint(t.raddr, t.rport)}`;
  };
  const out = [
    `${e.direction} ${e.kind ?? ''} RST, reason ${e.reason ?? '(none given by the kernel)'}, state ${e.state ?? 'no socket'}, via ${e.hook}`.replace('  ', ' '),
  ];
  if (e.packet) out.push(`packet tuple: ${ep(e.packet)}`);
  if (e.socket) out.push(`socket tuple: ${ep(e.socket)}  cookie ${e.sock_cookie}`);
  if (e.segment) out.push(`answers segment: ${e.segment.flags} seq ${e.segment.seq} ack ${e.segment.ack} len ${e.segment.len}`);
  out.push(`process: ${e.owner ? `owner ${e.owner.pid} ${e.owner.comm}` : 'owner unknown'}; running task ${e.process.pid} ${e.process.comm}; netns ${e.netns}`);
  if (e.queues) {
    out.push(
      `socket: ${e.queues.rcv_unread} bytes unread, ${e.queues.snd_unacked} unacked, ${e.queues.snd_unsent} unsent; SO_LINGER ${e.linger?.on ? `on, ${e.linger.seconds ?? '?'} s` : 'off'}`,
    );
  }
  if (e.accept_queue) out.push(`accept queue: ${e.accept_queue.len}/${e.accept_queue.max}`);
  return out.map((l) => `${indent}${l}`);
}

/** The one-line verdict printed under an event in the table. */
export function verdictLine(e: { cause: Verdict | null }, indent = '        '): string {
  const c = e.cause;
  if (!c) return `${indent}=> (not diagnosed)`;
  return `${indent}=> ${c.id} [${c.confidence}]: ${c.summary}`;
}

/** The catalogue entry behind an event's verdict, with the event's evidence (`watch --explain`, the demo). */
export function explainLines(e: { cause: Verdict | null }, indent = '        '): string[] {
  const c = e.cause;
  if (!c) return [`${indent}(not diagnosed)`];
  const entry = causeById(c.id);
  const out = [`=> ${c.title} (${c.id}, confidence ${c.confidence})`, `   ${c.summary}`];
  const ev = Object.entries(c.evidence).filter(([, v]) => v !== null);
  if (ev.length) out.push(`   evidence: ${ev.map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`).join(', ')}`);
  if (entry) {
    out.push(...wrap(`what happened: ${entry.happened}`, '   '));
    out.push(...wrap(`why: ${entry.why}`, '   '));
  }
  out.push(...wrap(`fix: ${c.fix}`, '   '));
  return out.map((l) => `${indent}${l}`);
}

/** Word-wraps text at about 100 columns. */
export function wrap(text: string, indent: string, width = 100): string[] {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/)) {
    if (line && line.length + 1 + w.length > width) {
      out.push(`${indent}${line}`);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(`${indent}${line}`);
  return out.map((l, i) => (i === 0 ? l : `${indent}  ${l.slice(indent.length)}`));
}
