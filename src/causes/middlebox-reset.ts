import type { Cause } from './types.js';
import { WIRE_BASE_DOC, who, wireBase } from './wire-helpers.js';

// the same facts a live rule would report, if live events could see wire headers
const DIFFERS_DOC = { differs: "which header fields differ from the sender's other packets" };

export const middleboxReset: Cause = {
  id: 'middlebox-reset',
  title: 'RST injected by a middlebox',
  group: 'netfilter',
  map: ['middlebox'],
  happened: "An RST that the peer's TCP stack did not send: a firewall, IDS or load balancer on the path injected it.",
  why: "Injected RSTs are built by other code than the peer's TCP stack: their TTL, IP ID, window or options differ from the peer's other packets.",
  evidence: DIFFERS_DOC,
  recognized: "only in captures (tcpwhy analyze): header fields unlike the sender's other packets. Live events cannot see the wire headers.",
  fix: 'Find the device on the path (traceroute to where the TTL says it came from); check its idle timeouts and policies.',
  wire: {
    recognized:
      "the RST's TTL (hop limit) differs from every other packet of its claimed sender, or its seq fits neither a reply nor the sender's sequence, together with a construction unlike Linux's.",
    alike: [],
    evidence: { ...WIRE_BASE_DOC, ...DIFFERS_DOC },
    test: (w) => (!w.injected.length ? null : w.injected.length > 1 ? 'high' : 'medium'),
    explain: (w) => ({
      summary: `an RST claiming to come from ${who(w)} unlike its other packets (${w.injected.join('; ')}): injected on the path`,
      evidence: { ...wireBase(w), differs: w.injected.join('; ') },
      proof: [w.sender.lastFrame].filter((x) => x > 0),
    }),
  },
};
