// Boots one kernel of the matrix in qemu (software emulation: these machines
// have no KVM) on this machine's root filesystem, shared read-only over
// virtio-9p, with a second, writable share for the job and its results.
// The run is bounded: past its time limit qemu is killed and the result says so.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import type { KernelFiles } from './fetch.js';

export interface BootOptions {
  kernel: KernelFiles;
  initramfs: string;
  /** the checkout the guest runs (seen at the same path inside) */
  repo: string;
  /** shared with the guest: job.json in, result.json and logs out */
  outDir: string;
  timeoutMs: number;
  memoryMiB?: number;
  cpus?: number;
  /** each new line of the guest's progress log */
  onLog?: (line: string) => void;
}

export interface BootResult {
  /** the guest job's exit code; null if it never wrote one (crash, time limit) */
  exitCode: number | null;
  timedOut: boolean;
  ms: number;
  /** the end of the serial console (kernel messages), for when it went wrong */
  consoleTail: string;
}

export const QEMU = 'qemu-system-x86_64';

export function qemuArgs(o: BootOptions): string[] {
  const append = [
    'console=ttyS0',
    'quiet',
    'panic=-1', // a panic reboots, and -no-reboot turns that into qemu's exit
    `tcpwhy.stage2=${path.join(o.repo, 'test', 'vm', 'guest-init.sh')}`,
    `tcpwhy.kroot=${o.kernel.root}`,
    `tcpwhy.repo=${o.repo}`,
  ].join(' ');
  return [
    '-machine',
    'pc',
    '-accel',
    'tcg,thread=multi',
    '-m',
    String(o.memoryMiB ?? 3072),
    '-smp',
    String(o.cpus ?? 2),
    '-nographic',
    '-no-reboot',
    '-nic',
    'none',
    '-kernel',
    o.kernel.vmlinuz,
    '-initrd',
    o.initramfs,
    '-append',
    append,
    '-fsdev',
    'local,id=root,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device',
    'virtio-9p-pci,fsdev=root,mount_tag=root',
    '-fsdev',
    `local,id=out,path=${o.outDir},security_model=none`,
    '-device',
    'virtio-9p-pci,fsdev=out,mount_tag=out',
  ];
}

/** Follows a file that another process appends to: each call hands over the new complete lines. */
function follower(file: string): () => string[] {
  let pos = 0;
  let rest = '';
  return () => {
    if (!existsSync(file)) return [];
    const size = statSync(file).size;
    if (size <= pos) return [];
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size - pos);
      readSync(fd, buf, 0, buf.length, pos);
      pos = size;
      const lines = (rest + buf.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      return lines;
    } finally {
      closeSync(fd);
    }
  };
}

export function boot(o: BootOptions): Promise<BootResult> {
  const started = Date.now();
  const consoleFile = path.join(o.outDir, 'console.log');
  const out = openSync(consoleFile, 'w');
  const child = spawn(QEMU, qemuArgs(o), { stdio: ['ignore', out, out] });
  closeSync(out);
  const follow = follower(path.join(o.outDir, 'guest.log'));
  const poll = setInterval(() => {
    for (const l of follow()) o.onLog?.(l);
  }, 2000);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, o.timeoutMs);
  const stop = () => child.kill('SIGKILL');
  process.once('exit', stop);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`cannot start ${QEMU}: ${e.message}`));
    });
    child.on('close', () => {
      clearInterval(poll);
      clearTimeout(timer);
      process.off('exit', stop);
      for (const l of follow()) o.onLog?.(l);
      const codeFile = path.join(o.outDir, 'exit-code');
      const code = existsSync(codeFile) ? Number(readFileSync(codeFile, 'utf8').trim()) : null;
      const consoleText = existsSync(consoleFile) ? readFileSync(consoleFile, 'utf8') : '';
      resolve({
        exitCode: Number.isFinite(code) ? code : null,
        timedOut,
        ms: Date.now() - started,
        consoleTail: consoleText.split('\n').slice(-30).join('\n'),
      });
    });
  });
}
