import { endpoint } from '../net/addr.js';
import { TUPLE_DOC, base, natRulesFor, passiveSent } from './live-helpers.js';
import type { Cause } from './types.js';

export const earlyDemuxNatPortClash: Cause = {
  id: 'early-demux-nat-port-clash',
  title: 'early demux + DNAT port clash (kernel bug)',
  group: 'race',
  map: ['races: early demux'],
  happened:
    "Two flows from one client address and port went to two ports that NAT redirects to one local port; the second flow's packets were handed to the first flow's socket, which rejected them.",
  why: 'Early demux looked up the socket before NAT had resolved the port clash (fixed in 6.7, "netfilter: nf_nat: undo erroneous tcp edemux lookup after port clash"; an earlier variant in 5.12).',
  evidence: {
    packet_tuple: "the segment's tuple",
    socket_tuple: 'the tuple of the socket that got it',
    rule: 'the NAT rule',
    kernel: 'running kernel version',
    ...TUPLE_DOC,
  },
  recognized:
    "a passive RST from a full, non-listening socket whose tuple differs from the segment's, in a namespace with REDIRECT/DNAT rules; high confidence on kernels before 6.7.",
  fix: 'Upgrade to 6.7+ (or a stable kernel with the fix); meanwhile avoid redirecting two ports to one, or make clients use distinct source ports.',
  match(f) {
    const e = f.e;
    if (!passiveSent(f) || !e.packet || !e.socket || e.state === 'LISTEN' || !e.queues) return null;
    const p = e.packet;
    const k = e.socket;
    const same = p.lport === k.lport && p.rport === k.rport && p.raddr.replace('::ffff:', '') === k.raddr.replace('::ffff:', '');
    if (same) return null;
    const rules = natRulesFor(f, p.lport).concat(natRulesFor(f, k.lport));
    if (!rules.length) return null;
    const old = f.kernel.version[0] < 6 || (f.kernel.version[0] === 6 && f.kernel.version[1] < 7);
    return {
      confidence: old ? 'high' : 'medium',
      summary: `a segment for ${endpoint(p.laddr, p.lport)} <- ${endpoint(p.raddr, p.rport)} was handed to the socket ${endpoint(k.laddr, k.lport)} <- ${endpoint(k.raddr, k.rport)} under NAT: the early-demux port clash${old ? '' : ' (fixed in 6.7: this kernel should not do it; check for a similar NAT bug)'}`,
      evidence: {
        packet_tuple: `${endpoint(p.laddr, p.lport)} <- ${endpoint(p.raddr, p.rport)}`,
        socket_tuple: `${endpoint(k.laddr, k.lport)} <- ${endpoint(k.raddr, k.rport)}`,
        rule: rules[0]!.text,
        kernel: f.kernel.version.join('.'),
        ...base(f),
      },
    };
  },
};
