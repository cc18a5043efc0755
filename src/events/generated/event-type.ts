// Generated from EVENT_SCHEMA in src/events/event.ts and LOSS_SCHEMA in
// src/events/loss-event.ts by src/events/type-gen.ts (`make docs`). Do not
// edit: test/docs.test.ts fails when it is stale.
import type { Verdict } from '../verdict.js';

/** The shape of `packet` and `socket`. */
export interface Tuple {
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
}

/** One TCP RST, as `tcpwhy watch --json` prints it (docs/events.md). */
export interface RstEvent {
  /** Wall-clock time of the event, RFC 3339 UTC with nanoseconds. */
  time: string;
  /** CLOCK_MONOTONIC nanoseconds (exact for the first 104 days of uptime, then within a few ns). */
  mono_ns: number;
  /** Whether this host sent the RST or received it. */
  direction: 'sent' | 'received';
  /** Sent RSTs: active = the host aborted one of its sockets; passive = reply to a segment it could not accept. null for received RSTs. */
  kind: 'active' | 'passive' | null;
  /** The kernel's reset reason (enum sk_rst_reason without the SK_RST_REASON_ prefix), named from the running kernel's BTF. null when the kernel passes none (received RSTs; sent RSTs before 6.10). */
  reason: string | null;
  /** The numeric reason (its meaning depends on the kernel version; use `reason`). */
  reason_code: number | null;
  /** TCP state of the socket at the event (e.g. ESTABLISHED, CLOSE, LISTEN, TIME_WAIT). null: no socket (reply to a segment nobody owns). */
  state: string | null;
  /** Address family of the segment, or of the socket when there is no segment. An IPv6 socket that carries IPv4 (a dual-stack listener and its connections) is ipv6, with ::ffff:a.b.c.d addresses in `socket`. */
  family: 'ipv4' | 'ipv6';
  /** The 4-tuple from the segment a passive RST answers, seen from this host. null for active and received RSTs. */
  packet: Tuple | null;
  /** The 4-tuple from the socket involved. It differs from `packet` when address translation went wrong; a listener has remote 0.0.0.0:0 or [::]:0. null when there is no socket. */
  socket: Tuple | null;
  /** The triggering segment of a passive RST. null otherwise. */
  segment: {
    /** Its TCP flags, e.g. "SYN" or "PSH|ACK". */
    flags: string;
    /** Its sequence number. */
    seq: number;
    /** Its acknowledgment number. */
    ack: number;
    /** Its TCP payload length in bytes. */
    len: number;
  } | null;
  /** The task running when the event fired. For RSTs handled in softirq context (most passive and received RSTs) this is whoever the CPU was running, not the socket's owner: see `owner`. */
  process: {
    /** Process id (tgid). */
    pid: number;
    /** Thread id. */
    tid: number;
    /** Task name, with control and bidi characters escaped as \xNN / \uNNNN. */
    comm: string;
  };
  /** The process that owns the socket, learned when it called connect(), listen() or close(), or inherited from the listener for accepted connections. null when unknown (socket older than the watcher, or no socket). */
  owner: {
    /** Owner process id. */
    pid: number;
    /** Owner task name (escaped like process.comm). */
    comm: string;
  } | null;
  /** Inode of the network namespace (as in `ls -L -i /proc/PID/ns/net` or `ip netns identify`). */
  netns: number;
  /** cgroup v2 id of the socket, else of the current task (decimal string: 64-bit). */
  cgroup_id: string;
  /** The socket cookie (SO_COOKIE; decimal string), a stable id across events of one socket. null without a socket; "0" when the kernel never assigned one. */
  sock_cookie: string | null;
  /** Queue facts of a full socket at the event. null otherwise (no socket, request or TIME_WAIT socket). */
  queues: {
    /** Bytes received and not read by the application (ss Recv-Q); a received FIN is not counted. */
    rcv_unread: number;
    /** Bytes sent and not yet acknowledged (snd_nxt - snd_una). */
    snd_unacked: number;
    /** Bytes written by the application and not yet sent (write_seq - snd_nxt). */
    snd_unsent: number;
  } | null;
  /** SO_LINGER of a full socket; null otherwise. */
  linger: {
    /** SO_LINGER is set. */
    on: boolean;
    /** Linger time in seconds (null if the kernel's HZ is unknown). */
    seconds: number | null;
  } | null;
  /** For a LISTEN socket: its accept queue; null otherwise. */
  accept_queue: {
    /** Connections waiting for accept(). */
    len: number;
    /** The backlog limit (listen() backlog capped by net.core.somaxconn). */
    max: number;
  } | null;
  /** The kernel hook that saw the RST, e.g. tp_btf/tcp_send_reset. */
  hook: string;
  /** captured: `stack` holds the kernel stack. rate_limited: not walked, because more RSTs than --stack-rate per second per CPU came (walking a stack costs the kernel microseconds; the limit keeps a flood from slowing it down). lost: walked but not storable (the stack table was full, or its hash slot held another stack). Both are counted in the exit summary. */
  stack_status: 'captured' | 'rate_limited' | 'lost';
  /** Id of the kernel stack in this run (equal ids: same stack). null when not captured. */
  stack_id: number | null;
  /** Kernel stack, innermost first, as function+0xoffset (with [module] for module code), without the tracing frames. null unless stack_status is captured. */
  stack: string[] | null;
  /** the diagnosis (src/diagnose/); null until diagnosed */
  cause: Verdict | null;
}

/** One drop, retransmission or error a socket reported, as `tcpwhy watch --json` prints it (docs/events.md). */
export interface LossEvent {
  /** drop: the kernel dropped a TCP segment (or an ICMP error about a TCP flow). retransmit: TCP sent a segment again. error: a socket reported an error to its application (what connect(), read() or write() returned). */
  type: 'drop' | 'retransmit' | 'error';
  /** Wall-clock time of the event, RFC 3339 UTC with nanoseconds. */
  time: string;
  /** CLOCK_MONOTONIC nanoseconds. */
  mono_ns: number;
  /** Inode of the network namespace where it happened. */
  netns: number;
  /** Address family of the segment, else of the socket. */
  family: 'ipv4' | 'ipv6';
  /** Drops: in = the segment arrived from a device (or was being forwarded); out = it was made in this namespace. null for retransmissions and errors. */
  direction: 'in' | 'out' | null;
  /** drop: the kernel's drop reason (enum skb_drop_reason without SKB_DROP_REASON_, named from the running kernel's BTF; NO_REASON on kernels before 5.17; SUBSYS_<n>_<code> for a subsystem's own reasons). retransmit: SYN, SYNACK, RTO (the retransmission timer fired), FAST (duplicate ACKs or SACK) or PROBE (neither: a tail loss probe). error: the errno name, e.g. ETIMEDOUT. */
  reason: string;
  /** The numeric drop reason or errno (null for retransmissions and for drops without a reason). */
  reason_code: number | null;
  /** TCP state of the socket involved; null when the kernel did not tie the segment to a socket. */
  state: string | null;
  /** The segment's 4-tuple seen from this namespace: a received segment's destination is local, a sent one's source is. For an ICMP error, the quoted segment's, with its sender as local. */
  packet: Tuple | null;
  /** The 4-tuple of the socket involved (a retransmitting or erring socket; the segment's socket where the kernel knows it). */
  socket: Tuple | null;
  /** The dropped or retransmitted segment (for an ICMP error, the quoted one: its ports and sequence number only). */
  segment: {
    /** Its TCP flags, e.g. "SYN" or "PSH|ACK". */
    flags: string;
    /** Its sequence number. */
    seq: number;
    /** Its acknowledgment number. */
    ack: number;
    /** Its payload length in bytes. */
    len: number;
  } | null;
  /** For a dropped ICMP error about a TCP flow: the error. null otherwise. */
  icmp: {
    /** ICMP (or ICMPv6) type: 3 / 1 destination unreachable, 11 / 3 time exceeded, ICMPv6 2 packet too big. */
    type: number;
    /** ICMP code (IPv4 type 3 code 4: fragmentation needed). */
    code: number;
    /** Who sent the error (a router on the path, or the peer). */
    from: string;
    /** The next-hop MTU the error announces (fragmentation needed, packet too big). */
    mtu: number | null;
  } | null;
  /** Retransmissions and errors: the connection's retransmission facts at the event. */
  tcp: {
    /** Consecutive unanswered retransmissions (for a SYN-ACK: of the request). */
    retransmits: number;
    /** All retransmissions of the connection. */
    total_retrans: number;
    /** The retransmission timeout in ms. */
    rto_ms: number | null;
    /** Smoothed round-trip time in microseconds. */
    srtt_us: number;
  } | null;
  /** A SYN-ACK retransmission: the listener's accept queue at that moment. */
  accept_queue: {
    /** Connections waiting for accept(). */
    len: number;
    /** The backlog limit. */
    max: number;
  } | null;
  /** The task running when the event fired (in softirq context: whoever the CPU was running; see `owner`). */
  process: {
    /** Process id (tgid). */
    pid: number;
    /** Thread id. */
    tid: number;
    /** Task name, with control and bidi characters escaped. */
    comm: string;
  };
  /** The process owning the socket (a SYN-ACK: the listener's), when known. */
  owner: {
    /** Owner process id. */
    pid: number;
    /** Owner task name (escaped). */
    comm: string;
  } | null;
  /** cgroup v2 id of the socket, else of the current task (decimal string). */
  cgroup_id: string;
  /** The socket cookie (decimal string); null without a socket. */
  sock_cookie: string | null;
  /** The kernel hook, e.g. tp_btf/kfree_skb. */
  hook: string;
  /** Drops: the segment is the peer's probe into this socket's zero receive window (a bare ACK one below the next expected byte; the kernel drops each as old). Known where the kernel names the receiving socket (6.11+). */
  window_probe: boolean;
  /** Drops: the kernel code that dropped the segment (function+0xoffset). null otherwise. */
  location: string | null;
  /** Drops: whether `stack` holds the kernel stack (rate_limited: over --stack-rate). null for retransmissions and errors. */
  stack_status: 'captured' | 'rate_limited' | 'lost' | null;
  /** Kernel stack of a drop, innermost first. null unless stack_status is captured. */
  stack: string[] | null;
  /** the diagnosis (src/diagnose/); null until diagnosed */
  cause: Verdict | null;
}
