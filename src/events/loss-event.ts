// The events of loss: a TCP segment the kernel dropped, a segment it sent
// again, and an error a socket reported to its application.
import type { Tuple } from './generated/event-type.js';
import type { Verdict } from './verdict.js';

export type LossType = 'drop' | 'retransmit' | 'error';

/** One drop, retransmission or socket error, as `tcpwhy watch --json` prints it. */
export interface LossEvent {
  type: LossType;
  time: string;
  mono_ns: number;
  netns: number;
  family: 'ipv4' | 'ipv6';
  /** drops: whether the segment arrived (in) or was sent from this namespace (out); null otherwise */
  direction: 'in' | 'out' | null;
  /** drop: the kernel's drop reason; retransmit: SYN, SYNACK, RTO, FAST or PROBE; error: the errno name */
  reason: string;
  reason_code: number;
  state: string | null;
  /** the segment's tuple seen from this namespace (for an ICMP error: the packet it quotes) */
  packet: Tuple | null;
  socket: Tuple | null;
  segment: { flags: string; seq: number; ack: number; len: number } | null;
  icmp: { type: number; code: number; from: string; mtu: number | null } | null;
  tcp: { retransmits: number; total_retrans: number; rto_ms: number; srtt_us: number } | null;
  process: { pid: number; tid: number; comm: string };
  owner: { pid: number; comm: string } | null;
  cgroup_id: string;
  sock_cookie: string | null;
  hook: string;
  stack: string[] | null;
  cause: Verdict | null;
}
