import { endpoint } from '../net/addr.js';
import { TUPLE_DOC, base, passiveSent } from './live-helpers.js';
import type { Cause } from './types.js';

export const inWindowSynToRequest: Cause = {
  id: 'in-window-syn-to-request',
  title: 'SYN inside the window of a pending handshake',
  group: 'passive',
  map: ['P6'],
  happened:
    'A new SYN arrived for a handshake in progress, with a sequence number inside its window (a client restarting a connection with the same ports, or a duplicate).',
  why: 'tcp_check_req() resets an in-window SYN to a request socket (RFC 9293 3.10.7.4; reason INVALID_SYN).',
  evidence: { segment: 'flags of the triggering segment', ...TUPLE_DOC },
  recognized: 'reason INVALID_SYN to a segment with SYN.',
  fix: "Usually a client reusing a port too fast, or duplicated packets; check the client's port allocation and the path for duplication.",
  match(f) {
    if (!passiveSent(f) || f.reason !== 'INVALID_SYN' || !f.seg?.syn) return null;
    return {
      confidence: 'high',
      summary: `a SYN from ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : '?'} fell inside a pending handshake's window`,
      evidence: { segment: f.e.segment?.flags ?? null, ...base(f) },
    };
  },
};
