import { TUPLE_DOC, activeSent, base, ownerEvidence, tupleText, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, active, who, wireBase } from './wire-helpers.js';

export const listenerClosedWithPending: Cause = {
  id: 'listener-closed-with-pending',
  title: 'listener closed with connections not yet accepted',
  group: 'active',
  map: ['A5'],
  happened: 'A listening socket was closed (often because its process exited) while connections waited in its accept queue; the kernel resets each of them.',
  why: 'inet_csk_listen_stop() disconnects every child not yet accepted: tcp_disconnect() -> tcp_send_active_reset() (reason TCP_STATE).',
  evidence: { pid: 'process that owned the listener', comm: 'its name', ...TUPLE_DOC },
  recognized: 'an active RST with inet_csk_listen_stop on the stack.',
  fix: 'Stop accepting gracefully: stop listening, accept and finish what is queued, then exit; check why the server exited.',
  match(f) {
    if (!activeSent(f) || !f.stackHas('inet_csk_listen_stop')) return null;
    return {
      confidence: 'high',
      summary: `the listener of ${whoOwns(f)} closed while this connection waited in its accept queue (${tupleText(f)})`,
      evidence: { ...ownerEvidence(f), ...base(f) },
    };
  },
  wire: {
    recognized:
      'active RSTs from one server endpoint within 10 ms on several connections that carried no data either way (a listener closed with connections not yet accepted).',
    alike: ['linger-zero-close'],
    evidence: { ...WIRE_BASE_DOC, connections: 'connections the sender reset within 10 ms of this one (this one included)' },
    test: (w) => (active(w) && w.role === 'server' && w.sender.bytes === 0 && w.peer.bytes === 0 && w.burst >= 2 ? 'medium' : null),
    explain: (w) => ({
      summary: `${who(w)} reset ${w.burst} connections at once, none of which it ever sent data on: its listener closed with connections not yet accepted`,
      evidence: { ...wireBase(w), connections: w.burst },
      proof: [w.establishedFrame].filter((x) => x > 0),
    }),
  },
};
