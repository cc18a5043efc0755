// Run by test/unit/heap-bounds.test.ts in a child node with watch's heap flags
// (bin/tcpwhy) plus --expose-gc: fills every bounded table of user space to its
// bound and twice past it, all of them at once, with entries as real ones are
// (stacks of kernel frames, namespaces' counters and rules, process names),
// and prints one JSON line: the heap limit, the peak heap used, and what each
// table retains once full.
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import type { RstEvent } from '../../src/events/event.js';
import { FieldText } from '../../src/events/text.js';
import { StackCounts } from '../../src/cli/output.js';
import { HostContext } from '../../src/host/context.js';
import { netnsPathCache } from '../../src/host/netns-path.js';
import { parseNetstat } from '../../src/host/parse.js';
import type { HostSnapshot, NatRule } from '../../src/host/types.js';
import { LocationSymbols, StackSymbols } from '../../src/kernel/tracer.js';
import { boundOf, BUDGETS, type TableId } from '../../src/memory/budget.js';
import { History } from '../../src/diagnose/history.js';
import { Diagnoser } from '../../src/diagnose/engine.js';
import { JsonWriter } from '../../src/events/json.js';
import { StormCounter } from '../../src/live/storm.js';
import { LossDiagnoser, STORY_DROPS } from '../../src/diagnose/loss.js';
import type { LossEvent } from '../../src/events/loss-event.js';
import { lossEvent as baseLossEvent } from './loss-event.js';

/** A SYN to port 7000 dropped in the server's namespace, of connection c. */
function lossEvent(c: number, i: number): LossEvent {
  return baseLossEvent({
    mono_ns: 1e12 + i * 1e6,
    packet: { laddr: '192.0.2.2', lport: 7000, raddr: `192.0.2.${1 + (c & 127)}`, rport: 1024 + (c >> 7) },
    segment: { flags: 'SYN', seq: i, ack: 0, len: 0 },
  });
}

const gc = (globalThis as { gc?: () => void }).gc;
let peak = 0;
const sample = () => {
  const u = getHeapStatistics().used_heap_size;
  if (u > peak) peak = u;
};
const retained = () => {
  gc?.();
  return getHeapStatistics().used_heap_size;
};
const tables: Record<string, { entries: number; bytes: number; budget: number }> = {};
let seq = 0;
const rand = (n: number) => Math.floor(Math.random() * n);

/**
 * Fills one table twice past its bound (it forgets as it goes), then to
 * exactly its cap (the most it holds: both generations full), and notes
 * what it retains.
 */
async function fill(id: TableId, size: () => number, add: (i: number) => unknown): Promise<void> {
  const before = retained();
  const cap = boundOf(id) - (boundOf(id) % 2);
  let i = 0;
  for (; i < cap * 3; i++) {
    await add(i);
    if (i % 64 === 0) sample();
  }
  while (size() < cap) await add(i++);
  sample();
  const b = BUDGETS[id];
  tables[id] = { entries: size(), bytes: retained() - before, budget: Math.floor(boundOf(id) * b.bytesPerEntry) };
}

const FRAMES = [
  'tcp_v4_send_reset',
  'tcp_v4_rcv',
  'ip_protocol_deliver_rcu',
  'ip_local_deliver_finish',
  'ip_local_deliver',
  'ip_sublist_rcv_finish',
  'ip_sublist_rcv',
  'ip_list_rcv',
  '__netif_receive_skb_list_core',
  'netif_receive_skb_list_internal',
  'napi_complete_done',
  'virtnet_poll',
  '__napi_poll',
  'net_rx_action',
  'handle_softirqs',
  'irq_exit_rcu',
  'common_interrupt',
  'asm_common_interrupt',
  'tcp_rcv_state_process',
  'tcp_v6_do_rcv',
  'inet_csk_listen_stop',
  'tcp_close',
  'inet_release',
  '__sock_release',
  'sock_close',
  '__fput',
  'task_work_run',
  'do_exit',
  'do_group_exit',
  'get_signal',
  'arch_do_signal_or_restart',
  'syscall_exit_to_user_mode',
];

/** A symbolized stack as symbolizeStack makes it: new strings each time. */
const stack = () => FRAMES.map((f) => `${f}+0x${rand(0x400).toString(16)}/0x${(0x400 + rand(0x800)).toString(16)}`);

const netstat = readFileSync('/proc/net/netstat', 'utf8');
const snmp = readFileSync('/proc/net/snmp', 'utf8');

/** A namespace's snapshot as takeSnapshot makes it: every counter, sysctls, listeners, rules. */
function snapshot(netns: number): HostSnapshot {
  const rules: NatRule[] = Array.from({ length: 24 }, (_, i) => ({
    source: 'iptables',
    family: 'ipv4',
    table: 'nat',
    chain: `KUBE-SEP-${(netns * 31 + i).toString(36).toUpperCase().padStart(16, 'X')}`,
    action: 'dnat',
    proto: 'tcp',
    dport: [8000 + i, 8000 + i],
    toAddr: `10.${i}.${netns & 255}.${rand(255)}`,
    toPort: [80, 80],
    text: `-A KUBE-SEP-${netns}-${i} -p tcp -m comment --comment "default/service-${netns}-${i}:http" -m tcp -j DNAT --to-destination 10.${i}.${netns & 255}.${rand(255)}:80`,
  }));
  return {
    netns,
    takenAtMs: Date.now(),
    listeners: Array.from({ length: 8 }, (_, i) => ({
      laddr: i % 2 ? '0.0.0.0' : '*',
      lport: 8000 + i,
      queue: 0,
      backlog: 511,
      processes: [
        { pid: 1000 + i, comm: `worker-${netns % 1000}-${i}` },
        { pid: 2000 + i, comm: `worker-${netns % 1000}-${i}b` },
      ],
    })),
    sysctls: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`net.ipv4.sysctl_${i}`, String(rand(100000))])),
    counters: { ...parseNetstat(netstat), ...parseNetstat(snmp) },
    rules,
    conntrack: null,
    errors: [],
  };
}

function event(i: number): RstEvent {
  return {
    time: new Date().toISOString(),
    mono_ns: 1e12 + i,
    direction: 'sent',
    kind: 'active',
    reason: 'NOT_SPECIFIED',
    reason_code: 2,
    state: 'ESTABLISHED',
    family: 'ipv4',
    packet: { laddr: `10.0.${i & 255}.1`, lport: 8080, raddr: `10.1.${(i >> 8) & 255}.${i & 255}`, rport: 30000 + (i % 30000) },
    socket: { laddr: `10.0.${i & 255}.1`, lport: 8080, raddr: `10.1.${(i >> 8) & 255}.${i & 255}`, rport: 30000 + (i % 30000) },
    segment: null,
    process: { pid: 4000 + i, tid: 4000 + i, comm: `worker-${i % 100}` },
    owner: { pid: 4000 + i, comm: `worker-${i % 100}` },
    netns: 4026531840,
    cgroup_id: String(1000 + i),
    sock_cookie: String(1e9 + i),
    queues: { rcv_unread: 0, snd_unacked: 0, snd_unsent: 0 },
    linger: { on: false, seconds: null },
    accept_queue: null,
    hook: 'tracepoint/tcp/tcp_send_reset',
    stack_status: 'captured',
    stack_id: i,
    stack: stack(),
    cause: {
      id: 'linger-zero-close',
      title: 'The application closed with SO_LINGER set to zero',
      confidence: 'high',
      summary: `worker-${i % 100} (pid ${4000 + i}) closed the connection with SO_LINGER 0`,
      evidence: { pid: 4000 + i },
      fix: 'do not set SO_LINGER to zero unless an abortive close is meant',
    },
  } as unknown as RstEvent;
}

const warnings: string[] = [];
const warn = (m: string) => warnings.push(m);
// all tables stay alive to the end: full at once, as on a busy host
const keep: unknown[] = [];

await fill(
  'netnsPaths',
  () => netnsPathCache.size,
  (i) => netnsPathCache.set(4026531840 + i, `/proc/${100000 + i}/task/${200000 + i}/ns/net`),
);

const host = new HostContext({ warn, take: async (n) => snapshot(n) });
keep.push(host);
await fill(
  'hostSnapshots',
  () => host.table.size,
  (i) => host.fresh(4026532000 + i),
);

const text = new FieldText({ warn });
keep.push(text);
const buf = new Uint8Array(96);
const view = new DataView(buf.buffer);
const rec = (family: number) => ({ view, family, sk_family: family, pkt_laddr: 0, pkt_raddr: 16, sk_laddr: 32, sk_raddr: 48, comm: 64, owner_comm: 80 });
const [v4, v6, names] = text.caches;
await fill(
  'ipv4Texts',
  () => v4!.size,
  () => {
    view.setUint32(0, (seq += 7919));
    return text.packetLocal(rec(2));
  },
);
await fill(
  'ipv6Texts',
  () => v6!.size,
  () => {
    for (let w = 0; w < 16; w += 4) view.setUint32(w, rand(2 ** 32));
    return text.packetLocal(rec(10));
  },
);
await fill(
  'nameTexts',
  () => names!.size,
  (i) => {
    buf.fill(0, 64, 80);
    buf.set(Buffer.from(`kw/${i % 64}:${i}`), 64);
    return text.comm(rec(2));
  },
);

const stacks = new StackSymbols(() => stack(), warn);
keep.push(stacks);
await fill(
  'stackSymbols',
  () => stacks.cache.size,
  (i) => stacks.get(i),
);

const locations = new LocationSymbols((a) => `nf_hook_slow+0x${a.toString(16)} [nf_tables]`, warn);
keep.push(locations);
await fill(
  'locationSymbols',
  () => locations.cache.size,
  (i) => locations.get(0xffffffff81000000n + BigInt(i) * 64n),
);

const counts = new StackCounts({ warn });
keep.push(counts);
await fill(
  'stackCounts',
  () => counts.counts.size,
  (i) => counts.add(event(i)),
);

// the diagnosis: each table of its own History, so that each fills alone
const state = (i: number, old: string, nu: string, lport: number, rport: number) => ({
  mono_ns: 1e12 + i,
  netns: 4026531840 + (i % 8),
  old_state: old,
  new_state: nu,
  family: 'ipv4' as const,
  socket: { laddr: `10.0.${(i >> 8) & 255}.${i & 255}`, lport, raddr: `10.1.${(i >> 16) & 255}.${(i >> 8) & 255}`, rport },
  sock_cookie: String(1e9 + i),
  process: { pid: 4000 + i, comm: `worker-${i % 100}` },
  owner: { pid: 4000 + i, comm: `worker-${i % 100}` },
  rcv_unread: null,
});
const hc = new History({}, undefined, warn);
keep.push(hc);
await fill(
  'historyConnections',
  () => hc.sizes.connections,
  (i) => hc.addState(state(i, 'FIN_WAIT2', 'CLOSE', 8080, 1024 + (i % 60000))),
);
const hp = new History({}, undefined, warn);
keep.push(hp);
await fill(
  'historyPorts',
  () => hp.sizes.ports,
  (i) => hp.addState(state(i, 'CLOSE', 'LISTEN', 1 + (i % 65535), 0)),
);
const hs = new History({}, undefined, warn);
keep.push(hs);
await fill(
  'sentResets',
  () => hs.sizes.sent,
  (i) => {
    const e = event(i);
    hs.addReset({ ...e, kind: 'passive', socket: null, segment: { flags: 'ACK', seq: i, ack: i, len: 0 } } as RstEvent);
  },
);
await fill(
  'refusedPorts',
  () => hs.sizes.refused,
  (i) =>
    hs.noteRefused(4026531840, `10.2.${(i >> 8) & 255}.${i & 255}`, 1 + (i % 65535), 1e12 + i, { id: 'no-listener', summary: `nothing listens on port ${i}` }),
);
const d = new Diagnoser({ warn });
keep.push(d);
await fill(
  'floodShapes',
  () => d.flood.size,
  (i) => d.flood.remember(`4026531840|passive|NO_SOCKET|10.0.0.${i & 255}|${i}|${i}|0`, 3, event(i).cause),
);
await fill(
  'stackFunctions',
  () => d.stackFunctionSets,
  (i) => d.facts(event(i), undefined),
);
const json = new JsonWriter({ reasons: new Map(), wallOffset: { sec: 0, nsec: 0 }, stack: () => stack(), text: new FieldText() }, warn);
keep.push(json);
await fill(
  'stackJson',
  () => json.stackTexts,
  (i) => json.stack(i),
);
const storms = new StormCounter({ reasons: new Map(), wallTime: () => '' }, warn);
keep.push(storms);
await fill(
  'stormVerdicts',
  () => storms.verdictKeys,
  (i) => {
    const e = event(i);
    storms.noteShown({ ...e, packet: { ...e.packet!, lport: i } } as RstEvent);
  },
);

// a story per connection, each with as many drops as it keeps (STORY_DROPS),
// each quoting the firewall rule that dropped it
const loss = new LossDiagnoser({ warn });
keep.push(loss);
const lossHost = {
  ...snapshot(1),
  rules: [
    {
      source: 'nftables',
      family: 'inet',
      table: 'filter',
      chain: 'input',
      action: 'drop',
      proto: 'tcp',
      dport: [7000, 7000],
      text: 'tcp dport 7000 ip saddr 192.0.2.0/24 counter packets 1234 bytes 56789 drop',
    },
  ],
} as HostSnapshot;
await fill(
  'lossStories',
  () => loss.storyCount,
  (i) => {
    for (let j = 0; j < STORY_DROPS; j++) loss.diagnose(lossEvent(i, i * STORY_DROPS + j), lossHost);
  },
);

const s = getHeapStatistics();
process.stdout.write(`${JSON.stringify({ limit: s.heap_size_limit, peak, final: retained(), tables, warnings, kept: keep.length })}\n`);
