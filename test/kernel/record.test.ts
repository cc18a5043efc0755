// Lab recordings: tcpdump in the server namespace captures the whole run
// (started before the provocation, flushed when stopped), and a failed start
// leaves no process behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab } from '../../src/lab/netns.js';
import { labCase } from '../../src/lab/cases.js';
import { startRecording } from '../../src/lab/record.js';

let lab: Lab;
let dir: string;
before(() => {
  lab = Lab.create('rec');
  dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-rec-'));
});
after(() => {
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('startRecording', () => {
  test('the SYN and its RST+ACK of a connection to a closed port are in the file', async () => {
    const file = path.join(dir, 'closed.pcap');
    const rec = await startRecording(lab.server.ns, 'veth1', file);
    await labCase('closed-port').run(lab, 4, 9601);
    const summary = await rec.stop();
    assert.equal(summary.file, file);
    assert.equal(summary.dropped, 0);
    assert.ok(summary.packets >= 2, `packets: ${summary.packets}`);
    assert.deepEqual(await rec.stop(), summary, 'stop() again: the same summary');
    const text = execFileSync('tcpdump', ['-nn', '-S', '-r', file, 'tcp'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.match(text, /192\.0\.2\.1\.\d+ > 192\.0\.2\.2\.9601: Flags \[S\]/);
    assert.match(text, /192\.0\.2\.2\.9601 > 192\.0\.2\.1\.\d+: Flags \[R\.\], seq 0, ack \d+/);
  });

  test('a device that does not exist: rejected, no file', async () => {
    const file = path.join(dir, 'none.pcap');
    await assert.rejects(startRecording(lab.server.ns, 'nodev0', file), /tcpdump in .* on nodev0/);
    assert.throws(() => statSync(file));
  });
});
