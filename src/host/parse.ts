// Pure parsers for what the host tools print: ss, /proc/net/{netstat,snmp},
// conntrack -S and conntrack -L. Each takes the text as the tool printed it;
// lines it cannot read go to `errors` (when given) instead of being guessed at.
import { isIP } from 'node:net';
import type { ListenerInfo } from './types.js';

/**
 * `ss -Htlnp` output. Process names are raw task names (at most 15 bytes, any byte but
 * NUL): ss 6.x cuts them at the first ')' (it reads them from /proc/PID/stat with
 * %[^)]), but they may hold quotes, commas, spaces, '(' and even newlines. So a record
 * goes on over the next lines while its `users:((` list is not closed by `))`, and each
 * process entry is read from `("` to the first `",pid=N,fd=N)`.
 */
export function parseSs(text: string, errors?: string[]): ListenerInfo[] {
  const out: ListenerInfo[] = [];
  const records: string[] = [];
  for (const line of text.split('\n')) {
    const last = records.length - 1;
    if (last >= 0 && usersOpen(records[last]!)) records[last] += `\n${line}`;
    else if (line.trim() !== '') records.push(line);
  }
  for (const rec of records) {
    const l = parseSsRecord(rec);
    if (l) out.push(l);
    else errors?.push(`ss: cannot read line ${JSON.stringify(rec)}`);
  }
  return out;
}

function usersOpen(rec: string): boolean {
  const i = rec.indexOf(' users:((');
  return i >= 0 && rec.indexOf('))', i) < 0;
}

function parseSsRecord(rec: string): ListenerInfo | null {
  const ui = rec.indexOf(' users:(');
  const head = (ui >= 0 ? rec.slice(0, ui) : rec).trim().split(/\s+/);
  // State Recv-Q Send-Q Local:Port Peer:Port
  if (head.length !== 5 || head[0] !== 'LISTEN') return null;
  const queue = Number(head[1]);
  const backlog = Number(head[2]);
  const local = splitEndpoint(head[3]!);
  if (!Number.isInteger(queue) || !Number.isInteger(backlog) || !local) return null;
  const processes = ui >= 0 ? parseUsers(rec.slice(ui + ' users:('.length)) : [];
  if (!processes) return null;
  const l: ListenerInfo = { laddr: local.addr, lport: local.port, queue, backlog, processes };
  if (local.dev) l.dev = local.dev;
  return l;
}

/** '0.0.0.0:80', '[::1]:80', '*:80', '127.0.0.1%lo:80', '[::1]%lo:80', '[::ffff:127.0.0.1]:80' */
export function splitEndpoint(s: string): { addr: string; port: number; dev?: string } | null {
  const m = /^(?:\[([^\]]+)\]|([^\s[\]]*?))(?:%([^:\s]+))?:(\d+|\*)$/.exec(s);
  if (!m) return null;
  const addr = m[1] ?? m[2]!;
  if (m[4] === '*') return null;
  const port = Number(m[4]);
  if (port > 65535 || (addr !== '*' && !isIP(addr))) return null;
  return m[3] ? { addr, port, dev: m[3] } : { addr, port };
}

/** `(("name",pid=1,fd=3),("other",pid=2,fd=4))` after `users:(` — null if malformed. */
function parseUsers(s: string): Array<{ pid: number; comm: string }> | null {
  const procs: Array<{ pid: number; comm: string }> = [];
  const tail = /",pid=(\d+),fd=(\d+)\)/g;
  let i = 0;
  for (;;) {
    if (!s.startsWith('("', i)) return null;
    tail.lastIndex = i + 2;
    const m = tail.exec(s);
    if (!m) return null;
    procs.push({ pid: Number(m[1]), comm: s.slice(i + 2, m.index) });
    i = m.index + m[0].length;
    if (s[i] === ',') i++;
    else if (s[i] === ')') return procs;
    else return null;
  }
}

/**
 * /proc/net/netstat and /proc/net/snmp (either or both, concatenated): pairs of a header
 * line and a value line with the same 'Proto:' prefix. Keys are 'Proto.Name'
 * ('TcpExt.ListenOverflows', 'Tcp.OutRsts').
 */
export function parseNetstat(text: string, errors?: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (let i = 0; i < lines.length; i++) {
    const [hp, ...keys] = lines[i]!.trim().split(/\s+/);
    const next = lines[i + 1]?.trim().split(/\s+/);
    if (!hp?.endsWith(':') || !next || next[0] !== hp) {
      errors?.push(`counters: unpaired line ${JSON.stringify(lines[i])}`);
      continue;
    }
    const vals = next.slice(1);
    if (vals.length !== keys.length) errors?.push(`counters: ${hp} has ${keys.length} names and ${vals.length} values`);
    const proto = hp.slice(0, -1);
    keys.forEach((k, j) => {
      const v = vals[j];
      if (v !== undefined && /^-?\d+$/.test(v)) out[`${proto}.${k}`] = Number(v);
    });
    i++;
  }
  return out;
}

/** `conntrack -S`: one line per CPU (`cpu=0 found=0 invalid=6 ...`), summed. */
export function parseConntrackStats(text: string, errors?: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const pairs = line
      .trim()
      .split(/\s+/)
      .map((kv) => /^([a-z_]+)=(\d+)$/.exec(kv));
    if (!pairs.length || pairs.some((p) => !p) || pairs[0]![1] !== 'cpu') {
      errors?.push(`conntrack -S: cannot read line ${JSON.stringify(line)}`);
      continue;
    }
    for (const p of pairs.slice(1)) out[p![1]!] = (out[p![1]!] ?? 0) + Number(p![2]);
  }
  return out;
}

/**
 * /proc/net/stat/nf_conntrack: a header line and one line of hex values per CPU.
 * Column names are mapped to those of `conntrack -S` (clashres: clash_resolve,
 * chainlength: chaintoolong, icmp_error: error); 'entries' (the table size, not a
 * per-CPU counter) and always-zero legacy columns are left out.
 */
export function parseProcConntrackStat(text: string): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const names = (lines[0] ?? '').trim().split(/\s+/);
  const rename: Record<string, string> = { clashres: 'clash_resolve', chainlength: 'chaintoolong', icmp_error: 'error' };
  const skip = new Set(['entries', 'new', 'ignore', 'delete']);
  const out: Record<string, number> = {};
  for (const line of lines.slice(1)) {
    line
      .trim()
      .split(/\s+/)
      .forEach((hex, j) => {
        const n = names[j];
        if (!n || skip.has(n) || !/^[0-9a-f]+$/i.test(hex)) return;
        const k = rename[n] ?? n;
        out[k] = (out[k] ?? 0) + parseInt(hex, 16);
      });
  }
  return out;
}
