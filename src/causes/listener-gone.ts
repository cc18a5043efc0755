import { closedBefore, listeningAt } from './live-facts.js';
import { endpoint } from '../net/addr.js';
import { TUPLE_DOC, base, noSocketPath, passiveSent, s } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, answersSyn, ep, passive, wireBase } from './wire-helpers.js';

export const listenerGone: Cause = {
  id: 'listener-gone',
  title: 'the listener on this port exited',
  group: 'passive',
  map: ['P1'],
  happened: 'A process listened on this port, but it has stopped listening (exited, crashed or closed its socket); the SYN found nobody.',
  why: 'tcp_v4_rcv()/tcp_v6_rcv() find no socket and answer with an RST (RFC 9293 3.10.7.1; reason NO_SOCKET).',
  evidence: {
    port: 'the port asked for',
    listener_pid: 'process that listened',
    listener_comm: 'its name',
    closed_ago_s: "seconds between the listener's close and the RST",
    closed_by_pid: 'task that closed the listener (the exiting process)',
    ...TUPLE_DOC,
  },
  recognized:
    'an RST with no socket (NO_SOCKET, or none given) to a SYN, and a listener on the port in the history that closed before it and was not replaced (high with NO_SOCKET or, without reasons, a socketless send from tcp_v4_rcv/tcp_v6_rcv on the stack).',
  fix: 'Restart the service and find why it stopped (exit status, OOM killer, crash logs: journalctl, dmesg). Clients should retry with backoff during restarts.',
  match(f) {
    const t = f.tuple;
    if (!passiveSent(f) || f.e.socket || !t || (f.reason && f.reason !== 'NO_SOCKET')) return null;
    if (f.seg && !f.seg.syn) return null;
    if (listeningAt(f.listener, f.e.mono_ns, t.laddr)) return null;
    const ep = closedBefore(f.listener, f.e.mono_ns, t.laddr);
    if (!ep || ep.closed_ns === null) return null;
    const who = ep.owner ?? ep.closer;
    return {
      confidence: noSocketPath(f) ? 'high' : 'medium',
      summary: `nothing listens on :${t.lport} any more: the listener${who ? `, pid ${who.pid} (${who.comm}),` : ''} closed ${s(f.e.mono_ns - ep.closed_ns)} ago; ${endpoint(t.raddr, t.rport)} was refused`,
      evidence: {
        port: t.lport,
        listener_pid: who?.pid ?? null,
        listener_comm: who?.comm ?? null,
        closed_ago_s: Math.round((f.e.mono_ns - ep.closed_ns) / 1e8) / 10,
        closed_by_pid: ep.closer?.pid ?? null,
        ...base(f),
      },
    };
  },
  wire: {
    recognized: 'a passive RST answering a SYN, from an endpoint that answered earlier SYNs with SYN-ACK in the same capture.',
    alike: ['netfilter-reject'],
    evidence: {
      ...WIRE_BASE_DOC,
      accepted_before: "connections the sender's endpoint accepted earlier in the capture (SYN-ACKs it sent)",
      last_synack_frame: 'frame of the last of those SYN-ACKs',
    },
    test: (w) => (passive(w) && answersSyn(w) && w.acceptedBefore ? 'medium' : null),
    explain: (w) => ({
      summary: `${ep(w.from)} refused a SYN (frame ${w.answered!.frame}) though it accepted ${w.acceptedBefore!.count} connection(s) earlier in the capture (last SYN-ACK frame ${w.acceptedBefore!.lastFrame}): its listener went away`,
      evidence: { ...wireBase(w), accepted_before: w.acceptedBefore!.count, last_synack_frame: w.acceptedBefore!.lastFrame },
      proof: [w.answered!.frame, w.acceptedBefore!.lastFrame],
    }),
  },
};
