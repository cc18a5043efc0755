// Network namespaces by inode: what the kernel reports in events and filters on.
import { statSync } from 'node:fs';
import { UsageError } from './errors.js';

const NETNS_DIRS = ['/run/netns', '/var/run/netns'];

/** Inode of a named namespace (from `ip netns add NAME`). */
export function netnsInodeByName(name: string): number {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === '.' || name === '..') {
    throw new UsageError(`bad network namespace name: ${JSON.stringify(name)}`);
  }
  for (const dir of NETNS_DIRS) {
    try {
      return statSync(`${dir}/${name}`).ino;
    } catch {
      /* try the next */
    }
  }
  throw new UsageError(`no network namespace named ${name} (see: ip netns list)`);
}

/** An inode number or a name from `ip netns`. */
export function resolveNetns(spec: string): number {
  if (/^\d+$/.test(spec)) {
    const n = Number(spec);
    if (n <= 0 || n > 0xffffffff) throw new UsageError(`bad network namespace inode: ${spec}`);
    return n;
  }
  return netnsInodeByName(spec);
}
