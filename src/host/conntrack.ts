// Conntrack entries of a namespace that concern one endpoint, read with
// conntrack -L in the namespace. The kernel filters each tuple side
// (--orig-src/--orig-port-dst ...), so a large table is not copied whole.
import { isIP } from 'node:net';
import { netnsPath, forgetNetnsPath } from './netns-path.js';
import { parseConntrackList } from './parse.js';
import { runInNetns } from './run.js';
import type { ConntrackEntry, ConntrackTuple } from './types.js';

export class HostReadError extends Error {
  override name = 'HostReadError';
}

// $1 = address or '', $2 = port or ''
const SCRIPT = `
if [ ! -e /proc/sys/net/netfilter/nf_conntrack_count ]; then exit 0; fi
command -v conntrack >/dev/null 2>&1 || { echo "conntrack: not found (not installed?)" >&2; exit 127; }
a=$1; p=$2
list() { conntrack -L -p tcp "$@"; }
if [ -z "$a" ] && [ -z "$p" ]; then sec all list; exit 0; fi
sec orig-src list \${a:+--orig-src "$a"} \${p:+--orig-port-src "$p"}
sec orig-dst list \${a:+--orig-dst "$a"} \${p:+--orig-port-dst "$p"}
sec reply-src list \${a:+--reply-src "$a"} \${p:+--reply-port-src "$p"}
sec reply-dst list \${a:+--reply-dst "$a"} \${p:+--reply-port-dst "$p"}
exit 0
`;

/** Does this side of a tuple match the filter (every given field)? */
function endpointMatches(addr: string, port: number, f: { addr?: string; port?: number }): boolean {
  return (f.addr === undefined || sameAddr(addr, f.addr)) && (f.port === undefined || port === f.port);
}

function sameAddr(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase() || expand(a) === expand(b);
}

/** A canonical form of an IPv6 address for comparison ('::1' == '0:0:0:0:0:0:0:1'). */
function expand(a: string): string {
  if (isIP(a) !== 6) return a;
  try {
    return new URL(`http://[${a}]/`).hostname;
  } catch {
    return a;
  }
}

export function matchesFilter(e: ConntrackEntry, f: { addr?: string; port?: number }): boolean {
  const ends = (t: ConntrackTuple): Array<[string, number]> => [
    [t.src, t.sport],
    [t.dst, t.dport],
  ];
  return [...ends(e.orig), ...ends(e.reply)].some(([a, p]) => endpointMatches(a, p, f));
}

/**
 * TCP entries whose original or reply tuple has an endpoint matching the filter: the
 * address (if given) and the port (if given) on the same side of the same tuple. With an
 * empty filter, every TCP entry. Read in the namespace; [] where conntrack is not loaded.
 * Rejects (HostReadError) when the namespace cannot be entered or conntrack cannot be read.
 */
export async function conntrackEntries(
  netns: number,
  filter: { addr?: string; port?: number },
  opts: { timeoutMs?: number } = {},
): Promise<ConntrackEntry[]> {
  if (filter.addr !== undefined && !isIP(filter.addr)) throw new HostReadError(`not an IP address: ${JSON.stringify(filter.addr)}`);
  if (filter.port !== undefined && !(Number.isInteger(filter.port) && filter.port >= 0 && filter.port <= 65535)) {
    throw new HostReadError(`not a port: ${filter.port}`);
  }
  const path = netnsPath(netns);
  if (!path) throw new HostReadError(`network namespace ${netns}: no way in (no /run/netns entry, nsfs mount or process in it)`);
  const res = await runInNetns(path, SCRIPT, [filter.addr ?? '', filter.port === undefined ? '' : String(filter.port)], {
    timeoutMs: opts.timeoutMs ?? 3000,
  });
  if (res.errors.length) {
    if (res.enterFailed) forgetNetnsPath(netns);
    throw new HostReadError(`conntrack in namespace ${netns} via ${path}: ${res.errors.join('; ')}`);
  }
  const seen = new Set<string>();
  const out: ConntrackEntry[] = [];
  for (const [name, sec] of res.sections) {
    if (sec.rc !== 0) throw new HostReadError(`conntrack -L (${name}) in namespace ${netns}: exit status ${sec.rc}: ${sec.stderr.trim()}`);
    const errors: string[] = [];
    for (const e of parseConntrackList(sec.out, errors)) {
      // the same entry from two listings differs in its timeout: keyed by its tuples
      const key = JSON.stringify([e.orig, e.reply]);
      if (seen.has(key) || !matchesFilter(e, filter)) continue;
      seen.add(key);
      out.push(e);
    }
    if (errors.length) throw new HostReadError(errors.join('; '));
  }
  return out;
}
