// Every lab case, in each of its families, against the real kernel, through
// the runner `tcpwhy lab` uses (runCase: a fresh lab, the watcher on its two
// namespaces, a recording of the server's veth1). The run must have no
// problem: the diagnosis gave the primary event exactly the case's expected
// cause, with the facts the case knows in its evidence (checkVerdict), no
// event was lost and the recording lost no packet. The capture's analysis
// must agree with the live verdicts: every RST on the wire is one the watcher
// saw sent, by the same endpoint, of the same kind and cause (checkCapture).
// Then the case's own expectations (src/lab/cases.ts): the raw facts the
// diagnosis rests on, and the sent RSTs the case drops before the wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { kernelUnderTest } from '../helpers/kernel.js';
import { CASES } from '../../src/lab/cases.js';
import { runCase } from '../../src/lab/run.js';
import { agreementText, matchFor } from '../../src/lab/compare.js';
import { recordingsDir } from '../helpers/recordings.js';

const recDir = recordingsDir('labcases');
const kernel = kernelUnderTest();
let nextPort = 9400;

for (const c of CASES) {
  for (const family of c.families) {
    test(`${c.name} IPv${family}: ${c.title}`, async (t) => {
      const port = (nextPort += 10);
      const pcap = path.join(recDir(), `${c.name}-v${family}.pcap`);
      const r = await runCase(c, family, port, { record: pcap });
      t.diagnostic(`${c.name} IPv${family}: the run took ${r.ms} ms with the watcher's settling and the recording; ${r.events.length} events`);
      assert.ok(r.run, `the case ran: ${r.problems.join('; ')}`);
      assert.equal(r.capture?.dropped, 0, 'the recording lost no packet');
      assert.equal(r.lost, 0, 'no event lost');
      assert.match(r.run.story, /\S/);
      assert.match(r.run.clientSaw, /\S/);
      const primary = r.primary;
      assert.ok(primary, `no event matches the primary ${JSON.stringify(r.run.primary)}: ${JSON.stringify(r.events)}`);
      assert.deepEqual(r.problems, [], `verdict of ${c.name}: ${JSON.stringify(primary.cause)}`);
      for (const e of r.events) assert.ok(e.cause, 'every event is diagnosed');
      // the capture explains every RST on the wire as the live watcher did
      const capture = r.captureCheck;
      assert.ok(capture, 'the recording was analyzed');
      const pairs = capture.matched.map(
        (m) => `frame ${m.reset.frame} ${m.reset.sender} ${m.reset.kind} ${m.reset.cause.id} ~ ${m.live.cause?.id} (${m.agreement})`,
      );
      t.diagnostic(`capture: ${agreementText(capture)}; ${pairs.join('; ')}`);
      assert.deepEqual(capture.problems, [], `the capture disagrees with the live verdicts (${pairs.join('; ')})`);
      assert.ok(capture.matched.length > 0, 'at least one RST on the wire');
      assert.deepEqual(
        capture.unseen.map((e) => e.cause?.id),
        c.unseen ?? [],
        'sent RSTs missing from the wire',
      );
      const own = matchFor(capture, primary);
      assert.ok(own, `the primary's RST is in the capture: ${JSON.stringify(primary)}`);
      assert.notEqual(own.agreement, 'disagrees');
      assert.ok(r.ok);
      rmSync(pcap, { force: true });
      const v4 = family === 4;
      c.check({
        lab: r.lab,
        family,
        port,
        run: r.run,
        events: r.events,
        primary,
        serverAddr: v4 ? r.lab.server.v4 : r.lab.server.v6,
        clientAddr: v4 ? r.lab.client.v4 : r.lab.client.v6,
        reason: (kind, name) => kernel.reason(kind, name),
      });
    });
  }
}
