// The kernel's build configuration, for the few values BPF programs need
// (CONFIG_HZ, to turn linger times from jiffies into seconds). Read here and
// handed to libbpf, which would otherwise refuse to load anything on hosts
// without /proc/config.gz or /boot/config-* (many containers).
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';

export function kernelConfigText(): string | null {
  try {
    if (existsSync('/proc/config.gz')) return gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
    const boot = `/boot/config-${release()}`;
    if (existsSync(boot)) return readFileSync(boot, 'latin1');
  } catch {
    /* unreadable: unknown */
  }
  return null;
}

/** CONFIG_HZ, or null when the configuration cannot be read. */
export function kernelHz(config = kernelConfigText()): number | null {
  const m = config ? /^CONFIG_HZ=(\d+)$/m.exec(config) : null;
  return m ? Number(m[1]) : null;
}

/** The libbpf kconfig string for tcpwhy's externs ('' leaves them 0: unknown). */
export function bpfKconfig(hz = kernelHz()): string {
  return `CONFIG_HZ=${hz ?? 0}`;
}
