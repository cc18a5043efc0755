import { endpoint } from '../net/addr.js';
import { LISTENER_DOC, base, counter, listenerEvidence, passiveSent, sysctl, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, WIRE_DOC, passive, who, wireBase } from './wire-helpers.js';

export const acceptQueueOverflowAbort: Cause = {
  id: 'accept-queue-overflow-abort',
  title: 'accept queue full, tcp_abort_on_overflow=1',
  group: 'passive',
  map: ['P6'],
  happened:
    "The handshake completed while the listener's accept queue was full. With net.ipv4.tcp_abort_on_overflow=1 the kernel answers the final ACK with an RST instead of dropping it.",
  why: 'tcp_check_req(): the child socket cannot be queued (sk_acceptq_is_full), and with tcp_abort_on_overflow set it sends a reset (reason INVALID_SYN; counters ListenOverflows and ListenDrops).',
  evidence: {
    ...LISTENER_DOC,
    abort_on_overflow: 'net.ipv4.tcp_abort_on_overflow of the namespace',
    listen_overflows: 'TcpExt.ListenOverflows of the namespace',
    local: 'listening endpoint',
    remote: 'client endpoint',
  },
  recognized:
    'a passive RST from a LISTEN socket whose accept queue is full (len > max, as sk_acceptq_is_full counts), reason INVALID_SYN (or none), segment without SYN, tcp_abort_on_overflow not known to be 0 (without a reason: high when tcp_check_req is on the stack and the sysctl reads 1).',
  fix: 'The application does not accept() fast enough: find why (blocked event loop, too few workers), raise the listen() backlog and net.core.somaxconn. tcp_abort_on_overflow=0 turns these RSTs into silent drops and retries.',
  match(f) {
    const q = f.e.accept_queue;
    // full means len > max (sk_acceptq_is_full)
    if (!passiveSent(f) || f.e.state !== 'LISTEN' || !q || q.len <= q.max || f.seg?.syn) return null;
    if (f.reason && f.reason !== 'INVALID_SYN') return null;
    if (sysctl(f, 'net.ipv4.tcp_abort_on_overflow') === '0') return null;
    // without a reason: the handshake's last ACK refused in tcp_check_req() with the queue full and the sysctl on
    const byPath = f.stackHas('tcp_check_req') && sysctl(f, 'net.ipv4.tcp_abort_on_overflow') === '1';
    return {
      confidence: f.reason || byPath ? 'high' : 'medium',
      summary: `the accept queue of ${whoOwns(f)} on :${f.tuple?.lport} was full (${q.len}/${q.max}); with tcp_abort_on_overflow=${sysctl(f, 'net.ipv4.tcp_abort_on_overflow') ?? '?'} the kernel refused ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : 'the client'}`,
      evidence: {
        ...listenerEvidence(f),
        abort_on_overflow: sysctl(f, 'net.ipv4.tcp_abort_on_overflow'),
        listen_overflows: counter(f, 'TcpExt.ListenOverflows'),
        ...base(f),
      },
    };
  },
  wire: {
    recognized:
      "a passive RST from the server answering the handshake's final ACK (tcp_abort_on_overflow=1 with a full accept queue), from a sender that may be Linux (else handshake-ack-rejected).",
    alike: ['stray-ack-to-listener', 'syn-recv-bad-ack'],
    evidence: { ...WIRE_BASE_DOC, handshake_ack: WIRE_DOC.handshake_ack },
    test: (w) => (w.stack.mayBeLinux && w.role === 'server' && passive(w) && w.answered !== null && w.answered.frame === w.establishedFrame ? 'medium' : null),
    explain: (w) => ({
      summary: `${who(w)} answered the handshake's final ACK (frame ${w.answered!.frame}) with a reset: its accept queue was full and net.ipv4.tcp_abort_on_overflow=1`,
      evidence: { ...wireBase(w), handshake_ack: w.answered!.frame },
      proof: [w.answered!.frame],
    }),
  },
};
