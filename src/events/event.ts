// From the kernel's raw record to the event tcpwhy shows and prints as JSON.
// docs/events.md, the JSON Schema and the RstEvent type are generated from
// EVENT_SCHEMA below, and a test checks that every JSON event has exactly the
// documented fields.
import type { RawEvent } from './layout.js';
import type { RstEvent, Tuple } from './generated/event-type.js';
import { formatTcpFlags } from '../net/flags.js';
import type { FieldText } from './text.js';

// Numbers of the kernel contract, generated from the BPF object's BTF.
import {
  DIR_RECEIVED,
  EV_STATE,
  F_FULL_SK,
  F_HAS_OWNER,
  F_HAS_PKT,
  F_HAS_REASON,
  F_HAS_SK,
  F_LINGER,
  F_STACK_SKIPPED,
  HOOKS,
  KIND_ACTIVE,
  KIND_PASSIVE,
  NO_STATE,
  TCP_LISTEN,
  TCP_STATE_NAMES,
} from './generated/contract.js';
export {
  DIR_RECEIVED,
  DIR_SENT,
  EV_RESET,
  EV_STATE,
  F_FULL_SK,
  F_HAS_OWNER,
  F_HAS_PKT,
  F_HAS_REASON,
  F_HAS_SK,
  F_LINGER,
  F_STACK_LOST,
  F_STACK_SKIPPED,
  KIND_ACTIVE,
  KIND_PASSIVE,
} from './generated/contract.js';
export type { RstEvent, Tuple } from './generated/event-type.js';

/** A TCP socket's state change: history for the diagnosis, not an RST. */
export interface StateEvent {
  mono_ns: number;
  netns: number;
  old_state: string;
  new_state: string;
  family: 'ipv4' | 'ipv6';
  socket: Tuple;
  sock_cookie: string;
  /** the task that made the change (for listen(), connect() and close(): the owner) */
  process: { pid: number; comm: string };
  owner: { pid: number; comm: string } | null;
  /** receive-queue bytes not read when the change happened (full sockets) */
  rcv_unread: number | null;
}

/** What every JSON field means: the source of docs/events.md, the JSON Schema and the RstEvent type (src/events/type-gen.ts). */
export const EVENT_SCHEMA: Array<{ path: string; type: string; doc: string }> = [
  { path: 'time', type: 'string', doc: 'Wall-clock time of the event, RFC 3339 UTC with nanoseconds.' },
  { path: 'mono_ns', type: 'number', doc: 'CLOCK_MONOTONIC nanoseconds (exact for the first 104 days of uptime, then within a few ns).' },
  { path: 'direction', type: '"sent" | "received"', doc: 'Whether this host sent the RST or received it.' },
  {
    path: 'kind',
    type: '"active" | "passive" | null',
    doc: 'Sent RSTs: active = the host aborted one of its sockets; passive = reply to a segment it could not accept. null for received RSTs.',
  },
  {
    path: 'reason',
    type: 'string | null',
    doc: "The kernel's reset reason (enum sk_rst_reason without the SK_RST_REASON_ prefix), named from the running kernel's BTF. null when the kernel passes none (received RSTs; sent RSTs before 6.10).",
  },
  { path: 'reason_code', type: 'number | null', doc: 'The numeric reason (its meaning depends on the kernel version; use `reason`).' },
  {
    path: 'state',
    type: 'string | null',
    doc: 'TCP state of the socket at the event (e.g. ESTABLISHED, CLOSE, LISTEN, TIME_WAIT). null: no socket (reply to a segment nobody owns).',
  },
  {
    path: 'family',
    type: '"ipv4" | "ipv6"',
    doc: 'Address family of the segment, or of the socket when there is no segment. An IPv6 socket that carries IPv4 (a dual-stack listener and its connections) is ipv6, with ::ffff:a.b.c.d addresses in `socket`.',
  },
  { path: 'packet', type: 'object | null', doc: 'The 4-tuple from the segment a passive RST answers, seen from this host. null for active and received RSTs.' },
  { path: 'packet.laddr', type: 'string', doc: "This host's address (the segment's destination)." },
  { path: 'packet.lport', type: 'number', doc: "This host's port." },
  { path: 'packet.raddr', type: 'string', doc: "The peer's address (the segment's source)." },
  { path: 'packet.rport', type: 'number', doc: "The peer's port." },
  {
    path: 'socket',
    type: 'object | null',
    doc: 'The 4-tuple from the socket involved. It differs from `packet` when address translation went wrong; a listener has remote 0.0.0.0:0 or [::]:0. null when there is no socket.',
  },
  { path: 'socket.laddr', type: 'string', doc: 'Local address bound by the socket.' },
  { path: 'socket.lport', type: 'number', doc: 'Local port.' },
  { path: 'socket.raddr', type: 'string', doc: 'Remote address.' },
  { path: 'socket.rport', type: 'number', doc: 'Remote port.' },
  { path: 'segment', type: 'object | null', doc: 'The triggering segment of a passive RST. null otherwise.' },
  { path: 'segment.flags', type: 'string', doc: 'Its TCP flags, e.g. "SYN" or "PSH|ACK".' },
  { path: 'segment.seq', type: 'number', doc: 'Its sequence number.' },
  { path: 'segment.ack', type: 'number', doc: 'Its acknowledgment number.' },
  { path: 'segment.len', type: 'number', doc: 'Its TCP payload length in bytes.' },
  {
    path: 'process',
    type: 'object',
    doc: "The task running when the event fired. For RSTs handled in softirq context (most passive and received RSTs) this is whoever the CPU was running, not the socket's owner: see `owner`.",
  },
  { path: 'process.pid', type: 'number', doc: 'Process id (tgid).' },
  { path: 'process.tid', type: 'number', doc: 'Thread id.' },
  { path: 'process.comm', type: 'string', doc: 'Task name, with control and bidi characters escaped as \\xNN / \\uNNNN.' },
  {
    path: 'owner',
    type: 'object | null',
    doc: 'The process that owns the socket, learned when it called connect(), listen() or close(), or inherited from the listener for accepted connections. null when unknown (socket older than the watcher, or no socket).',
  },
  { path: 'owner.pid', type: 'number', doc: 'Owner process id.' },
  { path: 'owner.comm', type: 'string', doc: 'Owner task name (escaped like process.comm).' },
  { path: 'netns', type: 'number', doc: 'Inode of the network namespace (as in `ls -L -i /proc/PID/ns/net` or `ip netns identify`).' },
  { path: 'cgroup_id', type: 'string', doc: 'cgroup v2 id of the socket, else of the current task (decimal string: 64-bit).' },
  {
    path: 'sock_cookie',
    type: 'string | null',
    doc: 'The socket cookie (SO_COOKIE; decimal string), a stable id across events of one socket. null without a socket; "0" when the kernel never assigned one.',
  },
  { path: 'queues', type: 'object | null', doc: 'Queue facts of a full socket at the event. null otherwise (no socket, request or TIME_WAIT socket).' },
  { path: 'queues.rcv_unread', type: 'number', doc: 'Bytes received and not read by the application (ss Recv-Q); a received FIN is not counted.' },
  { path: 'queues.snd_unacked', type: 'number', doc: 'Bytes sent and not yet acknowledged (snd_nxt - snd_una).' },
  { path: 'queues.snd_unsent', type: 'number', doc: 'Bytes written by the application and not yet sent (write_seq - snd_nxt).' },
  { path: 'linger', type: 'object | null', doc: 'SO_LINGER of a full socket; null otherwise.' },
  { path: 'linger.on', type: 'boolean', doc: 'SO_LINGER is set.' },
  { path: 'linger.seconds', type: 'number | null', doc: "Linger time in seconds (null if the kernel's HZ is unknown)." },
  { path: 'accept_queue', type: 'object | null', doc: 'For a LISTEN socket: its accept queue; null otherwise.' },
  { path: 'accept_queue.len', type: 'number', doc: 'Connections waiting for accept().' },
  { path: 'accept_queue.max', type: 'number', doc: 'The backlog limit (listen() backlog capped by net.core.somaxconn).' },
  { path: 'hook', type: 'string', doc: 'The kernel hook that saw the RST, e.g. tp_btf/tcp_send_reset.' },
  {
    path: 'stack_status',
    type: '"captured" | "rate_limited" | "lost"',
    doc: 'captured: `stack` holds the kernel stack. rate_limited: not walked, because more RSTs than --stack-rate per second per CPU came (walking a stack costs the kernel microseconds; the limit keeps a flood from slowing it down). lost: walked but not storable (the stack table was full, or its hash slot held another stack). Both are counted in the exit summary.',
  },
  { path: 'stack_id', type: 'number | null', doc: 'Id of the kernel stack in this run (equal ids: same stack). null when not captured.' },
  {
    path: 'stack',
    type: 'string[] | null',
    doc: 'Kernel stack, innermost first, as function+0xoffset (with [module] for module code), without the tracing frames. null unless stack_status is captured.',
  },
  {
    path: 'cause',
    type: 'object',
    doc: 'The diagnosis: which cause of docs/causes.md explains this RST. Every event has one; `unclassified-*` causes say that no rule recognized it, with the facts that were seen.',
  },
  { path: 'cause.id', type: 'string', doc: 'Cause id (see docs/causes.md, or `tcpwhy explain ID`).' },
  { path: 'cause.title', type: 'string', doc: 'The cause in a few words.' },
  {
    path: 'cause.confidence',
    type: '"high" | "medium" | "low"',
    doc: "high: the kernel's reason or an unambiguous kernel path, with the socket or host facts agreeing. medium: weaker evidence (no reason on older kernels, a stack or state alone, or host context missing). low: a possibility the facts allow but do not show.",
  },
  {
    path: 'cause.summary',
    type: 'string',
    doc: 'The verdict in one sentence, with the process, ports and numbers of this event (process names escaped like process.comm).',
  },
  {
    path: 'cause.evidence',
    type: 'object',
    doc: 'The facts the verdict rests on, by name (each cause documents its names in docs/causes.md); values are strings, numbers, booleans or null.',
  },
  { path: 'cause.fix', type: 'string', doc: 'What to change.' },
];

export interface EventContext {
  /** value -> name of enum sk_rst_reason */
  reasons: ReadonlyMap<number, string>;
  /** wall clock minus monotonic clock */
  wallOffset: ClockOffset;
  /** symbolized kernel stack by id (cached by the caller) */
  stack(id: number): string[] | null;
  /** the text of address and name fields, with its caches (one per reader of records) */
  text: FieldText;
}

/** Wall-clock time minus CLOCK_MONOTONIC, as whole seconds plus nanoseconds. */
export interface ClockOffset {
  sec: number;
  nsec: number;
}

export function wallOffset(): ClockOffset {
  const mono = process.hrtime.bigint(); // CLOCK_MONOTONIC, like bpf_ktime_get_ns()
  const wall = BigInt(Date.now()) * 1_000_000n;
  const d = wall - mono;
  return { sec: Number(d / 1_000_000_000n), nsec: Number(d % 1_000_000_000n) };
}

let isoSec = -1;
let isoPrefix = '';

/** RFC 3339 UTC with nanoseconds; the date part is formatted once per second. */
export function formatWallTime(sec: number, nsec: number): string {
  if (sec !== isoSec) {
    isoSec = sec;
    isoPrefix = new Date(sec * 1000).toISOString().slice(0, 19);
  }
  return `${isoPrefix}.${String(nsec).padStart(9, '0')}Z`;
}

export function wallTimeOf(monoNs: number, off: ClockOffset): string {
  const monoSec = Math.floor(monoNs / 1e9);
  let sec = monoSec + off.sec;
  let nsec = monoNs - monoSec * 1e9 + off.nsec;
  if (nsec >= 1e9) {
    sec++;
    nsec -= 1e9;
  }
  return formatWallTime(sec, Math.round(nsec));
}

export function stateName(state: number): string | null {
  return state === NO_STATE ? null : (TCP_STATE_NAMES[state] ?? `STATE_${state}`);
}

// What each derived field means, once: toEvent() and the JSON writer
// (json.ts) both build from these.
export const isStateEvent = (r: RawEvent): boolean => r.type === EV_STATE;
export const directionOf = (r: RawEvent): RstEvent['direction'] => (r.direction === DIR_RECEIVED ? 'received' : 'sent');
export const kindOf = (r: RawEvent): RstEvent['kind'] => (r.kind === KIND_ACTIVE ? 'active' : r.kind === KIND_PASSIVE ? 'passive' : null);
export const hasReason = (r: RawEvent): boolean => (r.flags & F_HAS_REASON) !== 0;
export const reasonOf = (r: RawEvent, ctx: EventContext): string | null => (hasReason(r) ? (ctx.reasons.get(r.reason) ?? `REASON_${r.reason}`) : null);
export const stateOf = (r: RawEvent): string | null => (r.flags & F_HAS_SK ? stateName(r.state) : null);
export const familyOf = (r: RawEvent): RstEvent['family'] => (r.family === 10 ? 'ipv6' : 'ipv4');
export const hookOf = (r: RawEvent): string => HOOKS[r.hook]?.section ?? `hook_${r.hook}`;
export const isFullSock = (r: RawEvent): boolean => (r.flags & F_FULL_SK) !== 0;
export const isListener = (r: RawEvent): boolean => isFullSock(r) && r.state === TCP_LISTEN;
export const lingerSecondsOf = (r: RawEvent): number | null => (r.hz ? Math.round((r.linger_jiffies / r.hz) * 1000) / 1000 : null);
export const stackStatusOf = (r: RawEvent): RstEvent['stack_status'] => (r.stack_id >= 0 ? 'captured' : r.flags & F_STACK_SKIPPED ? 'rate_limited' : 'lost');

export function toEvent(r: RawEvent, ctx: EventContext): RstEvent {
  const hasSk = (r.flags & F_HAS_SK) !== 0;
  const hasPkt = (r.flags & F_HAS_PKT) !== 0;
  const full = isFullSock(r);
  const stackOk = r.stack_id >= 0;
  return {
    time: wallTimeOf(r.mono_ns, ctx.wallOffset),
    mono_ns: r.mono_ns,
    direction: directionOf(r),
    kind: kindOf(r),
    reason: reasonOf(r, ctx),
    reason_code: hasReason(r) ? r.reason : null,
    state: stateOf(r),
    family: familyOf(r),
    packet: hasPkt
      ? {
          laddr: ctx.text.packetLocal(r),
          lport: r.pkt_lport,
          raddr: ctx.text.packetRemote(r),
          rport: r.pkt_rport,
        }
      : null,
    socket: hasSk
      ? {
          laddr: ctx.text.socketLocal(r),
          lport: r.sk_lport,
          raddr: ctx.text.socketRemote(r),
          rport: r.sk_rport,
        }
      : null,
    segment: hasPkt ? { flags: formatTcpFlags(r.seg_flags), seq: r.seg_seq, ack: r.seg_ack, len: r.seg_len } : null,
    process: { pid: r.pid, tid: r.tid, comm: ctx.text.comm(r) },
    owner: r.flags & F_HAS_OWNER ? { pid: r.owner_pid, comm: ctx.text.ownerComm(r) } : null,
    netns: r.netns,
    cgroup_id: String(r.cgroup_id),
    sock_cookie: hasSk ? String(r.sock_cookie) : null,
    queues: full ? { rcv_unread: r.rcv_unread, snd_unacked: r.snd_unacked, snd_unsent: r.snd_unsent } : null,
    linger: full ? { on: (r.flags & F_LINGER) !== 0, seconds: lingerSecondsOf(r) } : null,
    accept_queue: isListener(r) ? { len: r.ack_backlog, max: r.max_ack_backlog } : null,
    hook: hookOf(r),
    stack_status: stackStatusOf(r),
    stack_id: stackOk ? r.stack_id : null,
    stack: stackOk ? ctx.stack(r.stack_id) : null,
    cause: null,
  };
}

export function toStateEvent(r: RawEvent, text: FieldText): StateEvent {
  return {
    mono_ns: r.mono_ns,
    netns: r.netns,
    old_state: stateName(r.old_state) ?? 'NONE',
    new_state: stateName(r.state) ?? 'NONE',
    family: r.sk_family === 10 ? 'ipv6' : 'ipv4',
    socket: {
      laddr: text.socketLocal(r),
      lport: r.sk_lport,
      raddr: text.socketRemote(r),
      rport: r.sk_rport,
    },
    sock_cookie: String(r.sock_cookie),
    process: { pid: r.pid, comm: text.comm(r) },
    owner: r.flags & F_HAS_OWNER ? { pid: r.owner_pid, comm: text.ownerComm(r) } : null,
    rcv_unread: isFullSock(r) ? r.rcv_unread : null,
  };
}
