// The lab cases, the one registry of them: one real TCP reset per known
// cause. Each case gets a fresh Lab (created and destroyed by the runner,
// run.ts, which also runs the watcher on the lab's two namespaces), starts
// real processes in it, provokes one failure and tells what happened: the
// story, what the applications saw, which event is the verdict's and the
// facts the verdict's evidence must name. Each also says what its events must
// show (minEvents, unseen, check), which the kernel tests assert.
//
// Everything a case changes (sysctls, nft tables, conntrack entries) lives in
// the lab's namespaces and goes away with them. Waits are on the processes'
// own reports or on bounded polls of the kernel's socket tables (ss), never
// blind sleeps.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inNs, labAddrs, type Lab } from './netns.js';
import type { Family, LabCase } from './case.js';
import { type Actor, withCast, type Cast } from './cast.js';
import { acceptQueueLen, monoNow, ssLines, until, waitUnread } from './ss.js';
import { assertActiveFrom, assertClientReceived, assertClientTuple, assertPassiveFrom, assertServerTuple, json, stackHas, stackHasOrLost } from './expect.js';

export type { CaseRun, Family, LabCase, Outcome } from './case.js';

const addrs = labAddrs;

/**
 * The start of most cases: a reading server, a client (node `connect` unless
 * told otherwise) connected to it and accepted; the client's pid, name and port.
 */
async function connectedPair(cast: Cast, lab: Lab, family: Family, port: number, startClient?: (server: string) => Actor) {
  const a = addrs(lab, family);
  const server = cast.node(lab.server, 'listen-read', { host: a.server, port });
  await server.waitFor('listening');
  const client = startClient ? startClient(a.server) : cast.node(lab.client, 'connect', { host: a.server, port });
  const pid = await pidOf(client, 'connected');
  const comm = commOf(pid);
  const clientPort = await localPort(client);
  await server.waitFor('accepted');
  return { a, server, client, pid, comm, clientPort };
}

/** The pid an actor reported for itself (the process inside the namespace). */
async function pidOf(actor: Actor, firstEvent: string): Promise<number> {
  return Number((await actor.waitFor(firstEvent))['pid']);
}

/** The local port a connecting actor reported. */
async function localPort(actor: Actor): Promise<number> {
  return Number((await actor.waitFor('connected'))['localPort']);
}

function commOf(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

function clientError(line: Record<string, unknown>): string {
  return String(line['code']);
}

/**
 * The accept-queue overflow, with tcp_abort_on_overflow on or off. The listener
 * (backlog 1: the queue is full above 1 connection) never accepts. Connection 1
 * completes and waits in the queue. Connections 2 and 3 open while the client's
 * pure ACKs are dropped (nft in the client namespace), so both SYNs are accepted
 * and wait as request socks (SYN-RECV); the clients' connect() succeeded. Then
 * the rule goes, connection 2 sends data (its ACK makes it a child: queue 2,
 * full), and connection 3 sends data: its ACK finds the queue full.
 */
async function acceptOverflow(lab: Lab, family: Family, port: number, abort: boolean, cast: Cast) {
  const a = addrs(lab, family);
  const backlog = 1;
  lab.sysctl(lab.server, 'net.ipv4.tcp_abort_on_overflow', abort ? 1 : 0);
  if (!abort) lab.sysctl(lab.server, 'net.ipv4.tcp_synack_retries', 1);
  const listener = cast.python(lab.server, 'listen-backlog', { host: a.server, port, backlog });
  const listenerPid = await pidOf(listener, 'listening');
  const first = cast.node(lab.client, 'connect', { host: a.server, port });
  await first.waitFor('connected');
  await until('the first connection in the accept queue', () => acceptQueueLen(lab.server, port) === 1);

  lab.nft(
    lab.client,
    `table inet tcpwhy_hold_acks {
    chain out { type filter hook output priority 0; policy accept; tcp dport ${port} tcp flags == ack drop; }
  }`,
  );
  const second = cast.node(lab.client, 'connect', { host: a.server, port });
  const third = cast.node(lab.client, 'connect', { host: a.server, port });
  await Promise.all([second.waitFor('connected'), third.waitFor('connected')]);
  await until('two request socks (SYN-RECV)', () => ssLines(lab.server, 'syn-recv', port).length === 2);
  lab.nft(lab.client, 'delete table inet tcpwhy_hold_acks');

  second.send('send');
  await second.waitFor('sent-1');
  await until('the accept queue full (2 connections, backlog 1)', () => acceptQueueLen(lab.server, port) === 2);
  const clientPort = await localPort(third);
  third.send('send');
  const sentAt = Date.now();
  // with abort_on_overflow the server's RST may reach the client before its
  // write is reported (it did under emulation): either ends the write
  await third.waitFor(abort ? ['sent-1', 'error'] : 'sent-1');
  /**
   * Ends the case: the listener stops first, and its RSTs reset the queued
   * connections (listener-closed-with-pending). Stopped together with the
   * clients instead (the Cast's end), a client's FIN can reach a queued
   * connection while the listener's close is tearing it down and draw a
   * passive NO_SOCKET RST after the case's own: a second, later passive RST
   * from the server in the case's events.
   */
  const stopListener = () => listener.stop();
  return { listenerPid, backlog, third, clientPort, sentAt, stopListener };
}

export const CASES: LabCase[] = [
  {
    name: 'closed-port',
    title: 'connect to a port nobody listens on',
    families: [4, 6],
    expectedCause: 'no-listener',
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertPassiveFrom(r, e, 'NO_SOCKET', null);
      assert.equal(e.socket, null);
      assert.equal(e.owner, null);
      assertServerTuple(r, e.packet);
      assert.equal(e.segment?.flags, 'SYN');
      assert.equal(r.run.facts['port'], r.port);
      assertClientReceived(r, 'SYN_SENT');
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const a = addrs(lab, family);
        const client = cast.node(lab.client, 'connect', { host: a.server, port });
        const err = await client.waitFor('error');
        return {
          story: `the client connects to ${a.server} port ${port}, where nothing listens; the server's kernel answers the SYN with an RST`,
          clientSaw: `connect() failed: ${clientError(err)}`,
          primary: { netns: lab.server.netns, direction: 'sent', kind: 'passive', port },
          facts: { port },
          pids: { client: client.pid },
        };
      }),
  },
  {
    name: 'listener-exited',
    title: 'the server process exited; a client connects to its old port',
    families: [4],
    expectedCause: 'listener-gone',
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertPassiveFrom(r, e, 'NO_SOCKET', null);
      assert.equal(e.socket, null);
      assertServerTuple(r, e.packet);
      assert.equal(e.segment?.flags, 'SYN');
      assert.equal(r.events.filter((x) => x.direction === 'sent').length, 1, 'the listener exited without an RST');
      assert.equal(r.run.facts['listener_comm'], 'node');
      assert.ok(Number(r.run.facts['listener_pid']) > 0);
      assertClientReceived(r, 'SYN_SENT');
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const a = addrs(lab, family);
        const server = cast.node(lab.server, 'listen-read', { host: a.server, port });
        const pid = await pidOf(server, 'listening');
        const comm = commOf(pid);
        server.send('exit');
        await server.waitExit();
        const client = cast.node(lab.client, 'connect', { host: a.server, port });
        const err = await client.waitFor('error');
        return {
          story: `a server process (${comm}, pid ${pid}) listened on port ${port} and exited; a client then connects and the server's kernel answers the SYN with an RST`,
          clientSaw: `connect() failed: ${clientError(err)}`,
          primary: { netns: lab.server.netns, direction: 'sent', kind: 'passive', port },
          facts: { listener_pid: pid, listener_comm: comm, port },
        };
      }),
  },
  {
    name: 'close-unread',
    title: 'the server close()s a connection with 5 bytes unread',
    families: [4, 6],
    expectedCause: 'close-with-unread-data',
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertActiveFrom(r, e, r.lab.server.netns, 'TCP_ABORT_ON_CLOSE', 'CLOSE');
      assertServerTuple(r, e.socket);
      assert.equal(e.queues?.rcv_unread, 5);
      assert.equal(r.run.facts['unread_bytes'], 5);
      assert.equal(e.linger?.on, false);
      assert.equal(e.process.pid, r.run.facts['pid'], 'close() runs in the server process');
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.owner?.comm, r.run.facts['comm']);
      assert.ok(stackHasOrLost(e, '__tcp_close'), e.stack?.join('\n'));
      assert.ok(!stackHas(e, 'tcp_disconnect'));
      assertClientReceived(r, 'ESTABLISHED');
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const a = addrs(lab, family);
        const server = cast.node(lab.server, 'listen-unread', { host: a.server, port });
        const pid = await pidOf(server, 'listening');
        const client = cast.node(lab.client, 'connect', { host: a.server, port, bytes: 5 });
        const clientPort = await localPort(client);
        await client.waitFor('sent');
        await server.waitFor('accepted');
        await waitUnread(lab.server, port, 5);
        server.send('close');
        const err = await client.waitFor('error');
        return {
          story:
            'the client sends 5 bytes; the server application closes its socket without reading them, so its kernel aborts the connection with an RST (RFC 2525, 2.17)',
          clientSaw: `client: ${clientError(err)}`,
          primary: { netns: lab.server.netns, direction: 'sent', kind: 'active', port },
          facts: { pid, comm: commOf(pid), unread_bytes: 5 },
          clientPort,
          pids: { client: client.pid, server: pid },
        };
      }),
  },
  {
    name: 'linger-zero',
    title: 'the client closes with SO_LINGER {on, 0}',
    families: [4, 6],
    expectedCause: 'linger-zero-close',
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertActiveFrom(r, e, r.lab.client.netns, 'TCP_STATE', 'CLOSE');
      assertClientTuple(r, e.socket);
      assert.deepEqual(e.linger, { on: true, seconds: 0 });
      assert.equal(e.queues?.rcv_unread, 0);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.process.pid, r.run.facts['pid']);
      assert.ok(stackHasOrLost(e, 'tcp_disconnect') && stackHasOrLost(e, '__tcp_close'), e.stack?.join('\n'));
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const { server, client, pid, comm, clientPort } = await connectedPair(cast, lab, family, port);
        client.send('reset');
        const err = await server.waitFor('error');
        await client.waitFor('closed');
        return {
          story: 'the client sets SO_LINGER {on, 0} and closes: its kernel drops the connection with an RST instead of a FIN',
          clientSaw: `client: close() returned at once; server: ${clientError(err)}`,
          primary: { netns: lab.client.netns, direction: 'sent', kind: 'active', port },
          facts: { pid, comm },
          clientPort,
          pids: { client: pid, server: server.pid },
        };
      }),
  },
  {
    name: 'data-after-close',
    title: 'the client sends data after the server closed the connection',
    families: [4],
    expectedCause: 'data-after-close',
    minEvents: 3,
    check: (r) => {
      const e = r.primary;
      assertPassiveFrom(r, e, 'TCP_ABORT_ON_DATA', 'CLOSE');
      // the closed socket still exists: both tuples, and its owner is the process that closed it
      assertServerTuple(r, e.packet);
      assert.deepEqual(e.socket, e.packet);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.segment?.flags, 'PSH|ACK');
      assert.equal(e.segment?.len, 5);
      assert.equal(e.queues?.rcv_unread, 0, 'nothing was unread when the server closed');
      assert.ok(stackHasOrLost(e, r.family === 4 ? 'tcp_v4_do_rcv' : 'tcp_v6_do_rcv'));
      // tcp_reset() on the server's own socket (FIN_WAIT2 + data) fires the
      // receive tracepoint although no RST arrived: a "received" event on the
      // sender, just before its RST
      const srv = r.events.filter((x) => x.direction === 'received' && x.netns === r.lab.server.netns);
      assert.equal(srv.length, 1, json(r.events));
      assert.equal(srv[0]!.state, 'FIN_WAIT2');
      assert.equal(srv[0]!.sock_cookie, e.sock_cookie);
      assert.ok(srv[0]!.mono_ns <= e.mono_ns);
      assert.ok(stackHasOrLost(srv[0]!, 'tcp_rcv_state_process'));
      assertClientReceived(r, 'CLOSE_WAIT');
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const a = addrs(lab, family);
        // A closed (orphaned) socket whose FIN is acked becomes a TIME_WAIT sock
        // at once when tcp_fin_timeout <= 60 s, and then answers data with a
        // TIME_WAIT RST; above 60 s it stays a full socket in FIN_WAIT2.
        lab.sysctl(lab.server, 'net.ipv4.tcp_fin_timeout', 61);
        const server = cast.node(lab.server, 'listen-read', { host: a.server, port });
        const pid = await pidOf(server, 'listening');
        const client = cast.node(lab.client, 'connect', { host: a.server, port, allowHalfOpen: true });
        const clientPort = await localPort(client);
        await server.waitFor('accepted');
        server.send('close');
        // the server's FIN: the client reads EOF and keeps its half open
        await client.waitFor('ended');
        await until('the server socket in FIN_WAIT2', () => ssLines(lab.server, 'fin-wait-2', port).length === 1);
        client.send('send');
        await client.waitFor('sent-1');
        // The RST reaches a socket whose reading side has ended, so the client
        // application learns of it at its next write.
        await until('the client connection to be reset', () => ssLines(lab.client, 'all', clientPort).length === 0);
        client.send('send');
        const err = await client.waitFor('error');
        return {
          story:
            "the server application closes its connection (a FIN, nothing unread); the client, half-open, then sends 5 bytes, which the closed socket cannot take: the server's kernel answers with an RST",
          clientSaw: `client: read EOF; its next write was accepted, the one after failed with ${clientError(err)}`,
          primary: { netns: lab.server.netns, direction: 'sent', kind: 'passive', port },
          facts: { pid, comm: commOf(pid) },
          clientPort,
        };
      }),
  },
  {
    name: 'accept-overflow-abort',
    title: 'the accept queue overflows with net.ipv4.tcp_abort_on_overflow=1',
    families: [4],
    expectedCause: 'accept-queue-overflow-abort',
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertPassiveFrom(r, e, 'INVALID_SYN', 'LISTEN');
      assertServerTuple(r, e.packet);
      assert.deepEqual(e.socket, { laddr: r.serverAddr, lport: r.port, raddr: '0.0.0.0', rport: 0 });
      assert.deepEqual(e.accept_queue, { len: 2, max: 1 });
      assert.equal(r.run.facts['backlog'], 1);
      assert.equal(e.owner?.pid, r.run.facts['listener_pid']);
      assert.equal(e.segment?.flags, 'PSH|ACK');
      assert.equal(e.segment?.len, 5);
      assert.ok(stackHasOrLost(e, 'tcp_check_req'), e.stack?.join('\n'));
      // the overflow is the only passive RST; the listener's exit then resets the 2 queued connections
      const passive = r.events.filter((x) => x.kind === 'passive');
      assert.equal(passive.length, 1, json(r.events));
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const o = await acceptOverflow(lab, family, port, true, cast);
        const err = await o.third.waitFor('error');
        await o.stopListener();
        return {
          story: `a listener (pid ${o.listenerPid}, backlog ${o.backlog}) never accept()s; with tcp_abort_on_overflow=1 the handshake ACK of the third connection, arriving with its first data while the accept queue is full, is answered with an RST`,
          clientSaw: `third client: connect() succeeded, its first write then failed: ${clientError(err)}`,
          primary: { netns: lab.server.netns, direction: 'sent', kind: 'passive', port },
          facts: { listener_pid: o.listenerPid, backlog: o.backlog },
          clientPort: o.clientPort,
        };
      }),
  },
  {
    name: 'accept-overflow-silent',
    title: 'the accept queue overflows with net.ipv4.tcp_abort_on_overflow=0 (the default)',
    families: [4],
    expectedCause: 'accept-queue-overflow-silent',
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      const quiet = r.run.quietUntilMono;
      assert.ok(quiet !== undefined, 'the case returns the end of its quiet window');
      const early = r.events.filter((x) => x.direction === 'sent' && x.netns === r.lab.server.netns && x.mono_ns < quiet);
      assert.deepEqual(early, [], 'no RST from the server while the accept queue overflowed');
      assert.ok(e.mono_ns > quiet);
      assertPassiveFrom(r, e, 'TCP_FLAGS', 'LISTEN');
      assertServerTuple(r, e.packet);
      assert.deepEqual(e.socket, { laddr: r.serverAddr, lport: r.port, raddr: '0.0.0.0', rport: 0 });
      assert.deepEqual(e.accept_queue, { len: 2, max: 1 });
      assert.equal(e.owner?.pid, r.run.facts['listener_pid']);
      assert.equal(e.segment?.len, 5, "a retransmission of the client's data");
      assert.ok(!stackHas(e, 'tcp_check_req'), 'no request sock any more: the segment reached the listener');
      assertClientReceived(r, 'ESTABLISHED');
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const o = await acceptOverflow(lab, family, port, false, cast);
        // The overflow is silent: the request sock stays (marked acked) until
        // its SYN-ACK timer expires; the client's retransmissions are dropped.
        // Quiet until the last moment the request sock was seen.
        let quietUntilMono = monoNow();
        await until(
          'the request sock to expire',
          () => {
            // the moment before ss reads the table: ss may take long (emulated
            // guests), and the sock may expire while it runs
            const asked = monoNow();
            const present = ssLines(lab.server, 'syn-recv', port).length > 0;
            if (present) quietUntilMono = asked;
            return !present;
          },
          8000,
        );
        const err = await o.third.waitFor('error', 15000);
        const resetAfter = Date.now() - o.sentAt;
        await o.stopListener();
        return {
          story: `a listener (pid ${o.listenerPid}, backlog ${o.backlog}) never accept()s; with tcp_abort_on_overflow=0 the third connection's ACK is dropped while the queue is full, its request sock expires (tcp_synack_retries=1), and the client's next retransmission reaches the listener, which answers with an RST`,
          clientSaw: `third client: connect() succeeded; its 5 bytes were retransmitted unanswered for ${(resetAfter / 1000).toFixed(1)} s, then ${clientError(err)}`,
          primary: { netns: lab.server.netns, direction: 'sent', kind: 'passive', port },
          facts: { listener_pid: o.listenerPid, backlog: o.backlog },
          clientPort: o.clientPort,
          quietUntilMono,
        };
      }),
  },
  {
    name: 'keepalive-timeout',
    title: "the peer vanished; the client's keepalive probes go unanswered",
    families: [4],
    expectedCause: 'keepalive-timeout',
    minEvents: 1,
    check: (r) => {
      const e = r.primary;
      assertActiveFrom(r, e, r.lab.client.netns, 'TCP_KEEPALIVE_TIMEOUT', 'ESTABLISHED');
      assertClientTuple(r, e.socket);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.owner?.comm, r.run.facts['comm']);
      assert.ok(stackHasOrLost(e, 'tcp_keepalive_timer'), e.stack?.join('\n'));
      assert.equal(r.events.filter((x) => x.direction === 'received').length, 0, 'the server dropped the RST');
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        // Keepalive set on the socket, as applications do: 1 s idle, then 2
        // probes 1 s apart. (Node's setKeepAlive cannot: its libuv also sets
        // TCP_KEEPINTVL 1 s and TCP_KEEPCNT 10, over the namespace sysctls.)
        const { client, pid, comm, clientPort } = await connectedPair(cast, lab, family, port, (host) =>
          cast.python(lab.client, 'connect-keepalive', { host, port, idle: 1, interval: 1, count: 2 }),
        );
        // the peer vanishes: its namespace drops everything
        lab.nft(
          lab.server,
          `table inet tcpwhy_vanish {
          chain in { type filter hook input priority 0; policy drop; }
          chain out { type filter hook output priority 0; policy drop; }
        }`,
        );
        const t0 = Date.now();
        const err = await client.waitFor('error', 10000);
        return {
          story:
            "the client enables TCP keepalive (1 s idle, 2 probes 1 s apart); the server host then drops every packet, so the probes go unanswered and the client's kernel gives up with an RST",
          clientSaw: `client: idle connection failed after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${clientError(err)}`,
          primary: { netns: lab.client.netns, direction: 'sent', kind: 'active', port },
          facts: { pid, comm },
          clientPort,
        };
      }),
  },
  {
    name: 'peer-restarted',
    title: 'the server lost the connection silently and restarted; the client sends data',
    families: [4],
    expectedCause: 'connection-forgotten',
    minEvents: 3,
    // the nft rule that makes the old server vanish drops its RST on the way out
    unseen: ['close-with-unread-data'],
    check: (r) => {
      const e = r.primary;
      // with a listener on the port, the segment of the forgotten connection reaches it
      assertPassiveFrom(r, e, 'TCP_FLAGS', 'LISTEN');
      assertServerTuple(r, e.packet);
      assert.deepEqual(e.socket, { laddr: r.serverAddr, lport: r.port, raddr: '0.0.0.0', rport: 0 });
      assert.equal(e.owner?.pid, r.run.facts['listener_pid']);
      assert.equal(e.segment?.flags, 'PSH|ACK');
      assert.equal(e.segment?.len, 5);
      assert.ok(stackHasOrLost(e, r.family === 4 ? 'tcp_v4_do_rcv' : 'tcp_v6_do_rcv'));
      // history: the old server's abort (its RST dropped on the way out) on the same connection
      const old = r.events.filter((x) => x.direction === 'sent' && x.kind === 'active');
      assert.equal(old.length, 1, json(r.events));
      assert.equal(old[0]!.reason, r.reason('active', 'TCP_ABORT_ON_CLOSE'));
      assert.equal(old[0]!.owner?.pid, r.run.facts['old_pid']);
      assert.deepEqual(old[0]!.socket, e.packet);
      assertClientReceived(r, 'ESTABLISHED');
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const a = addrs(lab, family);
        const oldServer = cast.node(lab.server, 'listen-unread', { host: a.server, port });
        const oldPid = await pidOf(oldServer, 'listening');
        const client = cast.node(lab.client, 'connect', { host: a.server, port, bytes: 5 });
        const clientPort = await localPort(client);
        await client.waitFor('sent');
        await oldServer.waitFor('accepted');
        await waitUnread(lab.server, port, 5);
        // Nothing the server sends about the end of the connection reaches the client.
        lab.nft(
          lab.server,
          `table inet tcpwhy_mute {
          chain out { type filter hook output priority 0; policy accept; tcp sport ${port} tcp flags & (fin | rst) != 0 drop; }
        }`,
        );
        // Killed holding unread data, its socket is aborted (its RST dropped) and gone at once.
        await oldServer.stop();
        await until('the old connection to be gone', () => ssLines(lab.server, 'all', port).length === 0);
        const newServer = cast.node(lab.server, 'listen-read', { host: a.server, port });
        const newPid = await pidOf(newServer, 'listening');
        lab.nft(lab.server, 'delete table inet tcpwhy_mute');
        client.send('send');
        const err = await client.waitFor('error');
        return {
          story: `the server process (pid ${oldPid}) died and its connection vanished without the client hearing of it; a new server process (pid ${newPid}) listens on port ${port}; the client's next data reaches a host that no longer knows the connection and is answered with an RST`,
          clientSaw: `client: saw no FIN or RST when the server died; its next write failed: ${clientError(err)}`,
          primary: { netns: lab.server.netns, direction: 'sent', kind: 'passive', port },
          facts: { old_pid: oldPid, listener_pid: newPid },
          clientPort,
        };
      }),
  },
  {
    name: 'nat-conntrack-lost',
    title: 'a redirected connection loses its conntrack entry; its next packet is not translated',
    families: [4],
    expectedCause: 'nat-not-applied',
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertPassiveFrom(r, e, 'NO_SOCKET', null);
      assert.equal(r.run.facts['redirected_port'], r.port + 1);
      assert.match(String(r.run.facts['rule']), new RegExp(`dport ${r.port} redirect to :${r.port + 1}`));
      // the untranslated tuple: the original port, where nothing listens
      assertServerTuple(r, e.packet, r.port);
      assert.equal(e.socket, null);
      assert.equal(e.segment?.flags, 'PSH|ACK');
      assert.equal(e.segment?.len, 5);
      assertClientReceived(r, 'ESTABLISHED');
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const a = addrs(lab, family);
        const target = port + 1;
        lab.nft(
          lab.server,
          `table ip tcpwhy_nat {
          chain prerouting { type nat hook prerouting priority dstnat; policy accept; tcp dport ${port} redirect to :${target}; }
        }`,
        );
        const rule = inNs(lab.server.ns, 'nft', ['list', 'chain', 'ip', 'tcpwhy_nat', 'prerouting'])
          .split('\n')
          .map((l) => l.trim())
          .find((l) => l.includes('redirect'));
        if (!rule) throw new Error('the redirect rule is not in the ruleset');
        const server = cast.node(lab.server, 'listen-read', { host: a.server, port: target });
        await server.waitFor('listening');
        const client = cast.node(lab.client, 'connect', { host: a.server, port, bytes: 5 });
        const clientPort = await localPort(client);
        await server.waitFor('data');
        const tracked = () => inNs(lab.server.ns, 'conntrack', ['-L', '-p', 'tcp', '--orig-port-dst', String(port)]);
        if (!tracked().includes(`sport=${target} `)) throw new Error(`no conntrack entry redirecting port ${port} to ${target}`);
        // mid-stream packets without an entry are now INVALID (not picked up again), so not translated
        lab.sysctl(lab.server, 'net.netfilter.nf_conntrack_tcp_loose', 0);
        inNs(lab.server.ns, 'conntrack', ['-D', '-p', 'tcp', '--orig-port-dst', String(port)]);
        client.send('send');
        const err = await client.waitFor('error');
        return {
          story: `the server host redirects port ${port} to ${target}, where the server listens; the connection works until its conntrack entry is deleted (with nf_conntrack_tcp_loose=0); the client's next packet is no longer translated, reaches port ${port}, where nothing listens, and is answered with an RST`,
          clientSaw: `client: connected and sent data fine, then a write failed: ${clientError(err)}`,
          primary: { netns: lab.server.netns, direction: 'sent', kind: 'passive', port },
          facts: { original_port: port, redirected_port: target, rule },
          clientPort,
        };
      }),
  },
  {
    name: 'rst-received',
    title: 'the client receives an RST from the server',
    families: [4, 6],
    expectedCause: 'reset-by-peer',
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assert.equal(e.direction, 'received');
      assert.equal(e.kind, null);
      assert.equal(e.reason, null);
      assert.equal(e.state, 'ESTABLISHED');
      assert.equal(e.netns, r.lab.client.netns);
      assertClientTuple(r, e.socket);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.owner?.comm, r.run.facts['comm']);
      assert.ok(stackHasOrLost(e, 'tcp_reset'));
      const sent = r.events.filter((x) => x.direction === 'sent');
      assert.equal(sent.length, 1);
      assertActiveFrom(r, sent[0]!, r.lab.server.netns, 'TCP_STATE', 'CLOSE');
      assert.deepEqual(sent[0]!.linger, { on: true, seconds: 0 });
      assert.equal(sent[0]!.socket?.rport, e.socket?.lport);
      // no order asserted: the active reset's tracepoint fires after the
      // transmit, and over a veth the peer receives it within that transmit
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const { server, client, pid, comm, clientPort } = await connectedPair(cast, lab, family, port);
        server.send('reset');
        const err = await client.waitFor('error');
        return {
          story: "the server resets the connection (SO_LINGER {on, 0} close); the client's kernel receives the RST and fails the client's socket",
          clientSaw: `client: ${clientError(err)}`,
          primary: { netns: lab.client.netns, direction: 'received', port },
          facts: { pid, comm },
          clientPort,
        };
      }),
  },
  {
    name: 'socket-destroyed',
    title: 'an administrator kills an established connection with ss -K',
    families: [4, 6],
    expectedCause: 'socket-destroyed',
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertActiveFrom(r, e, r.lab.client.netns, 'TCP_STATE', 'ESTABLISHED');
      assertClientTuple(r, e.socket);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.process.comm, 'ss', 'the RST is sent in the task that destroyed the socket');
      assert.ok(stackHasOrLost(e, 'tcp_abort') && stackHasOrLost(e, 'tcp_diag_destroy'), e.stack?.join('\n'));
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const { server, client, pid, comm, clientPort } = await connectedPair(cast, lab, family, port);
        // SOCK_DESTROY through sock_diag, from the client's namespace
        const killed = inNs(lab.client.ns, 'ss', ['-K', '-Htn', 'state', 'established', `( dport = :${port} )`]);
        if (!killed.trim()) throw new Error(`ss -K found no connection to port ${port}`);
        const [clientErr, serverErr] = await Promise.all([client.waitFor('error'), server.waitFor('error')]);
        return {
          story: `\`ss -K\` destroys the client's established connection (pid ${pid}) through sock_diag: its kernel aborts it with an RST`,
          clientSaw: `client: ${clientError(clientErr)}; server: ${clientError(serverErr)}`,
          primary: { netns: lab.client.netns, direction: 'sent', kind: 'active', port },
          facts: { pid, comm },
          clientPort,
        };
      }),
  },
  {
    name: 'fin-wait2-linger-negative',
    title: 'close() in FIN_WAIT2 with TCP_LINGER2 = -1',
    families: [4, 6],
    expectedCause: 'fin-wait2-linger-negative',
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertActiveFrom(r, e, r.lab.client.netns, 'TCP_ABORT_ON_LINGER', 'CLOSE');
      assertClientTuple(r, e.socket);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.process.pid, r.run.facts['pid']);
      assert.ok(stackHasOrLost(e, '__tcp_close') && !stackHas(e, 'tcp_disconnect'), e.stack?.join('\n'));
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const a = addrs(lab, family);
        // the server's kernel completes the handshake and acks the FIN; nobody accepts, so it never closes its side
        const server = cast.python(lab.server, 'listen-backlog', { host: a.server, port, backlog: 8 });
        await server.waitFor('listening');
        const client = cast.python(lab.client, 'linger2-close', { host: a.server, port });
        const pid = await pidOf(client, 'connected');
        const comm = commOf(pid);
        const clientPort = await localPort(client);
        client.send('close');
        const closed = await client.waitFor('closed');
        if (closed['stateBeforeClose'] !== 5) throw new Error(`the client socket was not in FIN_WAIT2 at close(): ${JSON.stringify(closed)}`);
        return {
          story: `the client (pid ${pid}) sets TCP_LINGER2 to -1, shuts down its sending side and, once its FIN is acked (FIN_WAIT2), closes: instead of waiting for the peer's FIN its kernel aborts the connection with an RST`,
          clientSaw: 'client: close() returned at once; the server side (never accepted) was reset',
          primary: { netns: lab.client.netns, direction: 'sent', kind: 'active', port },
          facts: { pid, comm },
          clientPort,
        };
      }),
  },
  {
    name: 'listener-closed-with-pending',
    title: 'a listener closes with connections still waiting in its accept queue',
    families: [4, 6],
    expectedCause: 'listener-closed-with-pending',
    minEvents: 4,
    check: (r) => {
      const resets = r.events.filter((x) => x.direction === 'sent');
      assert.equal(resets.length, 2, json(r.events));
      for (const e of resets) {
        assertActiveFrom(r, e, r.lab.server.netns, 'TCP_STATE', 'CLOSE');
        assert.equal(e.socket?.lport, r.port);
        assert.equal(e.owner?.pid, r.run.facts['pid'], "queued connections belong to the listener's process");
        assert.equal(e.process.pid, r.run.facts['pid']);
        assert.ok(stackHasOrLost(e, 'inet_csk_listen_stop') && stackHasOrLost(e, 'tcp_disconnect'), e.stack?.join('\n'));
      }
      assert.equal(r.primary, resets.at(-1));
    },
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const a = addrs(lab, family);
        const listener = cast.python(lab.server, 'listen-backlog', { host: a.server, port, backlog: 8 });
        const pid = await pidOf(listener, 'listening');
        const comm = commOf(pid);
        const clients = [0, 1].map(() => cast.node(lab.client, 'connect', { host: a.server, port }));
        await Promise.all(clients.map((c) => c.waitFor('connected')));
        await until('two connections in the accept queue', () => acceptQueueLen(lab.server, port) === 2);
        listener.send('close');
        await listener.waitFor('closed');
        const errs = await Promise.all(clients.map((c) => c.waitFor('error')));
        return {
          story: `a listener (${comm}, pid ${pid}) closes with 2 established connections it never accepted: its kernel resets each of them`,
          clientSaw: `clients: connect() succeeded, then ${errs.map(clientError).join(' and ')}`,
          primary: { netns: lab.server.netns, direction: 'sent', kind: 'active', port },
          facts: { pid, comm },
        };
      }),
  },
];

export function labCase(name: string): LabCase {
  const c = CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no lab case ${name}`);
  return c;
}
