// The three simplest lab cases, IPv4 and IPv6, in one shared lab against the
// real kernel: the RST must be captured exactly once with the right facts,
// and its reception must name the process that owned the receiving socket.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Lab, labAddrs } from '../../src/lab/netns.js';
import { labCase, type Family } from '../../src/lab/cases.js';
import { Actor } from '../../src/lab/cast.js';
import { waitUnread } from '../../src/lab/ss.js';
import type { RstEvent } from '../../src/events/event.js';
import { captureDuring, stackHas } from '../helpers/capture.js';
import { kernelUnderTest } from '../helpers/kernel.js';

// the reason this kernel gives each RST (none before 6.10, none of its own for active ones before 6.12)
const k = kernelUnderTest();

let lab: Lab;
let nextPort = 9000;

before(() => {
  lab = Lab.create('scn');
});
after(() => lab?.destroy());

async function runScenario(name: string, family: Family) {
  const port = nextPort++;
  const cap = await captureDuring({ netns: [lab.client.netns, lab.server.netns] }, () => labCase(name).run(lab, family, port), { minEvents: 2 });
  const onPort = (e: RstEvent) => [e.packet, e.socket].some((t) => t && (t.lport === port || t.rport === port));
  const events = cap.events.filter(onPort);
  const a = labAddrs(lab, family);
  const { pids } = cap.result;
  return {
    // the processes and addresses of the run, as the checks below name them
    run: { ...cap.result, port, client: { pid: pids?.client, addr: a.client }, server: { pid: pids?.server, addr: a.server } },
    sent: events.filter((e) => e.direction === 'sent'),
    received: events.filter((e) => e.direction === 'received'),
    all: cap.events,
    summary: cap.summary,
  };
}

const fam = (f: Family) => (f === 4 ? 'ipv4' : 'ipv6');

for (const family of [4, 6] as const) {
  describe(`IPv${family}`, () => {
    test('connect to a closed port: one passive NO_SOCKET RST, received by the connecting process', async () => {
      const r = await runScenario('closed-port', family);
      assert.equal(r.run.clientSaw, 'connect() failed: ECONNREFUSED');
      assert.equal(r.sent.length, 1, `sent events: ${JSON.stringify(r.all)}`);
      const s = r.sent[0]!;
      assert.equal(s.kind, 'passive');
      assert.equal(s.reason, k.reason('passive', 'NO_SOCKET'));
      assert.equal(s.state, null);
      assert.equal(s.socket, null);
      assert.equal(s.family, fam(family));
      assert.equal(s.netns, lab.server.netns);
      assert.equal(s.packet?.laddr, r.run.server.addr);
      assert.equal(s.packet?.lport, r.run.port);
      assert.equal(s.packet?.raddr, r.run.client.addr);
      assert.equal(s.segment?.flags, 'SYN');
      assert.equal(s.segment?.len, 0);
      assert.ok(stackHas(s, family === 4 ? 'tcp_v4_send_reset' : 'tcp_v6_send_reset'), s.stack?.join('\n'));

      assert.equal(r.received.length, 1);
      const rc = r.received[0]!;
      assert.equal(rc.kind, null);
      assert.equal(rc.state, 'SYN_SENT');
      assert.equal(rc.netns, lab.client.netns);
      assert.equal(rc.owner?.pid, r.run.client.pid, 'the receiving socket is the connecting process');
      assert.equal(rc.owner?.comm, 'node');
      assert.equal(rc.socket?.laddr, r.run.client.addr);
      assert.equal(rc.socket?.lport, s.packet?.rport, "the client port from the packet is the socket's");
      assert.equal(rc.socket?.raddr, r.run.server.addr);
      assert.equal(rc.socket?.rport, r.run.port);
      assert.ok(stackHas(rc, 'tcp_reset'), rc.stack?.join('\n'));
      assert.equal(r.summary.counters.ringbufFull + r.summary.counters.recursionMisses, 0);
    });

    test('close() with unread data: one active TCP_ABORT_ON_CLOSE RST counting the unread bytes', async () => {
      const r = await runScenario('close-unread', family);
      assert.equal(r.run.clientSaw, 'client: ECONNRESET');
      assert.equal(r.sent.length, 1, `sent events: ${JSON.stringify(r.all)}`);
      const s = r.sent[0]!;
      assert.equal(s.kind, 'active');
      assert.equal(s.reason, k.reason('active', 'TCP_ABORT_ON_CLOSE'));
      assert.equal(s.state, 'CLOSE');
      assert.equal(s.packet, null);
      assert.equal(s.netns, lab.server.netns);
      assert.deepEqual(
        { laddr: s.socket?.laddr, lport: s.socket?.lport, raddr: s.socket?.raddr },
        { laddr: r.run.server.addr, lport: r.run.port, raddr: r.run.client.addr },
      );
      assert.equal(s.queues?.rcv_unread, 5);
      assert.equal(s.linger?.on, false);
      assert.equal(s.process.pid, r.run.server.pid, 'close() runs in the server process');
      assert.equal(s.owner?.pid, r.run.server.pid);
      assert.notEqual(s.sock_cookie, '0');
      assert.ok(stackHas(s, '__tcp_close'), s.stack?.join('\n'));
      assert.ok(stackHas(s, 'tcp_send_active_reset'));

      assert.equal(r.received.length, 1);
      const rc = r.received[0]!;
      assert.equal(rc.state, 'ESTABLISHED');
      assert.equal(rc.owner?.pid, r.run.client.pid);
      assert.equal(rc.socket?.rport, r.run.port);
      assert.equal(rc.socket?.lport, s.socket?.rport);
    });

    test('SO_LINGER {on, 0} close: one active TCP_STATE RST with the linger facts', async () => {
      const r = await runScenario('linger-zero', family);
      assert.equal(r.run.clientSaw, 'client: close() returned at once; server: ECONNRESET');
      assert.equal(r.sent.length, 1, `sent events: ${JSON.stringify(r.all)}`);
      const s = r.sent[0]!;
      assert.equal(s.kind, 'active');
      assert.equal(s.reason, k.reason('active', 'TCP_STATE'));
      assert.equal(s.state, 'CLOSE');
      assert.equal(s.netns, lab.client.netns);
      assert.deepEqual(s.linger, { on: true, seconds: 0 });
      assert.equal(s.queues?.rcv_unread, 0);
      assert.equal(s.socket?.rport, r.run.port);
      assert.equal(s.socket?.laddr, r.run.client.addr);
      assert.equal(s.owner?.pid, r.run.client.pid);
      assert.ok(stackHas(s, 'tcp_disconnect'), s.stack?.join('\n'));

      assert.equal(r.received.length, 1);
      const rc = r.received[0]!;
      assert.equal(rc.state, 'ESTABLISHED');
      assert.equal(rc.netns, lab.server.netns);
      // accepted sockets inherit the owner of their listener
      assert.equal(rc.owner?.pid, r.run.server.pid, 'the receiving socket belongs to the server process');
      assert.equal(rc.socket?.lport, r.run.port);
      assert.equal(rc.socket?.rport, s.socket?.lport);
    });
  });
}

test('a dual-stack listener: the IPv4 peer shows as ::ffff:a.b.c.d on the IPv6 socket', async () => {
  const port = nextPort++;
  const server = Actor.start(lab, lab.server, 'listen-unread', { host: '::', port });
  try {
    await server.waitFor('listening');
    const cap = await captureDuring(
      { netns: [lab.server.netns] },
      async () => {
        const client = Actor.start(lab, lab.client, 'connect', { host: lab.server.v4, port, bytes: 3 });
        try {
          await client.waitFor('sent');
          await waitUnread(lab.server, port, 3);
          server.send('close');
          await client.waitFor('error');
        } finally {
          await client.stop();
        }
      },
      { minEvents: 1 },
    );
    const sent = cap.events.filter((e) => e.direction === 'sent');
    assert.equal(sent.length, 1, JSON.stringify(cap.events));
    const s = sent[0]!;
    assert.equal(s.reason, k.reason('active', 'TCP_ABORT_ON_CLOSE'));
    assert.equal(s.family, 'ipv6');
    assert.deepEqual(s.socket, { laddr: `::ffff:${lab.server.v4}`, lport: port, raddr: `::ffff:${lab.client.v4}`, rport: s.socket?.rport });
    assert.equal(s.queues?.rcv_unread, 3);
  } finally {
    await server.stop();
  }
});

test('a stray ACK to a listener: a passive RST that carries both tuples and the accept queue', async () => {
  const port = nextPort++;
  let server: Actor | undefined;
  try {
    const cap = await captureDuring(
      { netns: [lab.server.netns] },
      async () => {
        // listen() while watching, so that the listener's owner is known
        server = Actor.start(lab, lab.server, 'listen-read', { host: lab.server.v4, port });
        await server.waitFor('listening');
        // one bare ACK from port 40000: no connection exists for it
        const h = spawn('ip', ['netns', 'exec', lab.client.ns, 'hping3', '-q', '-A', '-c', '1', '-s', '40000', '-k', '-p', String(port), lab.server.v4], {
          stdio: 'ignore',
        });
        await once(h, 'exit');
      },
      { minEvents: 1 },
    );
    assert.equal(cap.events.length, 1, JSON.stringify(cap.events));
    const e = cap.events[0]!;
    assert.equal(e.direction, 'sent');
    assert.equal(e.kind, 'passive');
    assert.equal(e.reason, k.reason('passive', 'TCP_FLAGS'));
    assert.equal(e.state, 'LISTEN');
    assert.deepEqual(e.packet, { laddr: lab.server.v4, lport: port, raddr: lab.client.v4, rport: 40000 });
    assert.deepEqual(e.socket, { laddr: lab.server.v4, lport: port, raddr: '0.0.0.0', rport: 0 });
    assert.equal(e.segment?.flags, 'ACK');
    assert.deepEqual(e.accept_queue, { len: 0, max: 511 });
    assert.equal(e.owner?.pid, server!.pid, 'the listener belongs to the server process');
  } finally {
    await server?.stop();
  }
});
