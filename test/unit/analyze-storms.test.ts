// Storm findings of `tcpwhy analyze`: alike resets (one cause, one endpoint,
// no long gap) read as one finding; `--all` lists each; JSON names causes by
// id and `tcpwhy explain --json` holds the catalogue they refer to.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { STORM_GAP_SECONDS, STORM_MIN } from '../../src/capture/analyze.js';
import type { ResetReport } from '../../src/capture/report.js';
import { StormGrouper, type StormFinding } from '../../src/capture/storms.js';
import type { WireFacts } from '../../src/causes/wire-facts.js';
import { CATALOGUE } from '../../src/causes/index.js';
import { ACK, ethernet, ipv4Tcp, RST, SYN, type Packet } from '../helpers/capture-build.js';
import { bin, jsonLines, type Line, writeCapture } from '../helpers/analyze-lines.js';
import { validate } from '../helpers/schema.js';
import { readFileSync } from 'node:fs';
import { schemaPath } from '../../src/schemas/write.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-storms-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const T0 = 1_700_000_000;

const at = (t: number) => ({ sec: T0 + Math.floor(t), nsec: Math.round((t % 1) * 1e9) });

/** SYNs from n clients to server:port, each refused with an RST 0.1 ms later, one every `step` seconds from t0. */
function flood(n: number, o: { t0?: number; step?: number; server?: string; port?: number; client0?: number } = {}): Packet[] {
  const { t0 = 0, step = 0.001, server = '192.0.2.2', port = 8080, client0 = 0 } = o;
  const out: Packet[] = [];
  for (let i = 0; i < n; i++) {
    const c = client0 + i;
    const src = `10.0.${(c >> 8) & 255}.${c & 255}`;
    const t = t0 + i * step;
    out.push({ data: ethernet(ipv4Tcp({ src, dst: server }, { sport: 30000 + c, dport: port, seq: 7, flags: SYN })), ...at(t) });
    out.push({
      data: ethernet(ipv4Tcp({ src: server, dst: src }, { sport: port, dport: 30000 + c, seq: 0, ack: 8, flags: RST | ACK, win: 0 })),
      ...at(t + 0.0001),
    });
  }
  return out;
}

const write = (name: string, packets: Packet[]) => writeCapture(dir, name, packets);
const json = jsonLines;
const storms = (lines: Line[]) => lines.filter((l) => l.type === 'storm') as unknown as Array<StormFinding & { type: string; cause: { id: string } }>;
const resets = (lines: Line[]) => lines.filter((l) => l.type === 'reset') as unknown as Array<ResetReport & { type: string }>;
const summary = (lines: Line[]) => lines.at(-1) as Line & { resets: number; storms: { findings: number; resets: number; closed_early: number } | null };

/** Every RST is told once: by its reset line, or counted by its storm line (whose first RST may have a line of its own). */
function accounted(lines: Line[]): number {
  return resets(lines).length + storms(lines).reduce((t, s) => t + s.count - s.listed, 0);
}

test('a SYN flood to a closed port: one finding with its count, rate, first and last frame, peers; text and JSON', () => {
  const f = write('flood.pcap', flood(200));
  const lines = json(f);
  const [s, ...more] = storms(lines);
  assert.equal(more.length, 0);
  assert.equal(s!.count, 200);
  assert.equal(s!.endpoint, '192.0.2.2:8080');
  assert.equal(s!.role, 'server');
  assert.equal(s!.sent, 200);
  assert.equal(s!.cause.id, 'no-listener');
  assert.equal(s!.frame, 2);
  assert.equal(s!.last_frame, 400);
  assert.equal(s!.first.frame, 2);
  assert.ok(Math.abs(s!.rate_per_s! - 200 / 0.199) < 0.5, String(s!.rate_per_s));
  // more peers than are counted exactly: estimated, close
  assert.equal(s!.peers.exact, false);
  assert.ok(Math.abs(s!.peers.count - 200) <= 6, String(s!.peers.count));
  assert.deepEqual(s!.peers.sample, ['10.0.0.0:30000', '10.0.0.1:30001', '10.0.0.2:30002', '10.0.0.3:30003', '10.0.0.4:30004']);
  assert.deepEqual(s!.sample_frames, [2, 4, 6, 8, 10]);
  assert.deepEqual(s!.confidence, { high: 0, medium: 200, low: 0 });
  // JSON lines are the same for a file and a stream: the group's first RST went out as decided
  assert.equal(s!.listed, 1);
  assert.deepEqual(
    resets(lines).map((r) => r.frame),
    [2],
  );
  assert.equal(accounted(lines), 200);
  assert.deepEqual(summary(lines).storms, { findings: 1, resets: 200, closed_early: 0, min: STORM_MIN, gap_s: STORM_GAP_SECONDS, max_open: 1024 });
  assert.equal(summary(lines).resets, 200);
  // the catalogue's text is not repeated per line
  assert.ok(!lines.some((l) => l.type !== 'summary' && JSON.stringify(l).includes('"fix"')));

  const text = spawnSync(bin, ['analyze', f], { encoding: 'utf8' });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^ {2}storm #2 to #400: 200 RSTs sent by 192\.0\.2\.2:8080 \(server\) to about \d+ peers, over 199\.000 ms, 1,005 RST\/s$/m);
  assert.match(text.stdout, /=> no-listener \[200 medium\]/);
  assert.equal(text.stdout.match(/^ {2}#\d+ /gm), null, 'no RST listed one by one');
  assert.equal(text.stdout.match(/fix: /g)?.length, 1, 'the fix once');
  assert.match(text.stdout, /RSTs: 200 \(0 active, 200 passive\)/);
  assert.match(text.stdout, /storms: 200 of the RSTs in 1 finding\(s\)/);
  assert.doesNotMatch(text.stdout, /RSTs listed above/, 'the storm covers every RST');
});

test('an ACK storm to a closed port from peers on ports below and above it (no handshake seen): one finding about the port', () => {
  // each peer's ACK is answered with a passive RST; the lower port of a pair is often the peer's
  const server = '192.0.2.2';
  const port = 4242;
  const packets: Packet[] = [];
  for (let i = 0; i < 300; i++) {
    const src = `10.1.${(i >> 8) & 255}.${i & 255}`;
    const sport = i % 2 ? 1000 + i : 50000 + i;
    const t = i * 0.001;
    packets.push({ data: ethernet(ipv4Tcp({ src, dst: server }, { sport, dport: port, seq: 100 + i, ack: 5000, flags: ACK })), ...at(t) });
    packets.push({ data: ethernet(ipv4Tcp({ src: server, dst: src }, { sport: port, dport: sport, seq: 5000, flags: RST, win: 0 })), ...at(t + 0.0001) });
  }
  const lines = json(write('ackstorm.pcap', packets));
  const [s, ...more] = storms(lines);
  assert.equal(more.length, 0, JSON.stringify(storms(lines).map((x) => x.endpoint)));
  assert.equal(s!.count, 300);
  assert.equal(s!.endpoint, `${server}:${port}`);
  assert.equal(s!.role, null);
  assert.equal(accounted(lines), summary(lines).resets);
});

test('--all: every RST one by one, as before', () => {
  const f = write('flood-all.pcap', flood(30));
  const lines = json(f, '--all');
  assert.equal(storms(lines).length, 0);
  assert.deepEqual(
    resets(lines).map((r) => r.frame),
    Array.from({ length: 30 }, (_, i) => 2 + 2 * i),
  );
  assert.equal(summary(lines).storms, null);
  const text = spawnSync(bin, ['analyze', f, '--all'], { encoding: 'utf8' });
  assert.equal(text.status, 0, text.stderr);
  assert.equal(text.stdout.match(/^ {2}#\d+ /gm)?.length, 20);
  assert.match(text.stdout, /\(20 of 30 RSTs listed above; --limit N lists more, --json lists all\)/);
  assert.doesNotMatch(text.stdout, /^ {2}storms?\b/m);
});

test('the same cause at the same endpoint an hour apart: two findings', () => {
  const lines = json(write('two-incidents.pcap', [...flood(20), ...flood(25, { t0: 3600, client0: 100 })]));
  const s = storms(lines);
  assert.deepEqual(
    s.map((x) => [x.count, x.frame, x.closed]),
    [
      [20, 2, 'gap'],
      [25, 42, 'end'],
    ],
  );
  assert.equal(accounted(lines), 45);
});

test('a gap just within the window keeps one finding; just over it, two', () => {
  for (const [gap, findings] of [
    [STORM_GAP_SECONDS - 0.5, 1],
    [STORM_GAP_SECONDS + 0.5, 2],
  ] as const) {
    const lines = json(write(`gap-${gap}.pcap`, [...flood(20), ...flood(20, { t0: 0.019 + gap, client0: 100 })]));
    assert.equal(storms(lines).length, findings, `gap ${gap} s`);
    assert.equal(accounted(lines), 40);
  }
});

test('other endpoints, or fewer alike resets than a storm: separate', () => {
  // two ports flooded at once, and a third refusing a few SYNs only
  const lines = json(
    write('ports.pcap', [...flood(20, { port: 8080 }), ...flood(20, { port: 9090, client0: 100 }), ...flood(STORM_MIN - 1, { port: 7070, client0: 200 })]),
  );
  assert.deepEqual(
    storms(lines)
      .map((s) => [s.endpoint, s.count])
      .sort(),
    [
      ['192.0.2.2:8080', 20],
      ['192.0.2.2:9090', 20],
    ],
  );
  assert.equal(resets(lines).filter((r) => r.sender === '192.0.2.2:7070').length, STORM_MIN - 1);
  assert.equal(accounted(lines), 40 + STORM_MIN - 1);
});

/** A reset's facts as the grouper reads them. */
function facts(o: { frame: number; time: number; peerPort: number; port?: number; role?: 'server' | 'client' | null }): WireFacts {
  const server = { addr: 'srv', port: o.port ?? 80 };
  const peer = { addr: 'cli', port: o.peerPort };
  const role = o.role === undefined ? 'server' : o.role;
  return {
    family: 4,
    role,
    kind: 'passive',
    from: role === 'client' ? peer : server,
    to: role === 'client' ? server : peer,
    rst: { frame: o.frame, time: o.time },
  } as unknown as WireFacts;
}

function group(
  items: Array<{ id: string; frame: number; time: number; peerPort: number; port?: number; role?: 'server' | 'client' | null }>,
  opts: { maxOpen?: number; firstAtOnce?: boolean } = {},
) {
  const out: Array<ResetReport | StormFinding> = [];
  const g = new StormGrouper(
    { reset: (r) => out.push(r), storm: (f) => out.push(f) },
    { firstAtOnce: opts.firstAtOnce ?? false, min: 3, gapSeconds: 1, maxOpen: opts.maxOpen },
  );
  for (const it of items) {
    if (g.note(facts(it), it.id, 'high')) g.report({ frame: it.frame, cause: { id: it.id } } as unknown as ResetReport);
  }
  g.finish();
  return { out, g };
}

test('grouping: causes apart, resets of a client and its server together, single resets stay resets', () => {
  const { out, g } = group([
    { id: 'a', frame: 1, time: 0, peerPort: 1 },
    { id: 'b', frame: 2, time: 0, peerPort: 2 },
    { id: 'a', frame: 3, time: 0.1, peerPort: 3 },
    // the client's RST to the server's port: about the same endpoint
    { id: 'a', frame: 4, time: 0.2, peerPort: 4, role: 'client' },
    { id: 'b', frame: 5, time: 0.3, peerPort: 5 },
  ]);
  const storm = out.find((x): x is StormFinding => 'first' in x)!;
  assert.deepEqual([storm.count, storm.sent, storm.received, storm.frame, storm.last_frame, storm.first.frame], [3, 2, 1, 1, 4, 1]);
  assert.deepEqual(
    out.filter((x) => !('first' in x)).map((x) => x.frame),
    [2, 5],
  );
  assert.deepEqual([g.findings, g.resets, g.closedEarly], [1, 3, 0]);
});

test('grouping: open groups are bounded; closing one early is counted', () => {
  const items = [];
  for (let i = 0; i < 10; i++) items.push({ id: 'a', frame: i + 1, time: 0, peerPort: 1, port: 1000 + i });
  const { out, g } = group(items, { maxOpen: 4 });
  assert.equal(g.closedEarly, 6);
  assert.equal(out.length, 10);
  // a storm split by the bound is two findings, each of its own count
  const split = group(
    [
      { id: 'a', frame: 1, time: 0, peerPort: 1, port: 1 },
      { id: 'a', frame: 2, time: 0, peerPort: 2, port: 1 },
      { id: 'a', frame: 3, time: 0, peerPort: 3, port: 1 },
      { id: 'a', frame: 4, time: 0, peerPort: 1, port: 2 },
      { id: 'a', frame: 5, time: 0, peerPort: 1, port: 3 },
      { id: 'a', frame: 6, time: 0, peerPort: 4, port: 1 },
      { id: 'a', frame: 7, time: 0, peerPort: 5, port: 1 },
      { id: 'a', frame: 8, time: 0, peerPort: 6, port: 1 },
    ],
    { maxOpen: 2 },
  );
  assert.deepEqual(
    split.out.filter((x): x is StormFinding => 'first' in x).map((x) => [x.count, x.closed]),
    [
      [3, 'bound'],
      [3, 'end'],
    ],
  );
});

test('grouping: first at once, the rest when the group closes', () => {
  const { out } = group(
    [
      { id: 'a', frame: 1, time: 0, peerPort: 1 },
      { id: 'a', frame: 2, time: 0.1, peerPort: 2 },
      { id: 'a', frame: 9, time: 5, peerPort: 3 },
    ],
    { firstAtOnce: true },
  );
  assert.deepEqual(
    out.map((x) => x.frame),
    [1, 2, 9],
  );
});

test('explain --json: every cause of the catalogue, valid against its schema; analyze --json names them by id', () => {
  const r = spawnSync(bin, ['explain', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const cat = JSON.parse(r.stdout) as { causes: Array<{ id: string; fix: string; title: string; kind: string }> };
  const schema = JSON.parse(readFileSync(schemaPath('explain-catalogue.schema.json'), 'utf8'));
  assert.deepEqual(validate(schema, cat), []);
  assert.deepEqual(
    cat.causes.map((c) => c.id),
    CATALOGUE.map((c) => c.id),
  );
  for (const c of CATALOGUE) {
    const j = cat.causes.find((x) => x.id === c.id)!;
    assert.equal(j.fix, c.fix);
    assert.equal(j.title, c.title);
  }
  const one = spawnSync(bin, ['explain', '--json', 'no-listener'], { encoding: 'utf8' });
  assert.equal(one.status, 0, one.stderr);
  assert.deepEqual(
    JSON.parse(one.stdout),
    cat.causes.find((c) => c.id === 'no-listener'),
  );
  // every cause id analyze names is in the catalogue
  const ids = new Set(cat.causes.map((c) => c.id));
  const lines = json(write('mixed.pcap', [...flood(20), ...flood(2, { port: 22, client0: 50 })]));
  const named = lines.flatMap((l) => {
    const c = l['cause'] as { id: string } | undefined;
    return c ? [c.id, ...((l['cause'] as { alternatives: string[] }).alternatives ?? [])] : [];
  });
  assert.ok(named.length >= 2);
  for (const id of named) assert.ok(ids.has(id), id);
  for (const c of (summary(lines) as unknown as { resets_by_cause: Array<{ id: string }> }).resets_by_cause) assert.ok(ids.has(c.id), c.id);
});
