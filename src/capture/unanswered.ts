// Unanswered SYNs as findings: a SYN flood from random sources, or a server
// that stopped answering, leaves thousands of connections whose only packets
// are a client's SYNs. `--json` gave each a connection line (a capture of 1.2
// million spoofed SYNs: 815 MB of lines that all say the same). Such
// connections to one server endpoint with no gap over STORM_GAP_SECONDS
// between their SYNs are one group, as alike resets are (storms.ts); a group
// of STORM_MIN or more is one `unanswered` finding, a smaller one comes out as
// the connection lines it holds when it closes. `--all` lists every
// connection.
//
// Connections end out of order (at a generation change, or at the end of the
// capture), so a group spans from its earliest SYN to its latest.
import { addrText, endpoint } from '../net/addr.js';
import { GapGroups } from './gap-groups.js';
import { PeerCounter, type PeerCount } from './peers.js';
import type { ConnReport } from './report.js';
import { STORM_GAP_SECONDS, STORM_MAX_OPEN, STORM_MIN } from './storms.js';
import type { Conn } from './track.js';

/** Frames a finding names as examples. */
const SAMPLES = 5;

/** Connections whose SYNs one server endpoint never answered, as one finding. */
export interface UnansweredFinding {
  /** the first SYN's frame and time (seconds since the epoch), and the last connection's */
  frame: number;
  time: number;
  last_frame: number;
  last_time: number;
  family: 'ipv4' | 'ipv6';
  /** the endpoint the SYNs went to */
  server: string;
  /** connections in it */
  count: number;
  /** connections per second from the first SYN to the last; null when they share one time */
  rate_per_s: number | null;
  /** SYNs sent again within them (each a loss sign of its connection) */
  syn_retransmits: number;
  /** the clients, as address:port */
  clients: PeerCount;
  /** the first few connections' first frames */
  sample_frames: number[];
  /** why the finding closed: a gap, the capture's end, or too many open at once */
  closed: 'gap' | 'end' | 'bound';
}

export interface UnansweredSink {
  conn(r: ConnReport): void;
  finding(f: UnansweredFinding): void;
}

class Group {
  count = 0;
  synRetrans = 0;
  firstTime = Infinity;
  lastTime = -Infinity;
  firstFrame = Infinity;
  lastFrame = -1;
  readonly clients = new PeerCounter();
  readonly frames: number[] = [];
  /** the reports of its first connections, until it is a finding */
  held: ConnReport[] = [];

  constructor(
    readonly key: string,
    readonly family: 4 | 6,
    readonly addr: string,
    readonly port: number,
  ) {}
}

/** Whether a finished connection is one whose SYNs nobody answered (nothing else in it). */
export const unanswered = (c: Conn): boolean => c.handshake === 'syn' && c.resets === 0 && c.client >= 0 && !c.dir(1 - c.client).seen;

export class UnansweredGrouper {
  /** findings made, and the connections in them */
  findings = 0;
  connections = 0;
  private readonly groups = new GapGroups<Group>((g, why) => this.close(g, why), STORM_GAP_SECONDS, STORM_MAX_OPEN);
  private current: Group | null = null;

  constructor(private readonly sink: UnansweredSink) {}

  /** groups closed early because STORM_MAX_OPEN were open */
  get closedEarly(): number {
    return this.groups.closedEarly;
  }

  /** An unanswered connection ended (unanswered(c)): counted in its group; returns whether its report is wanted (hold() takes it). */
  note(c: Conn): boolean {
    const cl = c.client;
    const addr = c.addrOf(1 - cl);
    const port = c.portOf(1 - cl);
    const t = c.firstTime;
    const last = this.groups.last;
    const same = last !== null && last.port === port && last.addr === addr;
    const key = same ? '' : `${addr}|${port}`;
    const g = this.groups.find(same, key, t) ?? this.groups.add(new Group(same ? last!.key : key, c.family, addr, port));
    g.count++;
    g.synRetrans += c.dir(cl).synRetrans;
    if (t < g.firstTime) g.firstTime = t;
    if (t > g.lastTime) g.lastTime = t;
    if (c.firstFrame < g.firstFrame) g.firstFrame = c.firstFrame;
    if (c.firstFrame > g.lastFrame) g.lastFrame = c.firstFrame;
    if (g.frames.length < SAMPLES) g.frames.push(c.firstFrame);
    g.clients.add(c.addrOf(cl), c.portOf(cl));
    this.current = g.count < STORM_MIN ? g : null;
    return this.current !== null;
  }

  /** The report of the connection note() last wanted. */
  hold(r: ConnReport): void {
    const g = this.current;
    this.current = null;
    if (g) g.held.push(r);
    else this.sink.conn(r);
  }

  /** The capture reached `time`: groups quiet for longer than the gap close. */
  advance(time: number): void {
    this.groups.advance(time);
  }

  /** The capture ended: every group closes. */
  finish(): void {
    this.groups.finish();
  }

  private close(g: Group, why: UnansweredFinding['closed']): void {
    if (g.count < STORM_MIN) {
      g.held.sort((a, b) => a.first_frame - b.first_frame);
      for (const r of g.held) this.sink.conn(r);
      return;
    }
    this.findings++;
    this.connections += g.count;
    const span = g.lastTime - g.firstTime;
    this.sink.finding({
      frame: g.firstFrame,
      time: g.firstTime,
      last_frame: g.lastFrame,
      last_time: g.lastTime,
      family: g.family === 4 ? 'ipv4' : 'ipv6',
      server: endpoint(addrText(g.addr), g.port),
      count: g.count,
      rate_per_s: span > 0 ? g.count / span : null,
      syn_retransmits: g.synRetrans,
      clients: g.clients.count(),
      sample_frames: [...g.frames].sort((a, b) => a - b),
      closed: why,
    });
  }
}
