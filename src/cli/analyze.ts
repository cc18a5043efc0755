// `tcpwhy analyze FILE`: the offline analysis as a terminal report or JSON lines.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import {
  analyzeCapture,
  parseConnFilter,
  type Analysis,
  type ConnFilter,
  type ConnReport,
  type LadderRow,
  type LossCounts,
  type LossReport,
  type PayloadReport,
  type ResetReport,
  type StormFinding,
  STORM_GAP_SECONDS,
  STORM_MAX_OPEN,
  STORM_MIN,
} from '../capture/analyze.js';
import { ConnLadders, LossiestConns } from '../capture/conn-report.js';
import { lossTotal } from '../capture/report.js';
import { linktypeName } from '../capture/decode.js';
import { openSource, type CaptureSource } from '../capture/source.js';
import { CaptureError } from '../capture/types.js';
import { escapeText } from '../events/text.js';
import { UsageError } from '../kernel/errors.js';
import { tableRow, type Column } from '../text/table.js';
import { intIn } from './args.js';
import { LineSink } from './sink.js';
import { lossLine, resetLine, stormLine } from './analyze-json.js';
import { ANALYZE_OPTIONS, parseArgsOptions } from './options.js';

export interface AnalyzeArgs {
  file: string;
  json: boolean;
  ladder: boolean;
  conn: ConnFilter | null;
  connText: string | null;
  limit: number;
  /** every RST one by one (no storm findings) */
  all: boolean;
  progress: boolean | null;
  /** --loss-frames: every loss frame in the connection lines */
  lossFrames: boolean;
}

/** Exit code when the capture is cut short or corrupt: everything before the damage was analyzed. */
export const EXIT_PARTIAL = 3;

export function parseAnalyzeArgs(args: string[]): AnalyzeArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: parseArgsOptions(ANALYZE_OPTIONS),
    });
  } catch (e) {
    throw new UsageError(`analyze: ${(e as Error).message}`);
  }
  const { positionals } = parsed;
  const v = parsed.values as {
    json?: boolean;
    ladder?: boolean;
    conn?: string;
    limit?: string;
    all?: boolean;
    progress?: boolean;
    'no-progress'?: boolean;
    'loss-frames'?: boolean;
  };
  if (positionals.length !== 1)
    throw new UsageError(`analyze wants one capture file, got ${positionals.length ? positionals.map((p) => JSON.stringify(p)).join(' ') : 'none'}`);
  let conn: ConnFilter | null = null;
  if (v.conn !== undefined) {
    conn = parseConnFilter(v.conn);
    if (!conn) throw new UsageError(`--conn wants ADDR:PORT or ADDR:PORT-ADDR:PORT (IPv6 as [ADDR]:PORT), got ${JSON.stringify(v.conn)}`);
  }
  const limit = v.limit === undefined ? 20 : intIn('--limit', v.limit, 0, Infinity);
  if (v.progress && v['no-progress']) throw new UsageError('--progress and --no-progress contradict each other');
  if (v['loss-frames'] && !v.json) throw new UsageError('--loss-frames lists frames in the --json connection lines: give --json too');
  return {
    file: positionals[0]!,
    json: v.json === true,
    ladder: v.ladder === true,
    conn,
    connText: v.conn ?? null,
    limit,
    all: v.all === true,
    progress: v.progress ? true : v['no-progress'] ? false : null,
    lossFrames: v['loss-frames'] === true,
  };
}

/** A progress bar on stderr, redrawn at most 10 times a second. */
function progressBar(file: string): { update(done: number, total: number): void; clear(): void } {
  let last = 0;
  let shown = false;
  const name = escapeText(basename(file));
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const width = 30;
      const full = Math.round(frac * width);
      process.stderr.write(
        `\r${name} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(frac * 100).toFixed(0).padStart(3)}% ${(done / 1e6).toFixed(0)}/${(total / 1e6).toFixed(0)} MB`,
      );
      shown = true;
    },
    clear() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

const LOSS_KEYS: Array<[keyof LossCounts, string]> = [
  ['retransmissions', 'retrans'],
  ['out_of_order', 'ooo'],
  ['dup_acks', 'dupack'],
  ['zero_windows', 'zerowin'],
  ['syn_retransmits', 'synretx'],
];

// the ladder's rows (its header is written out: its labels sit off the columns)
const LADDER_COLUMNS: Column[] = [
  { width: 8, align: 'right' },
  { width: 10, align: 'right' },
  { width: 0 },
  { width: 5 },
  { width: 10 },
  { width: 10 },
  { width: 5, align: 'right' },
  { width: 5, align: 'right' },
];
const CAUSE_COLUMNS: Column[] = [{ width: 8, align: 'right' }, { width: 30 }, { width: 24 }];
const LOSSY_COLUMNS: Column[] = [{ width: 6, align: 'right' }, { width: 52 }];
const LOSS_COLUMNS: Column[] = LOSS_KEYS.map(() => ({ width: 7, align: 'right' }));

function ladderLines(rows: LadderRow[], mark: number | null, answers: number | null): string[] {
  if (!rows.length) return [];
  const t0 = rows[0]!.t;
  const roles = rows[0]!.from === 'a' || rows[0]!.from === 'b' ? ['a', 'b'] : ['client', 'server'];
  const out = [
    `      ${'frame'.padStart(8)}  ${'+ms'.padStart(10)}  ${roles[0]!.padEnd(6)}     ${roles[1]!.padEnd(6)}  flags  seq         ack         len    win`,
  ];
  for (const r of rows) {
    const arrow = r.from === roles[0] ? `${roles[0]!.padEnd(6)} --> ${roles[1]!.padEnd(6)}` : `${roles[0]!.padEnd(6)} <-- ${roles[1]!.padEnd(6)}`;
    const notes = [...r.notes];
    if (r.frame === mark) notes.unshift('<== RST');
    if (r.frame === answers) notes.unshift('<== answered by the RST');
    const cells = [String(r.frame), ((r.t - t0) * 1000).toFixed(3), arrow, r.flags, String(r.seq), String(r.ack), String(r.len), String(r.win)];
    out.push(`      ${tableRow(cells, LADDER_COLUMNS)}${notes.length ? `  ${notes.join(', ')}` : ''}`);
  }
  return out;
}

function payloadLine(p: PayloadReport): string {
  if (p.format === 'ietf-diagnostic') {
    const who = p.pen ? `vendor (PEN ${p.pen}) code` : 'code';
    return `TCP RST diagnostic: ${who} ${p.reason_code ?? '?'}${p.reason_name ? ` (${p.reason_name})` : ''}${p.text ? `: ${p.text}` : ''}`;
  }
  if (p.format === 'text') return `text: ${p.text ?? ''}`;
  return `bytes ${p.hex ?? ''}`;
}

function resetLines(r: ResetReport, ladder: boolean): string[] {
  const c = r.cause;
  const out = [
    `  #${r.frame}  ${r.sender} -> ${r.receiver}  ${r.role ?? 'sender role unknown'}, ${r.kind}  ${r.flags} seq ${r.seq} ack ${r.ack} win ${r.win} ttl ${r.ttl}${r.answers ? `  answers #${r.answers.frame} (${r.answers.flags}${r.answers.len ? ` ${r.answers.len} bytes` : ''})` : ''}`,
    `      => ${c.id} [${c.confidence}]: ${c.summary}`,
  ];
  if (c.alternatives.length) out.push(`         the capture cannot rule out: ${c.alternatives.join(', ')}`);
  if (r.proof.length) out.push(`         packets that show it: ${r.proof.map((f) => `#${f}`).join(', ')}`);
  if (r.payload) out.push(`         RST payload (${r.payload.len} bytes): ${payloadLine(r.payload)}`);
  out.push(`         fix: ${c.fix}`);
  if (ladder && r.ladder) {
    // the sender's role names it; without roles the ladder calls the higher port a
    const [client, server] =
      r.role === 'server'
        ? [r.receiver, r.sender]
        : r.role === 'client'
          ? [r.sender, r.receiver]
          : r.ladder.at(-1)!.from === 'a'
            ? [r.sender, r.receiver]
            : [r.receiver, r.sender];
    const names = r.role ? ['client', 'server'] : ['a', 'b'];
    out.push(`      ${names[0]} ${client}, ${names[1]} ${server}:`, ...ladderLines(r.ladder, r.frame, r.answers?.frame ?? null));
  }
  return out;
}

const n = (x: number) => x.toLocaleString('en-US');

function peersText(p: StormFinding['peers']): string {
  const count = p.saturated ? `more than ${n(p.count)}` : p.exact ? n(p.count) : `about ${n(p.count)}`;
  return `${count} peer${p.count === 1 ? '' : 's'}`;
}

/** A storm finding: the count, rate, first and last frame, peers, then its first RST's verdict once. */
function stormLines(f: StormFinding, ladder: boolean): string[] {
  const here = `${f.endpoint}${f.role ? ` (${f.role})` : ''}`;
  const peers = peersText(f.peers);
  const what =
    f.sent === f.count
      ? `sent by ${here} to ${peers}`
      : f.received === f.count
        ? `sent to ${here} by ${peers}`
        : `between ${here} and ${peers} (${n(f.sent)} sent by it, ${n(f.received)} to it)`;
  const span = f.last_time - f.time;
  const over = span < 1 ? `${(span * 1000).toFixed(3)} ms` : `${span.toFixed(3)} s`;
  const rate = f.rate_per_s === null ? 'all at one time' : `over ${over}, ${n(Math.round(f.rate_per_s))} RST/s`;
  const c = f.first.cause;
  const conf = (['high', 'medium', 'low'] as const)
    .filter((k) => f.confidence[k])
    .map((k) => `${n(f.confidence[k])} ${k}`)
    .join(', ');
  const first = resetLines(f.first, ladder);
  const out = [
    `  storm #${f.frame} to #${f.last_frame}: ${n(f.count)} RSTs ${what}, ${rate}${f.listed ? ' (its first RST listed above)' : ''}`,
    `      => ${c.id} [${conf}]: ${c.summary}`,
  ];
  if (c.alternatives.length) out.push(`         the capture cannot rule out: ${c.alternatives.join(', ')}`);
  out.push(
    `         first RST: ${first[0]!.trimStart()}`,
    `         sample frames: ${f.sample_frames.map((x) => `#${x}`).join(', ')}`,
    `         peers: ${f.peers.sample.join(', ')}${f.peers.count > f.peers.sample.length ? ', ...' : ''}`,
  );
  // the rest of the first RST's report: its proof, payload, fix and ladder
  out.push(...first.slice(c.alternatives.length ? 3 : 2));
  return out;
}

function lossLines(r: LossReport): string[] {
  const c = r.cause;
  const out = [
    `  #${r.frame}  ${r.conn === null ? 'no packets of the flow' : `conn ${r.conn}`}  ${r.role ? `${r.role} ` : ''}${r.endpoint} (peer ${r.peer})`,
    `      => ${c.id} [${c.confidence}]: ${c.summary}`,
  ];
  if (c.alternatives.length) out.push(`         the capture cannot rule out: ${c.alternatives.join(', ')}`);
  if (r.proof.length) out.push(`         packets that show it: ${r.proof.map((f) => `#${f}`).join(', ')}`);
  out.push(`         fix: ${c.fix}`);
  return out;
}

/** The count of each cause and its confidences, one table row each. */
function causeRows(causes: Analysis['by_cause'], first = 'first frame'): string[] {
  const out = [`  ${tableRow(['count', 'cause', 'confidence', first], CAUSE_COLUMNS)}`];
  for (const c of causes) {
    const conf = (['high', 'medium', 'low'] as const)
      .filter((k) => c.confidence[k])
      .map((k) => `${c.confidence[k]} ${k}`)
      .join(', ');
    out.push(`  ${tableRow([String(c.count), c.id, conf, `#${c.first_frame}`], CAUSE_COLUMNS)}`);
  }
  return out;
}

/** Frames that may hide TCP in what tcpwhy does not decode: said on stderr, so "RSTs: 0" is never silent about them. */
export function unsupportedLine(a: Analysis): string | null {
  const rows = Object.entries(a.skipped_unsupported).sort((x, y) => y[1] - x[1]);
  if (!rows.length) return null;
  const n = rows.reduce((t, [, k]) => t + k, 0);
  const listed = rows
    .slice(0, 5)
    .map(([what, k]) => `${k} ${escapeText(what)}`)
    .join(', ');
  return `skipped ${n} packet${n === 1 ? '' : 's'} that tcpwhy cannot look into (TCP there is not analyzed): ${listed}${rows.length > 5 ? `, and ${rows.length - 5} more kinds` : ''}`;
}

function summaryLines(file: string, a: Analysis, listed: number, lossy: ConnReport[], lossListed: number): string[] {
  const rd = a.read;
  const links = [...new Set(rd.interfaces.map((i) => linktypeName(i.linktype)))].join(', ') || '-';
  // a clock that ran backwards makes last minus first meaningless (even negative)
  const span = `${a.time_span.toFixed(3)} s${a.clock_steps_back ? ` from the earliest to the latest (the clock ran backwards ${a.clock_steps_back} time${a.clock_steps_back === 1 ? '' : 's'})` : ''}`;
  const skipped = Object.entries(a.skipped)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const out = [
    `${escapeText(file)}: ${rd.format}${rd.gzip ? ' (gzip)' : ''}, ${links}; ${a.frames} frames, ${a.tcp_segments} TCP segments${skipped ? ` (skipped: ${skipped})` : ''}, ${span}`,
    `connections: ${a.connections} (${a.handshakes.completed} handshakes completed, ${a.handshakes.refused} refused, ${a.handshakes.unanswered} SYNs never answered, ${a.handshakes.midstream} seen mid-connection)`,
    '',
    `RSTs: ${a.resets} (${a.by_kind.active} active, ${a.by_kind.passive} passive${a.by_kind.unknown ? `, ${a.by_kind.unknown} of unknown kind` : ''})`,
  ];
  if (a.by_cause.length) {
    out.push(...causeRows(a.by_cause));
    const st = a.storms;
    if (st?.findings)
      out.push(
        `  storms: ${n(st.resets)} of the RSTs in ${n(st.findings)} finding(s) (alike: one cause and endpoint, ${STORM_MIN} or more with no gap over ${STORM_GAP_SECONDS} s; --all lists each)`,
      );
    if (st?.closed_early) out.push(`  (${n(st.closed_early)} group(s) of alike RSTs closed early: more than ${n(STORM_MAX_OPEN)} open at once)`);
    if (listed < a.resets) out.push(`  (${listed} of ${a.resets} RSTs listed above; --limit N lists more, --json lists all)`);
    out.push('  (tcpwhy explain CAUSE: what each cause means, in full)');
  }
  const l = a.loss;
  out.push(
    '',
    `loss: ${l.retransmissions} retransmissions (${l.fast_retransmissions} fast, ${l.spurious_retransmissions} spurious), ${l.out_of_order} out of order, ${l.dup_acks} duplicate ACKs, ${l.zero_windows} zero windows, ${l.syn_retransmits} SYN retransmissions, in ${a.lossy_connections} connection(s)`,
  );
  if (lossy.length) {
    out.push(
      `  ${tableRow(
        [
          'conn',
          'client -> server',
          tableRow(
            LOSS_KEYS.map(([, h]) => h),
            LOSS_COLUMNS,
            ' ',
          ),
          'first frames with loss',
        ],
        LOSSY_COLUMNS,
      )}`,
    );
    for (const c of lossy) {
      for (const [side, label] of [
        ['client', '->'],
        ['server', '<-'],
      ] as const) {
        const lc = c.loss[side];
        if (!lossTotal(lc)) continue;
        const counts = tableRow(
          LOSS_KEYS.map(([k]) => String(lc[k])),
          LOSS_COLUMNS,
          ' ',
        );
        out.push(`  ${tableRow([String(c.id), `${c.client} ${label} ${c.server}`, counts, c.loss_frames[side].map((f) => `#${f}`).join(' ')], LOSSY_COLUMNS)}`);
      }
    }
    if (a.lossy_connections > lossy.length)
      out.push(`  (the ${lossy.length} connections with the most loss signs of ${a.lossy_connections}; --json lists all)`);
  }
  if (a.loss_findings) {
    out.push('', `loss causes: ${a.loss_findings} finding(s)`, ...causeRows(a.loss_by_cause, "first flow's frame"));
    if (lossListed < a.loss_findings) out.push(`  (${lossListed} of ${a.loss_findings} findings listed above; --limit N lists more, --json lists all)`);
  }
  if (rd.error) out.push('', `capture damaged: ${rd.error.message}; everything before it is analyzed above`);
  return out;
}

/** A stream gone quiet this long (wall clock) has its waiting verdicts decided. */
const STREAM_IDLE_MS = 1000;

/** Errors of opening or reading the input (not of writing the report): the input is at fault. */
function inputError(file: string, e: unknown): UsageError | null {
  const { code, syscall } = e as NodeJS.ErrnoException;
  if (typeof code !== 'string' || !code.startsWith('E') || !['open', 'read', 'fstat'].includes(syscall ?? '')) return null;
  if (file === '-' && code === 'EBADF') return new UsageError('cannot read -: standard input is closed');
  return new UsageError(`cannot read ${escapeText(file)}: ${(e as Error).message}`);
}

/** A second signal within this time is the same Ctrl-C (a terminal's, passed on by a parent process too). */
const SAME_STOP_MS = 1000;

/**
 * While a stream is read, SIGINT and SIGTERM stop the reading: what was read
 * is reported as usual. A later signal has its default effect (the way out
 * when even that hangs).
 */
function stopOnSignal(): { signal: AbortSignal; by(): NodeJS.Signals | null; release(): void; fail(e: unknown): void; failure: unknown } {
  const ac = new AbortController();
  let by: NodeJS.Signals | null = null;
  let at = 0;
  const release = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
  const stop = (sig: NodeJS.Signals) => {
    if (by === null) {
      by = sig;
      at = Date.now();
      ac.abort();
    } else if (Date.now() - at > SAME_STOP_MS) {
      release();
      process.kill(process.pid, sig);
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return {
    signal: ac.signal,
    by: () => by,
    release,
    // an error outside the reading (writing the report) stops it too, and is thrown when the reading returns
    failure: null,
    fail(e) {
      this.failure ??= e;
      ac.abort();
    },
  };
}

export async function analyzeCommand(args: string[]): Promise<number> {
  const o = parseAnalyzeArgs(args);
  if (o.file === '-' && process.stdin.isTTY)
    throw new UsageError('analyze -: standard input is a terminal; pipe a capture into it (tcpdump -U -w - | tcpwhy analyze -)');
  const stop = stopOnSignal();
  let source: CaptureSource;
  try {
    source = await openSource(o.file, stop.signal);
  } catch (e) {
    stop.release();
    throw inputError(o.file, e) ?? e;
  }
  // a stream (standard input, a FIFO, a pipe): every verdict is printed once decided, the summary at its end or at Ctrl-C
  const stream = source.size === null;
  if (!stream) stop.release();
  const sink = new LineSink(process.stdout);
  let flushing = false;
  // a stream's lines go out when the reader waits for more input: at once for a slow writer, in large writes for a fast one
  const flushSoon = stream
    ? () => {
        if (flushing) return;
        flushing = true;
        setImmediate(() => {
          flushing = false;
          try {
            sink.flush();
          } catch (e) {
            stop.fail(e);
          }
        });
      }
    : () => {};
  const showProgress = !stream && (o.progress ?? (process.stderr.isTTY === true && !o.json));
  const bar = showProgress ? progressBar(o.file) : null;
  const resets: ResetReport[] = [];
  const storms: StormFinding[] = [];
  const losses: LossReport[] = [];
  let listed = 0;
  let lossListed = 0;
  const lossy = new LossiestConns();
  const ladders = o.conn && !o.json ? new ConnLadders() : null;
  let analysis: Analysis;
  try {
    analysis = await analyzeCapture(source, {
      ladder: o.ladder,
      conn: o.conn,
      reportLimit: o.json ? undefined : o.limit,
      reportAsDecided: stream,
      // JSON lines are the same for a file and a stream: the first reset of a group goes out as decided in both
      firstAtOnce: o.json,
      idleMs: stream ? STREAM_IDLE_MS : undefined,
      signal: stream ? stop.signal : undefined,
      allLossFrames: o.lossFrames,
      onReset(r) {
        if (o.json) sink.push(resetLine(r));
        else if (stream) {
          listed++;
          for (const line of resetLines(r, o.ladder)) sink.push(line);
          sink.push('');
          // the ladders at the end mark the resets (at most --limit are kept)
          if (ladders) resets.push(r);
        } else resets.push(r);
        flushSoon();
      },
      onStorm: o.all
        ? undefined
        : (f) => {
            if (o.json) sink.push(stormLine(f));
            else if (stream) {
              listed += f.count - f.listed;
              for (const line of stormLines(f, o.ladder)) sink.push(line);
              sink.push('');
            } else storms.push(f);
            flushSoon();
          },
      onLoss(l) {
        if (o.json) sink.push(lossLine(l));
        else if (stream) {
          lossListed++;
          for (const line of ['loss finding:', ...lossLines(l), '']) sink.push(line);
        } else losses.push(l);
        flushSoon();
      },
      onConnLossyOnly: !o.json,
      onConn(c) {
        if (o.json) {
          sink.push(JSON.stringify({ type: 'connection', ...c }));
          flushSoon();
        } else lossy.add(c);
      },
      onConnPacket: ladders ? (p) => ladders.add(p) : undefined,
      onProgress: bar ? (d, t) => bar.update(d, t) : undefined,
    });
  } catch (e) {
    bar?.clear();
    if (stop.failure) throw stop.failure;
    if (e instanceof CaptureError) {
      if (stop.by()) {
        process.stderr.write(`tcpwhy: ${escapeText(o.file)}: stopped by ${stop.by()} before a whole capture header arrived; nothing to analyze\n`);
        return 0;
      }
      throw new UsageError(`${escapeText(o.file)}: ${e.message}`);
    }
    throw inputError(o.file, e) ?? e;
  } finally {
    stop.release();
  }
  if (stop.failure) throw stop.failure;
  bar?.clear();
  const a = analysis;
  if (o.json) {
    const rd = a.read;
    sink.push(
      JSON.stringify({
        type: 'summary',
        file: o.file,
        format: rd.format,
        gzip: rd.gzip,
        byte_order: rd.byteOrder,
        interfaces: rd.interfaces.map((i) => ({
          linktype: i.linktype,
          link: linktypeName(i.linktype),
          snaplen: i.snaplen,
          name: i.name === null ? null : escapeText(i.name),
          ts_per_sec: i.tsPerSec,
        })),
        packets: a.frames,
        bytes: rd.bytes,
        tcp_segments: a.tcp_segments,
        skipped: a.skipped,
        skipped_unsupported: a.skipped_unsupported,
        connections: a.connections,
        handshakes: a.handshakes,
        resets: a.resets,
        resets_by_kind: a.by_kind,
        resets_by_cause: a.by_cause,
        storms: a.storms && { ...a.storms, min: STORM_MIN, gap_s: STORM_GAP_SECONDS, max_open: STORM_MAX_OPEN },
        loss: a.loss,
        lossy_connections: a.lossy_connections,
        ...(o.lossFrames ? { loss_frames_omitted: a.loss_frames_omitted } : {}),
        loss_findings: a.loss_findings,
        loss_by_cause: a.loss_by_cause,
        first_time: a.first_time,
        last_time: a.last_time,
        complete: rd.error === null,
        error: rd.error ? { message: rd.error.message, offset: rd.error.offset } : null,
      }),
    );
  } else {
    const out: string[] = [];
    if (ladders) {
      const shown = ladders.shown();
      const more = ladders.notShown;
      out.push(
        `connection ${escapeText(o.connText ?? '')}: ${shown.length ? `${shown.length + more} connection(s)` : 'no packets in the capture'}` +
          (more ? ` (the first ${shown.length} shown; ${more} more match: give both ends, ADDR:PORT-ADDR:PORT, to pick one)` : ''),
      );
      for (const e of shown) {
        const id = e.id;
        const names = e.rows[0]?.from === 'a' || e.rows[0]?.from === 'b' ? ['a', 'b'] : ['client', 'server'];
        out.push(
          `  conn ${id}: ${names[0]} ${e.client}, ${names[1]} ${e.server}${e.dropped ? ` (last ${e.rows.length} packets; ${e.dropped} earlier ones not shown)` : ''}`,
        );
        const rst = resets.find((r) => r.conn === id);
        out.push(...ladderLines(e.rows, rst?.frame ?? null, rst?.answers?.frame ?? null));
      }
      out.push('');
    }
    // verdicts that waited for later packets come out a little late: list by frame
    resets.sort((x, y) => x.frame - y.frame);
    if (!stream) {
      const items: Array<ResetReport | StormFinding> = [...resets, ...storms].sort((x, y) => x.frame - y.frame);
      for (const r of items) out.push(...('first' in r ? stormLines(r, o.ladder) : resetLines(r, o.ladder)), '');
    }
    if (losses.length) {
      out.push('loss findings:');
      for (const l of losses) out.push(...lossLines(l), '');
    }
    const listedFile = resets.length + storms.reduce((t, f) => t + f.count, 0);
    out.push(...summaryLines(o.file, a, stream ? listed : listedFile, lossy.list(), stream ? lossListed : losses.length));
    for (const line of out) sink.push(line);
  }
  sink.flush();
  const unsupported = unsupportedLine(a);
  if (unsupported) process.stderr.write(`tcpwhy: ${escapeText(o.file)}: ${unsupported}\n`);
  if (a.forgotten_open)
    process.stderr.write(
      `tcpwhy: ${escapeText(o.file)}: ${a.forgotten_open} open connections forgotten (more than ${a.quiet_kept_max} open and quiet at once); a later packet of one starts it again as seen mid-connection\n`,
    );
  if (a.read.interfacesUnlisted)
    process.stderr.write(`tcpwhy: ${escapeText(o.file)}: ${a.read.interfacesUnlisted} more interfaces declared than the ${a.read.interfaces.length} listed\n`);
  if (stop.by()) process.stderr.write(`tcpwhy: ${escapeText(o.file)}: stopped by ${stop.by()}; the report covers the ${a.frames} frames read\n`);
  if (a.read.error) {
    process.stderr.write(
      `tcpwhy: ${escapeText(o.file)}: capture cut short or corrupt: ${a.read.error.message}; the analysis covers the ${a.frames} frames before it (exit ${EXIT_PARTIAL})\n`,
    );
    return EXIT_PARTIAL;
  }
  return 0;
}
