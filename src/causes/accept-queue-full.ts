import { DROP_DOC, dropEvidence, droppedFor, isRetransmit, lossWho, segmentText, tupleOf } from './loss-helpers.js';
import type { Cause } from './types.js';

export const acceptQueueFull: Cause = {
  id: 'accept-queue-full',
  title: 'Handshake dropped: the listener accept queue is full',
  group: 'drop',
  map: [],
  happened:
    "The server application does not call accept() fast enough: its accept queue holds as many connections as its backlog allows, so the kernel drops the handshake (the SYN, or the client's final ACK with net.ipv4.tcp_abort_on_overflow=0, the default) and keeps sending SYN-ACKs. The client believes it is connected, its first request waits, and it may time out or be reset later.",
  why: 'tcp_conn_request() drops SYNs while sk_acceptq_is_full(); tcp_check_req() -> syn_recv_sock() fails on a full queue and, with tcp_abort_on_overflow=0, marks the request acked and drops the ACK (TCP_LISTEN_OVERFLOW on 6.x kernels that name it; ListenOverflows and ListenDrops count both); inet_rtx_syn_ack() then retransmits the SYN-ACK.',
  evidence: {
    ...DROP_DOC,
    listener_pid: 'process owning the listener',
    listener_comm: 'its name',
    queue_len: 'connections waiting for accept()',
    backlog: 'the accept queue limit',
    overflows: 'TcpExt.ListenOverflows of the namespace',
  },
  recognized:
    "a drop with reason TCP_LISTEN_OVERFLOW, or NO_SOCKET with the listener named (a syncookie ACK, 6.11+) (high), or a SYN-ACK retransmitted while the listener's accept queue is full (high: the SYN-ACK tracepoint passes the listener).",
  fix: 'Make the server accept faster (more workers, no blocking in the accept loop); raise the listen() backlog and net.core.somaxconn for bursts. tcp_abort_on_overflow=1 makes clients fail at once with a reset instead of hanging.',
  loss(f) {
    const q = f.e.accept_queue;
    // TCP_LISTEN_OVERFLOW; or a syncookie ACK the listener cannot take (NO_SOCKET with the listener named)
    const overflowDrop = droppedFor(f, new Set(['TCP_LISTEN_OVERFLOW'])) || (droppedFor(f, new Set(['NO_SOCKET'])) && f.e.state === 'LISTEN');
    const fullSynack = isRetransmit(f) && f.e.reason === 'SYNACK' && q !== null && q.len >= q.max;
    if (!overflowDrop && !fullSynack) return null;
    const t = tupleOf(f);
    const listener = f.host?.listeners.find((l) => t && l.lport === t.lport);
    const len = q?.len ?? listener?.queue ?? null;
    const max = q?.max ?? listener?.backlog ?? null;
    const what = overflowDrop
      ? `dropped ${segmentText(f)}`
      : `sent a SYN-ACK to ${t ? `${t.raddr}:${t.rport}` : 'the client'} again (retry ${f.e.tcp?.retransmits ?? '?'}): the client's final ACK was dropped`;
    return {
      confidence: 'high',
      summary: `the accept queue of the listener on port ${t?.lport ?? '?'} (${lossWho(f)}) is full${len !== null ? ` (${len}/${max})` : ''}: the kernel ${what}`,
      evidence: {
        ...dropEvidence(f),
        listener_pid: f.e.owner?.pid ?? null,
        listener_comm: f.e.owner?.comm ?? null,
        queue_len: len,
        backlog: max,
        overflows: f.host?.counters['TcpExt.ListenOverflows'] ?? null,
      },
    };
  },
};
