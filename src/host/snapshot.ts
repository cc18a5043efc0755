// One snapshot of a namespace's host context, read by one child process:
// nsenter --net=PATH runs a shell script that prints every source in its own
// section (see run.ts). Everything here only reads: ss, /proc, iptables-save,
// nft list, conntrack -S. None of these creates a table or starts conntrack in
// a namespace that had none (checked by test/kernel/host.test.ts); conntrack is
// asked only where its module is already loaded.
import { readFile } from 'node:fs/promises';
import { netnsPath, forgetNetnsPath } from './netns-path.js';
import { parseConntrackStats, parseNetstat, parseProcConntrackStat, parseSs } from './parse.js';
import { conntrackUsersOfIptables, conntrackUsersOfNft, iptablesSaveTables, parseIptablesSave, parseNftJson, parseNftText } from './rules.js';
import { runInNetns, type Section } from './run.js';
import type { HostSnapshot, NatRule } from './types.js';

export { parseSs, parseNetstat, parseConntrackStats, parseProcConntrackStat } from './parse.js';
export { parseIptablesSave, parseNftJson, parseNftText, iptablesSaveTables } from './rules.js';

/** Sysctls read in the namespace. */
export const NETNS_SYSCTLS = [
  'net.ipv4.tcp_abort_on_overflow',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_synack_retries',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.tcp_orphan_retries',
  'net.ipv4.tcp_max_syn_backlog',
  'net.core.somaxconn',
  'net.netfilter.nf_conntrack_tcp_loose',
  'net.netfilter.nf_conntrack_tcp_be_liberal',
  'net.netfilter.nf_conntrack_count',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_log_invalid',
];

/**
 * Sysctls that exist only in the root namespace (the limits are global): read from this
 * process's own /proc/sys, whatever namespace the snapshot is of.
 */
export const GLOBAL_SYSCTLS = ['net.ipv4.tcp_max_orphans', 'net.ipv4.tcp_mem'];

export const DEFAULT_TIMEOUT_MS = 3000;

const sysctlPath = (key: string) => `/proc/sys/${key.replace(/\./g, '/')}`;

// $1... are the sysctl paths.
const SCRIPT = `
# one process reads them all, with whole-buffer reads (a sysctl read from a
# non-zero offset is empty, so the shell's byte-wise read builtin cannot be used)
sysctls() {
  grep -H '' "$@" 2>/dev/null
  return 0
}
have() { command -v "$1" >/dev/null 2>&1; }
# iptables-nft where both exist; a plain X-save is whatever the system chose
save() {
  if have "$1-nft-save"; then "$1-nft-save"; elif have "$1-save"; then "$1-save"; else echo "$1-save: not found" >&2; return 127; fi
}
# x_tables (legacy) tables exist only if listed in /proc/net/ip(6)_tables_names;
# iptables-legacy-save reads exactly those (it creates none)
legacy() {
  n=/proc/net/$2_tables_names
  [ -e "$n" ] && IFS= read -r x < "$n" || return 0
  if have "$1-legacy-save"; then "$1-legacy-save"; return; fi
  # a plain X-save that is not the nf_tables one (before 1.8 there was no other) has
  # already listed them in save()
  if ! have "$1-nft-save" && have "$1-save"; then
    case $("$1-save" --version 2>&1) in *nf_tables*) ;; *) return 0 ;; esac
  fi
  echo "$1-legacy-save: not found, and legacy $1 tables exist ($x ...)" >&2; return 127
}
ctstats() {
  if [ ! -e /proc/sys/net/netfilter/nf_conntrack_count ]; then return 0; fi
  if have conntrack; then conntrack -S; else echo "conntrack: not found" >&2; return 127; fi
}
ctproc() {
  if [ -e /proc/sys/net/netfilter/nf_conntrack_count ] && ! have conntrack; then cat /proc/net/stat/nf_conntrack; fi
}
sec ss ss -Htlnp
sec netstat cat /proc/net/netstat
sec snmp cat /proc/net/snmp
sec sysctl sysctls "$@"
sec iptables save iptables
sec ip6tables save ip6tables
sec iptables-legacy legacy iptables ip
sec ip6tables-legacy legacy ip6tables ip6
sec nft-json nft -j list ruleset
sec nft-text nft -a list ruleset
sec conntrack-stats ctstats
sec conntrack-proc ctproc
exit 0
`;

/** Every source a snapshot reads, as its errors name them. */
export const SOURCES = [
  'ss -Htlnp',
  '/proc/net/netstat',
  '/proc/net/snmp',
  'sysctls',
  'iptables-save',
  'iptables-legacy-save',
  'ip6tables-save',
  'ip6tables-legacy-save',
  'nft -j list ruleset',
  'conntrack -S',
];

/**
 * A snapshot that read nothing, said the way a snapshot cut short before its
 * first section says it (every source "not read"): the rules then rely on
 * none of it, as they would on a timed-out snapshot.
 */
export function unreadSnapshot(netns: number, why: string): HostSnapshot {
  return {
    netns,
    takenAtMs: 0,
    listeners: [],
    sysctls: {},
    counters: {},
    rules: [],
    conntrack: null,
    errors: [`namespace ${netns}: ${why}`, ...SOURCES.map((s) => `${s}: not read yet`)],
    stale: why,
  };
}

/** The output of a section, or undefined with the reason in errors. */
function sectionOut(sections: Map<string, Section>, name: string, what: string, errors: string[]): string | undefined {
  const s = sections.get(name);
  if (!s) {
    errors.push(`${what}: not read (the script did not get that far)`);
    return undefined;
  }
  if (s.rc === 127) {
    errors.push(`${what}: not installed (${s.stderr.trim().split('\n').pop() || 'not found'})`);
    return undefined;
  }
  if (s.rc !== 0) {
    errors.push(`${what}: exit status ${s.rc}${s.stderr ? `: ${s.stderr.trim()}` : ''}`);
    return undefined;
  }
  return s.out;
}

async function readGlobalSysctls(into: Record<string, string>, errors: string[]): Promise<void> {
  await Promise.all(
    GLOBAL_SYSCTLS.map(async (k) => {
      try {
        into[k] = (await readFile(sysctlPath(k), 'utf8')).trim();
      } catch (e) {
        errors.push(`sysctl ${k}: not readable in this process's namespace: ${(e as Error).message}`);
      }
    }),
  );
}

/**
 * Reads everything of HostSnapshot in one child process (nsenter --net=PATH, one shell
 * script printing sections). Never rejects: what could not be read is in errors.
 */
export async function takeSnapshot(netns: number, opts: { timeoutMs?: number } = {}): Promise<HostSnapshot> {
  const snap: HostSnapshot = {
    netns,
    takenAtMs: Date.now(),
    listeners: [],
    sysctls: {},
    counters: {},
    rules: [],
    conntrack: null,
    errors: [],
  };
  const errors = snap.errors;
  const globals = readGlobalSysctls(snap.sysctls, errors);
  const path = netnsPath(netns);
  if (!path) {
    errors.push(`network namespace ${netns}: no way in (no /run/netns entry, nsfs mount or process in it): not read`);
    await globals;
    return snap;
  }
  const paths = NETNS_SYSCTLS.map(sysctlPath);
  const res = await runInNetns(path, SCRIPT, paths, { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS });
  await globals;
  if (res.errors.length) {
    errors.push(...res.errors.map((e) => `namespace ${netns} via ${path}: ${e}`));
    if (res.enterFailed) forgetNetnsPath(netns);
  }
  const s = res.sections;

  const ss = sectionOut(s, 'ss', 'ss -Htlnp', errors);
  if (ss !== undefined) snap.listeners = parseSs(ss, errors);

  for (const [name, file] of [
    ['netstat', '/proc/net/netstat'],
    ['snmp', '/proc/net/snmp'],
  ] as const) {
    const t = sectionOut(s, name, file, errors);
    if (t !== undefined) Object.assign(snap.counters, parseNetstat(t, errors));
  }

  const sys = sectionOut(s, 'sysctl', 'sysctls', errors);
  if (sys !== undefined) {
    const byPath = new Map<string, string>();
    for (const line of sys.split('\n')) {
      const colon = line.indexOf(':'); // grep -H: PATH:VALUE
      if (colon > 0) byPath.set(line.slice(0, colon), line.slice(colon + 1));
    }
    // Without nf_conntrack loaded its sysctls are all absent: that is no
    // gap in what was read but a fact (snap.conntrack stays null).
    const conntrackLoaded = NETNS_SYSCTLS.some((k) => k.startsWith('net.netfilter.') && byPath.has(sysctlPath(k)));
    for (const k of NETNS_SYSCTLS) {
      const v = byPath.get(sysctlPath(k));
      if (v !== undefined) snap.sysctls[k] = v;
      else if (conntrackLoaded || !k.startsWith('net.netfilter.')) errors.push(`sysctl ${k}: not present in the namespace`);
    }
  }

  // rules: iptables(-nft), legacy x_tables, then nft tables that iptables-save did not show
  const ctUsers: string[] = [];
  const skip = new Set<string>();
  for (const [name, source, fam] of [
    ['iptables', 'iptables', 'ip'],
    ['ip6tables', 'ip6tables', 'ip6'],
  ] as const) {
    const t = sectionOut(s, name, `${source}-save`, errors);
    if (t !== undefined) {
      snap.rules.push(...parseIptablesSave(t, source, { errors }));
      ctUsers.push(...conntrackUsersOfIptables(t, source));
      const { tables, incompatible } = iptablesSaveTables(t);
      for (const tb of tables) if (!incompatible.includes(tb)) skip.add(`${fam} ${tb}`);
    }
    const lt = sectionOut(s, `${name}-legacy`, `${source}-legacy-save`, errors);
    if (lt) {
      snap.rules.push(...parseIptablesSave(lt, source, { legacy: true, errors }));
      ctUsers.push(...conntrackUsersOfIptables(lt, `${source}-legacy`));
    }
  }
  const nj = sectionOut(s, 'nft-json', 'nft -j list ruleset', errors);
  if (nj !== undefined) {
    const nt = sectionOut(s, 'nft-text', 'nft -a list ruleset', errors);
    const nftRules: NatRule[] = parseNftJson(nj, { texts: nt === undefined ? undefined : parseNftText(nt), skipTables: skip, errors });
    snap.rules.push(...nftRules);
    ctUsers.push(...conntrackUsersOfNft(nj, skip));
  }

  // conntrack: only where its module is loaded, and only reported when something uses it
  const loaded = snap.sysctls['net.netfilter.nf_conntrack_count'] !== undefined;
  if (loaded) {
    let stats: Record<string, number> = {};
    const st = sectionOut(s, 'conntrack-stats', 'conntrack -S', errors);
    if (st !== undefined) stats = parseConntrackStats(st, errors);
    else {
      const pr = s.get('conntrack-proc');
      if (pr?.rc === 0 && pr.out.trim()) {
        stats = parseProcConntrackStat(pr.out);
        errors.push('conntrack statistics read from /proc/net/stat/nf_conntrack instead');
      }
    }
    const num = (k: string) => {
      const v = snap.sysctls[k];
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
    };
    const count = num('net.netfilter.nf_conntrack_count');
    const usedBy: string[] = [];
    if (count) usedBy.push(`entries: ${count}`);
    const nonzero = Object.entries(stats).filter(([, v]) => v > 0);
    if (nonzero.length) usedBy.push(`statistics: ${nonzero.map(([k, v]) => `${k}=${v}`).join(' ')}`);
    usedBy.push(...new Set(ctUsers));
    if (usedBy.length) snap.conntrack = { count, max: num('net.netfilter.nf_conntrack_max'), stats, usedBy };
  }
  return snap;
}
