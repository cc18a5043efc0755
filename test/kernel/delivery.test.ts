// Events reach user space while the watcher runs (not only when it stops), and
// the stack rate limit marks and counts the events whose stack it skipped.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Lab } from '../../src/lab/netns.js';
import { labCase } from '../../src/lab/cases.js';
import { Collector } from '../../src/live/collect.js';
import { captureDuring } from '../helpers/capture.js';

let lab: Lab;
before(() => {
  lab = Lab.create('dlv');
});
after(() => lab?.destroy());

test('a single RST is delivered while watching, below the wakeup threshold', async () => {
  const collector = await Collector.start({ netns: [lab.server.netns] });
  try {
    await labCase('closed-port').run(lab, 4, 9301);
    // one 200-byte record never reaches the 256 KiB wakeup mark: the reader's
    // timer must bring it (within 25 ms; 3 s allows for a loaded machine)
    await collector.waitFor(1, 3000);
    assert.equal(collector.take().length, 1, 'the event was not delivered before stop');
  } finally {
    await collector.stop();
  }
});

test('--stack-rate: stacks over the limit are marked rate_limited and counted', async () => {
  const SYNS = 200;
  const cap = await captureDuring(
    // one stack walk per CPU per 100 ms window; every RST shown in full (no storm limit)
    { netns: [lab.server.netns], stackRate: 10, fullPerKey: 0, fullRate: 0 },
    async () => {
      const h = spawn('ip', ['netns', 'exec', lab.client.ns, 'hping3', '-q', '-S', '-p', '7', '-c', String(SYNS), '-i', 'u100', lab.server.v4], {
        stdio: 'ignore',
      });
      await once(h, 'exit');
    },
    { minEvents: SYNS },
  );
  assert.equal(cap.events.length, SYNS);
  const captured = cap.events.filter((e) => e.stack_status === 'captured');
  const limited = cap.events.filter((e) => e.stack_status === 'rate_limited');
  assert.ok(captured.length >= 1, 'the first event of a window gets its stack');
  assert.ok(limited.length >= SYNS / 2, `only ${limited.length} rate-limited`);
  assert.equal(captured.length + limited.length, SYNS);
  assert.ok(limited.every((e) => e.stack === null && e.stack_id === null));
  assert.ok(captured.every((e) => e.stack?.[0]?.startsWith('tcp_v4_send_reset+')));
  assert.equal(cap.summary.counters.stackSkipped, limited.length);
});
