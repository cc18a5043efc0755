// What `tcpwhy watch --json` accounted for, per network namespace and direction,
// read back from the file its stdout went to.
//
// The output has three kinds of lines: an RST shown in full (no "type" field),
// {"type":"storm",...} aggregates of RSTs that were only counted, and at exit one
// {"type":"summary","rsts":{..},"shown":S,"counted_only":K,"lost":L,"by_netns":{"INODE":{"sent":n,"received":m}}}.
// A tcpwhy without the summary line (before storm mode) is still measured: then
// the full lines are all there is, and their count per namespace is the fallback
// (source "full lines"), with "lost" from the exit line on its stderr.
import { forEachLine } from './json-lines.js';

export interface Directions {
  sent: number;
  received: number;
}

export interface Accounting {
  source: 'summary' | 'full lines';
  /** RSTs accounted per netns inode: the summary's by_netns, or the full lines counted */
  accounted: Map<number, Directions>;
  /** full lines per netns inode */
  shown: Map<number, Directions>;
  stormLines: number;
  /** RSTs that could not be recorded (host-wide): summary.lost, else the stderr exit line; undefined when neither says */
  lost: number | undefined;
  countedOnly: number | undefined;
  summary: Record<string, unknown> | undefined;
}

const bump = (m: Map<number, Directions>, ns: number, dir: string, n = 1) => {
  let d = m.get(ns);
  if (!d) m.set(ns, (d = { sent: 0, received: 0 }));
  if (dir === 'sent' || dir === 'received') d[dir] += n;
};

// tcpwhy's exit line on stderr before the JSON summary existed
const STDERR_SUMMARY_RE = /tcpwhy: (\d+) events; (\d+) events lost/;

/** Reads `file` (streamed: under a flood it can be gigabytes) and the tracer's stderr. */
export function readAccounting(file: string, stderr: string): Accounting & { unreadable: number } {
  const shown = new Map<number, Directions>();
  let summary: Record<string, unknown> | undefined;
  let stormLines = 0;
  let unreadable = 0;
  unreadable += forEachLine(file, (line) => {
    if (line.startsWith('{"type":')) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        unreadable++;
        return;
      }
      if (o['type'] === 'summary') summary = o;
      else if (o['type'] === 'storm') stormLines++;
      return;
    }
    const dir = /"direction":"(sent|received)"/.exec(line)?.[1];
    const ns = /"netns":(\d+)/.exec(line)?.[1];
    if (dir && ns) bump(shown, Number(ns), dir);
    else unreadable++;
  });
  const m = STDERR_SUMMARY_RE.exec(stderr);
  const stderrLost = m ? Number(m[2]) : undefined;
  if (summary) {
    const accounted = new Map<number, Directions>();
    const byNetns = (summary['by_netns'] ?? {}) as Record<string, Partial<Directions>>;
    for (const [ns, d] of Object.entries(byNetns)) {
      bump(accounted, Number(ns), 'sent', Number(d.sent ?? 0));
      bump(accounted, Number(ns), 'received', Number(d.received ?? 0));
    }
    const lost = typeof summary['lost'] === 'number' ? summary['lost'] : stderrLost;
    const countedOnly = typeof summary['counted_only'] === 'number' ? summary['counted_only'] : undefined;
    return { source: 'summary', accounted, shown, stormLines, lost, countedOnly, summary, unreadable };
  }
  return { source: 'full lines', accounted: shown, shown, stormLines, lost: stderrLost, countedOnly: undefined, summary: undefined, unreadable };
}

export function get(m: Map<number, Directions>, ns: number): Directions {
  return m.get(ns) ?? { sent: 0, received: 0 };
}
