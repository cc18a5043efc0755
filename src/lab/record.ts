// Packet captures of lab runs: tcpdump inside one of the lab's namespaces,
// writing a pcap that offline analysis (`tcpwhy analyze`) can be checked
// against the live verdicts of the same run.
//
// startRecording() returns once tcpdump says it is listening, so nothing the
// case sends afterwards is missed; stop() interrupts it (SIGINT: tcpdump
// flushes its file and prints its counts) and waits for it to exit.
import { spawn, type ChildProcess } from 'node:child_process';

export interface RecordingSummary {
  file: string;
  /** packets tcpdump wrote ("N packets captured") */
  packets: number;
  /** packets the kernel dropped before tcpdump saw them ("N packets dropped by kernel") */
  dropped: number;
}

export interface Recording {
  readonly file: string;
  /** Stops tcpdump (SIGINT), waits for it to exit and returns its counts. Calling it again returns the same promise. */
  stop(): Promise<RecordingSummary>;
}

export interface RecordOptions {
  /** how long to wait for "listening on" (default 20 s: tcpdump starts slowly in an emulated guest) */
  startTimeoutMs?: number;
  /** how long to wait for tcpdump to exit after SIGINT before SIGKILL (default 3000 ms) */
  stopTimeoutMs?: number;
  /** a pcap filter expression (default: none, every packet) */
  filter?: string;
  /** the kernel buffer tcpdump reads from, in KiB (`-B`; tcpdump's default is 2 MiB) */
  bufferKiB?: number;
  /**
   * bytes kept of each packet (`-s`; default: whole packets). In immediate
   * mode the kernel buffer holds a fixed number of slots of this size (64 KB
   * each on a veth, which has segmentation offload), so a bulk transfer
   * recorded whole overflows it; headers alone keep their true lengths.
   */
  snaplen?: number;
  /**
   * false: tcpdump buffers (no -U, no --immediate-mode), so the kernel hands
   * it packets in large blocks: that keeps up with a flood, where immediate
   * mode drops packets. A block reaches tcpdump when it fills or after about
   * a second, so stop() no sooner than a second after the last packet of
   * interest. Default true.
   */
  immediate?: boolean;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A process that dies without stopping its recordings still ends its tcpdumps. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of running) p.kill('SIGINT');
  });
}

/** tcpdump's closing counts on stderr; -1 where a line is missing. */
export function parseTcpdumpCounts(stderr: string): { packets: number; dropped: number } {
  const n = (re: RegExp) => {
    const m = re.exec(stderr);
    return m ? Number(m[1]) : -1;
  };
  return { packets: n(/(\d+) packets? captured/), dropped: n(/(\d+) packets? dropped by kernel/) };
}

/**
 * Starts `tcpdump -i DEV -w FILE` in network namespace NS (an `ip netns`
 * name): whole packets (-s 0) unless told otherwise, each written to the file at once (-U,
 * --immediate-mode) unless told otherwise, as root (-Z root: the file's directory need not be
 * writable by tcpdump's unprivileged user). Resolves once tcpdump listens;
 * rejects (and leaves no process behind) if it exits or stays silent first.
 */
export function startRecording(ns: string, dev: string, file: string, opts: RecordOptions = {}): Promise<Recording> {
  installExitHook();
  const args = ['netns', 'exec', ns, 'tcpdump', '-i', dev, '-w', file, '-s', String(opts.snaplen ?? 0), '-nn', '-Z', 'root'];
  if (opts.immediate ?? true) args.push('-U', '--immediate-mode');
  if (opts.bufferKiB !== undefined) args.push('-B', String(opts.bufferKiB));
  if (opts.filter) args.push(opts.filter);
  const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  let stopping: Promise<RecordingSummary> | null = null;
  const stop = (): Promise<RecordingSummary> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), opts.stopTimeoutMs ?? 3000);
      const { code, signal } = await exited;
      clearTimeout(killer);
      const counts = parseTcpdumpCounts(stderr);
      if (signal === 'SIGKILL' || counts.packets < 0) {
        throw new Error(`tcpdump in ${ns} did not stop cleanly (exit ${code ?? signal}): ${stderr.trim()}`);
      }
      return { file, ...counts };
    })();
    return stopping;
  };

  return new Promise<Recording>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`tcpdump in ${ns} on ${dev}: ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not listening after ${opts.startTimeoutMs ?? 20_000} ms`), opts.startTimeoutMs ?? 20_000);
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      if (/listening on /.test(stderr) && !stopping) {
        clearTimeout(timer);
        resolve({ file, stop });
      }
    });
    void exited.then(({ code, signal }) => {
      if (!/listening on /.test(stderr)) fail(`exited before listening (${code ?? signal})`);
    });
    void spawnError.then((e) => fail(e.message));
  });
}
