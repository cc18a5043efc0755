// The loss lab: situations where TCP segments vanish (a firewall, a full
// accept queue, a lossy link, a closed window, a reverse-path filter, an MTU
// black hole), each made real in network namespaces, with what the
// application saw and the kernel counters that witness it. They are what the
// live tool must explain: the drops, retransmissions and errors each one makes are for the
// watcher to name (the kernel's reasons differ between 6.1 and 6.18).
//
// Each scenario bounds itself to a few seconds: a connect gives up after one
// SYN retransmission (TCP_SYNCNT 1: ETIMEDOUT at 3 s on 6.1 and 6.18 alike), a
// send after TCP_USER_TIMEOUT. Everything a scenario changes lives in its
// lab's namespaces and goes away with them; its processes stop when it ends.
import { readFileSync } from 'node:fs';
import { type Actor, type Cast, withCast } from './cast.js';
import { type Counters, counterDeltas, readCounters } from './counters.js';
import { type Family, inNs, ip, Lab, labAddrs, type LabHost } from './netns.js';
import { routerAddrs, RouterLab } from './router.js';
import { acceptQueueLen, ssLines, until } from './ss.js';

export type { Family };

export interface Party {
  netns: number;
  pid?: number;
  comm?: string;
  port?: number;
}

export interface LossRun {
  story: string;
  clientSaw: string; // e.g. 'connect() failed: ETIMEDOUT after 3.1 s'
  client: Party;
  server: Party & { port: number };
  /** the router's namespace, in the scenarios with one */
  router?: { netns: number };
  /** kernel counter deltas that witness it, per namespace ('client', 'server', 'router'): e.g. { server: { ListenOverflows: 3 } } */
  witness: Record<string, Record<string, number>>;
  /** what the case knows the verdict must name: e.g. { rule: 'tcp dport 7000 drop' } */
  facts: Record<string, string | number>;
}

interface Common {
  name: string; // kebab-case
  title: string;
  families: Family[];
}

/** A scenario on the two-host lab (client and server on one link). */
export interface PairScenario extends Common {
  topology: 'pair';
  run(lab: Lab, family: Family, port: number): Promise<LossRun>;
}

/** A scenario that needs a router between client and server. */
export interface RouterScenario extends Common {
  topology: 'router';
  run(lab: RouterLab, family: Family, port: number): Promise<LossRun>;
}

export type LossScenario = PairScenario | RouterScenario;

type Hosts = Record<string, LabHost>;

/** Which counters of which host witness a scenario, read before and after it. */
class Witness {
  private readonly before: Record<string, Counters>;

  constructor(
    private readonly hosts: Hosts,
    private readonly names: Record<string, readonly string[]>,
  ) {
    this.before = Object.fromEntries(Object.keys(names).map((h) => [h, readCounters(hosts[h]!)]));
  }

  /** The current delta of one counter (for scenarios that wait for the kernel to count). */
  delta(host: string, name: string): number {
    return (readCounters(this.hosts[host]!)[name] ?? 0) - (this.before[host]![name] ?? 0);
  }

  deltas(): Record<string, Counters> {
    return Object.fromEntries(Object.entries(this.names).map(([h, names]) => [h, counterDeltas(this.before[h]!, readCounters(this.hosts[h]!), names)]));
  }
}

function commOf(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

async function party(actor: Actor, host: LabHost, firstEvent: string): Promise<Party & { pid: number; comm: string }> {
  const pid = Number((await actor.waitFor(firstEvent))['pid']);
  return { netns: host.netns, pid, comm: commOf(pid) };
}

/** The port a python actor bound before connecting (reported as "bound"). */
async function boundPort(actor: Actor): Promise<number> {
  return Number((await actor.waitFor('bound'))['localPort']);
}

const seconds = (ms: unknown) => `${(Number(ms) / 1000).toFixed(1)} s`;

/**
 * Loads one nft table with one filter chain (`hook`) holding `rule`, and
 * returns the rule as nft prints it back: the text a verdict naming the rule
 * shows (nft normalises what it was given).
 */
function loadRule(lab: { nft(h: LabHost, s: string): string }, host: LabHost, table: string, hook: 'input' | 'output', rule: string): string {
  lab.nft(host, `table inet ${table} {\n  chain filter_${hook} {\n    type filter hook ${hook} priority 0; policy accept;\n    ${rule}\n  }\n}\n`);
  const listed = inNs(host.ns, 'nft', ['list', 'chain', 'inet', table, `filter_${hook}`]);
  const rules = listed
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(table|chain|type)\b/.test(l) && l !== '}');
  if (rules.length !== 1) throw new Error(`expected one rule in inet ${table}, nft listed: ${listed}`);
  return rules[0]!;
}

/** A listener that accepts and reads everything (node `sink`), as the far end of a transfer. */
/** A party as a case names it: its process, namespace and port. */
function partyAt(p: { netns: number; pid: number; comm: string }, port: number) {
  return { netns: p.netns, pid: p.pid, comm: p.comm, port };
}

async function sink(cast: Cast, host: LabHost, addr: string, port: number) {
  const server = cast.node(host, 'sink', { host: addr, port });
  return { actor: server, ...(await party(server, host, 'listening')), port };
}

/**
 * A connect that cannot complete: one SYN retransmission (TCP_SYNCNT 1), so the
 * kernel gives up with ETIMEDOUT about 3 s after the first SYN.
 */
async function boundedConnect(cast: Cast, host: LabHost, addr: string, port: number, bind?: string) {
  const client = cast.python(host, 'connect-bounded', { host: addr, port, syncnt: 1, ...(bind ? { bind } : {}) });
  const who = await party(client, host, 'bound');
  const clientPort = await boundPort(client);
  const outcome = await client.waitFor(['connected', 'error']);
  return { who: { ...who, port: clientPort }, outcome };
}

function connectSaw(outcome: Record<string, unknown>): string {
  return outcome['event'] === 'error'
    ? `connect() failed: ${String(outcome['code'])} after ${seconds(outcome['ms'])}`
    : `connect() succeeded after ${seconds(outcome['ms'])}`;
}

/**
 * A listener the server's firewall keeps the client from (nft, input hook):
 * `verdict` is what the rule does with the SYNs; the client connects once.
 */
function firewalled(name: string, title: string, verdict: string, witness: string[], story: (port: number) => string): PairScenario {
  return {
    name,
    title,
    families: [4, 6],
    topology: 'pair',
    run: (lab, family, port) =>
      withCast(lab, async (cast) => {
        const a = labAddrs(lab, family);
        // a listener is there: only the rule keeps the client out
        const server = await sink(cast, lab.server, a.server, port);
        const rule = loadRule(lab, lab.server, 'tcpwhy_fw', 'input', `tcp dport ${port} ${verdict}`);
        const w = new Witness({ client: lab.client, server: lab.server }, { client: witness });
        const { who, outcome } = await boundedConnect(cast, lab.client, a.server, port);
        return {
          story: story(port),
          clientSaw: connectSaw(outcome),
          client: who,
          server: partyAt(server, port),
          witness: w.deltas(),
          facts: { rule, table: 'inet tcpwhy_fw', error: String(outcome['code']) },
        };
      }),
  };
}

const firewallDrop = firewalled(
  'firewall-drop',
  "the server's firewall drops SYNs to the port: connect() times out",
  'drop',
  ['TCPSynRetrans', 'AttemptFails'],
  (port) =>
    `The server's firewall (nft, input hook) drops every SYN to port ${port}; the listener never sees one and the client's SYNs go unanswered until connect() gives up.`,
);

const firewallReject = firewalled(
  'firewall-reject',
  "the server's firewall rejects SYNs with a TCP reset: connection refused",
  'reject with tcp reset',
  ['AttemptFails'],
  (port) =>
    `The server's firewall answers every SYN to port ${port} with an RST it builds itself (reject with tcp reset) and drops the SYN: the listener, which is there, never sees it.`,
);

/**
 * The listener (backlog 1) never accepts, and the kernel is told to drop what
 * overflows its queue silently (tcp_abort_on_overflow 0). Connection 1 fills
 * the queue halfway; connections 2 and 3 open while the client's pure ACKs are
 * held back (nft in the client namespace), so both SYNs are answered and wait
 * as request socks. Then 2's data makes it a child (queue full) and 3's data
 * ACK finds the queue full: dropped (TCP_LISTEN_OVERFLOW on 6.11+), and the
 * server retransmits its SYN-ACK (tcp_synack_retries 1). A 4th client's SYNs
 * are dropped while the queue is full, without a drop event (the kernel
 * consumes them): its connect() times out.
 */
const acceptQueueFull: PairScenario = {
  name: 'accept-queue-full',
  title: 'a listener that never accepts: its full accept queue drops handshakes silently',
  families: [4, 6],
  topology: 'pair',
  run: (lab, family, port) =>
    withCast(lab, async (cast) => {
      const a = labAddrs(lab, family);
      const backlog = 1;
      lab.sysctl(lab.server, 'net.ipv4.tcp_abort_on_overflow', 0);
      lab.sysctl(lab.server, 'net.ipv4.tcp_synack_retries', 1);
      const w = new Witness(
        { client: lab.client, server: lab.server },
        { server: ['ListenOverflows', 'ListenDrops', 'TCPSynRetrans'], client: ['TCPSynRetrans'] },
      );
      const listener = cast.python(lab.server, 'listen-backlog', { host: a.server, port, backlog });
      const server = await party(listener, lab.server, 'listening');
      const first = cast.node(lab.client, 'connect', { host: a.server, port });
      await first.waitFor('connected');
      await until('the first connection in the accept queue', () => acceptQueueLen(lab.server, port) === 1);

      const hold = 'tcpwhy_hold_acks';
      loadRule(lab, lab.client, hold, 'output', `tcp dport ${port} tcp flags == ack drop`);
      const second = cast.node(lab.client, 'connect', { host: a.server, port });
      const third = cast.node(lab.client, 'connect', { host: a.server, port });
      await Promise.all([second.waitFor('connected'), third.waitFor('connected')]);
      await until('two request socks (SYN-RECV)', () => ssLines(lab.server, 'syn-recv', port).length === 2);
      lab.nft(lab.client, `delete table inet ${hold}`);
      second.send('send');
      await second.waitFor('sent-1');
      await until('the accept queue full (2 connections, backlog 1)', () => acceptQueueLen(lab.server, port) === 2);
      const overflowedPort = Number((await third.waitFor('connected'))['localPort']);
      third.send('send');
      await third.waitFor('sent-1');

      const late = await boundedConnect(cast, lab.client, a.server, port);
      // the overflowed request's SYN-ACK is retransmitted 1 s after its SYN-ACK: by now
      await until("the server's SYN-ACK retransmission", () => w.delta('server', 'TCPSynRetrans') > 0, 3000);
      return {
        story: `A listener on port ${port} (backlog ${backlog}) never accepts. With tcp_abort_on_overflow=0 the kernel drops what overflows its accept queue without a word: the handshake ACK of client port ${overflowedPort} (whose connect() had succeeded) is dropped and the server retransmits its SYN-ACK; a later client's SYNs are dropped until its connect() gives up.`,
        clientSaw: `client port ${overflowedPort}: connect() and write() succeeded, nothing came back; client port ${late.who.port}: ${connectSaw(late.outcome)}`,
        client: late.who,
        server: partyAt(server, port),
        witness: w.deltas(),
        facts: { backlog, overflowedPort, timedOutPort: late.who.port, listenerPid: server.pid, error: String(late.outcome['code']) },
      };
    }),
};

/** Bytes the transfer scenarios move: enough for hundreds of segments, done in about a second. */
// veth moves up to 64 KB per packet: 2 MB is about 32 of them, of which a
// quarter dropped leaves none dropped once in ten thousand runs
const BULK_BYTES = 2_000_000;

/**
 * A transfer of `bytes` to a sink: done when the sink has read them all and
 * seen the end (the writer's own "done" only means the kernel took the bytes).
 */
async function bulk(cast: Cast, host: LabHost, addr: string, port: number, bytes: number, sinkActor: Actor) {
  const client = cast.node(host, 'bulk', { host: addr, port, bytes });
  const who = await party(client, host, 'connected');
  const clientPort = Number((await client.waitFor('connected'))['localPort']);
  // emulated guests (the kernel matrix) run a lossy transfer many times slower
  const done = await client.waitFor(['done', 'error'], 120_000);
  if (done['event'] === 'error') throw new Error(`the transfer failed: ${String(done['code'])}`);
  const drained = Number((await sinkActor.waitFor('drained', 120_000))['bytes']);
  if (drained !== bytes) throw new Error(`the sink read ${drained} of ${bytes} bytes`);
  return { who: { ...who, port: clientPort } };
}

const lossyLink: PairScenario = {
  name: 'lossy-link',
  title: 'a link that loses a quarter of the data: retransmissions',
  families: [4, 6],
  topology: 'pair',
  run: (lab, family, port) =>
    withCast(lab, async (cast) => {
      const a = labAddrs(lab, family);
      const server = await sink(cast, lab.server, a.server, port);
      // this kernel has no netem: a random quarter of the data (not the handshake) dies at the server's input
      const rule = loadRule(lab, lab.server, 'tcpwhy_lossy', 'input', `tcp dport ${port} meta length > 200 numgen random mod 100 < 25 drop`);
      const w = new Witness({ client: lab.client, server: lab.server }, { client: ['RetransSegs', 'TCPFastRetrans'] });
      const { who } = await bulk(cast, lab.client, a.server, port, BULK_BYTES, server.actor);
      const witness = w.deltas();
      return {
        story: `A client sends ${BULK_BYTES / 1e6} MB to port ${port} over a link that loses about 25 % of the data packets (an nft numgen rule on the server's input): the sender retransmits, mostly fast retransmits, and the transfer completes.`,
        clientSaw: `all ${BULK_BYTES} bytes arrived, ${witness['client']!['RetransSegs']} segments retransmitted on the way`,
        client: who,
        server: partyAt(server, port),
        witness,
        facts: { rule, table: 'inet tcpwhy_lossy', lossPercent: 25 },
      };
    }),
};

/** Packets a qdisc dropped, from `tc -s qdisc` (the kernel keeps no nstat counter of them). */
function qdiscDropped(host: LabHost, dev: string): number {
  const out = inNs(host.ns, 'tc', ['-s', 'qdisc', 'show', 'dev', dev]);
  return Number(/dropped (\d+)/.exec(out)?.[1] ?? 0);
}

const qdiscOverflow: PairScenario = {
  name: 'qdisc-overflow',
  title: "the sender's own queue discipline overflows: local drops and retransmissions",
  families: [4, 6],
  topology: 'pair',
  run: (lab, family, port) =>
    withCast(lab, async (cast) => {
      const a = labAddrs(lab, family);
      const server = await sink(cast, lab.server, a.server, port);
      // A bucket under two segments: tbf splits every multi-segment packet
      // (GSO) and drops the parts its 10 kB queue cannot hold, while TCP
      // counts the packet sent, so it retransmits them. A packet refused whole
      // is sent again as new data, not retransmitted: with a 5 kB bucket a slow
      // host's two-segment packets (2.9 kB) went through whole or not at all,
      // and RetransSegs could stay at 0.
      const qdisc = 'tbf rate 8mbit burst 2kb limit 10kb';
      inNs(lab.client.ns, 'tc', ['qdisc', 'add', 'dev', 'veth0', 'root', ...qdisc.split(' ')]);
      const bytes = 1_000_000;
      const w = new Witness({ client: lab.client, server: lab.server }, { client: ['RetransSegs'] });
      const { who } = await bulk(cast, lab.client, a.server, port, bytes, server.actor);
      const witness = w.deltas();
      witness['client']!['QdiscDropped'] = qdiscDropped(lab.client, 'veth0');
      return {
        story: `The client's link has a token bucket (${qdisc}) whose queue holds 10 kB: a ${bytes / 1e6} MB transfer to port ${port} overflows it, the qdisc drops segments on the client itself, and TCP retransmits them.`,
        clientSaw: `all ${bytes} bytes arrived, ${witness['client']!['RetransSegs']} segments retransmitted on the way`,
        client: who,
        server: partyAt(server, port),
        witness,
        facts: { qdisc: 'tbf', dev: 'veth0' },
      };
    }),
};

const zeroWindow: PairScenario = {
  name: 'zero-window',
  title: 'a receiver that stops reading: zero window, the sender probes',
  families: [4, 6],
  topology: 'pair',
  run: (lab, family, port) =>
    withCast(lab, async (cast) => {
      const a = labAddrs(lab, family);
      const w = new Witness({ client: lab.client, server: lab.server }, { client: ['TCPWinProbe'], server: ['TCPToZeroWindowAdv'] });
      const receiver = cast.node(lab.server, 'listen-unread', { host: a.server, port });
      const server = await party(receiver, lab.server, 'listening');
      const sender = cast.python(lab.client, 'fill', { host: a.server, port, stallMs: 500 });
      const who = await party(sender, lab.client, 'bound');
      const clientPort = await boundPort(sender);
      const blocked = await sender.waitFor('blocked');
      // persist probes back off from the RTO (200 ms and up): two within ~1 s
      await until('two zero-window probes', () => w.delta('client', 'TCPWinProbe') >= 2, 5000);
      const unread = Number(
        inNs(lab.server.ns, 'ss', ['-Htn', 'state', 'established', `( sport = :${port} )`])
          .trim()
          .split(/\s+/)[0],
      );
      return {
        story: `The server on port ${port} accepts and never reads: its receive buffer fills, it advertises a zero window, the client's send buffer fills behind it and the client's kernel sends window probes.`,
        clientSaw: `writes stalled after ${String(blocked['bytes'])} bytes (the socket stays writable-blocked); no error`,
        client: { ...who, port: clientPort },
        server: partyAt(server, port),
        witness: w.deltas(),
        facts: { receiverPid: server.pid, unreadBytes: unread, sentBytes: Number(blocked['bytes']) },
      };
    }),
};

/** Where the rp-filter client's packets claim to come from: routed elsewhere by the server. */
const SPOOFED = '203.0.113.1';

const rpFilter: PairScenario = {
  name: 'rp-filter',
  title: 'strict reverse-path filtering drops SYNs from a source routed elsewhere',
  families: [4], // IPv6 has no rp_filter sysctl (only nft fib rules)
  topology: 'pair',
  run: (lab, _family, port) =>
    withCast(lab, async (cast) => {
      const a = labAddrs(lab, 4);
      ip('-n', lab.client.ns, 'addr', 'add', `${SPOOFED}/32`, 'dev', 'veth0');
      // ARP from the client must use its link address: the server's rp_filter
      // checks an ARP request's sender too, and would leave it unanswered
      for (const dev of ['all', 'veth0']) lab.sysctl(lab.client, `net.ipv4.conf.${dev}.arp_announce`, 2);
      // the server routes SPOOFED out of another link (a veth pair inside its namespace: no dummy module here)
      ip('-n', lab.server.ns, 'link', 'add', 'rpf0', 'type', 'veth', 'peer', 'name', 'rpf1');
      for (const dev of ['rpf0', 'rpf1']) ip('-n', lab.server.ns, 'link', 'set', dev, 'up');
      ip('-n', lab.server.ns, 'route', 'add', '203.0.113.0/24', 'dev', 'rpf0');
      for (const dev of ['all', 'default', 'veth1']) lab.sysctl(lab.server, `net.ipv4.conf.${dev}.rp_filter`, 1);
      const server = await sink(cast, lab.server, a.server, port);
      const w = new Witness({ client: lab.client, server: lab.server }, { server: ['IPReversePathFilter'], client: ['TCPSynRetrans'] });
      const { who, outcome } = await boundedConnect(cast, lab.client, a.server, port, SPOOFED);
      return {
        story: `The client connects to port ${port} from ${SPOOFED}, which the server routes out of another link (rpf0); with rp_filter=1 (strict) the server drops every SYN that arrives on veth1.`,
        clientSaw: connectSaw(outcome),
        client: who,
        server: partyAt(server, port),
        witness: w.deltas(),
        facts: { source: SPOOFED, arrivedOn: 'veth1', routedVia: 'rpf0', error: String(outcome['code']) },
      };
    }),
};

/** The router's link towards the server: smaller than both ends' 1500. */
const SMALL_MTU = 1280;

const mtuBlackHole: RouterScenario = {
  name: 'mtu-black-hole',
  title: 'an MTU black hole: the "too big" ICMP is filtered, large segments vanish',
  families: [4, 6],
  topology: 'router',
  run: (lab, family, port) =>
    withCast(lab, async (cast) => {
      const a = routerAddrs(lab, family);
      ip('-n', lab.router.ns, 'link', 'set', lab.router.toServer, 'mtu', String(SMALL_MTU));
      // no probing of its own: the client depends on the ICMP it filters
      lab.sysctl(lab.client, 'net.ipv4.tcp_mtu_probing', 0);
      const icmp = family === 4 ? 'icmp type destination-unreachable icmp code frag-needed drop' : 'icmpv6 type packet-too-big drop';
      const rule = loadRule(lab, lab.client, 'tcpwhy_pmtu', 'input', icmp);
      const server = await sink(cast, lab.server, a.server, port);
      const w = new Witness(
        { client: lab.client, router: lab.router, server: lab.server },
        { router: [family === 4 ? 'IpFragFails' : 'Ip6FragFails'], client: ['RetransSegs', 'TCPAbortOnTimeout'] },
      );
      const bytes = 100_000;
      const userTimeoutMs = 3000;
      const client = cast.python(lab.client, 'connect-bounded', { host: a.server, port, bytes, userTimeoutMs });
      const who = await party(client, lab.client, 'bound');
      const clientPort = await boundPort(client);
      const connected = await client.waitFor('connected');
      const outcome = await client.waitFor('error', userTimeoutMs + 10_000);
      return {
        story: `The router's link towards the server has MTU ${SMALL_MTU}. The handshake passes, but the client's full-size data segments are too big for it: the router drops them and says so in ICMP, which the client's firewall drops, so the client keeps retransmitting segments that cannot pass until TCP_USER_TIMEOUT (${userTimeoutMs} ms) ends the connection.`,
        clientSaw: `connect() succeeded after ${seconds(connected['ms'])}; sending ${bytes} bytes failed: ${String(outcome['code'])} after ${seconds(outcome['ms'])}`,
        client: { ...who, port: clientPort },
        server: partyAt(server, port),
        router: { netns: lab.router.netns },
        witness: w.deltas(),
        facts: { rule, table: 'inet tcpwhy_pmtu', mtu: SMALL_MTU, routerLink: lab.router.toServer, error: String(outcome['code']) },
      };
    }),
};

export const LOSS_SCENARIOS: LossScenario[] = [firewallDrop, firewallReject, acceptQueueFull, lossyLink, qdiscOverflow, zeroWindow, rpFilter, mtuBlackHole];

export function lossScenario(name: string): LossScenario {
  const s = LOSS_SCENARIOS.find((c) => c.name === name);
  if (!s) throw new Error(`no loss scenario named ${name}`);
  return s;
}

/** A fresh lab of the scenario's topology, its namespaces (to watch) and the scenario bound to it. */
export interface LossLab {
  netns: number[];
  run(family: Family, port: number): Promise<LossRun>;
  destroy(): void;
}

export function createLossLab(s: LossScenario, tag = 'loss'): LossLab {
  if (s.topology === 'router') {
    const lab = RouterLab.create(tag);
    return { netns: lab.hosts.map((h) => h.netns), run: (f, p) => s.run(lab, f, p), destroy: () => lab.destroy() };
  }
  const lab = Lab.create(tag);
  return { netns: [lab.client.netns, lab.server.netns], run: (f, p) => s.run(lab, f, p), destroy: () => lab.destroy() };
}
