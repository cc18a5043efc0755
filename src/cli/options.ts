// The options of each command, in one table: parseArgs takes its
// configuration from it, USAGE its lines, and the robustness tests
// (test/unit/robustness.test.ts) the options to try bad values on.

/** What an option's value is (the robustness tests pick their bad values by it). */
export type ValueKind =
  /** no value */
  | 'flag'
  /** a whole number */
  | 'number'
  /** whole numbers, comma-separated or repeated */
  | 'numbers'
  /** a positive number of seconds */
  | 'seconds'
  /** IP addresses */
  | 'addresses'
  /** network namespaces: inode numbers or 'ip netns' names */
  | 'netns'
  /** one of a few words (a list of them when `multiple`) */
  | 'word'
  /** a file to read */
  | 'file'
  /** a directory to write into */
  | 'dir'
  /** a connection: ADDR:PORT or ADDR:PORT-ADDR:PORT */
  | 'tuple';

export interface OptionSpec {
  /** the long name without its dashes ('4' for -4) */
  name: string;
  short?: string;
  value: ValueKind;
  /** may be given more than once */
  multiple?: boolean;
  /** its lines in USAGE; none when a neighbour's lines name it too (-6 beside -4) */
  usage?: string;
}

export const WATCH_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'explain',
    value: 'flag',
    usage: `  --explain           under each event, the full explanation (what happened, why, evidence, fix)
                      instead of the one-line verdict`,
  },
  { name: 'json', value: 'flag', usage: '  --json              one JSON object per line, with its "cause" (fields: docs/events.md)' },
  { name: 'stacks', value: 'flag', usage: "  --stacks            print each event's kernel stack under it" },
  {
    name: 'events',
    value: 'word',
    multiple: true,
    usage: `  --events LIST       what to watch, of resets, drops, retransmits, errors (comma-separated or
                      repeated; default: all four). drops: segments the kernel dropped (skb:kfree_skb);
                      retransmits: segments sent again; errors: what the application saw (ETIMEDOUT ...)`,
  },
  { name: 'count', value: 'flag', usage: '  --count             count events by cause, kernel stack and reason; print the counts at exit' },
  { name: 'port', value: 'numbers', multiple: true, usage: '  --port N            only events with local or remote port N (repeatable, or N,M,...)' },
  { name: 'addr', value: 'addresses', multiple: true, usage: '  --addr IP           only events with local or remote address IP (repeatable)' },
  {
    name: 'pid',
    value: 'numbers',
    multiple: true,
    usage: "  --pid N             only events of process N: the socket's owner when known, else the task running (repeatable)",
  },
  {
    name: 'netns',
    value: 'netns',
    multiple: true,
    usage: "  --netns NS          only events in network namespace NS: an inode number or an 'ip netns' name (repeatable)",
  },
  { name: '4', short: '4', value: 'flag', usage: '  -4, -6              only IPv4, only IPv6' },
  { name: '6', short: '6', value: 'flag' },
  { name: 'duration', value: 'seconds', usage: '  --duration S        stop after S seconds (default: until Ctrl-C / SIGTERM / SIGHUP)' },
  { name: 'buffer-mb', value: 'number', usage: '  --buffer-mb N       kernel ring buffer size in MiB, a power of two (default 16)' },
  {
    name: 'stack-rate',
    value: 'number',
    usage: `  --stack-rate N      walk at most N kernel stacks per second per CPU, 0 = all (default 2000);
                      events over the limit say stack_status "rate_limited"`,
  },
  {
    name: 'full-per-key',
    value: 'number',
    usage: `  --full-per-key N    show at most N RSTs in full per storm key per second, 0 = all (default 100);
                      the rest are counted exactly and printed as storm lines (docs/events.md)`,
  },
  {
    name: 'full-rate',
    value: 'number',
    usage: `  --full-rate N       show at most N RSTs in full per second per CPU over all keys, 0 = no limit
                      (default 1000)`,
  },
  { name: 'history-mb', value: 'number', usage: '  --history-mb N      kernel memory for the history of connections, in MiB (default 16)' },
  { name: 'btf', value: 'file', usage: '  --btf FILE          BTF for a kernel without /sys/kernel/btf/vmlinux' },
  {
    name: 'hooks',
    value: 'word',
    usage: `  --hooks KIND        kernel hooks for sent RSTs: tp_btf, tracepoint, fentry or kprobe (default: the
                      best this kernel loads; docs/kernel-support.md)`,
  },
];

/** The lab's options are named in its usage line (USAGE), not in a section of their own. */
export const LAB_OPTIONS: readonly OptionSpec[] = [
  { name: 'record', value: 'dir' },
  { name: 'hooks', value: 'word' },
  { name: 'btf', value: 'file' },
];

export const ANALYZE_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'json',
    value: 'flag',
    usage: `  --json              JSON lines: one per RST ("type":"reset") or storm of alike RSTs ("storm"), one per
                      connection with an RST, loss or an unanswered SYN ("connection"), then the totals
                      ("summary"); causes by id (tcpwhy explain --json: the catalogue)`,
  },
  { name: 'ladder', value: 'flag', usage: "  --ladder            under each RST, a ladder diagram of the connection's last packets before it" },
  {
    name: 'conn',
    value: 'tuple',
    usage: `  --conn TUPLE        only the connection(s) of ADDR:PORT or ADDR:PORT-ADDR:PORT ([ADDR]:PORT for
                      IPv6), with a ladder of their packets`,
  },
  { name: 'limit', value: 'number', usage: '  --limit N           RSTs and storms listed in the text report (default 20; the counts cover all)' },
  {
    name: 'all',
    value: 'flag',
    usage: `  --all               every RST one by one: no storm findings (alike RSTs of one cause and endpoint,
                      16 or more with no gap over 10 s, are otherwise one finding)`,
  },
  {
    name: 'progress',
    value: 'flag',
    usage:
      '  --progress, --no-progress   progress bar on stderr (default: when stderr is a terminal; never for\n                      a stream, whose size is unknown)',
  },
  { name: 'no-progress', value: 'flag' },
  {
    name: 'loss-frames',
    value: 'flag',
    usage: `  --loss-frames       with --json: every frame with a loss sign in the connection lines' loss_frames,
                      not the first 5 per sender (up to 2 M frames held at once; beyond, counted in
                      loss_frames_omitted)`,
  },
];

/** The commands that take options, with them. */
export const COMMAND_OPTIONS = { watch: WATCH_OPTIONS, lab: LAB_OPTIONS, analyze: ANALYZE_OPTIONS } as const;

type ParseArgsOption = { type: 'boolean' | 'string'; short?: string; multiple?: boolean };

/** The `options` of node's parseArgs for these options. */
export function parseArgsOptions(specs: readonly OptionSpec[]): Record<string, ParseArgsOption> {
  const out: Record<string, ParseArgsOption> = {};
  for (const s of specs) {
    out[s.name] = {
      type: s.value === 'flag' ? 'boolean' : 'string',
      ...(s.short ? { short: s.short } : {}),
      ...(s.multiple ? { multiple: true } : {}),
    };
  }
  return out;
}

/** The options' lines of USAGE. */
export function usageLines(specs: readonly OptionSpec[]): string {
  return specs.flatMap((s) => (s.usage === undefined ? [] : [s.usage])).join('\n');
}
