// The published JSON Schemas (schemas/*.schema.json): current with their sources,
// and what tcpwhy prints validates against them. `watch --json` output is
// checked in test/kernel/cli.test.ts and test/unit/json.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { SCHEMAS, schemaPath, schemaText } from '../../src/schemas/write.js';
import { packageRoot } from '../../src/paths.js';
import { ACK, ethernet, ipv4Tcp, LINKTYPE, pcap, PSH, RST, SYN } from '../helpers/capture-build.js';
import { analyzeLineProblems, schemaProblems, validate } from '../helpers/schema.js';

for (const name of Object.keys(SCHEMAS)) {
  test(`schemas/${name} is current (make docs)`, () => {
    assert.equal(readFileSync(schemaPath(name), 'utf8'), schemaText(name));
    assert.equal(JSON.parse(readFileSync(schemaPath(name), 'utf8')).$schema, 'https://json-schema.org/draft/2020-12/schema');
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-schemas-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A refused SYN, and a connection whose server retransmits and then aborts with an RST carrying text.
const c = { src: '192.0.2.1', dst: '192.0.2.2' };
const s = { src: '192.0.2.2', dst: '192.0.2.1' };
const frames = [
  ipv4Tcp(c, { sport: 40000, dport: 8080, seq: 7, flags: SYN }),
  ipv4Tcp(s, { sport: 8080, dport: 40000, seq: 0, ack: 8, flags: RST | ACK, win: 0 }),
  ipv4Tcp(c, { sport: 40001, dport: 80, seq: 100, flags: SYN }),
  ipv4Tcp(s, { sport: 80, dport: 40001, seq: 500, ack: 101, flags: SYN | ACK }),
  ipv4Tcp(c, { sport: 40001, dport: 80, seq: 101, ack: 501, flags: ACK }),
  ipv4Tcp(c, { sport: 40001, dport: 80, seq: 101, ack: 501, flags: PSH | ACK, payload: 'GET / HTTP/1.0\r\n\r\n' }),
  ipv4Tcp(s, { sport: 80, dport: 40001, seq: 501, ack: 119, flags: PSH | ACK, payload: 'HTTP/1.0 200 OK\r\n' }),
  ipv4Tcp(s, { sport: 80, dport: 40001, seq: 501, ack: 119, flags: PSH | ACK, payload: 'HTTP/1.0 200 OK\r\n' }),
  ipv4Tcp(s, { sport: 80, dport: 40001, seq: 518, ack: 119, flags: RST | ACK, payload: 'server going away' }),
].map((ip) => ({ data: ethernet(ip) }));
const capture = path.join(dir, 'two.pcap');
writeFileSync(capture, pcap(frames, { linktype: LINKTYPE.ETHERNET }).bytes);

for (const extra of [[], ['--ladder']]) {
  test(`analyze --json ${extra.join(' ')}: every line validates against schemas/analyze-line.schema.json`, () => {
    const r = spawnSync(path.join(packageRoot, 'bin', 'tcpwhy'), ['analyze', capture, '--json', ...extra], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(new Set(lines.map((l) => l['type'])), new Set(['reset', 'connection', 'summary']));
    for (const l of lines) assert.deepEqual(analyzeLineProblems(l), [], JSON.stringify(l));
    if (extra.length) assert.ok(lines.some((l) => Array.isArray(l['ladder'])));
  });
}

test('the validator sees what breaks a schema', () => {
  const line = JSON.parse(
    readFileSync(path.join(packageRoot, 'docs', 'events.md'), 'utf8')
      .split('```json\n')[1]!
      .split('\n```')[0]!,
  ) as Record<string, unknown>;
  assert.deepEqual(schemaProblems(line), []);
  assert.match(schemaProblems({ ...line, extra: 1 }).join(), /undocumented field extra/);
  const { hook: _hook, ...noHook } = line;
  assert.match(schemaProblems(noHook).join(), /missing hook/);
  assert.match(schemaProblems({ ...line, direction: 'sideways' }).join(), /direction/);
  assert.match(schemaProblems({ ...line, packet: { ...(line['packet'] as object), lport: '8080' } }).join(), /packet\.lport/);
  assert.match(schemaProblems({ ...line, cause: { ...(line['cause'] as object), evidence: { x: [1] } } }).join(), /evidence\.x/);
  assert.deepEqual(validate({ oneOf: [{ type: 'string' }, { type: 'integer' }] }, 1), []);
  assert.equal(validate({ oneOf: [{ type: 'number' }, { type: 'integer' }] }, 1).length, 1);
});
