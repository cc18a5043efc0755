// Whether this process may load and attach tracing BPF programs.
import { readFileSync } from 'node:fs';
import { SetupError } from './errors.js';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** Effective capability mask from /proc/self/status (CapEff: hex). */
export function effectiveCaps(status = readFileSync('/proc/self/status', 'utf8')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export function canTrace(caps: bigint): boolean {
  const has = (c: bigint) => (caps >> c) & 1n;
  return has(CAP_SYS_ADMIN) === 1n || (has(CAP_BPF) === 1n && has(CAP_PERFMON) === 1n);
}

export function requireTracingCaps(caps = effectiveCaps()): void {
  if (!canTrace(caps)) {
    throw new SetupError(
      'tcpwhy needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load its kernel programs, and this process has neither',
      'run it as root (sudo tcpwhy ...), or grant the capabilities: sudo setcap cap_bpf,cap_perfmon+ep "$(command -v node)"',
    );
  }
}
