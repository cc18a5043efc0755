// A loss event as toLossEvent() makes it, for tests of what handles loss
// events without a kernel: by default a SYN from 192.0.2.1 to 192.0.2.2:7000
// dropped in the server's namespace with NETFILTER_DROP.
import type { LossEvent } from '../../src/events/loss-event.js';

export const SERVER_NS = 4026532400;
export const CLIENT_NS = 4026532401;

export function lossEvent(over: Partial<LossEvent> = {}): LossEvent {
  return {
    type: 'drop',
    time: '2026-12-07T10:00:00.000000000Z',
    mono_ns: 1e12,
    netns: SERVER_NS,
    family: 'ipv4',
    direction: 'in',
    reason: 'NETFILTER_DROP',
    reason_code: 12,
    state: null,
    packet: { laddr: '192.0.2.2', lport: 7000, raddr: '192.0.2.1', rport: 40000 },
    socket: null,
    segment: { flags: 'SYN', seq: 1000, ack: 0, len: 0 },
    icmp: null,
    tcp: null,
    accept_queue: null,
    process: { pid: 0, tid: 0, comm: 'swapper/1' },
    owner: null,
    cgroup_id: '1',
    sock_cookie: null,
    hook: 'tp_btf/kfree_skb',
    window_probe: false,
    location: 'nft_do_chain+0x9b',
    stack_status: 'rate_limited',
    stack: null,
    cause: null,
    ...over,
  };
}

/** The client's SYN sent again (its retry n), as tcp_retransmit_skb reports it. */
export function synRetransmit(n: number, over: Partial<LossEvent> = {}): LossEvent {
  const t = { laddr: '192.0.2.1', lport: 40000, raddr: '192.0.2.2', rport: 7000 };
  return lossEvent({
    type: 'retransmit',
    netns: CLIENT_NS,
    direction: null,
    reason: 'SYN',
    reason_code: null,
    state: 'SYN_SENT',
    packet: t,
    socket: t,
    tcp: { retransmits: n, total_retrans: n, rto_ms: 1000, srtt_us: 0 },
    owner: { pid: 812, comm: 'curl' },
    location: null,
    stack_status: null,
    hook: 'tp_btf/tcp_retransmit_skb',
    ...over,
  });
}

/** The error the client's socket reported (ETIMEDOUT by default). */
export function socketError(over: Partial<LossEvent> = {}): LossEvent {
  const t = { laddr: '192.0.2.1', lport: 40000, raddr: '192.0.2.2', rport: 7000 };
  return lossEvent({
    type: 'error',
    netns: CLIENT_NS,
    direction: null,
    reason: 'ETIMEDOUT',
    reason_code: 110,
    state: 'CLOSE',
    packet: null,
    socket: t,
    segment: null,
    tcp: { retransmits: 6, total_retrans: 6, rto_ms: 64000, srtt_us: 0 },
    owner: { pid: 812, comm: 'curl' },
    location: null,
    stack_status: null,
    hook: 'tp_btf/inet_sk_error_report',
    ...over,
  });
}
