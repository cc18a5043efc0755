#!/usr/bin/env node
// tcpwhy command line: watch, analyze, explain, lab, demo.
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { OutputError, SetupError, UsageError } from '../kernel/errors.js';

/**
 * SIGINT/SIGTERM stop the command cleanly (programs detached, summary
 * printed); so does SIGHUP, the terminal or session going away (its summary
 * then meets an output that may be gone, which ends quietly or in one line).
 */
function stopSignal(): AbortSignal {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop);
  return ac.signal;
}

/**
 * `tcpwhy explain | head`: a reader that goes away ends the command quietly;
 * an output that cannot be written (a full disk) ends it with one line, exit 2
 * (the exit hook still removes lab namespaces).
 */
function quietOnEpipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(`tcpwhy: ${OutputError.of(e).message}\n`);
    process.exit(2);
  });
}

/** Characters of a message printed; a value of 100 000 characters is not worth repeating whole. */
const MAX_MESSAGE = 1000;

/**
 * A message for the terminal: text from the command line or the system may
 * hold control characters (an escape sequence in a file name) and must not
 * act on the terminal, nor break the message into lines.
 */
function printable(msg: string): string {
  const text = msg.length > MAX_MESSAGE ? `${msg.slice(0, MAX_MESSAGE)}... (${msg.length} characters)` : msg;
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Set in the environment of the process analyzeInLargerHeap starts: it never starts another. */
const ANALYZE_CHILD = 'TCPWHY_ANALYZE_CHILD';

/**
 * Runs this command again in a node with a large heap and waits for it.
 * SIGINT, SIGTERM and SIGHUP sent to this process are passed on; a child
 * killed by a signal kills this process with the same signal, so whoever
 * started it sees what happened.
 */
async function analyzeInLargerHeap(argv: string[]): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, [ANALYZE_CHILD]: '1' };
  delete env['NODE_EXTRA_CA_CERTS'];
  // the flags bin/tcpwhy starts analyze with
  const child = spawn(process.execPath, ['--max-semi-space-size=16', '--max-old-space-size=4096', fileURLToPath(import.meta.url), ...argv], {
    stdio: 'inherit',
    env,
  });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const pass = (sig: NodeJS.Signals) => child.kill(sig);
  for (const sig of signals) process.on(sig, pass);
  const [code, signal] = (await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, s) => resolve([c, s]));
  })) as [number | null, NodeJS.Signals | null];
  for (const sig of signals) process.off(sig, pass);
  if (signal) {
    process.kill(process.pid, signal);
    // a signal node does not end the process on (none of these): say it
    process.stderr.write(`tcpwhy: the analysis was ended by ${signal}\n`);
    return 128 + (osConstants.signals[signal] ?? 0);
  }
  return code ?? 1;
}

const COMMANDS = new Set(['watch', 'explain', 'analyze', 'lab', 'demo']);

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // `tcpwhy analyze --help`: the usage, whatever else the line holds (before a `--`)
  const end = rest.indexOf('--');
  if (cmd && COMMANDS.has(cmd) && (end < 0 ? rest : rest.slice(0, end)).some((a) => a === '--help' || a === '-h')) {
    quietOnEpipe();
    process.stdout.write((await import('./args.js')).USAGE);
    return 0;
  }
  switch (cmd) {
    case 'watch': {
      const { parseWatchArgs } = await import('./args.js');
      const opts = parseWatchArgs(rest);
      const { watch } = await import('./watch.js');
      const summary = await watch({ ...opts, signal: stopSignal() });
      // output abandoned for a reader that stopped reading: node would wait for it
      if (summary.outputAbandoned) process.exit(0);
      return 0;
    }
    case 'explain': {
      quietOnEpipe();
      const { explain } = await import('./explain.js');
      return explain(rest, process.stdout);
    }
    case 'analyze': {
      // A capture analysis wants a large young generation (its connections
      // die young: fewer, cheaper collections) and room for the tracked
      // connections; bin/tcpwhy starts it so. Started with a small heap (the
      // flags `watch` runs with), it starts a second process with the large
      // one. Modules are imported lazily so that the first process gets there
      // at once; the second does no TLS, so it skips loading
      // NODE_EXTRA_CA_CERTS (tens of ms with the system bundle)
      if (getHeapStatistics().heap_size_limit < 1 << 30 && !process.env[ANALYZE_CHILD]) return analyzeInLargerHeap(argv);
      quietOnEpipe();
      const { analyzeCommand } = await import('./analyze.js');
      return analyzeCommand(rest);
    }
    case 'lab': {
      quietOnEpipe();
      const { labCommand } = await import('./lab.js');
      return labCommand(rest, { signal: stopSignal() });
    }
    case 'demo': {
      if (rest.length) throw new UsageError(`demo takes no arguments, got ${rest.join(' ')}`);
      quietOnEpipe();
      const { demo } = await import('./demo.js');
      return demo({ signal: stopSignal() });
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      quietOnEpipe();
      process.stdout.write((await import('./args.js')).USAGE);
      return cmd === undefined ? 2 : 0;
    case '--version':
    case 'version':
      quietOnEpipe();
      process.stdout.write(`tcpwhy ${(await import('./args.js')).VERSION}\n`);
      return 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof SetupError) {
      process.stderr.write(`tcpwhy: ${printable(err.message)}\n  what to do: ${printable(err.fix)}\n`);
      process.exitCode = 2;
    } else if (err instanceof UsageError) {
      process.stderr.write(`tcpwhy: ${printable(err.message)}\n(see tcpwhy help)\n`);
      process.exitCode = 2;
    } else if (err instanceof OutputError) {
      // `| head`: the reader has what it wanted
      if (err.code !== 'EPIPE') process.stderr.write(`tcpwhy: ${printable(err.message)}\n`);
      process.exitCode = err.code === 'EPIPE' ? 0 : 2;
    } else {
      process.stderr.write(`tcpwhy: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
