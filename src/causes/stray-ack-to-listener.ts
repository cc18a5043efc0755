import { LISTENER_DOC, TUPLE_DOC, base, listenerEvidence, passiveSent, segText, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';

export const strayAckToListener: Cause = {
  id: 'stray-ack-to-listener',
  title: 'a listener got an ACK it cannot place',
  group: 'passive',
  map: ['P3a'],
  happened:
    'A listening socket received a segment with ACK that matches no pending handshake: an expired or dropped half-open connection, an invalid SYN cookie, or a connection this host forgot.',
  why: 'tcp_rcv_state_process() in LISTEN answers any ACK with an RST (reason TCP_FLAGS).',
  evidence: { ...LISTENER_DOC, segment: 'flags of the segment', ...TUPLE_DOC },
  recognized: 'a passive RST from a LISTEN socket not explained by the entries above.',
  fix: 'Check ListenOverflows/ListenDrops (nstat), SYN cookies (TcpExt.SyncookiesFailed) and restarts of the service.',
  match(f) {
    if (!passiveSent(f) || f.e.state !== 'LISTEN') return null;
    return {
      confidence: 'medium',
      summary: `the listener of ${whoOwns(f)} on :${f.tuple?.lport} got ${segText(f)} that matches no handshake`,
      evidence: { ...listenerEvidence(f), segment: f.e.segment?.flags ?? null, ...base(f) },
    };
  },
};
