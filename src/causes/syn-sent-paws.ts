import { base, passiveSent } from './live-helpers.js';
import type { Cause } from './types.js';

export const synSentPaws: Cause = {
  id: 'syn-sent-paws',
  title: 'PAWS check failed while connecting',
  group: 'passive',
  map: ['P3c'],
  happened: 'The SYN-ACK carried a timestamp echo that does not match what this host sent.',
  why: 'tcp_rcv_synsent_state_process() rejects a bad TSecr (RFC 7323; reason TCP_RFC7323_PAWS).',
  evidence: { local: 'local endpoint', remote: 'remote endpoint' },
  recognized: 'reason TCP_RFC7323_PAWS.',
  fix: 'Look for a middlebox rewriting TCP timestamps, or a peer with broken timestamps.',
  match(f) {
    if (!passiveSent(f) || f.reason !== 'TCP_RFC7323_PAWS') return null;
    return { confidence: 'high', summary: 'the SYN-ACK echoed a timestamp this host never sent (PAWS)', evidence: base(f) };
  },
};
