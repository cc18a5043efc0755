#!/usr/bin/env node
// tcpwhy command line: watch, analyze, explain, lab, demo.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { SetupError, UsageError } from '../kernel/errors.js';

/** SIGINT/SIGTERM stop the command cleanly (programs detached, summary printed). */
function stopSignal(): AbortSignal {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return ac.signal;
}

/** `tcpwhy explain | head`: a reader that goes away ends the command quietly (the exit hook still removes lab namespaces). */
function quietOnEpipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'watch': {
      const { parseWatchArgs } = await import('./args.js');
      const opts = parseWatchArgs(rest);
      const { watch } = await import('./watch.js');
      await watch({ ...opts, signal: stopSignal() });
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
      if (getHeapStatistics().heap_size_limit < 1 << 30) {
        const env = { ...process.env };
        delete env['NODE_EXTRA_CA_CERTS'];
        const r = spawnSync(process.execPath, ['--max-semi-space-size=64', '--max-old-space-size=4096', fileURLToPath(import.meta.url), ...argv], { stdio: 'inherit', env });
        if (r.error) throw r.error;
        return r.status ?? 1;
      }
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
      process.stdout.write((await import('./args.js')).USAGE);
      return cmd === undefined ? 2 : 0;
    case '--version':
    case 'version':
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
      process.stderr.write(`tcpwhy: ${err.message}\n  what to do: ${err.fix}\n`);
      process.exitCode = 2;
    } else if (err instanceof UsageError) {
      process.stderr.write(`tcpwhy: ${err.message}\n(see tcpwhy help)\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`tcpwhy: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
