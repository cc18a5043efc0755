// Every loss case, in each of its families, against the real kernel, through
// the runner `tcpwhy lab` uses (runLossCase: a fresh lab of the case's
// topology, the watcher on its namespaces, the scenario made real). The case's
// checks must find the drops, retransmissions, errors and resets it expects,
// with their causes and the facts the scenario knows (the firewall rule, the
// listener, the MTU ...), and the kernel counters must agree with what tcpwhy
// counted. Every event gets a verdict, and none is lost. The scenario itself
// must have been real (test/helpers/loss-scenario-checks.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOSS_CASES } from '../../src/lab/loss-cases.js';
import { runLossCase } from '../../src/lab/loss-run.js';
import { watchLineProblems } from '../helpers/schema.js';
import { assertScenarioReal, scenarioChecks } from '../helpers/loss-scenario-checks.js';
import { LOSS_SCENARIOS } from '../../src/lab/loss-scenarios.js';

test('every scenario is a loss case and has its checks', () => {
  assert.deepEqual(LOSS_SCENARIOS.map((s) => s.name).sort(), LOSS_CASES.map((c) => c.name).sort());
  assert.deepEqual(LOSS_SCENARIOS.map((s) => s.name).sort(), Object.keys(scenarioChecks).sort());
});

let nextPort = 7100;

for (const c of LOSS_CASES) {
  for (const family of c.scenario.families) {
    test(`loss case ${c.name} IPv${family}: ${c.scenario.title}`, async (t) => {
      const r = await runLossCase(c, family, (nextPort += 10));
      t.diagnostic(
        `${c.name} IPv${family}: ${r.ms} ms; ${r.loss.length} loss events, ${r.resets.length} resets; counters ${JSON.stringify(r.run?.witness ?? {})}`,
      );
      assert.ok(r.run, `the scenario ran: ${r.problems.join('; ')}`);
      // the situation was real: what the application saw, the kernel's counters
      assertScenarioReal(c.name, r.run, family);
      assert.equal(r.lost, 0, 'no event lost');
      assert.deepEqual(r.problems, [], `${c.name}: ${[...new Set(r.loss.map((e) => `${e.type} ${e.reason} netns ${e.netns} -> ${e.cause?.id}`))].join(', ')}`);
      for (const e of r.loss) {
        assert.ok(e.cause, 'every loss event is diagnosed');
        // every event as `watch --json` would print it matches the schema
        assert.deepEqual(watchLineProblems(JSON.parse(JSON.stringify(e)) as Record<string, unknown>), [], JSON.stringify(e));
      }
    });
  }
}
