// A namespace's kernel counters (/proc/net/netstat, snmp, snmp6), named as
// nstat names them except that TcpExt and Tcp counters go bare
// (ListenOverflows, RetransSegs): what lab scenarios cite as their witnesses.
import { inNs, type LabHost, parseSnmp } from './netns.js';

export type Counters = Record<string, number>;

export function readCounters(host: LabHost): Counters {
  const out: Counters = {};
  const text = inNs(host.ns, 'cat', ['/proc/net/netstat', '/proc/net/snmp']);
  for (const [group, values] of Object.entries(parseSnmp(text))) {
    const prefix = group === 'TcpExt' || group === 'Tcp' ? '' : group;
    for (const [k, v] of Object.entries(values)) out[prefix + k] = v;
  }
  // snmp6: one "Ip6InReceives   12" pair a line, already prefixed
  for (const line of inNs(host.ns, 'cat', ['/proc/net/snmp6']).split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

/** after - before for the named counters (0 where a counter did not move or does not exist). */
export function counterDeltas(before: Counters, after: Counters, names: readonly string[]): Counters {
  return Object.fromEntries(names.map((n) => [n, (after[n] ?? 0) - (before[n] ?? 0)]));
}
