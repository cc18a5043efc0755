// What a lab case is: how it provokes its RST (run), what the run tells
// (CaseRun), and what its events must show (its expectations, checked on an
// Outcome). The registry of cases is cases.ts.
import type { RstEvent } from '../events/event.js';
import type { Family, Lab, LabHost } from './netns.js';

export type { Family };

export interface CaseRun {
  story: string; // what happened, 1-2 sentences, for the demo
  clientSaw: string; // what the applications saw (errno, timeouts ...)
  /** Selects the event(s) whose diagnosis is this case's verdict: the LAST event matching. */
  primary: { netns: number; direction: 'sent' | 'received'; kind?: 'active' | 'passive'; port?: number };
  /** Facts the verdict's evidence must name, for the runner to check, e.g. { pid: 1234, comm: 'node', unread_bytes: 5, listener_pid: 77, rule: 'redirect' }. Values are what the case KNOWS happened. */
  facts: Record<string, string | number>;
  /**
   * CLOCK_MONOTONIC ns (process.hrtime.bigint() as a number, the clock of the
   * events' mono_ns): the server must have sent no RST before this moment in
   * this case (accept-overflow-silent: the overflow itself is silent).
   */
  quietUntilMono?: number;
  /** The client's port of the connection the primary event is about, when the case knows it. */
  clientPort?: number;
  /** The pids of the case's client and server processes, where it has one of each. */
  pids?: { client?: number; server?: number };
}

export interface LabCase {
  name: string; // kebab-case, e.g. 'closed-port'
  title: string; // one line
  families: Family[]; // [4, 6] where both make sense, else [4]
  expectedCause: string; // cause id from the catalogue
  run(lab: Lab, family: Family, port: number): Promise<CaseRun>;
  /** the fewest events a run makes: the runner waits for them (boundedly) before it stops watching */
  minEvents: number;
  /** the causes of sent RSTs the case drops before the wire on purpose, in order */
  unseen?: string[];
  /**
   * What the run's events must show beyond the verdict: direction, kind,
   * reason, state, tuples, owner and stack of the primary event and its
   * neighbours. Throws (node:assert) on the first difference.
   */
  check(o: Outcome): void;
}

/** One run of a case, as its check sees it. */
export interface Outcome {
  lab: { client: LabHost; server: LabHost };
  family: Family;
  port: number;
  run: CaseRun;
  events: RstEvent[];
  /** the last event matching run.primary */
  primary: RstEvent;
  serverAddr: string;
  clientAddr: string;
  /**
   * The `reason` this kernel gives an RST whose reason is `name` where the
   * kernel says it (null without reasons; NOT_SPECIFIED for an active RST
   * before active reasons): the kernel under test knows.
   */
  reason(kind: 'active' | 'passive', name: string): string | null;
}
