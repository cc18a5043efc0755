// Runs one shell script inside a network namespace (nsenter --net=PATH) without
// blocking the event loop, and splits what it printed into named sections.
// The script runs its commands through a `sec NAME CMD...` function that frames
// each command's stdout with marker lines carrying a random token (process names
// and rule comments cannot forge it) and adds its exit status and stderr.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { snapshotOutputBytes } from '../memory/budget.js';

export interface Section {
  /** The command's stdout, exactly. */
  out: string;
  /** Exit status (127: command not found). */
  rc: number;
  stderr: string;
}

export interface ScriptResult {
  sections: Map<string, Section>;
  /** Problems running the script itself: nsenter failing, timeout, output too large. */
  errors: string[];
  /** nsenter could not enter the namespace (the path went stale, or was never one). */
  enterFailed: boolean;
}

/** Shell prelude defining `sec`; the script gets the token as $1, its own arguments after it. */
const PRELUDE = `T=$1; shift
sec() {
  s=$1; shift
  printf '%s begin %s\\n' "$T" "$s"
  { e=$( { "$@"; } 2>&1 >&3 3>&- ); r=$?; } 3>&1
  printf '\\n%s end %s %s\\n' "$T" "$s" "$r"
  if [ -n "$e" ]; then printf '%s stderr %s\\n%s\\n' "$T" "$s" "$e"; fi
}
`;

export function splitSections(output: string, token: string): Map<string, Section> {
  const sections = new Map<string, Section>();
  const begin = new RegExp(`^${token} begin (\\S+)\\n`, 'gm');
  let m: RegExpExecArray | null;
  while ((m = begin.exec(output))) {
    const name = m[1]!;
    const start = m.index + m[0].length;
    const endRe = new RegExp(`\\n${token} end ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (\\d+)\\n`, 'g');
    endRe.lastIndex = start - 1;
    const e = endRe.exec(output);
    if (!e) break; // cut short (timeout): the section is not reported
    const sec: Section = { out: output.slice(start, e.index), rc: Number(e[1]), stderr: '' };
    let next = e.index + e[0].length;
    const errHead = `${token} stderr ${name}\n`;
    if (output.startsWith(errHead, next)) {
      const after = next + errHead.length;
      const nb = output.indexOf(`\n${token} begin `, after - 1);
      const stop = nb < 0 ? output.length : nb + 1;
      sec.stderr = output.slice(after, stop).replace(/\n$/, '');
      next = stop;
    }
    sections.set(name, sec);
    begin.lastIndex = next;
  }
  return sections;
}

/**
 * Runs `sh -c PRELUDE+script token ...args` in the namespace at `nsPath`. Never rejects:
 * whatever went wrong is in errors. The child runs in its own process group, killed
 * whole on timeout.
 */
export function runInNetns(nsPath: string, script: string, args: string[], opts: { timeoutMs: number; maxBytes?: number }): Promise<ScriptResult> {
  const token = `@tcpwhy-${randomBytes(12).toString('hex')}`;
  // the output becomes one string on the heap, then rules: watch's heap is 64 MB
  const maxBytes = opts.maxBytes ?? snapshotOutputBytes();
  return new Promise((resolve) => {
    const errors: string[] = [];
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let done = false;
    const child = spawn('nsenter', [`--net=${nsPath}`, '--', '/bin/sh', '-c', PRELUDE + script, 'sh', token, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      errors.push(`timed out after ${opts.timeoutMs} ms (sections after the last complete one are missing)`);
      kill();
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > maxBytes) {
        if (!done) errors.push(`output larger than ${maxBytes} bytes: cut short`);
        done = true;
        kill();
        return;
      }
      out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      errBytes += b.length;
      if (errBytes <= 65536) err.push(b);
    });
    let settled = false;
    let enterFailed = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ sections: splitSections(Buffer.concat(out).toString('utf8'), token), errors, enterFailed });
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      errors.push(e.code === 'ENOENT' ? 'nsenter not found (install util-linux)' : `nsenter: ${e.message}`);
      finish();
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      const stderr = Buffer.concat(err).toString('utf8').trim();
      enterFailed = code !== 0 && code !== null && stderr.startsWith('nsenter:');
      if (code !== 0 && code !== null) errors.push(`nsenter --net=${nsPath} exited with ${code}${stderr ? `: ${stderr}` : ''}`);
      else if (signal && !errors.length) errors.push(`killed by ${signal}`);
      else if (stderr) errors.push(`stderr: ${stderr}`);
      finish();
    });
  });
}
