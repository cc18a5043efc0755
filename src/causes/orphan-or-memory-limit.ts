import { OWNER_DOC, TUPLE_DOC, activeSent, base, counter, ownerEvidence, sysctl, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';

export const orphanOrMemoryLimit: Cause = {
  id: 'orphan-or-memory-limit',
  title: 'too many orphans or TCP memory exhausted',
  group: 'active',
  map: ['A4', 'A8'],
  happened:
    'The kernel killed a connection because the host had too many orphaned sockets (closed by their application but not finished) or TCP memory was above net.ipv4.tcp_mem[2].',
  why: 'tcp_check_oom() from __tcp_close() (at close) or tcp_out_of_resources() (from the retransmit or probe timer of an orphan) resets instead of keeping the socket (reason TCP_ABORT_ON_MEMORY, counter TCPAbortOnMemory; dmesg: "too many orphaned sockets" or "out of memory -- consider tuning tcp_mem").',
  evidence: {
    path: '"close" (__tcp_close) or "timer" (tcp_out_of_resources) or "unknown"',
    tcp_max_orphans: 'net.ipv4.tcp_max_orphans (host-wide)',
    tcp_mem: 'net.ipv4.tcp_mem (host-wide, pages)',
    abort_on_memory: 'TcpExt.TCPAbortOnMemory of the namespace',
    ...OWNER_DOC,
    ...TUPLE_DOC,
  },
  recognized: 'reason TCP_ABORT_ON_MEMORY; the stack tells the close path from the timer path.',
  fix: 'Find what leaves orphans (ss -tan state fin-wait-1 / last-ack, peers that never ACK), lower net.ipv4.tcp_orphan_retries and tcp_fin_timeout, or raise net.ipv4.tcp_max_orphans / tcp_mem if the memory is there.',
  match(f) {
    if (!activeSent(f) || f.reason !== 'TCP_ABORT_ON_MEMORY') return null;
    const path = f.stackHas('tcp_out_of_resources') ? 'timer' : f.stackHas('__tcp_close') ? 'close' : 'unknown';
    return {
      confidence: 'high',
      summary: `the kernel aborted ${whoOwns(f)}'s connection: too many orphaned sockets or TCP memory above tcp_mem (${path === 'timer' ? 'from the retransmit timer' : path === 'close' ? 'at close()' : 'path unknown'})`,
      evidence: {
        path,
        tcp_max_orphans: sysctl(f, 'net.ipv4.tcp_max_orphans'),
        tcp_mem: sysctl(f, 'net.ipv4.tcp_mem'),
        abort_on_memory: counter(f, 'TcpExt.TCPAbortOnMemory'),
        ...ownerEvidence(f),
        ...base(f),
      },
    };
  },
};
