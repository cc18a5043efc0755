// Unanswered SYNs in `tcpwhy analyze --json`: connections whose SYNs one
// server endpoint never answered, STORM_MIN or more with no long gap, are one
// `unanswered` line instead of a connection line each; smaller groups keep
// their connection lines; `--all` lists every connection; every connection is
// still counted once in the summary.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { STORM_GAP_SECONDS, STORM_MIN } from '../../src/capture/analyze.js';
import type { UnansweredFinding } from '../../src/capture/unanswered.js';
import { ethernet, ipv4Tcp, SYN, ACK, type Packet } from '../helpers/capture-build.js';
import { jsonLines, type Line, writeCapture } from '../helpers/analyze-lines.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-unanswered-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const T0 = 1_700_000_000;
const at = (t: number) => ({ sec: T0 + Math.floor(t), nsec: Math.round((t % 1) * 1e9) });

/** SYNs from n clients to server:port, none answered, one every `step` s from t0; `again`: each sent twice, 1 s apart. */
function syns(n: number, o: { t0?: number; step?: number; server?: string; port?: number; client0?: number; again?: boolean } = {}): Packet[] {
  const { t0 = 0, step = 0.001, server = '192.0.2.2', port = 8080, client0 = 0, again = false } = o;
  const out: Packet[] = [];
  for (let i = 0; i < n; i++) {
    const c = client0 + i;
    const src = `10.1.${(c >> 8) & 255}.${c & 255}`;
    const syn = () => ethernet(ipv4Tcp({ src, dst: server }, { sport: 40000 + (c % 20000), dport: port, seq: 1000 + c, flags: SYN }));
    out.push({ data: syn(), ...at(t0 + i * step) });
    if (again) out.push({ data: syn(), ...at(t0 + i * step + 1) });
  }
  return out;
}

const write = (name: string, packets: Packet[]) => writeCapture(dir, name, packets);
const json = jsonLines;
const findings = (lines: Line[]) => lines.filter((l) => l.type === 'unanswered') as unknown as Array<UnansweredFinding & Line>;
const conns = (lines: Line[]) => lines.filter((l) => l.type === 'connection') as unknown as Array<{ server: string; handshake: string; first_frame: number }>;
type Summary = Line & {
  connections: number;
  handshakes: { unanswered: number };
  unanswered_groups: { findings: number; connections: number; closed_early: number } | null;
};
const summary = (lines: Line[]) => lines.at(-1) as Summary;

test('a flood of unanswered SYNs to one port is one line; a few to another port keep their connection lines', () => {
  // 300 to :8080, then STORM_MIN - 1 to :9090 (too few for a finding), and one answered connection
  const answered: Packet[] = [
    { data: ethernet(ipv4Tcp({ src: '10.9.0.1', dst: '192.0.2.2' }, { sport: 5555, dport: 22, seq: 1, flags: SYN })), ...at(0.5) },
    { data: ethernet(ipv4Tcp({ src: '192.0.2.2', dst: '10.9.0.1' }, { sport: 22, dport: 5555, seq: 9, ack: 2, flags: SYN | ACK })), ...at(0.5001) },
    { data: ethernet(ipv4Tcp({ src: '10.9.0.1', dst: '192.0.2.2' }, { sport: 5555, dport: 22, seq: 2, ack: 10, flags: ACK })), ...at(0.5002) },
  ];
  const f = write('flood.pcap', [...syns(300), ...syns(STORM_MIN - 1, { port: 9090, client0: 1000, t0: 0.1 }), ...answered]);
  const lines = json(f);
  const [u, ...more] = findings(lines);
  assert.equal(more.length, 0, 'one finding');
  assert.equal(u!.server, '192.0.2.2:8080');
  assert.equal(u!.count, 300);
  assert.equal(u!.family, 'ipv4');
  assert.equal(u!.frame, 1);
  // distinct clients estimated past 128
  assert.equal(u!.clients.exact, false);
  assert.ok(Math.abs(u!.clients.count - 300) < 30, `${u!.clients.count} clients`);
  assert.deepEqual(u!.clients.sample, ['10.1.0.0:40000', '10.1.0.1:40001', '10.1.0.2:40002', '10.1.0.3:40003', '10.1.0.4:40004']);
  assert.ok(u!.rate_per_s !== null && Math.abs(u!.rate_per_s - 300 / 0.299) < 1, `rate ${u!.rate_per_s}`);
  assert.equal(u!.closed, 'end');
  assert.equal(u!.syn_retransmits, 0);
  // the few to :9090 are connection lines, in frame order
  const small = conns(lines);
  assert.equal(small.length, STORM_MIN - 1);
  assert.ok(small.every((c) => c.server === '192.0.2.2:9090' && c.handshake === 'syn'));
  assert.deepEqual(
    small.map((c) => c.first_frame),
    [...small.map((c) => c.first_frame)].sort((a, b) => a - b),
  );
  const s = summary(lines);
  assert.equal(s.connections, 300 + STORM_MIN - 1 + 1);
  assert.equal(s.handshakes.unanswered, 300 + STORM_MIN - 1);
  assert.deepEqual(s.unanswered_groups, { findings: 1, connections: 300, closed_early: 0 });
  // --all: every connection has its line, no finding
  const all = json(f, '--all');
  assert.equal(findings(all).length, 0);
  assert.equal(conns(all).length, 300 + STORM_MIN - 1);
  assert.equal(summary(all).unanswered_groups, null);
});

test('a gap longer than STORM_GAP_SECONDS splits the flood into two findings; SYNs sent again are counted', () => {
  const f = write('two.pcap', [...syns(40, { again: true }), ...syns(40, { t0: 0.04 + STORM_GAP_SECONDS + 2, client0: 500 })]);
  const u = findings(json(f));
  assert.equal(u.length, 2);
  assert.deepEqual(
    u.map((x) => [x.count, x.syn_retransmits]),
    [
      [40, 40],
      [40, 0],
    ],
  );
  assert.ok(u[0]!.last_time < u[1]!.time);
});
