// Every command and option against bad input, and the output against readers
// that stall, go away or whose disk is full: each ends in bounded time with
// its documented exit code and one message (never a stack trace, never
// "internal error"). The options come from the commands' tables
// (src/cli/options.ts), so a new option is covered once it is declared.
// What needs root or loads BPF is in test/kernel/robustness.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseAnalyzeArgs } from '../../src/cli/analyze.js';
import { parseLabArgs, parseWatchArgs } from '../../src/cli/args.js';
import { COMMAND_OPTIONS, type OptionSpec, type ValueKind } from '../../src/cli/options.js';
import { COLUMNS, tableHeader, tableRow } from '../../src/cli/output.js';
import { LAB_CASE_NAMES } from '../../src/cli/lab.js';
import { UsageError } from '../../src/kernel/errors.js';
import { cliPath, packageRoot } from '../../src/paths.js';
import { ACK, ethernet, ipv4Tcp, LINKTYPE, pcap, RST, SYN } from '../helpers/capture-build.js';
import { rstEvent } from '../helpers/rst-event.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-robust-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An escape sequence that would retitle a terminal, a C1 CSI, a line break. */
const HOSTILE = '\u001b]0;pwned\u0007\u009b31m\r\nx';
const LONG = 'a'.repeat(100_000);
const HUGE = '9'.repeat(400);
const ANY = ['', ' ', HOSTILE, LONG, '-1', 'abc', HUGE];

/** Values each kind of option must refuse when it parses the command line. */
const BAD: Record<ValueKind, string[]> = {
  flag: [],
  number: [...ANY, '1.5', '0x10', '1e3', '+1'],
  numbers: [...ANY, '1.5', '80,,81', ',', '80,', ' ,80'],
  seconds: [...ANY, '0', 'inf', 'NaN', '1e3', '0x10'],
  addresses: [...ANY, '999.1.1.1', '10.0.0.1,,10.0.0.2', '10.0.0.1,'],
  netns: [...ANY, '0', '../../etc/passwd', 'no-such-namespace-here', ','],
  word: ANY,
  // the rest are files, tried when the command runs (test/kernel/robustness.test.ts)
  file: ['', ' '],
  dir: ['', ' '],
  tuple: [...ANY, '1.2.3.4:99999', '1.2.3.4:80-'],
};

const parsers: Record<keyof typeof COMMAND_OPTIONS, (args: string[]) => unknown> = {
  watch: parseWatchArgs,
  lab: (args) => parseLabArgs(args, LAB_CASE_NAMES),
  analyze: (args) => parseAnalyzeArgs([...args, 'x.pcap']),
};

const show = (v: string) => (v.length > 30 ? `${JSON.stringify(v.slice(0, 12))}... (${v.length})` : JSON.stringify(v));

describe('every option refuses what its kind cannot be: a UsageError, never a default', () => {
  for (const [command, specs] of Object.entries(COMMAND_OPTIONS) as Array<[keyof typeof COMMAND_OPTIONS, readonly OptionSpec[]]>) {
    for (const o of specs) {
      const flag = o.short ? `-${o.short}` : `--${o.name}`;
      test(`${command} ${flag} (${o.value})`, () => {
        const refused = (args: string[]) =>
          assert.throws(
            () => parsers[command](args),
            (e: unknown) => e instanceof UsageError,
            `${command} ${args.map(show).join(' ')} was accepted`,
          );
        if (o.value === 'flag') {
          if (!o.short) refused([`--${o.name}=yes`]);
          return;
        }
        // a value missing at the end of the line
        refused([`--${o.name}`]);
        for (const v of BAD[o.value]) refused([`--${o.name}=${v}`]);
        // an empty value among good ones is no less an error
        if (o.multiple) refused([`--${o.name}=${goodValue(o.value)}`, `--${o.name}=`]);
      });
    }
  }
});

function goodValue(kind: ValueKind): string {
  return { numbers: '80', addresses: '10.0.0.1', netns: '4026531840', word: 'drops' }[kind as string] ?? '1';
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * As root, without the capabilities to load BPF: a command line wrongly
 * accepted ends in the capabilities' message (which the checks refuse), not
 * in a watch of the whole host.
 */
const NO_BPF = process.getuid?.() === 0 ? ['capsh', '--drop=cap_bpf,cap_perfmon,cap_sys_admin', '--', '-c', 'exec "$0" "$@"'] : [];

/** Runs the CLI (analyze through bin/tcpwhy, with its heap flags); killed after `limitMs`. */
async function cli(args: string[], opts: { limitMs?: number; stdout?: 'pipe' | number; shell?: string } = {}): Promise<Run> {
  const argv = args[0] === 'analyze' ? [path.join(packageRoot, 'bin', 'tcpwhy'), ...args] : [...NO_BPF, process.execPath, cliPath, ...args];
  const [file, ...rest] = opts.shell ? ['bash', '-c', opts.shell, 'bash', ...argv] : argv;
  const started = Date.now();
  const child = spawn(file!, rest, { stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const kill = setTimeout(() => child.kill('SIGKILL'), opts.limitMs ?? 15000);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(kill);
  return { code, signal, stdout, stderr, ms: Date.now() - started };
}

/**
 * One message: "tcpwhy: ..." and at most its documented second line (the hint
 * to help, or what to do), printable, short, no stack trace.
 */
function assertOneMessage(r: Run, what: string): void {
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  assert.match(lines[0] ?? '', /^tcpwhy: /, `${what}: ${r.stderr}`);
  assert.ok(lines.length <= 2, `${what}: more than one message: ${r.stderr.slice(0, 2000)}`);
  if (lines[1] !== undefined) assert.match(lines[1], /^(\(see tcpwhy help\)| {2}what to do: )/, `${what}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|^\s+at /m, `${what}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, `${what}: a control character reached the terminal`);
  assert.doesNotMatch(r.stderr, /CAP_BPF/, `${what}: accepted (it went on to load its programs)`);
  assert.ok(r.stderr.length < 3000, `${what}: a message of ${r.stderr.length} characters`);
}

test('every command answers --help and -h with the usage, exit 0 (also among other arguments)', async () => {
  for (const command of [...Object.keys(COMMAND_OPTIONS), 'explain', 'demo']) {
    for (const h of ['--help', '-h']) {
      const r = await cli([command, '--json', h]);
      assert.equal(r.code, 0, `${command} ${h}: ${r.stderr}`);
      assert.match(r.stdout, /^tcpwhy: why did this TCP connection get reset\?/, `${command} ${h}`);
      assert.equal(r.stderr, '');
    }
  }
  // after `--` it is an argument: a file analyze cannot open
  const r = await cli(['analyze', '--', '--help']);
  assert.equal(r.code, 2, r.stderr);
});

describe('the command line: exit 2 and one message for each option, bad', () => {
  // per option: its value missing, then one bad value (the kinds of bad value taken in turn)
  const cases: string[][] = [];
  let turn = 0;
  for (const [command, specs] of Object.entries(COMMAND_OPTIONS)) {
    const positional = command === 'analyze' ? ['x.pcap'] : [];
    for (const o of specs) {
      if (o.value === 'flag') {
        if (!o.short) cases.push([command, `--${o.name}=${HOSTILE}`, ...positional]);
        continue;
      }
      cases.push([command, ...positional, `--${o.name}`]);
      const bad = BAD[o.value];
      cases.push([command, `--${o.name}=${bad[turn++ % bad.length]}`, ...positional]);
    }
  }
  // what the issue found: an empty filter watched the whole host
  cases.push(['watch', '--netns', ''], ['watch', '--port='], ['watch', '--pid='], ['watch', '--addr='], ['watch', '--port', '80,,81']);
  cases.push([`--${HOSTILE}`], ['watch', `--${HOSTILE}`], ['watch', LONG], ['analyze'], ['lab', 'no-such-case', HOSTILE]);
  cases.push(['explain', HOSTILE], ['explain', LONG], ['demo', HOSTILE], [HOSTILE]);
  test(`${cases.length} command lines`, async () => {
    // three at a time: each is a node starting up
    const check = async (args: string[]) => {
      const r = await cli(args);
      const what = args.map(show).join(' ');
      assert.equal(r.code, 2, `${what}: exit ${r.code} ${r.signal ?? ''} in ${r.ms} ms: ${r.stderr.slice(0, 2000)}`);
      assertOneMessage(r, what);
      assert.equal(r.stdout, '', what);
    };
    for (let i = 0; i < cases.length; i += 3) await Promise.all(cases.slice(i, i + 3).map(check));
  });
});

// a refused SYN, the capture the output tests analyze
const good = path.join(dir, 'good.pcap');
writeFileSync(
  good,
  pcap(
    [
      ethernet(ipv4Tcp({ src: '192.0.2.1', dst: '192.0.2.2' }, { sport: 40000, dport: 8080, seq: 7, flags: SYN })),
      ethernet(ipv4Tcp({ src: '192.0.2.2', dst: '192.0.2.1' }, { sport: 8080, dport: 40000, seq: 0, ack: 8, flags: RST | ACK, win: 0 })),
    ].map((data) => ({ data })),
    { linktype: LINKTYPE.ETHERNET },
  ).bytes,
);

describe('analyze: files that are not captures', () => {
  const empty = path.join(dir, 'empty.pcap');
  writeFileSync(empty, '');
  const sparse = path.join(dir, 'sparse.pcap');
  writeFileSync(sparse, '');
  // 64 GiB of nothing: it must not be read to its end
  truncateSync(sparse, 64 * 2 ** 30);
  for (const [name, file] of [
    ['empty', empty],
    ['huge and sparse', sparse],
    ['a directory', dir],
    ['/dev/zero', '/dev/zero'],
    ['/dev/urandom', '/dev/urandom'],
    ['/dev/null', '/dev/null'],
    ['missing', path.join(dir, 'missing.pcap')],
    ['hostile name', path.join(dir, HOSTILE)],
  ] as const) {
    test(`${name}: exit 2, one message, within 10 s`, async () => {
      const r = await cli(['analyze', file], { limitMs: 10000 });
      assert.equal(r.code, 2, `exit ${r.code} ${r.signal ?? ''} in ${r.ms} ms: ${r.stderr}`);
      assertOneMessage(r, name);
    });
  }
});

describe('output that cannot be written', () => {
  for (const args of [['explain'], ['explain', 'no-listener'], ['analyze', good], ['analyze', '--json', good], ['help']]) {
    test(`${args.join(' ')} > /dev/full: exit 2, one message`, async () => {
      const r = await cli(args, { shell: 'exec "$@" > /dev/full' });
      assert.equal(r.code, 2, `exit ${r.code} ${r.signal ?? ''}: ${r.stderr}`);
      assert.match(r.stderr, /no space left/);
      assertOneMessage(r, args.join(' '));
    });
    test(`${args.join(' ')} | a reader that exits at once: exit 0, quiet`, async () => {
      // the reader is gone before the first write: EPIPE
      const r = await cli(args, { shell: '"$@" | true; exit $PIPESTATUS' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', r.stderr);
    });
    test(`${args.join(' ')} with stdout closed: ends, no stack trace`, async () => {
      const r = await cli(args, { shell: 'exec "$@" >&-' });
      assert.ok(r.code === 0 || r.code === 2, `exit ${r.code}: ${r.stderr}`);
      if (r.stderr) assertOneMessage(r, args.join(' '));
    });
  }
});

describe('a reader that stalls (the sink of live output)', () => {
  const child = path.join(packageRoot, 'dist', 'test', 'helpers', 'sink-child.js');
  /** The writer with a 1 MiB bound (and `mode`), its stdout paused (nobody reads yet), its stderr gathered. */
  const writer = (...mode: string[]) => {
    const p = spawn(process.execPath, [child, String(1 << 20), ...mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.pause();
    const w = { p, err: '' };
    p.stderr.on('data', (d: Buffer) => (w.err += d.toString()));
    return w;
  };

  test('SIGTERM is heard while the reader reads nothing; lines are dropped, memory stays bounded', async () => {
    // the pipe's reader never reads: the writer's output waits, then is dropped
    const w = writer();
    const { p } = w;
    await new Promise((r) => setTimeout(r, 1500));
    const sent = Date.now();
    p.kill('SIGTERM');
    const kill = setTimeout(() => p.kill('SIGKILL'), 10000);
    const [code, signal] = (await once(p, 'exit')) as [number | null, string | null];
    clearTimeout(kill);
    const ms = Date.now() - sent;
    assert.equal(signal, null, `the writer had to be killed (SIGTERM unheard for 10 s): ${w.err}`);
    assert.equal(code, 0, w.err);
    assert.ok(ms < 3000, `SIGTERM took ${ms} ms`);
    const r = JSON.parse(w.err) as { pushed: number; dropped: number; abandoned: boolean; maxRss: number };
    assert.ok(r.dropped > 0 && r.abandoned, w.err);
    // 1 MiB may wait; a sink that kept every line would hold hundreds
    assert.ok(r.maxRss < 300 * 2 ** 20, `rss ${r.maxRss}`);
    p.stdout.destroy();
  });

  test('a reader that catches up gets whole lines, in order; pushed = read + dropped', async () => {
    const w = writer();
    const { p } = w;
    const chunks: Buffer[] = [];
    await new Promise((r) => setTimeout(r, 700));
    p.stdout.on('data', (d: Buffer) => chunks.push(d));
    p.stdout.resume();
    await new Promise((r) => setTimeout(r, 300));
    p.kill('SIGTERM');
    await Promise.all([once(p, 'exit'), once(p.stdout, 'end')]);
    const r = JSON.parse(w.err) as { pushed: number; dropped: number; abandoned: boolean };
    const text = Buffer.concat(chunks).toString();
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    let last = -1;
    for (const l of lines) {
      const m = /^line (\d+) x{200}$/.exec(l);
      assert.ok(m, `a cut or mangled line: ${l.slice(0, 60)}`);
      assert.ok(Number(m[1]) > last, 'lines out of order');
      last = Number(m[1]);
    }
    assert.equal(r.abandoned, false, w.err);
    assert.equal(lines.length + r.dropped, r.pushed, w.err);
    assert.ok(r.dropped > 0, 'the stall dropped lines');
  });

  // a burst bigger than the bound (the storm records of a port scan at exit):
  // 40,000 lines of 212 bytes are 8 MiB against 1 MiB; the reader starts
  // late and reads at its own pace
  for (const [mode, expectDrops] of [
    ['burst', false],
    ['burst-blind', true],
  ] as const) {
    test(`a burst of bounded output ${expectDrops ? 'pushed at once is dropped in part' : "written at the reader's pace (room()) arrives whole"}`, async () => {
      const w = writer(`${mode}:40000`);
      const { p } = w;
      const chunks: Buffer[] = [];
      await new Promise((r) => setTimeout(r, 300));
      p.stdout.on('data', (d: Buffer) => chunks.push(d));
      p.stdout.resume();
      await Promise.all([once(p, 'exit'), once(p.stdout, 'end')]);
      const r = JSON.parse(w.err) as { pushed: number; dropped: number; abandoned: boolean };
      const lines = Buffer.concat(chunks).toString().split('\n').filter(Boolean);
      assert.equal(r.pushed, 40000);
      assert.equal(lines.length + r.dropped, r.pushed, w.err);
      if (expectDrops) assert.ok(r.dropped > 0, `nothing dropped: ${w.err}`);
      else {
        assert.equal(r.dropped, 0, w.err);
        assert.deepEqual(
          lines.map((l) => Number(/^line (\d+) /.exec(l)?.[1])),
          Array.from({ length: 40000 }, (_, i) => i),
        );
      }
    });
  }
});

describe('the table stays in line', () => {
  test('a long escaped process name is cut to the COMM column, marked', () => {
    const comm = COLUMNS.find((c) => c.title === 'COMM')!;
    const from = tableHeader().indexOf('COMM');
    const at = tableHeader().indexOf('LOCAL');
    for (const name of ['\\x1b\\x1b\\x1b\\x1b\\x1b', 'kworker/u16:10ab', 'x']) {
      for (const owner of [null, { pid: 2, comm: name }]) {
        const row = tableRow(rstEvent(1, { process: { pid: 1, tid: 1, comm: name }, owner }));
        assert.equal(row.indexOf('192.0.2.2:8080'), at, row);
        const cell = row.slice(from, at).trimEnd();
        assert.ok(cell.length <= comm.width, row);
        if ((owner ? name : `(${name})`).length > comm.width) assert.ok(cell.endsWith('…'), row);
      }
    }
  });
});
