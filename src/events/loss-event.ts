// The events of loss: a TCP segment the kernel dropped, a segment it sent
// again, and an error a socket reported to its application. LOSS_SCHEMA says
// once what each JSON field means: docs/events.md and
// schemas/watch-loss.schema.json are generated from it, and a test checks
// every JSON loss event against it.
import { constants } from 'node:os';
import type { RawEvent } from './layout.js';
import type { LossEvent } from './generated/event-type.js';
import { formatTcpFlags } from '../net/flags.js';
import { formatIPv4, formatIPv6 } from '../net/addr.js';
import {
  DIR_RECEIVED,
  EVENT_LAYOUT,
  EV_DROP,
  EV_ERROR,
  EV_RETRANS,
  F_HAS_OWNER,
  F_HAS_PKT,
  F_HAS_SK,
  F_HAS_TCP,
  F_ICMP,
  F_WINDOW_PROBE,
  TCP_LISTEN,
  RETRANS_FAST,
  RETRANS_PROBE,
  RETRANS_RTO,
  RETRANS_SYN,
  RETRANS_SYNACK,
} from './generated/contract.js';
import { hookOf, isFullSock, stackStatusOf, stateOf, wallTimeOf, type EventContext } from './event.js';

export type LossType = LossEvent['type'];

export type { LossEvent } from './generated/event-type.js';

/** What every JSON field of a loss event means (docs/events.md, schemas/watch-loss.schema.json). */
export const LOSS_SCHEMA: Array<{ path: string; type: string; doc: string }> = [
  {
    path: 'type',
    type: '"drop" | "retransmit" | "error"',
    doc: 'drop: the kernel dropped a TCP segment (or an ICMP error about a TCP flow). retransmit: TCP sent a segment again. error: a socket reported an error to its application (what connect(), read() or write() returned).',
  },
  { path: 'time', type: 'string', doc: 'Wall-clock time of the event, RFC 3339 UTC with nanoseconds.' },
  { path: 'mono_ns', type: 'number', doc: 'CLOCK_MONOTONIC nanoseconds.' },
  { path: 'netns', type: 'number', doc: 'Inode of the network namespace where it happened.' },
  { path: 'family', type: '"ipv4" | "ipv6"', doc: 'Address family of the segment, else of the socket.' },
  {
    path: 'direction',
    type: '"in" | "out" | null',
    doc: 'Drops: in = the segment arrived from a device (or was being forwarded); out = it was made in this namespace. null for retransmissions and errors.',
  },
  {
    path: 'reason',
    type: 'string',
    doc: "drop: the kernel's drop reason (enum skb_drop_reason without SKB_DROP_REASON_, named from the running kernel's BTF; NO_REASON on kernels before 5.17; SUBSYS_<n>_<code> for a subsystem's own reasons). retransmit: SYN, SYNACK, RTO (the retransmission timer fired), FAST (duplicate ACKs or SACK) or PROBE (neither: a tail loss probe). error: the errno name, e.g. ETIMEDOUT.",
  },
  { path: 'reason_code', type: 'number | null', doc: 'The numeric drop reason or errno (null for retransmissions and for drops without a reason).' },
  { path: 'state', type: 'string | null', doc: 'TCP state of the socket involved; null when the kernel did not tie the segment to a socket.' },
  {
    path: 'packet',
    type: 'object | null',
    doc: "The segment's 4-tuple seen from this namespace: a received segment's destination is local, a sent one's source is. For an ICMP error, the quoted segment's, with its sender as local.",
  },
  { path: 'packet.laddr', type: 'string', doc: 'Local address.' },
  { path: 'packet.lport', type: 'number', doc: 'Local port.' },
  { path: 'packet.raddr', type: 'string', doc: 'Remote address.' },
  { path: 'packet.rport', type: 'number', doc: 'Remote port.' },
  {
    path: 'socket',
    type: 'object | null',
    doc: "The 4-tuple of the socket involved (a retransmitting or erring socket; the segment's socket where the kernel knows it).",
  },
  { path: 'socket.laddr', type: 'string', doc: 'Local address.' },
  { path: 'socket.lport', type: 'number', doc: 'Local port.' },
  { path: 'socket.raddr', type: 'string', doc: 'Remote address.' },
  { path: 'socket.rport', type: 'number', doc: 'Remote port.' },
  {
    path: 'segment',
    type: 'object | null',
    doc: 'The dropped or retransmitted segment (for an ICMP error, the quoted one: its ports and sequence number only).',
  },
  { path: 'segment.flags', type: 'string', doc: 'Its TCP flags, e.g. "SYN" or "PSH|ACK".' },
  { path: 'segment.seq', type: 'number', doc: 'Its sequence number.' },
  { path: 'segment.ack', type: 'number', doc: 'Its acknowledgment number.' },
  { path: 'segment.len', type: 'number', doc: 'Its payload length in bytes.' },
  { path: 'icmp', type: 'object | null', doc: 'For a dropped ICMP error about a TCP flow: the error. null otherwise.' },
  { path: 'icmp.type', type: 'number', doc: 'ICMP (or ICMPv6) type: 3 / 1 destination unreachable, 11 / 3 time exceeded, ICMPv6 2 packet too big.' },
  { path: 'icmp.code', type: 'number', doc: 'ICMP code (IPv4 type 3 code 4: fragmentation needed).' },
  { path: 'icmp.from', type: 'string', doc: 'Who sent the error (a router on the path, or the peer).' },
  { path: 'icmp.mtu', type: 'number | null', doc: 'The next-hop MTU the error announces (fragmentation needed, packet too big).' },
  { path: 'tcp', type: 'object | null', doc: "Retransmissions and errors: the connection's retransmission facts at the event." },
  { path: 'tcp.retransmits', type: 'number', doc: 'Consecutive unanswered retransmissions (for a SYN-ACK: of the request).' },
  { path: 'tcp.total_retrans', type: 'number', doc: 'All retransmissions of the connection.' },
  { path: 'tcp.rto_ms', type: 'number | null', doc: 'The retransmission timeout in ms.' },
  { path: 'tcp.srtt_us', type: 'number', doc: 'Smoothed round-trip time in microseconds.' },
  { path: 'accept_queue', type: 'object | null', doc: "A SYN-ACK retransmission: the listener's accept queue at that moment." },
  { path: 'accept_queue.len', type: 'number', doc: 'Connections waiting for accept().' },
  { path: 'accept_queue.max', type: 'number', doc: 'The backlog limit.' },
  { path: 'process', type: 'object', doc: 'The task running when the event fired (in softirq context: whoever the CPU was running; see `owner`).' },
  { path: 'process.pid', type: 'number', doc: 'Process id (tgid).' },
  { path: 'process.tid', type: 'number', doc: 'Thread id.' },
  { path: 'process.comm', type: 'string', doc: 'Task name, with control and bidi characters escaped.' },
  { path: 'owner', type: 'object | null', doc: "The process owning the socket (a SYN-ACK: the listener's), when known." },
  { path: 'owner.pid', type: 'number', doc: 'Owner process id.' },
  { path: 'owner.comm', type: 'string', doc: 'Owner task name (escaped).' },
  { path: 'cgroup_id', type: 'string', doc: 'cgroup v2 id of the socket, else of the current task (decimal string).' },
  { path: 'sock_cookie', type: 'string | null', doc: 'The socket cookie (decimal string); null without a socket.' },
  { path: 'hook', type: 'string', doc: 'The kernel hook, e.g. tp_btf/kfree_skb.' },
  {
    path: 'window_probe',
    type: 'boolean',
    doc: "Drops: the segment is the peer's probe into this socket's zero receive window (a bare ACK one below the next expected byte; the kernel drops each as old). Known where the kernel names the receiving socket (6.11+).",
  },
  { path: 'location', type: 'string | null', doc: 'Drops: the kernel code that dropped the segment (function+0xoffset). null otherwise.' },
  {
    path: 'stack_status',
    type: '"captured" | "rate_limited" | "lost" | null',
    doc: 'Drops: whether `stack` holds the kernel stack (rate_limited: over --stack-rate). null for retransmissions and errors.',
  },
  { path: 'stack', type: 'string[] | null', doc: 'Kernel stack of a drop, innermost first. null unless stack_status is captured.' },
  { path: 'cause', type: 'object', doc: 'The diagnosis, from the same catalogue as resets (docs/causes.md, drop and outcome groups).' },
  { path: 'cause.id', type: 'string', doc: 'Cause id (`tcpwhy explain ID`).' },
  { path: 'cause.title', type: 'string', doc: 'The cause in a few words.' },
  { path: 'cause.confidence', type: '"high" | "medium" | "low"', doc: 'How sure the verdict is (see the reset events).' },
  { path: 'cause.summary', type: 'string', doc: 'The verdict in one sentence (names escaped).' },
  { path: 'cause.evidence', type: 'object', doc: 'The facts the verdict rests on, by name.' },
  { path: 'cause.fix', type: 'string', doc: 'What to change.' },
];

const RETRANS_NAMES: Record<number, string> = {
  [RETRANS_RTO]: 'RTO',
  [RETRANS_FAST]: 'FAST',
  [RETRANS_PROBE]: 'PROBE',
  [RETRANS_SYN]: 'SYN',
  [RETRANS_SYNACK]: 'SYNACK',
};

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The subsystem bits of a drop reason (include/net/dropreason.h: the high 16 bits). */
const SUBSYS_SHIFT = 16;

/** A drop reason's name on this kernel (`names`: enum skb_drop_reason from its BTF). */
export function dropReasonName(code: number, names: ReadonlyMap<number, string>): string {
  if (code < 0) return 'NO_REASON';
  const subsys = code >>> SUBSYS_SHIFT;
  if (subsys) return `SUBSYS_${subsys}_${code & 0xffff}`;
  return names.get(code) ?? `REASON_${code}`;
}

export function retransName(code: number): string {
  return RETRANS_NAMES[code] ?? `KIND_${code}`;
}

export function errnoName(code: number): string {
  return ERRNO_NAMES.get(code) ?? `ERRNO_${code}`;
}

export const isLossRecord = (r: RawEvent): boolean => r.type >= EV_DROP && r.type <= EV_ERROR;

/** Whether a delivered event is a loss event (reset events have no `type`). */
export function isLossEvent(e: object): e is LossEvent {
  return (e as { type?: unknown }).type !== undefined;
}

export interface LossContext extends EventContext {
  /** enum skb_drop_reason of the running kernel */
  dropReasons: ReadonlyMap<number, string>;
  /** a kernel address as function+0xoffset */
  symbol(addr: bigint): string | null;
}

const LOCATION_OFF = EVENT_LAYOUT.fields.location.offset;
const COMM_OFF = EVENT_LAYOUT.fields.comm.offset;

/** The exact 64-bit kernel address (a number would round it): read from the record's bytes. */
function locationOf(r: RawEvent): bigint {
  return r.view.getBigUint64(r.comm - COMM_OFF + LOCATION_OFF, true);
}

function icmpFrom(r: RawEvent): string {
  const b = new Uint8Array(r.view.buffer, r.view.byteOffset + r.icmp_from, r.family === 10 ? 16 : 4);
  return r.family === 10 ? formatIPv6(b) : formatIPv4(b);
}

export function toLossEvent(r: RawEvent, ctx: LossContext): LossEvent {
  const type: LossType = r.type === EV_DROP ? 'drop' : r.type === EV_RETRANS ? 'retransmit' : 'error';
  const hasSk = (r.flags & F_HAS_SK) !== 0;
  const hasPkt = (r.flags & F_HAS_PKT) !== 0;
  const icmp = (r.flags & F_ICMP) !== 0;
  const hasTcp = (r.flags & F_HAS_TCP) !== 0;
  const drop = type === 'drop';
  const reason = type === 'drop' ? dropReasonName(r.reason, ctx.dropReasons) : type === 'retransmit' ? retransName(r.reason) : errnoName(r.reason);
  const stackOk = r.stack_id >= 0;
  return {
    type,
    time: wallTimeOf(r.mono_ns, ctx.wallOffset),
    mono_ns: r.mono_ns,
    netns: r.netns,
    family: r.family === 10 ? 'ipv6' : 'ipv4',
    direction: drop ? (r.direction === DIR_RECEIVED ? 'in' : 'out') : null,
    reason,
    reason_code: type === 'retransmit' || (drop && r.reason < 0) ? null : r.reason,
    state: stateOf(r),
    packet: hasPkt ? { laddr: ctx.text.packetLocal(r), lport: r.pkt_lport, raddr: ctx.text.packetRemote(r), rport: r.pkt_rport } : null,
    socket: hasSk ? { laddr: ctx.text.socketLocal(r), lport: r.sk_lport, raddr: ctx.text.socketRemote(r), rport: r.sk_rport } : null,
    segment: hasPkt ? { flags: icmp ? '' : formatTcpFlags(r.seg_flags), seq: r.seg_seq, ack: r.seg_ack, len: r.seg_len } : null,
    icmp: icmp ? { type: r.icmp_type, code: r.icmp_code, from: icmpFrom(r), mtu: r.icmp_mtu || null } : null,
    tcp: hasTcp
      ? {
          retransmits: r.retransmits,
          total_retrans: r.total_retrans,
          rto_ms: r.hz && r.rto_jiffies ? Math.round((r.rto_jiffies * 1000) / r.hz) : null,
          srtt_us: r.srtt_us,
        }
      : null,
    // a SYN-ACK's listener, or a dropped segment's (a listener's full accept queue)
    accept_queue:
      r.max_ack_backlog && (type === 'retransmit' || (isFullSock(r) && r.state === TCP_LISTEN)) ? { len: r.ack_backlog, max: r.max_ack_backlog } : null,
    process: { pid: r.pid, tid: r.tid, comm: ctx.text.comm(r) },
    owner: r.flags & F_HAS_OWNER ? { pid: r.owner_pid, comm: ctx.text.ownerComm(r) } : null,
    cgroup_id: String(r.cgroup_id),
    sock_cookie: hasSk && r.sock_cookie ? String(r.sock_cookie) : hasSk ? '0' : null,
    hook: hookOf(r),
    window_probe: (r.flags & F_WINDOW_PROBE) !== 0,
    location: drop && r.location ? ctx.symbol(locationOf(r)) : null,
    stack_status: drop ? stackStatusOf(r) : null,
    stack: drop && stackOk ? ctx.stack(r.stack_id) : null,
    cause: null,
  };
}
