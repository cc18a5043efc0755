import { tcpdumpFlags as flagText } from '../net/flags.js';
import { endpoint } from '../net/addr.js';
import { TUPLE_DOC, base, natRulesFor, passiveSent, sysctl } from './live-helpers.js';
import type { Cause } from './types.js';
import { WIRE_BASE_DOC, WIRE_DOC, packetText, passive, who, wireBase } from './wire-helpers.js';

export const natNotApplied: Cause = {
  id: 'nat-not-applied',
  title: 'NAT was not applied: the segment reached the original port',
  group: 'nat',
  map: ['P1', 'netfilter: conntrack INVALID'],
  happened:
    'A NAT rule (REDIRECT or DNAT) sends this port elsewhere, and this connection lives at the translated port, but this segment was not translated: conntrack no longer had the connection (entry deleted, expired, or the table was full) and, with nf_conntrack_tcp_loose=0, marked the mid-stream segment INVALID, which NAT skips. The segment reached the original port, where no socket matches, and drew an RST.',
  why: 'Conntrack only picks up a connection in the middle when nf_conntrack_tcp_loose=1; INVALID packets are not NATed, so tcp_v4_rcv() finds no socket for the original tuple (reason NO_SOCKET).',
  evidence: {
    packet_tuple: "the segment's tuple, as it arrived (not translated)",
    nat_tuple: 'the tuple the NAT rule would have made',
    original_port: 'the port the client uses',
    redirected_port: 'the port NAT translates it to',
    rule: 'the NAT rule',
    socket_seen: 'whether a socket for the translated tuple was seen (history or listeners)',
    tcp_loose: 'net.netfilter.nf_conntrack_tcp_loose',
    conntrack_invalid: 'conntrack -S invalid, summed',
    ...TUPLE_DOC,
  },
  recognized:
    'a NO_SOCKET RST (or no socket) to a non-SYN segment whose local port a REDIRECT/DNAT rule translates, while the history knows a connection on the translated tuple (high) or a listener on the translated port (medium).',
  fix: 'Find why conntrack lost the entry: `conntrack -S` (early_drop, insert_failed, drop), nf_conntrack_count vs nf_conntrack_max, tools running `conntrack -D/-F`, timeouts shorter than idle periods. Setting net.netfilter.nf_conntrack_tcp_loose=1 lets conntrack pick the flow up again (then NAT is redone).',
  match(f) {
    const t = f.e.packet;
    if (!passiveSent(f) || !t || f.seg?.syn || f.e.socket) return null;
    if (f.reason && f.reason !== 'NO_SOCKET') return null;
    for (const r of natRulesFor(f, t.lport)) {
      if (!r.toPort) continue;
      const to = r.toPort[0] + (r.toPort[0] !== r.toPort[1] && r.dport ? t.lport - r.dport[0] : 0);
      const toAddr = r.action === 'redirect' || !r.toAddr ? t.laddr : r.toAddr;
      const nat = { laddr: toAddr, lport: to, raddr: t.raddr, rport: t.rport };
      const known = f.historyOf(nat);
      const live = known.states.length > 0 && !known.states.some((x) => x.new === 'CLOSE' && x.mono_ns < f.e.mono_ns);
      const listening = f.host?.listeners.some((l) => l.lport === to) ?? false;
      if (!live && !listening) continue;
      return {
        confidence: live ? 'high' : 'medium',
        summary: `NAT did not translate this segment: ${endpoint(t.raddr, t.rport)} talks to :${t.lport}, which "${r.text}" sends to :${to}${live ? ', where its connection lives' : ''}; conntrack had lost the flow, so the segment reached :${t.lport} and got an RST`,
        evidence: {
          packet_tuple: `${endpoint(t.laddr, t.lport)} <- ${endpoint(t.raddr, t.rport)}`,
          nat_tuple: `${endpoint(toAddr, to)} <- ${endpoint(t.raddr, t.rport)}`,
          original_port: t.lport,
          redirected_port: to,
          rule: r.text,
          socket_seen: live ? 'connection in history' : 'listener on the translated port',
          tcp_loose: sysctl(f, 'net.netfilter.nf_conntrack_tcp_loose'),
          conntrack_invalid: f.host?.conntrack?.stats['invalid'] ?? null,
          ...base(f),
        },
      };
    }
    return null;
  },
  wire: {
    recognized:
      "a passive RST from the server's port of an established connection while the same client endpoint also exchanges packets with another port of the server that it never opened (the translated port leaking out: REDIRECT/DNAT no longer applied).",
    alike: ['nat-backend-changed'],
    evidence: {
      ...WIRE_BASE_DOC,
      translated_port:
        'other ports of the server the client exchanged packets with, in flows whose start the capture missed (comma-separated): the translated port leaking out',
      segment: WIRE_DOC.segment,
    },
    test: (w) => (passive(w) && w.role === 'server' && w.handshake === 'established' && w.leakedPorts.length > 0 ? 'medium' : null),
    explain: (w) => ({
      summary: `${who(w)} answered ${w.answered ? packetText(w.answered) : 'a segment'} with a reset, and packets between the client and port ${w.leakedPorts.join(', ')} of the server show the translated port: the segment reached ${w.from.port} without its NAT (conntrack entry lost)`,
      evidence: { ...wireBase(w), translated_port: w.leakedPorts.join(','), segment: w.answered ? flagText(w.answered.flags) : null },
      proof: w.answered ? [w.answered.frame] : [],
    }),
  },
};
