// The in-kernel filters: each keeps exactly the RSTs it names and drops the rest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../src/lab/netns.js';
import { labCase } from '../../src/lab/cases.js';
import { Actor } from '../../src/lab/cast.js';
import { captureDuring } from '../helpers/capture.js';
import type { RstEvent } from '../../src/events/event.js';

let lab: Lab;
before(() => {
  lab = Lab.create('flt');
});
after(() => lab?.destroy());

const both = () => [lab.client.netns, lab.server.netns];
const ports = (e: RstEvent) => [e.packet?.lport, e.packet?.rport, e.socket?.lport, e.socket?.rport];

/** Closed-port RSTs on two ports and both families: 8 events unfiltered. */
async function mixedTraffic(): Promise<void> {
  await labCase('closed-port').run(lab, 4, 9201);
  await labCase('closed-port').run(lab, 4, 9202);
  await labCase('closed-port').run(lab, 6, 9201);
  await labCase('closed-port').run(lab, 6, 9202);
}

test('unfiltered (namespaces only): all 8 events', async () => {
  const cap = await captureDuring({ netns: both() }, mixedTraffic, { minEvents: 8 });
  assert.equal(cap.events.length, 8);
});

test('--port keeps only that port', async () => {
  const cap = await captureDuring({ netns: both(), ports: [9202] }, mixedTraffic, { minEvents: 4 });
  assert.equal(cap.events.length, 4);
  assert.ok(cap.events.every((e) => ports(e).includes(9202)));
});

test('-6 keeps only IPv6, -4 only IPv4', async () => {
  const v6 = await captureDuring({ netns: both(), family: 6 }, mixedTraffic, { minEvents: 4 });
  assert.equal(v6.events.length, 4);
  assert.ok(v6.events.every((e) => e.family === 'ipv6'));
  const v4 = await captureDuring({ netns: both(), family: 4 }, mixedTraffic, { minEvents: 4 });
  assert.equal(v4.events.length, 4);
  assert.ok(v4.events.every((e) => e.family === 'ipv4'));
});

test('--addr matches the local or the remote address, either family', async () => {
  const cap = await captureDuring({ netns: both(), addrs: ['2001:db8::2'] }, mixedTraffic, { minEvents: 4 });
  assert.equal(cap.events.length, 4);
  assert.ok(cap.events.every((e) => e.family === 'ipv6'));
  const v4 = await captureDuring({ netns: both(), addrs: ['192.0.2.1'] }, mixedTraffic, { minEvents: 4 });
  assert.equal(v4.events.length, 4);
});

test('--netns keeps one namespace', async () => {
  const cap = await captureDuring({ netns: [lab.server.netns] }, mixedTraffic, { minEvents: 4 });
  assert.equal(cap.events.length, 4);
  assert.ok(cap.events.every((e) => e.netns === lab.server.netns && e.direction === 'sent'));
});

test('--pid keeps the RSTs of that process (as owner or running task)', async () => {
  const server = Actor.start(lab, lab.server, 'listen-read', { host: lab.server.v4, port: 9203 });
  await server.waitFor('listening');
  const a = Actor.start(lab, lab.client, 'connect', { host: lab.server.v4, port: 9203 });
  const b = Actor.start(lab, lab.client, 'connect', { host: lab.server.v4, port: 9203 });
  try {
    await Promise.all([a.waitFor('connected'), b.waitFor('connected')]);
    const cap = await captureDuring(
      { netns: both(), pids: [a.pid] },
      async () => {
        // both clients abort with SO_LINGER {on, 0}: two active RSTs, one per process
        a.send('reset');
        b.send('reset');
        await Promise.all([a.waitFor('closed'), b.waitFor('closed')]);
      },
      { minEvents: 1 },
    );
    const sent = cap.events.filter((e) => e.direction === 'sent');
    assert.equal(sent.length, 1, JSON.stringify(cap.events));
    // close() runs in the client; its connect() came before the watcher, so no owner is known
    assert.equal(sent[0]!.process.pid, a.pid);
    assert.equal(sent[0]!.owner, null);
    for (const e of cap.events) {
      assert.ok(e.owner?.pid === a.pid || e.process.pid === a.pid, JSON.stringify(e));
      assert.notEqual(e.owner?.pid, b.pid);
    }
  } finally {
    await Promise.all([a.stop(), b.stop(), server.stop()]);
  }
});

test('large filter sets (over the 8 compared inline) go through the filter maps', async () => {
  const many = [9202, 1, 2, 3, 4, 5, 6, 7, 8, 10];
  const netns = [lab.client.netns, lab.server.netns, 1, 2, 3, 4, 5, 6, 7, 8];
  const cap = await captureDuring({ netns, ports: many }, mixedTraffic, { minEvents: 4 });
  assert.equal(cap.events.length, 4);
  assert.ok(cap.events.every((e) => ports(e).includes(9202)));
});
