import { DROP_DOC, dropEvidence, droppedFor, lossWho, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

const MEM = new Set(['SOCKET_RCVBUFF', 'SOCKET_BACKLOG', 'PROTO_MEM', 'TCP_OFO_QUEUE_PRUNE', 'TCP_OFO_DROP', 'NOMEM', 'PFMEMALLOC', 'SKB_UCOPY_FAULT']);

export const receiveBufferFull: Cause = {
  id: 'receive-buffer-full',
  title: "Segment dropped: the receiver's buffer or TCP memory is exhausted",
  group: 'drop',
  map: [],
  happened:
    'The receiving socket had no room: its receive buffer (or its backlog, while the application held the socket lock) was full, or TCP as a whole was over net.ipv4.tcp_mem. The application does not read fast enough, or the host is short of memory.',
  why: 'tcp_try_rmem_schedule() fails (SOCKET_RCVBUFF, PROTO_MEM: TCPRcvQDrop), tcp_add_backlog() past sk_rcvbuf + sk_sndbuf (SOCKET_BACKLOG: TCPBacklogDrop), tcp_prune_ofo_queue() drops out-of-order data to make room (TCP_OFO_QUEUE_PRUNE).',
  evidence: { ...DROP_DOC, pid: 'process owning the socket', comm: 'its name', unread: 'bytes the application had not read' },
  recognized: 'a drop with reason SOCKET_RCVBUFF, SOCKET_BACKLOG, PROTO_MEM, TCP_OFO_QUEUE_PRUNE, TCP_OFO_DROP or NOMEM (high).',
  fix: 'Make the application read faster (or with more threads); raise net.ipv4.tcp_rmem / SO_RCVBUF if bursts are legitimate; check net.ipv4.tcp_mem against TCP memory use (/proc/net/sockstat) when PROTO_MEM.',
  loss(f) {
    if (!droppedFor(f, MEM)) return null;
    return {
      confidence: 'high',
      summary: `${segmentText(f)} was dropped: ${f.e.reason === 'PROTO_MEM' ? "TCP's memory (net.ipv4.tcp_mem) is exhausted" : `the receive buffer${f.e.owner ? ` of ${lossWho(f)}` : ''} is full`} (${f.e.reason})`,
      evidence: { ...dropEvidence(f), pid: f.e.owner?.pid ?? null, comm: f.e.owner?.comm ?? null, unread: null },
    };
  },
};
