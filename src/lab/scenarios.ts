// Real RSTs on demand: each scenario starts real processes in a lab and makes
// the kernel send one RST for a known reason. The demo shows them; the tests
// check that the watcher saw exactly what the scenario says happened.
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { packageRoot } from '../paths.js';
import { inNs, labAddrs, type Family, type Lab, type LabHost } from './netns.js';

const actorPath = path.join(packageRoot, 'dist', 'src', 'lab', 'actor.js');

export type { Family };

interface ActorLine {
  event: string;
  pid: number;
  [k: string]: unknown;
}

/** One actor process and the lines it has reported. */
export class Actor {
  readonly lines: ActorLine[] = [];
  private waiters: Array<() => void> = [];
  private stderr = '';
  private exited = false;

  constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as ActorLine);
      } catch {
        this.stderr += `${l}\n`;
      }
      this.wake();
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.on('exit', () => {
      this.exited = true;
      this.wake();
    });
  }

  static start(lab: Lab, host: LabHost, role: string, args: Record<string, unknown>): Actor {
    return new Actor(lab.spawn(host, process.execPath, [actorPath, role, JSON.stringify(args)]));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** The first reported line with this event (or any of these), waiting up to timeoutMs for it. */
  async waitFor(event: string | readonly string[], timeoutMs = 5000): Promise<ActorLine> {
    const deadline = Date.now() + timeoutMs;
    const wanted = typeof event === 'string' ? [event] : event;
    for (;;) {
      const hit = this.lines.find((l) => wanted.includes(l.event));
      if (hit) return hit;
      if (this.exited) throw new Error(`actor exited before "${wanted.join('" or "')}": ${this.stderr.trim()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`actor did not report "${wanted.join('" or "')}" within ${timeoutMs} ms (saw: ${this.lines.map((l) => l.event).join(', ')})`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(Math.min(left, 200))]);
    }
  }

  /** Waits until the process has exited on its own (e.g. after an `exit` command). */
  async waitExit(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exited) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`actor ${this.pid} did not exit within ${timeoutMs} ms`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(Math.min(left, 200))]);
    }
  }

  send(cmd: string): void {
    this.child.stdin!.write(`${cmd}\n`);
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    await Promise.race([gone, sleep(2000)]);
  }
}

export interface ScenarioRun {
  /** what the scenario shows, in one sentence */
  story: string;
  family: Family;
  port: number;
  client: { pid: number; host: LabHost; addr: string };
  server: { pid: number; host: LabHost; addr: string };
  /** what the client application saw (e.g. ECONNREFUSED) */
  clientSaw: string;
}

export interface Scenario {
  name: string;
  title: string;
  run(lab: Lab, family: Family, port: number): Promise<ScenarioRun>;
}

const addrs = labAddrs;

/** Waits until the server socket on `port` has at least `bytes` unread (ss Recv-Q). */
export async function waitUnread(host: LabHost, port: number, bytes: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const out = inNs(host.ns, 'ss', ['-Htn', 'state', 'established', `( sport = :${port} )`]);
    const recvq = Number(out.trim().split(/\s+/)[0] ?? 0);
    if (recvq >= bytes) return;
    await sleep(20);
  }
  throw new Error(`server socket on port ${port} never had ${bytes} unread bytes`);
}

/**
 * A server actor listening on the server host and a client actor connected
 * to it; `steps` makes the RST happen. Both processes are stopped afterwards,
 * whatever happens.
 */
async function withServerAndClient(
  lab: Lab,
  family: Family,
  port: number,
  serverRole: string,
  clientArgs: Record<string, unknown>,
  steps: (server: Actor, client: Actor) => Promise<{ story: string; clientSaw: string }>,
): Promise<ScenarioRun> {
  const a = addrs(lab, family);
  const server = Actor.start(lab, lab.server, serverRole, { host: a.server, port });
  try {
    await server.waitFor('listening');
    const client = Actor.start(lab, lab.client, 'connect', { host: a.server, port, ...clientArgs });
    try {
      const told = await steps(server, client);
      return {
        ...told,
        family,
        port,
        client: { pid: client.pid, host: lab.client, addr: a.client },
        server: { pid: server.pid, host: lab.server, addr: a.server },
      };
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'closed-port',
    title: 'connect to a port nobody listens on',
    async run(lab, family, port) {
      const a = addrs(lab, family);
      const client = Actor.start(lab, lab.client, 'connect', { host: a.server, port });
      const err = await client.waitFor('error');
      await client.stop();
      return {
        story: `the client connects to [${a.server}]:${port}, where nothing listens; the server's kernel answers the SYN with an RST`,
        family,
        port,
        client: { pid: client.pid, host: lab.client, addr: a.client },
        server: { pid: 0, host: lab.server, addr: a.server },
        clientSaw: String(err['code']),
      };
    },
  },
  {
    name: 'close-unread',
    title: 'the server close()s a connection with 5 bytes unread',
    run: (lab, family, port) =>
      withServerAndClient(lab, family, port, 'listen-unread', { bytes: 5 }, async (server, client) => {
        await client.waitFor('sent');
        await server.waitFor('accepted');
        await waitUnread(lab.server, port, 5);
        server.send('close');
        const err = await client.waitFor('error');
        return {
          story: 'the client sends 5 bytes; the server application closes its socket without reading them, so the kernel aborts the connection with an RST (RFC 2525, 2.17)',
          clientSaw: String(err['code']),
        };
      }),
  },
  {
    name: 'linger-zero',
    title: 'the client closes with SO_LINGER {on, 0}',
    run: (lab, family, port) =>
      withServerAndClient(lab, family, port, 'listen-read', {}, async (server, client) => {
        await client.waitFor('connected');
        await server.waitFor('accepted');
        client.send('reset');
        const err = await server.waitFor('error');
        await client.waitFor('closed');
        return {
          story: 'the client sets SO_LINGER {on, 0} and closes: the kernel drops the connection with an RST instead of a FIN; the server application gets ECONNRESET',
          clientSaw: `server saw ${String(err['code'])}`,
        };
      }),
  },
];

export function scenario(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario ${name}`);
  return s;
}
