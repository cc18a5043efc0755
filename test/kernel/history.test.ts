// The history of connections lives in the kernel (the conns map): a rule that
// asks how a connection ended reads its record. On kernels without reset
// reasons some verdicts rest on it alone (fin-wait2-linger-negative: the
// socket left FIN_WAIT2 for CLOSE just before the RST), so it is checked here
// directly, on every kernel, not only through verdicts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab } from '../../src/lab/netns.js';
import { labCase } from '../../src/lab/cases.js';
import { LiveSession } from '../../src/live/session.js';
import { kernelConnLookup } from '../../src/live/conn-records.js';
import type { RstEvent } from '../../src/events/event.js';

let lab: Lab;
before(() => {
  lab = Lab.create('hist');
});
after(() => lab?.destroy());

for (const family of [4, 6] as const) {
  test(`IPv${family}: the kernel's record of a connection closed from FIN_WAIT2 with TCP_LINGER2 < 0`, async () => {
    const events: RstEvent[] = [];
    const ac = new AbortController();
    const session = LiveSession.open(
      { netns: [lab.client.netns, lab.server.netns], host: null, signal: ac.signal },
      { deliver: (e) => events.push(e as RstEvent), flush: () => undefined, warn: () => undefined },
    );
    const running = session.run();
    try {
      await labCase('fin-wait2-linger-negative').run(lab, family, 9200 + family);
      for (let i = 0; i < 50 && !events.some((e) => e.kind === 'active'); i++) await sleep(50);
      const rst = events.find((e) => e.direction === 'sent' && e.kind === 'active');
      assert.ok(rst?.socket, `an active RST with its socket: ${JSON.stringify(events)}`);
      const records = kernelConnLookup((k) => session.tracer.conn(k))(rst.netns, rst.socket);
      const close = [...records].reverse().find((r) => r.new === 'CLOSE' && r.mono_ns <= rst.mono_ns);
      assert.ok(close, `a CLOSE before the RST in ${JSON.stringify(records)}`);
      assert.equal(close.old, 'FIN_WAIT2');
      assert.ok(rst.mono_ns - close.mono_ns < 1e9);
      // the application's close, with the process that made it
      const fin = records.find((r) => r.new === 'FIN_WAIT1');
      assert.ok(fin, JSON.stringify(records));
      assert.equal(fin.comm, 'python3');
      assert.ok(
        records.every((r, i) => i === 0 || records[i - 1]!.mono_ns <= r.mono_ns),
        'oldest first',
      );
    } finally {
      ac.abort();
      await running;
    }
  });
}
