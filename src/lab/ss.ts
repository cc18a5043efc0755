// Bounded polls of a lab host's kernel socket tables (ss): what cases wait on
// instead of blind sleeps.
import { setTimeout as sleep } from 'node:timers/promises';
import { ACTOR_TIMEOUT_MS } from './cast.js';
import { inNs, type LabHost } from './netns.js';

/** Polls `check` every 20 ms until it is true, for at most timeoutMs. */
export async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export const monoNow = (): number => Number(process.hrtime.bigint());

/** ss -t lines for local port `port` in the given state filter (e.g. 'listening', 'syn-recv', 'established'). */
export function ssLines(host: LabHost, state: string, port: number): string[] {
  return inNs(host.ns, 'ss', ['-Htn', 'state', state, `( sport = :${port} )`])
    .split('\n')
    .filter((l) => l.trim());
}

/** Connections waiting in the accept queue of the listener on `port` (its ss Recv-Q). */
export function acceptQueueLen(host: LabHost, port: number): number {
  const l = ssLines(host, 'listening', port)[0];
  return l ? Number(l.trim().split(/\s+/)[0]) : -1;
}

/** Waits until the server socket on `port` has at least `bytes` unread (ss Recv-Q). */
export async function waitUnread(host: LabHost, port: number, bytes: number, timeoutMs = ACTOR_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const out = inNs(host.ns, 'ss', ['-Htn', 'state', 'established', `( sport = :${port} )`]);
    const recvq = Number(out.trim().split(/\s+/)[0] ?? 0);
    if (recvq >= bytes) return;
    await sleep(20);
  }
  throw new Error(`server socket on port ${port} never had ${bytes} unread bytes`);
}
