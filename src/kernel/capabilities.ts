// Whether this process may load and attach tracing BPF programs.
import { readFileSync } from 'node:fs';
import { SetupError } from './errors.js';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** This process's /proc/self/status; a machine without /proc cannot run tcpwhy, and is told so. */
function ownStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch (e) {
    throw new SetupError(
      `cannot read /proc/self/status (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): /proc is not mounted, and tcpwhy reads the kernel's state there`,
      'mount it (mount -t proc proc /proc), or run tcpwhy where it is',
    );
  }
}

/** Effective capability mask from /proc/self/status (CapEff: hex). */
export function effectiveCaps(status = ownStatus()): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export function canTrace(caps: bigint): boolean {
  const has = (c: bigint) => (caps >> c) & 1n;
  return has(CAP_SYS_ADMIN) === 1n || (has(CAP_BPF) === 1n && has(CAP_PERFMON) === 1n);
}

const CAP_NET_ADMIN = 12n;

/** The lab makes network namespaces, veth pairs and mounts (ip netns add): root's work. */
export function requireLabCaps(caps = effectiveCaps()): void {
  const has = (c: bigint) => ((caps >> c) & 1n) === 1n;
  if (!has(CAP_SYS_ADMIN) || !has(CAP_NET_ADMIN)) {
    throw new SetupError(
      'tcpwhy lab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to make its network namespaces, and this process lacks them',
      'run it as root (sudo tcpwhy lab)',
    );
  }
  requireTracingCaps(caps);
}

export function requireTracingCaps(caps = effectiveCaps()): void {
  if (!canTrace(caps)) {
    throw new SetupError(
      'tcpwhy needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load its kernel programs, and this process has neither',
      'run it as root (sudo tcpwhy ...), or grant the capabilities: sudo setcap cap_bpf,cap_perfmon+ep "$(command -v node)"',
    );
  }
}
