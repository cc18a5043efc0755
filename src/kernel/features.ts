// What the running kernel offers, read from its BTF (and tracefs as a fallback
// for names). Only facts: choosing programs from them is plan.ts's job.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { native } from '../native.js';
import { SetupError, UsageError } from './errors.js';

export const DEFAULT_KERNEL_BTF = '/sys/kernel/btf/vmlinux';

export interface KernelFeatures {
  /** where the kernel's BTF was read from */
  btfPath: string;
  /** the user supplied the BTF (--btf) rather than the kernel */
  customBtf: boolean;
  /** parameter counts of the typed tracepoints (ctx included); -1: no such tracepoint */
  tpParams: {
    sendReset: number;
    receiveReset: number;
    setState: number;
    /** 4 with the drop reason (5.17+), 5 with the receiving socket (6.11+) */
    kfreeSkb: number;
    retransmitSkb: number;
    retransmitSynack: number;
    skError: number;
  };
  /** the tcp_send_reset record carries a reason (kernel 6.10+) */
  sendRecordHasReason: boolean;
  /** functions the fallback programs hook */
  funcs: { tcp_v4_send_reset: boolean; tcp_v6_send_reset: boolean; tcp_send_active_reset: boolean };
  /** enum sk_rst_reason of the running kernel: value -> name without prefix */
  reasons: Map<number, string>;
  /** enum skb_drop_reason of the running kernel: value -> name without SKB_DROP_REASON_ */
  dropReasons: Map<number, string>;
}

const TRACEFS_DIRS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** Reason names from a tracepoint format file's __print_symbolic(REC->reason, ...) table. */
export function reasonsFromFormat(format: string): Map<number, string> {
  const out = new Map<number, string>();
  const start = format.indexOf('__print_symbolic(REC->reason');
  if (start < 0) return out;
  const re = /\{\s*(\d+)\s*,\s*"([A-Z0-9_]+)"\s*\}/g;
  re.lastIndex = start;
  const end = format.indexOf(')', format.lastIndexOf('}', format.indexOf('})', start) + 1));
  for (let m = re.exec(format); m && (end < 0 || m.index < end); m = re.exec(format)) {
    out.set(Number(m[1]), m[2]!);
  }
  return out;
}

/**
 * Plain tracepoints attach by the event id tracefs gives; without tracefs
 * mounted (a machine without systemd may not have it) they cannot attach.
 */
export function tracefsMounted(): boolean {
  return TRACEFS_DIRS.some((dir) => existsSync(`${dir}/events`));
}

function reasonsFromTracefs(): Map<number, string> {
  for (const dir of TRACEFS_DIRS) {
    const file = `${dir}/events/tcp/tcp_send_reset/format`;
    if (existsSync(file)) {
      try {
        return reasonsFromFormat(readFileSync(file, 'utf8'));
      } catch {
        /* unreadable: no names */
      }
    }
  }
  return new Map();
}

/**
 * Reads the kernel's features. `btfPath` is the user's --btf file, if any; the
 * kernel's own BTF is looked for at TCPWHY_KERNEL_BTF (default
 * /sys/kernel/btf/vmlinux) so that tests can simulate a kernel without BTF.
 */
/**
 * The user's --btf FILE, looked at before it is opened: opening a FIFO would
 * wait for a writer forever, and a device (/dev/zero) never ends.
 */
export function checkBtfFile(btfPath: string): void {
  let st;
  try {
    st = statSync(btfPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new SetupError(`the BTF file ${btfPath} does not exist`, 'pass the path of a BTF file for this kernel to --btf');
    }
    throw new UsageError(`--btf: cannot read ${btfPath}: ${code ?? (e as Error).message}`);
  }
  if (!st.isFile()) {
    const what = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device';
    throw new UsageError(`--btf wants a regular file; ${btfPath} is ${what}`);
  }
}

export function probeKernel(btfPath?: string): KernelFeatures {
  const kernelBtf = process.env['TCPWHY_KERNEL_BTF'] || DEFAULT_KERNEL_BTF;
  const path = btfPath ?? kernelBtf;
  if (btfPath !== undefined) checkBtfFile(btfPath);
  else if (!existsSync(path)) {
    throw new SetupError(
      `this kernel has no BTF type information (${kernelBtf} is missing), which tcpwhy's CO-RE programs need`,
      'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions since 2020), or pass a BTF file for this exact kernel with --btf FILE (for example from BTFHub)',
    );
  }
  const a = native().btfQuery(path, {
    enums: ['sk_rst_reason', 'skb_drop_reason'],
    typedefParams: [
      'btf_trace_tcp_send_reset',
      'btf_trace_tcp_receive_reset',
      'btf_trace_inet_sock_set_state',
      'btf_trace_kfree_skb',
      'btf_trace_tcp_retransmit_skb',
      'btf_trace_tcp_retransmit_synack',
      'btf_trace_inet_sk_error_report',
    ],
    members: [['trace_event_raw_tcp_send_reset', 'reason']],
    funcs: ['tcp_v4_send_reset', 'tcp_v6_send_reset', 'tcp_send_active_reset'],
  });
  if (!a) {
    throw new SetupError(`cannot parse BTF from ${path}`, 'check that the file is a BTF blob (or an ELF file with a .BTF section) for this kernel');
  }
  const reasons = new Map<number, string>();
  for (const [name, value] of a.enums['sk_rst_reason'] ?? []) {
    reasons.set(value, name.replace(/^SK_RST_REASON_/, ''));
  }
  const dropReasons = new Map<number, string>();
  for (const [name, value] of a.enums['skb_drop_reason'] ?? []) {
    // SKB_CONSUMED, SKB_NOT_DROPPED_YET and SKB_DROP_REASON_* (the subsystem bits are read from the value)
    dropReasons.set(value, name.replace(/^SKB_DROP_REASON_/, ''));
  }
  return {
    btfPath: path,
    dropReasons,
    customBtf: btfPath !== undefined,
    tpParams: {
      sendReset: a.typedefParams['btf_trace_tcp_send_reset'] ?? -1,
      receiveReset: a.typedefParams['btf_trace_tcp_receive_reset'] ?? -1,
      setState: a.typedefParams['btf_trace_inet_sock_set_state'] ?? -1,
      kfreeSkb: a.typedefParams['btf_trace_kfree_skb'] ?? -1,
      retransmitSkb: a.typedefParams['btf_trace_tcp_retransmit_skb'] ?? -1,
      retransmitSynack: a.typedefParams['btf_trace_tcp_retransmit_synack'] ?? -1,
      skError: a.typedefParams['btf_trace_inet_sk_error_report'] ?? -1,
    },
    sendRecordHasReason: a.members['trace_event_raw_tcp_send_reset.reason'] === true,
    funcs: {
      tcp_v4_send_reset: a.funcs['tcp_v4_send_reset'] === true,
      tcp_v6_send_reset: a.funcs['tcp_v6_send_reset'] === true,
      tcp_send_active_reset: a.funcs['tcp_send_active_reset'] === true,
    },
    // Older kernels have no enum in BTF but may name reasons in tracefs.
    reasons: reasons.size ? reasons : reasonsFromTracefs(),
  };
}
