// What each loss scenario must have made real, whoever runs it: the
// application saw what the scenario says (errno and timing) and the kernel's
// own counters witness the loss. test/kernel/loss-cases.test.ts applies it to
// every run, beside the checks of what tcpwhy said.
import assert from 'node:assert/strict';
import type { LossRun } from '../../src/lab/loss-scenarios.js';
import type { Family } from '../../src/lab/netns.js';

export function assertWitnessed(r: LossRun): void {
  assert.ok(Object.keys(r.witness).length > 0, 'a scenario names its witnesses');
  for (const [host, counters] of Object.entries(r.witness))
    for (const [name, delta] of Object.entries(counters)) assert.ok(delta > 0, `${host} ${name} did not move: ${JSON.stringify(r.witness)}`);
}

/** connect() failed with `code` after `min`..`max` seconds, as the scenario's clientSaw says. */
function assertConnectFailed(r: LossRun, code: string, min: number, max: number): void {
  const m = /connect\(\) failed: (\w+) after ([\d.]+) s/.exec(r.clientSaw);
  assert.ok(m, r.clientSaw);
  assert.equal(m[1], code, r.clientSaw);
  const s = Number(m[2]);
  assert.ok(s >= min && s <= max, `${r.clientSaw}: expected ${min}-${max} s`);
}

export const scenarioChecks: Record<string, (r: LossRun, family: Family) => void> = {
  'firewall-drop': (r) => {
    // TCP_SYNCNT 1: the kernel gives up 3 s after the first SYN (6.1 and 6.18)
    assertConnectFailed(r, 'ETIMEDOUT', 2.5, 4.5);
    assert.equal(r.facts['rule'], `tcp dport ${r.server.port} drop`);
  },
  'firewall-reject': (r) => {
    assertConnectFailed(r, 'ECONNREFUSED', 0, 0.5);
    assert.equal(r.facts['rule'], `tcp dport ${r.server.port} reject with tcp reset`);
  },
  'accept-queue-full': (r) => {
    assert.match(r.clientSaw, /connect\(\) and write\(\) succeeded/);
    assertConnectFailed(r, 'ETIMEDOUT', 2.5, 4.5);
    assert.equal(r.facts['backlog'], 1);
  },
  'lossy-link': (r) => {
    assert.match(r.clientSaw, /^all 2000000 bytes arrived/);
    assert.equal(r.facts['rule'], `tcp dport ${r.server.port} meta length > 200 numgen random mod 100 < 25 drop`);
  },
  'qdisc-overflow': (r) => assert.match(r.clientSaw, /^all 1000000 bytes arrived/),
  'zero-window': (r) => {
    assert.match(r.clientSaw, /^writes stalled after \d+ bytes/);
    assert.ok(Number(r.facts['unreadBytes']) > 0, `the receiver holds unread bytes: ${JSON.stringify(r.facts)}`);
  },
  'rp-filter': (r) => assertConnectFailed(r, 'ETIMEDOUT', 2.5, 4.5),
  'mtu-black-hole': (r, family) => {
    const m = /sending 100000 bytes failed: (\w+) after ([\d.]+) s/.exec(r.clientSaw);
    assert.ok(m, r.clientSaw);
    assert.equal(m[1], 'ETIMEDOUT');
    // TCP_USER_TIMEOUT 3 s (from connect(): the handshake is immediate on a warmed-up path)
    assert.ok(Number(m[2]) >= 2.5 && Number(m[2]) <= 4.5, r.clientSaw);
    assert.equal(r.facts['rule'], family === 4 ? 'icmp type destination-unreachable icmp code frag-needed drop' : 'icmpv6 type packet-too-big drop');
    assert.ok(r.router && r.router.netns > 0);
  },
};

/** Everything a scenario run must show. */
export function assertScenarioReal(name: string, r: LossRun, family: Family): void {
  assertWitnessed(r);
  assert.ok(r.client.netns > 0 && r.server.netns > 0 && r.client.netns !== r.server.netns);
  assert.ok(r.client.pid && r.server.pid, 'both processes are known');
  assert.ok(r.client.port, "the client's port is known");
  scenarioChecks[name]!(r, family);
}
