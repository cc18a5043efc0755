// Command-line parsing for tcpwhy (kept apart from main.ts so tests can import it).
import { parseArgs } from 'node:util';
import { UsageError } from '../kernel/errors.js';
import { resolveNetns } from '../kernel/netns.js';
import { EVENT_KINDS, parseHookFamily, type EventKind, type HookFamily } from '../kernel/plan.js';
import { addrFilterKey } from '../net/addr.js';
import { MAX_FILTER } from '../events/generated/contract.js';
import { parseWholeNumber } from '../text/number.js';
import type { WatchOptions } from './watch.js';
import { ANALYZE_OPTIONS, LAB_OPTIONS, WATCH_OPTIONS, parseArgsOptions, usageLines } from './options.js';

export const VERSION = '0.1.0';

export const USAGE = `tcpwhy: why did this TCP connection get reset?

Usage:
  tcpwhy watch [options]     show every TCP RST this host sends or receives, live, each with its cause
  tcpwhy analyze FILE        explain the RSTs and loss in a pcap/pcapng capture (gzip too), offline;
                             FILE - (standard input), /dev/stdin or a FIFO is read as it arrives
                             (tcpdump -U -w - | tcpwhy analyze -): each RST printed once decided,
                             the summary at the end or at Ctrl-C / SIGTERM
  tcpwhy explain [CAUSE]     print a cause from the catalogue (without CAUSE: list them; docs/causes.md);
                             --json: as JSON (without CAUSE: every cause, the ids analyze --json names)
  tcpwhy lab [--record DIR] [--hooks KIND] [--btf FILE] [CASE]
                             provoke real RSTs in private network namespaces and check each verdict;
                             prints a summary table; exit 1 if a verdict is wrong; --record DIR writes
                             DIR/CASE-vN.pcap (tcpdump on the server's veth1; N = IP version) and
                             DIR/CASE-vN.events.json (the run's events with their causes) per run;
                             --hooks and --btf as for watch
  tcpwhy demo                the lab as a walk-through: events, verdicts, evidence, fixes, kernel stacks
  tcpwhy help | --version    (also COMMAND --help)

watch options:
${usageLines(WATCH_OPTIONS)}

analyze options:
${usageLines(ANALYZE_OPTIONS)}

Exit codes: 0 done, 1 internal error, 2 bad usage or a machine that cannot run tcpwhy
(not root, no BTF, missing kernel hooks; a file that is not a capture; an output that cannot be
written): the message says what is missing and what to do; 3 (analyze) the capture is cut short or corrupt: the report covers every
packet before the damage, whose byte offset the message gives.
`;

/**
 * The items of a repeatable option, comma-separated or repeated. An empty
 * one is an error: `--netns "$NS"` with $NS unset must not watch everything.
 */
function list(name: string, values: string[] | undefined): string[] {
  const items = (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim());
  if (items.some((v) => !v))
    throw new UsageError(`${name} wants a value, got an empty one${values && values.length === 1 ? ` (${JSON.stringify(values[0])})` : ''}`);
  return items;
}

/** What parseArgs gives for WATCH_OPTIONS. */
interface WatchValues {
  json?: boolean;
  stacks?: boolean;
  count?: boolean;
  explain?: boolean;
  port?: string[];
  addr?: string[];
  pid?: string[];
  netns?: string[];
  '4'?: boolean;
  '6'?: boolean;
  duration?: string;
  'buffer-mb'?: string;
  'stack-rate'?: string;
  'full-per-key'?: string;
  'full-rate'?: string;
  'history-mb'?: string;
  btf?: string;
  hooks?: string;
  events?: string[];
}

/** A whole-number option within [min, max]. */
export function intIn(name: string, text: string, min: number, max: number): number {
  const n = parseWholeNumber(text);
  if (n === null) throw new UsageError(`${name} wants a whole number, got ${JSON.stringify(text)}`);
  // past 2^53 digits no longer name one number (a limit of Infinity is no limit anyone meant)
  if (!Number.isSafeInteger(n))
    throw new UsageError(`${name} is too large, got ${text.length > 24 ? `${text.slice(0, 20)}... (${text.length} digits)` : text}`);
  if (n < min || n > max) throw new UsageError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function parseWatchArgs(args: string[]): WatchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: parseArgsOptions(WATCH_OPTIONS),
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values as WatchValues;
  const events = v.events === undefined ? undefined : parseEvents(v.events);
  if (v['4'] && v['6']) throw new UsageError('-4 and -6 exclude each other');
  if (v.json && v.count) throw new UsageError('--json and --count exclude each other');
  if (v.explain && (v.json || v.count)) throw new UsageError('--explain is for the table: it excludes --json and --count');
  const opts: WatchOptions = {
    json: v.json ?? false,
    stacks: v.stacks ?? false,
    count: v.count ?? false,
    explain: v.explain ?? false,
    ports: list('--port', v.port).map((p) => intIn('--port', p, 1, 65535)),
    pids: list('--pid', v.pid).map((p) => intIn('--pid', p, 1, 0x7fffffff)),
    addrs: list('--addr', v.addr).map((a) => {
      try {
        addrFilterKey(a);
      } catch (e) {
        throw new UsageError(`--addr: ${(e as Error).message}`);
      }
      return a;
    }),
    netns: list('--netns', v.netns).map(resolveNetns),
  };
  for (const [name, l] of [
    ['--port', opts.ports],
    ['--pid', opts.pids],
    ['--addr', opts.addrs],
    ['--netns', opts.netns],
  ] as const) {
    if (l && l.length > MAX_FILTER) throw new UsageError(`${name}: at most ${MAX_FILTER} values`);
  }
  if (v['4']) opts.family = 4;
  if (v['6']) opts.family = 6;
  if (v.duration !== undefined) {
    const d = /^\d+(\.\d+)?$/.test(v.duration) ? Number(v.duration) : NaN;
    if (!Number.isFinite(d) || d <= 0) throw new UsageError(`--duration wants a positive number of seconds, got ${JSON.stringify(v.duration)}`);
    // a timer holds at most 2^31 - 1 ms; longer watches run without --duration
    if (d * 1000 > 2 ** 31 - 1) throw new UsageError(`--duration is at most 2147483 seconds (24.8 days), got ${d}`);
    opts.durationSec = d;
  }
  if (v['buffer-mb'] !== undefined) {
    const mb = intIn('--buffer-mb', v['buffer-mb'], 1, 1024);
    if (mb & (mb - 1)) throw new UsageError(`--buffer-mb must be a power of two, got ${mb}`);
    opts.bufferMiB = mb;
  }
  if (v['stack-rate'] !== undefined) opts.stackRate = intIn('--stack-rate', v['stack-rate'], 0, 10_000_000);
  if (v['full-per-key'] !== undefined) opts.fullPerKey = intIn('--full-per-key', v['full-per-key'], 0, 10_000_000);
  if (v['full-rate'] !== undefined) opts.fullRate = intIn('--full-rate', v['full-rate'], 0, 10_000_000);
  if (v['history-mb'] !== undefined) opts.historyMiB = intIn('--history-mb', v['history-mb'], 1, 4096);
  if (v.btf !== undefined) {
    if (!v.btf.trim()) throw new UsageError('--btf wants a file');
    opts.btfPath = v.btf;
  }
  if (v.hooks !== undefined) opts.hooks = parseHookFamily(v.hooks);
  if (events) opts.events = events;
  return opts;
}

/** Short names people type for the kinds of events. */
const EVENT_ALIASES: Record<string, EventKind> = {
  reset: 'resets',
  rst: 'resets',
  drop: 'drops',
  retrans: 'retransmits',
  retransmit: 'retransmits',
  error: 'errors',
  timeouts: 'errors',
};

/** --events: every value one of EVENT_KINDS (or an alias); an empty value is an error, not "everything". */
export function parseEvents(values: string[]): Set<EventKind> {
  const out = new Set<EventKind>();
  for (const raw of values.flatMap((v) => v.split(','))) {
    const v = raw.trim().toLowerCase();
    const k = (EVENT_KINDS as readonly string[]).includes(v) ? (v as EventKind) : EVENT_ALIASES[v];
    if (!k) throw new UsageError(`--events takes ${EVENT_KINDS.join(', ')}; got ${JSON.stringify(raw)}`);
    out.add(k);
  }
  return out;
}

export interface LabArgs {
  /** one case name, else all */
  only?: string;
  /** directory for the recordings (--record) */
  record?: string;
  /** kernel hooks for sent RSTs (--hooks) */
  hooks?: HookFamily;
  /** BTF for a kernel without /sys/kernel/btf/vmlinux (--btf) */
  btfPath?: string;
}

export function parseLabArgs(args: string[], caseNames: readonly string[]): LabArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: parseArgsOptions(LAB_OPTIONS),
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; usage: tcpwhy lab [--record DIR] [--hooks KIND] [--btf FILE] [CASE]`);
  }
  const { positionals } = parsed;
  const values = parsed.values as { record?: string; hooks?: string; btf?: string };
  if (positionals.length > 1) throw new UsageError(`lab takes at most one case name; cases: ${caseNames.join(', ')}`);
  const only = positionals[0];
  if (only !== undefined && !caseNames.includes(only)) throw new UsageError(`no lab case ${JSON.stringify(only)}; cases: ${caseNames.join(', ')}`);
  if (values.record !== undefined && !values.record.trim()) throw new UsageError('--record wants a directory');
  const out: LabArgs = {};
  if (only !== undefined) out.only = only;
  if (values.record !== undefined) out.record = values.record;
  if (values.hooks !== undefined) out.hooks = parseHookFamily(values.hooks);
  if (values.btf !== undefined) {
    if (!values.btf.trim()) throw new UsageError('--btf wants a file');
    out.btfPath = values.btf;
  }
  return out;
}
