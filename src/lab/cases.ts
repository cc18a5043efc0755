// The lab cases: one real TCP reset per known cause. Each case gets a fresh
// Lab (created and destroyed by the runner, which also runs the watcher on the
// lab's two namespaces), starts real processes in it, provokes one failure and
// tells what happened: the story, what the applications saw, which event is
// the verdict's and the facts the verdict's evidence must name.
//
// Everything a case changes (sysctls, nft tables, conntrack entries) lives in
// the lab's namespaces and goes away with them. Waits are on the processes'
// own reports or on bounded polls of the kernel's socket tables (ss), never
// blind sleeps.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../paths.js';
import { inNs, labAddrs, type Family, type Lab, type LabHost } from './netns.js';
import { Actor, waitUnread } from './scenarios.js';

export type { Family };

export interface CaseRun {
  story: string; // what happened, 1-2 sentences, for the demo
  clientSaw: string; // what the applications saw (errno, timeouts ...)
  /** Selects the event(s) whose diagnosis is this case's verdict: the LAST event matching. */
  primary: { netns: number; direction: 'sent' | 'received'; kind?: 'active' | 'passive'; port?: number };
  /** Facts the verdict's evidence must name, for the runner to check, e.g. { pid: 1234, comm: 'node', unread_bytes: 5, listener_pid: 77, rule: 'redirect' }. Values are what the case KNOWS happened. */
  facts: Record<string, string | number>;
  /** sent RSTs that must NOT happen (for the overflow with tcp_abort_on_overflow=0: none during the overflow) — optional: the number of sent RSTs allowed from the server netns before `primary`, if the case needs it */
  notes?: string[];
  /**
   * CLOCK_MONOTONIC ns (process.hrtime.bigint() as a number, the clock of the
   * events' mono_ns): the server must have sent no RST before this moment in
   * this case (accept-overflow-silent: the overflow itself is silent).
   */
  quietUntilMono?: number;
  /** The client's port of the connection the primary event is about, when the case knows it. */
  clientPort?: number;
}

export interface LabCase {
  name: string; // kebab-case, e.g. 'closed-port'
  title: string; // one line
  families: Family[]; // [4, 6] where both make sense, else [4]
  expectedCause: string; // cause id from the catalogue
  run(lab: Lab, family: Family, port: number): Promise<CaseRun>;
}

// Python actor for what Node cannot do (a listener that never accepts, TCP_LINGER2):
// run from the source tree, which ships with the package (tsc does not copy it to dist).
const pyActorPath = path.join(packageRoot, 'src', 'lab', 'actor.py');

/** The actors a case starts; all of them are stopped when the case ends, however it ends. */
class Cast {
  private readonly actors: Actor[] = [];

  constructor(private readonly lab: Lab) {}

  node(host: LabHost, role: string, args: Record<string, unknown>): Actor {
    const a = Actor.start(this.lab, host, role, args);
    this.actors.push(a);
    return a;
  }

  python(host: LabHost, role: string, args: Record<string, unknown>): Actor {
    const a = new Actor(this.lab.spawn(host, 'python3', [pyActorPath, role, JSON.stringify(args)]));
    this.actors.push(a);
    return a;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.actors.map((a) => a.stop()));
  }
}

async function withCast<T>(lab: Lab, body: (cast: Cast) => Promise<T>): Promise<T> {
  const cast = new Cast(lab);
  try {
    return await body(cast);
  } finally {
    await cast.stopAll();
  }
}

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

/** Polls `check` every 20 ms until it is true, for at most timeoutMs. */
async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

const monoNow = (): number => Number(process.hrtime.bigint());

/** ss -t lines for local port `port` in the given state filter (e.g. 'listening', 'syn-recv', 'established'). */
function ssLines(host: LabHost, state: string, port: number): string[] {
  return inNs(host.ns, 'ss', ['-Htn', 'state', state, `( sport = :${port} )`])
    .split('\n')
    .filter((l) => l.trim());
}

/** Connections waiting in the accept queue of the listener on `port` (its ss Recv-Q). */
function acceptQueueLen(host: LabHost, port: number): number {
  const l = ssLines(host, 'listening', port)[0];
  return l ? Number(l.trim().split(/\s+/)[0]) : -1;
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

  lab.nft(lab.client, `table inet tcpwhy_hold_acks {
    chain out { type filter hook output priority 0; policy accept; tcp dport ${port} tcp flags == ack drop; }
  }`);
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
        };
      }),
  },
  {
    name: 'listener-exited',
    title: 'the server process exited; a client connects to its old port',
    families: [4],
    expectedCause: 'listener-gone',
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
          story: 'the client sends 5 bytes; the server application closes its socket without reading them, so its kernel aborts the connection with an RST (RFC 2525, 2.17)',
          clientSaw: `client: ${clientError(err)}`,
          primary: { netns: lab.server.netns, direction: 'sent', kind: 'active', port },
          facts: { pid, comm: commOf(pid), unread_bytes: 5 },
          clientPort,
        };
      }),
  },
  {
    name: 'linger-zero',
    title: 'the client closes with SO_LINGER {on, 0}',
    families: [4, 6],
    expectedCause: 'linger-zero-close',
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
        };
      }),
  },
  {
    name: 'data-after-close',
    title: 'the client sends data after the server closed the connection',
    families: [4],
    expectedCause: 'data-after-close',
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
          story: 'the server application closes its connection (a FIN, nothing unread); the client, half-open, then sends 5 bytes, which the closed socket cannot take: the server\'s kernel answers with an RST',
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
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const o = await acceptOverflow(lab, family, port, false, cast);
        // The overflow is silent: the request sock stays (marked acked) until
        // its SYN-ACK timer expires; the client's retransmissions are dropped.
        // Quiet until the last moment the request sock was seen.
        let quietUntilMono = monoNow();
        await until('the request sock to expire', () => {
          const present = ssLines(lab.server, 'syn-recv', port).length > 0;
          if (present) quietUntilMono = monoNow();
          return !present;
        }, 8000);
        const expiredAfter = Date.now() - o.sentAt;
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
          notes: [
            `no RST from the server while the queue overflowed: the request sock expired ${expiredAfter} ms after the write, the RST came ${resetAfter} ms after it`,
          ],
        };
      }),
  },
  {
    name: 'keepalive-timeout',
    title: 'the peer vanished; the client\'s keepalive probes go unanswered',
    families: [4],
    expectedCause: 'keepalive-timeout',
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        // Keepalive set on the socket, as applications do: 1 s idle, then 2
        // probes 1 s apart. (Node's setKeepAlive cannot: its libuv also sets
        // TCP_KEEPINTVL 1 s and TCP_KEEPCNT 10, over the namespace sysctls.)
        const { client, pid, comm, clientPort } = await connectedPair(cast, lab, family, port, (host) =>
          cast.python(lab.client, 'connect-keepalive', { host, port, idle: 1, interval: 1, count: 2 }),
        );
        // the peer vanishes: its namespace drops everything
        lab.nft(lab.server, `table inet tcpwhy_vanish {
          chain in { type filter hook input priority 0; policy drop; }
          chain out { type filter hook output priority 0; policy drop; }
        }`);
        const t0 = Date.now();
        const err = await client.waitFor('error', 10000);
        return {
          story: 'the client enables TCP keepalive (1 s idle, 2 probes 1 s apart); the server host then drops every packet, so the probes go unanswered and the client\'s kernel gives up with an RST',
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
        lab.nft(lab.server, `table inet tcpwhy_mute {
          chain out { type filter hook output priority 0; policy accept; tcp sport ${port} tcp flags & (fin | rst) != 0 drop; }
        }`);
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
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const a = addrs(lab, family);
        const target = port + 1;
        lab.nft(lab.server, `table ip tcpwhy_nat {
          chain prerouting { type nat hook prerouting priority dstnat; policy accept; tcp dport ${port} redirect to :${target}; }
        }`);
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
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const { server, client, pid, comm, clientPort } = await connectedPair(cast, lab, family, port);
        server.send('reset');
        const err = await client.waitFor('error');
        return {
          story: 'the server resets the connection (SO_LINGER {on, 0} close); the client\'s kernel receives the RST and fails the client\'s socket',
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
