// The processes of a lab case: each actor runs in one of the lab's
// namespaces (actor.ts, or actor.py for what Node cannot do), reports what
// happens as JSON lines and takes commands on stdin, so the case decides when
// each step happens instead of sleeping. A cast stops every actor it started
// when the case ends, however it ends.
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { packageRoot } from '../paths.js';
import type { Lab, LabHost } from './netns.js';

/** What starts an actor: any lab that can run a process in one of its namespaces. */
export type Spawner = Pick<Lab, 'spawn'>;

/** How long a lab step waits for an actor by default (see Actor.waitFor). */
export const ACTOR_TIMEOUT_MS = 20_000;

const actorPath = path.join(packageRoot, 'dist', 'src', 'lab', 'actor.js');
// Python actor for what Node cannot do (a listener that never accepts, TCP_LINGER2):
// run from the source tree, which ships with the package (tsc does not copy it to dist).
const pyActorPath = path.join(packageRoot, 'src', 'lab', 'actor.py');

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

  static start(lab: Spawner, host: LabHost, role: string, args: Record<string, unknown>): Actor {
    return new Actor(lab.spawn(host, process.execPath, [actorPath, role, JSON.stringify(args)]));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * The first reported line with this event (or any of these), waiting up to timeoutMs for it.
   * The default is generous: only a failing case waits it out, and in the kernel matrix's
   * emulated guests starting node or python alone takes seconds (more on a loaded host).
   */
  async waitFor(event: string | readonly string[], timeoutMs = ACTOR_TIMEOUT_MS): Promise<ActorLine> {
    const deadline = Date.now() + timeoutMs;
    const wanted = typeof event === 'string' ? [event] : event;
    for (;;) {
      const hit = this.lines.find((l) => wanted.includes(l.event));
      if (hit) return hit;
      if (this.exited) throw new Error(`actor exited before "${wanted.join('" or "')}": ${this.stderr.trim()}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`actor did not report "${wanted.join('" or "')}" within ${timeoutMs} ms (saw: ${this.lines.map((l) => l.event).join(', ')})`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(Math.min(left, 200))]);
    }
  }

  /** Waits until the process has exited on its own (e.g. after an `exit` command). */
  async waitExit(timeoutMs = ACTOR_TIMEOUT_MS): Promise<void> {
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

/** The actors a case starts; all of them are stopped when the case ends, however it ends. */
export class Cast {
  private readonly actors: Actor[] = [];

  constructor(private readonly lab: Spawner) {}

  node(host: LabHost, role: string, args: Record<string, unknown>): Actor {
    const a = Actor.start(this.lab, host, role, args);
    this.actors.push(a);
    return a;
  }

  python(host: LabHost, role: string, args: Record<string, unknown>): Actor {
    const a = new Actor(this.lab.spawn(host, 'python3', [pyActorPath, role, JSON.stringify(args)]));
    this.actors.push(a);
    return a;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.actors.map((a) => a.stop()));
  }
}

export async function withCast<T>(lab: Spawner, body: (cast: Cast) => Promise<T>): Promise<T> {
  const cast = new Cast(lab);
  try {
    return await body(cast);
  } finally {
    await cast.stopAll();
  }
}
