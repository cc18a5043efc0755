// Runs the tcpwhy CLI as a child process, as a user would.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { cliPath } from '../../src/paths.js';

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface LiveCli {
  pid: number;
  stdout(): string;
  stderr(): string;
  /** resolves once the programs are attached (the "watching" banner) */
  ready: Promise<void>;
  /** closes our end of its stdout, as `| head` does when it has enough */
  closeStdout(): void;
  /** sends a signal and waits for the exit */
  stop(sig?: NodeJS.Signals): Promise<CliRun>;
  exited: Promise<CliRun>;
}

export function startCli(args: string[], opts: { env?: NodeJS.ProcessEnv; wrap?: string[] } = {}): LiveCli {
  const argv = [...(opts.wrap ?? []), process.execPath, cliPath, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout: out,
    stderr: err,
  }));
  const ready = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpwhy did not attach within 15 s: ${err}`)), 15000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('tcpwhy: watching')) {
        clearTimeout(t);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(t);
      reject(new Error(`tcpwhy exited before attaching: ${err}`));
    });
  });
  ready.catch(() => undefined);
  return {
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    ready,
    exited,
    closeStdout: () => child.stdout.destroy(),
    async stop(sig: NodeJS.Signals = 'SIGINT') {
      child.kill(sig);
      return exited;
    },
  };
}

export async function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; wrap?: string[] } = {}): Promise<CliRun> {
  return startCli(args, opts).exited;
}

/** Ids and names of the BPF programs loaded on the machine. */
export function loadedPrograms(): Array<{ id: number; name: string }> {
  const out = execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ id: number; name?: string }>).map((p) => ({ id: p.id, name: p.name ?? '' }));
}
