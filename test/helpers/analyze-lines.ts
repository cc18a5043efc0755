// Runs `tcpwhy analyze --json` on a capture built in a test and hands back
// its lines, each checked against the line schema; and writes the capture.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { LINKTYPE, pcap, type Packet } from './capture-build.js';
import { analyzeLineProblems } from './schema.js';

export const bin = path.join(packageRoot, 'bin', 'tcpwhy');

export type Line = Record<string, unknown> & { type: string };

/** Writes `packets` into dir/name as an Ethernet pcap, in time order as a capture has them. */
export function writeCapture(dir: string, name: string, packets: Packet[]): string {
  const f = path.join(dir, name);
  packets.sort((a, b) => a.sec! - b.sec! || a.nsec! - b.nsec!);
  writeFileSync(f, pcap(packets, { linktype: LINKTYPE.ETHERNET }).bytes);
  return f;
}

/** `tcpwhy analyze FILE --json ARGS`: exit 0, every line valid. */
export function jsonLines(file: string, ...args: string[]): Line[] {
  const r = spawnSync(bin, ['analyze', file, '--json', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
  for (const l of lines) assert.deepEqual(analyzeLineProblems(l), [], JSON.stringify(l));
  return lines;
}
