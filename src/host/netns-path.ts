// A path that enters a network namespace given by inode (what events carry).
// Looked for, in order: /run/netns/NAME (ip netns), any other nsfs bind mount
// (/run/docker/netns/..., from /proc/self/mountinfo), /proc/PID/ns/net of a
// process in it, /proc/PID/task/TID/ns/net of a thread in it. A namespace kept
// alive only by an open file descriptor or a socket is not found.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { boundedTable } from '../memory/budget.js';

const NETNS_DIRS = ['/run/netns', '/var/run/netns'];
// by inode: namespaces come and go with containers, and a forgotten path is
// only searched again (no one to warn: forgetting costs a scan, not a fact)
const cache = boundedTable<number, string>('netnsPaths');
/** the cache, for tests of its bound */
export const netnsPathCache = cache;

/** Inode of the namespace a path enters, or null if it enters none now. */
function inodeOf(path: string): number | null {
  try {
    if (path.startsWith('/proc/')) {
      const m = /^net:\[(\d+)\]$/.exec(readlinkSync(path));
      return m ? Number(m[1]) : null;
    }
    return statSync(path).ino;
  } catch {
    return null;
  }
}

/** mountinfo escapes space, tab, newline and backslash as \040 \011 \012 \134. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** nsfs mounts of network namespaces: mount point by inode, from mountinfo text. */
export function netnsMounts(mountinfo: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of mountinfo.split('\n')) {
    // id parent major:minor root mountpoint options [optional...] - fstype source super
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0 || f[sep + 1] !== 'nsfs') continue;
    const m = /^net:\[(\d+)\]$/.exec(f[3] ?? '');
    if (m && !out.has(Number(m[1]))) out.set(Number(m[1]), unescapeMount(f[4]!));
  }
  return out;
}

function scan(inode: number): string | null {
  for (const dir of NETNS_DIRS) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const p = `${dir}/${n}`;
      if (inodeOf(p) === inode) return p;
    }
  }
  try {
    const p = netnsMounts(readFileSync('/proc/self/mountinfo', 'utf8')).get(inode);
    if (p && inodeOf(p) === inode) return p;
  } catch {
    /* no mountinfo: go on with processes */
  }
  const pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  for (const pid of pids) {
    const p = `/proc/${pid}/ns/net`;
    if (inodeOf(p) === inode) return p;
  }
  for (const pid of pids) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const p = `/proc/${pid}/task/${tid}/ns/net`;
      if (tid !== pid && inodeOf(p) === inode) return p;
    }
  }
  return null;
}

/**
 * A path that enters the namespace with this inode: /run/netns/NAME (ip netns), else an
 * nsfs mount, else /proc/PID/ns/net of some process in it; null if none found. Cached;
 * a cached path is checked (one stat or readlink) and the search is run again when it no
 * longer enters that namespace.
 */
export function netnsPath(inode: number): string | null {
  const cached = cache.get(inode);
  if (cached !== undefined && inodeOf(cached) === inode) return cached;
  cache.delete(inode);
  const found = scan(inode);
  if (found) cache.set(inode, found);
  return found;
}

/** Forgets a cached path (after it failed to enter the namespace). */
export function forgetNetnsPath(inode: number): void {
  cache.delete(inode);
}

/** The inode of this process's own network namespace. */
export function ownNetns(): number {
  return inodeOf('/proc/self/ns/net') ?? 0;
}
