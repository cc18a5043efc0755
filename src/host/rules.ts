// NAT, REJECT and DROP rules from iptables-save / ip6tables-save and from nft's
// JSON listing, reduced to what a diagnosis needs (action, protocol, destination
// port range and address, translation target, reject type) plus the rule as the
// tool printed it. Whatever a rule matches that the fields cannot say goes to
// extraMatches, so a rule never looks broader than the fields say without a note.
import type { NatAction, NatRule } from './types.js';

type Range = [number, number];

const TARGETS: Record<string, NatAction> = {
  REDIRECT: 'redirect',
  DNAT: 'dnat',
  SNAT: 'snat',
  MASQUERADE: 'masquerade',
  REJECT: 'reject',
  DROP: 'drop',
};

/** Splits an iptables-save rule line into arguments: "..." quoting with \" and \\ escapes. */
export function splitIptablesArgs(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inTok = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inTok = true;
    } else if (c === ' ' || c === '\t') {
      if (inTok) out.push(cur);
      cur = '';
      inTok = false;
    } else {
      cur += c;
      inTok = true;
    }
  }
  if (inTok) out.push(cur);
  return out;
}

function portRange(s: string, sep: string): Range | null {
  const parts = s.split(sep);
  if (parts.length > 2 || parts.some((p) => !/^\d+$/.test(p))) return null;
  const lo = Number(parts[0]);
  const hi = Number(parts[1] ?? parts[0]);
  return lo <= hi && hi <= 65535 ? [lo, hi] : null;
}

/** '192.0.2.10/32' -> '192.0.2.10' (a host prefix is the address); other prefixes stay. */
function hostAddr(a: string): string {
  const full = a.includes(':') ? '/128' : '/32';
  return a.endsWith(full) ? a.slice(0, -full.length) : a;
}

/** 'A', 'A-B', 'A:P', 'A:P-Q', '[v6]:P', '[v6]', ':P' (iptables --to-destination / --to-source). */
function natTarget(s: string): { toAddr?: string; toPort?: Range } | null {
  let addr = s;
  let port: string | undefined;
  const b = /^\[([^\]]+)\](?::(.+))?$/.exec(s);
  if (b) {
    addr = b[1]!;
    port = b[2];
  } else if ((s.match(/:/g) ?? []).length === 1) {
    [addr, port] = s.split(':') as [string, string];
  }
  const r: { toAddr?: string; toPort?: Range } = {};
  if (addr) r.toAddr = addr;
  if (port !== undefined) {
    const p = portRange(port, '-');
    if (!p) return null;
    r.toPort = p;
  }
  return r;
}

interface Draft {
  action?: NatAction;
  proto?: string;
  otherProto?: boolean;
  dports?: Range[];
  daddr?: string;
  saddr?: string;
  toAddr?: string;
  toPort?: Range;
  rejectWith?: string;
  ctState?: string[];
  extra: string[];
}

/**
 * ICMP and ICMPv6 as iptables and nft name them: their drop and reject rules
 * are kept (proto 'icmp'), for they may eat the errors about TCP flows (the
 * "fragmentation needed" of an MTU black hole).
 */
const ICMP_NAMES = new Set(['icmp', 'icmpv6', 'ipv6-icmp', '1', '58']);

function emit(d: Draft, base: Omit<NatRule, 'action'>, out: NatRule[]): void {
  if (!d.action || d.otherProto) return;
  // an ICMP rule matters only when it drops or rejects
  if (d.proto === 'icmp' && d.action !== 'drop' && d.action !== 'reject') return;
  for (const dport of d.dports ?? [undefined]) {
    // keys in the order of NatRule, text last
    const { text, legacy, ...head } = base;
    const r: Omit<NatRule, 'text'> = { ...head, action: d.action };
    if (d.proto) r.proto = d.proto;
    if (dport) r.dport = dport;
    if (d.daddr) r.daddr = d.daddr;
    if (d.saddr) r.saddr = d.saddr;
    if (d.toAddr) r.toAddr = d.toAddr;
    if (d.toPort) r.toPort = d.toPort;
    if (d.rejectWith) r.rejectWith = d.rejectWith;
    if (d.ctState) r.ctState = d.ctState;
    if (d.extra.length) r.extraMatches = [...d.extra];
    if (legacy) r.legacy = legacy;
    out.push({ ...r, text });
  }
}

/** Which tables an iptables-save listing shows, and which it calls incompatible (then nft shows them). */
export function iptablesSaveTables(text: string): { tables: string[]; incompatible: string[] } {
  const tables: string[] = [];
  const incompatible: string[] = [];
  for (const line of text.split('\n')) {
    const t = /^\*(\S+)$/.exec(line);
    if (t) tables.push(t[1]!);
    const inc = /^# Table `([^']+)' is incompatible/.exec(line);
    if (inc) incompatible.push(inc[1]!);
  }
  return { tables, incompatible };
}

/** Rules of an iptables-save (or ip6tables-save) listing. */
export function parseIptablesSave(text: string, source: 'iptables' | 'ip6tables', opts: { legacy?: boolean; errors?: string[] } = {}): NatRule[] {
  const out: NatRule[] = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    if (!line.startsWith('-A ')) continue;
    const args = splitIptablesArgs(line);
    const chain = args[1] ?? '';
    const d: Draft = { extra: [] };
    let neg = false;
    let bad = false;
    let mod = '';
    for (let i = 2; i < args.length; i++) {
      const a = args[i]!;
      if (a === '!') {
        neg = true;
        continue;
      }
      // an option and its values: everything up to the next option
      let j = i + 1;
      while (j < args.length && !args[j]!.startsWith('-') && args[j] !== '!') j++;
      const vals = args.slice(i + 1, j);
      const v = vals[0] ?? '';
      const shown = (neg ? '! ' : '') + [a, ...vals.map((x) => (/[\s"]/.test(x) ? JSON.stringify(x) : x))].join(' ');
      i = j - 1;
      const wasNeg = neg;
      neg = false;
      if (a === '-m' || a === '--match') {
        mod = v;
        if (!['tcp', 'multiport', 'conntrack', 'state', 'comment'].includes(v)) d.extra.push(shown);
        continue;
      }
      if (a === '-j' || a === '--jump') {
        d.action = TARGETS[v];
        mod = `target ${v}`;
        continue;
      }
      if (wasNeg) {
        d.extra.push(shown);
        continue;
      }
      switch (a) {
        case '-p':
        case '--protocol':
          if (v === 'tcp' || v === '6') d.proto = 'tcp';
          else if (ICMP_NAMES.has(v ?? '')) d.proto = 'icmp';
          else if (v !== 'all' && v !== '0') d.otherProto = true;
          break;
        case '-d':
        case '--destination':
          if (v.includes(',')) d.extra.push(shown);
          else d.daddr = hostAddr(v);
          break;
        case '-s':
        case '--source':
          if (v.includes(',')) d.extra.push(shown);
          else d.saddr = hostAddr(v);
          break;
        case '--dport':
        case '--destination-port': {
          const r = portRange(v, ':');
          if (r) d.dports = [r];
          else bad = true;
          break;
        }
        case '--dports':
        case '--destination-ports': {
          const rs = v.split(',').map((p) => portRange(p, ':'));
          if (rs.every((r) => r)) d.dports = rs as Range[];
          else bad = true;
          break;
        }
        case '--ctstate':
        case '--state':
          d.ctState = v.split(',').map((s) => s.toLowerCase());
          break;
        case '--comment':
          break;
        case '--to-ports': {
          const r = portRange(v, '-');
          if (r) d.toPort = r;
          else bad = true;
          break;
        }
        case '--to-destination':
        case '--to-source': {
          const t = natTarget(v);
          if (t) Object.assign(d, t);
          else bad = true;
          break;
        }
        case '--reject-with':
          d.rejectWith = v;
          break;
        default:
          // target options that change nothing we report (--random, --persistent)
          if (!mod.startsWith('target ')) d.extra.push(shown);
      }
    }
    if (bad) {
      opts.errors?.push(`${source}-save: cannot read rule ${JSON.stringify(line)}`);
      continue;
    }
    const base: Omit<NatRule, 'action'> = {
      source,
      family: source === 'iptables' ? 'ipv4' : 'ipv6',
      table,
      chain,
      text: line,
    };
    if (opts.legacy) base.legacy = true;
    emit(d, base, out);
  }
  return out;
}

// ---------------------------------------------------------------- nftables

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const isObj = (j: Json | undefined): j is Obj => typeof j === 'object' && j !== null && !Array.isArray(j);

const FAMILIES: Record<string, NatRule['family']> = { ip: 'ipv4', ip6: 'ipv6', inet: 'inet' };

/**
 * Rule texts of `nft -a list ruleset`, by 'family table chain handle'. nft prints tables
 * at column 0, chains and sets one tab in, rules two tabs in ending with '# handle N'.
 */
export function parseNftText(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let table = '';
  let chain: string | null = null;
  for (const line of text.split('\n')) {
    const t = /^table (\S+) (.+?) \{/.exec(line);
    if (t) {
      table = `${t[1]} ${unquote(t[2]!)}`;
      chain = null;
      continue;
    }
    const block = /^\t(\w+) (.+?) \{/.exec(line);
    if (block) {
      chain = block[1] === 'chain' ? unquote(block[2]!) : null;
      continue;
    }
    const r = /^\t\t(.*?)\s*# handle (\d+)$/.exec(line);
    if (r && chain !== null) out.set(`${table} ${chain} ${r[2]}`, r[1]!);
  }
  return out;
}

const unquote = (s: string): string => (s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s);

/** A port match value: number, {range}, {set: [...]} — null if not plain ports. */
function nftPorts(right: Json | undefined): Range[] | null {
  const one = (x: Json | undefined): Range | null => {
    if (typeof x === 'number') return [x, x];
    if (typeof x === 'string' && /^\d+$/.test(x)) return [Number(x), Number(x)];
    if (isObj(x) && Array.isArray(x.range) && x.range.length === 2) {
      const [a, b] = x.range.map((y) => one(y));
      return a && b ? [a[0], b[1]] : null;
    }
    return null;
  };
  if (isObj(right) && Array.isArray(right.set)) {
    const rs = right.set.map(one);
    return rs.every((r) => r) ? (rs as Range[]) : null;
  }
  const r = one(right);
  return r ? [r] : null;
}

function nftAddr(right: Json | undefined): string | null {
  if (typeof right === 'string') return right;
  if (isObj(right) && isObj(right.prefix)) return `${right.prefix.addr}/${right.prefix.len}`;
  if (isObj(right) && Array.isArray(right.range)) return right.range.join('-');
  return null;
}

/** Short text of a match we do not express, e.g. 'meta oifname == "veth0"'. */
function describe(m: Obj): string {
  const side = (j: Json | undefined): string => {
    if (isObj(j)) {
      const [k, v] = Object.entries(j)[0] ?? ['?', null];
      if (k === 'payload' && isObj(v)) return `${v.protocol} ${v.field}`;
      if ((k === 'meta' || k === 'ct') && isObj(v)) return `${k} ${v.key}`;
      if (k === 'prefix' && isObj(v)) return `${v.addr}/${v.len}`;
      if (k === 'range' && Array.isArray(v)) return v.map(side).join('-');
      if (k === 'set' && Array.isArray(v)) return `{ ${v.map(side).join(', ')} }`;
      return JSON.stringify(j);
    }
    return typeof j === 'string' ? JSON.stringify(j) : JSON.stringify(j ?? null);
  };
  return `${side(m.left)} ${m.op} ${side(m.right)}`;
}

function protoValues(right: Json | undefined): string[] {
  const norm = (x: Json): string => (x === 6 || x === 'tcp' ? 'tcp' : String(x));
  if (isObj(right) && Array.isArray(right.set)) return right.set.map(norm);
  return right === undefined ? [] : [norm(right)];
}

function nftNatTarget(d: Draft, st: Json, what: string): void {
  if (!isObj(st)) return;
  if (st.addr !== undefined) {
    const a = nftAddr(st.addr);
    if (a) d.toAddr = a;
    else d.extra.push(`${what} to a map or expression`);
  }
  if (st.port !== undefined) {
    const p = nftPorts(st.port);
    if (p?.length === 1) d.toPort = p[0];
    else d.extra.push(`${what} to a port map or expression`);
  }
}

function nftReject(st: Json): string | undefined {
  if (!isObj(st)) return undefined;
  if (st.type === 'tcp reset') return 'tcp-reset';
  if (typeof st.type === 'string') return typeof st.expr === 'string' ? `${st.type}-${st.expr}` : st.type;
  return undefined;
}

/**
 * `nft -j list ruleset`. `texts` (from parseNftText on `nft -a list ruleset`) gives each
 * rule its text as nft prints it; without it the text is a short JSON form. Tables in
 * `skipTables` ('ip nat', 'ip6 filter' ...) are left out: iptables-nft tables, which
 * iptables-save already reported with their full parameters (nft's JSON shows their
 * targets as bare `xt` expressions, without addresses or ports).
 */
export function parseNftJson(json: string, opts: { texts?: Map<string, string>; skipTables?: Set<string>; errors?: string[] } = {}): NatRule[] {
  let doc: Json;
  try {
    doc = JSON.parse(json) as Json;
  } catch (e) {
    opts.errors?.push(`nft -j: not JSON: ${(e as Error).message}`);
    return [];
  }
  const items = isObj(doc) && Array.isArray(doc.nftables) ? doc.nftables : null;
  if (!items) {
    opts.errors?.push('nft -j: no "nftables" array');
    return [];
  }
  const out: NatRule[] = [];
  for (const item of items) {
    if (!isObj(item) || !isObj(item.rule)) continue;
    const r = item.rule;
    const family = FAMILIES[String(r.family)];
    if (!family || opts.skipTables?.has(`${r.family} ${r.table}`)) continue;
    const d: Draft = { extra: [] };
    for (const e of Array.isArray(r.expr) ? r.expr : []) {
      if (!isObj(e)) continue;
      const [k, v] = Object.entries(e)[0] ?? ['', null];
      if (k === 'match' && isObj(v)) nftMatch(d, v);
      else if (k === 'redirect') {
        d.action = 'redirect';
        nftNatTarget(d, v, 'redirect');
      } else if (k === 'dnat' || k === 'snat' || k === 'masquerade') {
        d.action = k;
        nftNatTarget(d, v, k);
      } else if (k === 'reject') {
        d.action = 'reject';
        const w = nftReject(v);
        if (w) d.rejectWith = w;
      } else if (k === 'drop') d.action = 'drop';
      else if (k === 'xt' && isObj(v)) {
        if (v.type === 'target' && typeof v.name === 'string' && TARGETS[v.name]) {
          d.action = TARGETS[v.name];
          d.extra.push(`xt target ${v.name} (iptables-nft; nft does not show its parameters)`);
        } else d.extra.push(`xt ${v.type} ${v.name}`);
      } else if (k === 'vmap' || k === 'jump' || k === 'goto' || k === 'accept' || k === 'return' || k === 'continue') {
        // a verdict of its own (a verdict map may drop, but per element: not reported)
        if (k === 'vmap') d.extra.push('verdict map');
      }
    }
    const key = `${r.family} ${r.table} ${r.chain} ${r.handle}`;
    const text = opts.texts?.get(key) ?? `${key}: ${JSON.stringify(r.expr)}`;
    emit(d, { source: 'nftables', family, table: String(r.table), chain: String(r.chain), text }, out);
  }
  return out;
}

function nftMatch(d: Draft, m: Obj): void {
  const left = m.left;
  const op = m.op;
  const eq = op === '==' || op === 'in';
  if (isObj(left) && isObj(left.payload)) {
    const { protocol, field } = left.payload;
    if (protocol === 'tcp') d.proto = 'tcp';
    else if (ICMP_NAMES.has(String(protocol))) d.proto = 'icmp';
    else if (['udp', 'udplite', 'sctp', 'dccp'].includes(String(protocol))) d.otherProto = true;
    if ((protocol === 'tcp' || protocol === 'th') && field === 'dport' && eq) {
      const p = nftPorts(m.right);
      if (p) return void (d.dports = p);
    } else if ((protocol === 'ip' || protocol === 'ip6') && (field === 'daddr' || field === 'saddr') && eq) {
      const a = nftAddr(m.right);
      if (a) return void (field === 'daddr' ? (d.daddr = a) : (d.saddr = a));
    } else if ((protocol === 'ip' && field === 'protocol') || (protocol === 'ip6' && field === 'nexthdr')) {
      if (protoMatch(d, m)) return;
    }
  } else if (isObj(left) && isObj(left.meta) && left.meta.key === 'l4proto') {
    if (protoMatch(d, m)) return;
  } else if (isObj(left) && isObj(left.ct) && left.ct.key === 'state' && eq) {
    const vs = Array.isArray(m.right) ? m.right : isObj(m.right) && Array.isArray(m.right.set) ? m.right.set : [m.right];
    if (vs.every((x) => typeof x === 'string')) return void (d.ctState = vs as string[]);
  }
  d.extra.push(describe(m));
}

function protoMatch(d: Draft, m: Obj): boolean {
  if (m.op !== '==' && m.op !== 'in') return false;
  const vs = protoValues(m.right);
  if (vs.includes('tcp')) d.proto = 'tcp';
  else if (vs.some((v) => ICMP_NAMES.has(v))) d.proto = 'icmp';
  else if (vs.length) d.otherProto = true;
  return vs.length > 0;
}

// ---------------------------------------------------------------- conntrack users

/** What in these listings makes conntrack track packets in the namespace. */
export function conntrackUsersOfIptables(text: string, source: string): string[] {
  const out = new Set<string>();
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    if (!line.startsWith('-A ')) continue;
    const chain = line.split(' ')[1];
    if (table === 'nat') out.add(`${source} nat rules`);
    if (/ -m (conntrack|state|connmark|helper|connlimit|connbytes|connlabel) /.test(line) || / -j (CT|CONNMARK|CONNSECMARK)\b/.test(line)) {
      out.add(`${source} conntrack match or target in ${table} ${chain}`);
    }
  }
  return [...out];
}

export function conntrackUsersOfNft(json: string, skipTables?: Set<string>): string[] {
  const out = new Set<string>();
  let doc: Json;
  try {
    doc = JSON.parse(json) as Json;
  } catch {
    return [];
  }
  const items = isObj(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
  const usesCt = (j: Json): boolean =>
    Array.isArray(j)
      ? j.some(usesCt)
      : isObj(j)
        ? Object.entries(j).some(
            ([k, v]) => k === 'ct' || (k === 'xt' && isObj(v) && /^(conntrack|state|CT|connmark|CONNMARK)$/.test(String(v.name))) || usesCt(v),
          )
        : false;
  for (const item of items) {
    if (!isObj(item)) continue;
    const [kind, o] = Object.entries(item)[0] ?? ['', null];
    if (!isObj(o)) continue;
    const tbl = kind === 'table' ? `${o.family} ${o.name}` : `${o.family} ${o.table}`;
    if (skipTables?.has(tbl)) continue;
    if (kind === 'chain' && o.type === 'nat') out.add(`nft nat chain ${tbl} ${o.name}`);
    else if (kind === 'rule' && usesCt(o.expr ?? null)) out.add(`nft ct expression in ${tbl} ${o.chain}`);
    else if (kind === 'ct helper' || kind === 'ct timeout' || kind === 'ct expectation' || kind === 'flowtable') out.add(`nft ${kind} in ${tbl}`);
  }
  return [...out];
}
