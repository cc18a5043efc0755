// Helpers the wire loss rules share (the `wireLoss` part of a cause module):
// how they name a side, an ICMP error, and the evidence every loss finding
// carries.
import { addrText, endpoint } from '../net/addr.js';
import type { EvidenceValue } from '../events/verdict.js';
import type { EvidenceDocs } from './types.js';
import type { IcmpSeen, LossSideFacts, WireLossFacts } from './wire-loss-facts.js';

export const sideEp = (s: LossSideFacts) => endpoint(addrText(s.addr), s.port);
/** "client 192.0.2.1:40000", or "192.0.2.1:40000" when the capture missed the handshake */
export const meWho = (l: WireLossFacts) => (l.role ? `${l.role} ${sideEp(l.me)}` : sideEp(l.me));
export const peerWho = (l: WireLossFacts) => (l.role ? `${l.role === 'client' ? 'server' : 'client'} ${sideEp(l.peer)}` : sideEp(l.peer));
/** seconds, rounded for evidence */
export const round1 = (s: number) => Math.round(s * 10) / 10;

// ICMP destination unreachable codes (RFC 792, 1122, 1812) and the errno Linux
// gives the socket for each (icmp_err_convert[] in net/ipv4/icmp.c)
const ICMP4: Array<[string, string]> = [
  ['net unreachable', 'ENETUNREACH'],
  ['host unreachable', 'EHOSTUNREACH'],
  ['protocol unreachable', 'ENOPROTOOPT'],
  ['port unreachable', 'ECONNREFUSED'],
  ['fragmentation needed', 'EMSGSIZE'],
  ['source route failed', 'EOPNOTSUPP'],
  ['destination network unknown', 'ENETUNREACH'],
  ['destination host unknown', 'EHOSTDOWN'],
  ['source host isolated', 'ENONET'],
  ['network administratively prohibited', 'ENETUNREACH'],
  ['host administratively prohibited', 'EHOSTUNREACH'],
  ['net unreachable for TOS', 'ENETUNREACH'],
  ['host unreachable for TOS', 'EHOSTUNREACH'],
  ['communication administratively prohibited', 'EHOSTUNREACH'],
  ['host precedence violation', 'EHOSTUNREACH'],
  ['precedence cutoff', 'EHOSTUNREACH'],
];
// ICMPv6 destination unreachable codes (RFC 4443) and icmpv6_err_convert()'s errno
const ICMP6: Array<[string, string]> = [
  ['no route to destination', 'ENETUNREACH'],
  ['administratively prohibited', 'EACCES'],
  ['beyond scope of source address', 'EHOSTUNREACH'],
  ['address unreachable', 'EHOSTUNREACH'],
  ['port unreachable', 'ECONNREFUSED'],
  ['source address failed ingress/egress policy', 'EACCES'],
  ['reject route to destination', 'EACCES'],
];

/** "ICMP host unreachable", "ICMPv6 packet too big" ... */
export function icmpName(i: IcmpSeen): string {
  if (i.family === 6) return i.type === 2 ? 'ICMPv6 packet too big' : `ICMPv6 ${ICMP6[i.code]?.[0] ?? `destination unreachable (code ${i.code})`}`;
  return `ICMP ${ICMP4[i.code]?.[0] ?? `destination unreachable (code ${i.code})`}`;
}

/** The error Linux reports to the socket for it. */
export function icmpErrno(i: IcmpSeen): string {
  if (i.family === 6) return i.type === 2 ? 'EMSGSIZE' : (ICMP6[i.code]?.[1] ?? 'EHOSTUNREACH');
  return ICMP4[i.code]?.[1] ?? 'EHOSTUNREACH';
}

/** A port unreachable or an administrative prohibition: what firewalls' reject rules send for TCP (a host's own stack answers a closed TCP port with an RST). */
export function firewallCode(i: IcmpSeen): boolean {
  if (i.family === 6) return i.type === 1 && (i.code === 1 || i.code === 4 || i.code === 5 || i.code === 6);
  return i.code === 3 || i.code === 9 || i.code === 10 || i.code === 13;
}

/** "ICMP host unreachable from 203.0.113.1 (frame 9)" */
export const icmpText = (i: IcmpSeen) => `${icmpName(i)} from ${addrText(i.from)} (frame ${i.frame}${i.count > 1 ? `, ${i.count} in all` : ''})`;

// lossBase() fills exactly the names LOSS_BASE_DOC documents: a rule spreads both
export const LOSS_BASE_DOC: EvidenceDocs = {
  endpoint: 'the side the finding is about (address:port): the one whose packets were lost, or whose window was zero',
  peer: 'the other side',
  role: '"client" (it sent the SYN) or "server"; null when the capture missed the handshake',
};

export function lossBase(l: WireLossFacts): Record<string, EvidenceValue> {
  return { endpoint: sideEp(l.me), peer: sideEp(l.peer), role: l.role };
}

export const ICMP_DOC: EvidenceDocs = {
  icmp_from: 'the address that sent the ICMP error (a router on the path, a firewall, or the destination host)',
  icmp: 'the ICMP type and code, in words',
  icmp_frame: 'frame of the first ICMP error of this kind about the flow',
  icmp_count: 'ICMP errors of this kind about the flow',
};

export function icmpEvidence(i: IcmpSeen): Record<string, EvidenceValue> {
  return { icmp_from: addrText(i.from), icmp: icmpName(i), icmp_frame: i.frame, icmp_count: i.count };
}
