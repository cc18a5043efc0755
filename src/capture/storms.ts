// Storm findings: a flood of alike resets (a SYN flood to a closed port, a
// server aborting its clients) read as one finding, not thousands of reports
// that say the same thing. Resets are alike when they share a cause and the
// endpoint the cause is about (the server's; with no handshake seen, the lower
// port's); such resets with no gap longer than STORM_GAP_SECONDS between them
// are one group, and a group of STORM_MIN or more is a storm. Smaller groups
// come out as the resets they are, each with its full report, when the group
// closes. Where output goes out as decided (a stream, and JSON lines, which
// are the same for a file and a stream) the first reset of a group goes out
// at once, and the storm, if it comes, says it was listed.
//
// A gap, not a fixed window: one flood that lasts an hour stays one finding,
// and the same cause at the same endpoint an hour later is another incident.
import type { Confidence } from '../events/verdict.js';
import { addrText, endpoint } from '../net/addr.js';
import type { WireFacts } from '../causes/wire-facts.js';
import { GapGroups } from './gap-groups.js';
import { PeerCounter, type PeerCount } from './peers.js';
import type { ResetReport } from './report.js';

/** Alike resets in one group that make it a storm finding; fewer are reported one by one. */
export const STORM_MIN = 16;
/** Capture seconds without an alike reset that end a group. */
export const STORM_GAP_SECONDS = 10;
/** Groups open at once; beyond, the least recently active is closed early (and counted). */
export const STORM_MAX_OPEN = 1024;
/** Frames a finding names as examples. */
const SAMPLES = 5;

/** Alike resets that came as a storm. */
export interface StormFinding {
  /** the first RST's frame and time (seconds since the epoch) */
  frame: number;
  time: number;
  last_frame: number;
  last_time: number;
  family: 'ipv4' | 'ipv6';
  /** the endpoint the resets are about: the server's; with no handshake seen, a passive reset's sender, else the lower port's */
  endpoint: string;
  role: 'server' | null;
  count: number;
  /** RSTs the endpoint sent, and RSTs its peers sent to it */
  sent: number;
  received: number;
  /** RSTs per second from the first to the last; null when they share one time */
  rate_per_s: number | null;
  kinds: Record<'active' | 'passive' | 'unknown', number>;
  confidence: Record<Confidence, number>;
  /** the other ends: how many distinct (an estimate beyond 128; a lower bound when saturated) and the first few */
  peers: PeerCount;
  /** the first few RSTs' frames */
  sample_frames: number[];
  /** RSTs of the storm already reported one by one: its first, when the first of a group goes out as decided (a stream, JSON) */
  listed: number;
  /** why the finding closed: a gap, the capture's end, or too many open at once */
  closed: 'gap' | 'end' | 'bound';
  /** the first RST's report: its verdict (summary, evidence) stands for the storm */
  first: ResetReport;
}

export interface StormSink {
  reset(r: ResetReport): void;
  storm(f: StormFinding): void;
}

class Group {
  count = 0;
  sent = 0;
  received = 0;
  firstTime = Infinity;
  lastTime = -Infinity;
  firstFrame = Infinity;
  lastFrame = -1;
  readonly kinds = { active: 0, passive: 0, unknown: 0 };
  readonly confidence = { high: 0, medium: 0, low: 0 };
  readonly peers = new PeerCounter();
  readonly frames: number[] = [];
  /** full reports of the first resets, until the group is a storm (a file) */
  held: ResetReport[] = [];
  first: ResetReport | null = null;
  listed = 0;

  constructor(
    readonly key: string,
    readonly causeId: string,
    readonly family: 4 | 6,
    readonly server: { addr: string; port: number },
    readonly roleKnown: boolean,
  ) {}
}

export class StormGrouper {
  /** storm findings made, and the resets in them */
  findings = 0;
  resets = 0;
  private readonly groups: GapGroups<Group>;
  private current: Group | null = null;

  constructor(
    private readonly sink: StormSink,
    private readonly opts: { firstAtOnce: boolean; min?: number; gapSeconds?: number; maxOpen?: number } = { firstAtOnce: false },
  ) {
    this.groups = new GapGroups<Group>((g, why) => this.close(g, why), opts.gapSeconds ?? STORM_GAP_SECONDS, opts.maxOpen ?? STORM_MAX_OPEN);
  }

  /** groups closed early because STORM_MAX_OPEN were open */
  get closedEarly(): number {
    return this.groups.closedEarly;
  }

  private get min(): number {
    return this.opts.min ?? STORM_MIN;
  }

  /**
   * A decided reset, counted in its group; returns whether its full report is
   * wanted (report() then takes it). `listable`: whether a report at its frame
   * could still be listed (a text report lists only the first few); the first
   * of a group is wanted anyway, as its storm's verdict.
   */
  note(w: WireFacts, causeId: string, confidence: Confidence, listable = true): boolean {
    // with no handshake seen: a passive reset answers a segment sent to its sender, so the sender is the
    // endpoint it is about (a flood of segments to one closed port is one group, whatever ports the
    // peers use); an active one is about the lower port's side
    const serverIsSender = w.role === 'server' || (w.role === null && (w.kind === 'passive' || w.from.port <= w.to.port));
    const server = serverIsSender ? w.from : w.to;
    const peer = serverIsSender ? w.to : w.from;
    const t = w.rst.time;
    const last = this.groups.last;
    // the last group is the most recently active already: no key built, no lookup, no move
    const same = last !== null && last.causeId === causeId && last.server.port === server.port && last.server.addr === server.addr;
    const key = same ? '' : `${causeId}|${server.addr}|${server.port}`;
    const g =
      this.groups.find(same, key, t) ??
      this.groups.add(new Group(same ? last!.key : key, causeId, w.family, { addr: server.addr, port: server.port }, w.role !== null));
    g.count++;
    if (serverIsSender) g.sent++;
    else g.received++;
    if (t < g.firstTime) g.firstTime = t;
    if (t > g.lastTime) g.lastTime = t;
    if (w.rst.frame < g.firstFrame) g.firstFrame = w.rst.frame;
    if (w.rst.frame > g.lastFrame) g.lastFrame = w.rst.frame;
    g.kinds[w.kind]++;
    g.confidence[confidence]++;
    if (g.frames.length < SAMPLES) g.frames.push(w.rst.frame);
    g.peers.add(peer.addr, peer.port);
    this.current = g.count < this.min && (listable || !g.first) ? g : null;
    return this.current !== null;
  }

  /** The full report of the reset note() last wanted. */
  report(r: ResetReport): void {
    const g = this.current;
    this.current = null;
    if (!g) {
      this.sink.reset(r);
      return;
    }
    if (!g.first || r.frame < g.first.frame) g.first = r;
    if (this.opts.firstAtOnce && g.count === 1) {
      // the first of a group goes out as decided; the storm, if it comes, counts it as listed
      g.listed++;
      this.sink.reset(r);
    } else g.held.push(r);
  }

  /** The capture reached `time`: groups quiet for longer than the gap close. */
  advance(time: number): void {
    this.groups.advance(time);
  }

  /** The capture ended: every group closes. */
  finish(): void {
    this.groups.finish();
  }

  private close(g: Group, why: StormFinding['closed']): void {
    if (g.count < this.min || !g.first) {
      g.held.sort((a, b) => a.frame - b.frame);
      for (const r of g.held) this.sink.reset(r);
      return;
    }
    this.findings++;
    this.resets += g.count;
    this.sink.storm(finding(g, why));
  }
}

function finding(g: Group, closed: StormFinding['closed']): StormFinding {
  const span = g.lastTime - g.firstTime;
  return {
    frame: g.firstFrame,
    time: g.firstTime,
    last_frame: g.lastFrame,
    last_time: g.lastTime,
    family: g.family === 4 ? 'ipv4' : 'ipv6',
    endpoint: endpoint(addrText(g.server.addr), g.server.port),
    role: g.roleKnown ? 'server' : null,
    count: g.count,
    sent: g.sent,
    received: g.received,
    rate_per_s: span > 0 ? g.count / span : null,
    kinds: g.kinds,
    confidence: g.confidence,
    peers: g.peers.count(),
    sample_frames: [...g.frames].sort((a, b) => a - b),
    listed: g.listed,
    closed,
    first: g.first!,
  };
}
