// Which BPF programs to load on this kernel. Pure: features in, ordered
// candidate plans out; the tracer tries them in order and keeps the first that
// loads and attaches. Tested with the feature shapes of older kernels, since
// this machine only runs one of them.
import type { KernelFeatures } from './features.js';
import { SetupError } from './errors.js';

export interface Plan {
  /** short name shown to the user */
  name: string;
  programs: string[];
  /** the tp_btf send program may read the reason argument */
  sendTpHasReason: boolean;
  /** every sent RST is seen (false: no-socket and TIME_WAIT RSTs are missed) */
  completeSends: boolean;
  /** received RSTs are seen */
  receives: boolean;
}

interface SendOption {
  name: string;
  programs: string[];
  complete: boolean;
  btfTyped: boolean;
}

/**
 * From 6.10 the tcp_send_reset tracepoint fires for every reset and has a reason
 * argument (ctx + sk + skb + reason = 4 parameters). Before, it skipped resets
 * sent without a full socket, so fentry or kprobes on the functions that build
 * resets are preferred there, and the tracepoint is the last resort.
 */
export function sendOptions(f: KernelFeatures): SendOption[] {
  const out: SendOption[] = [];
  const tpExists = f.tpParams.sendReset > 0;
  const tpComplete = f.tpParams.sendReset >= 4 || f.sendRecordHasReason;
  const fallbackFuncs = f.funcs.tcp_v4_send_reset && f.funcs.tcp_send_active_reset;
  const v6 = f.funcs.tcp_v6_send_reset;
  const fallback = (kind: 'fentry' | 'kprobe'): SendOption => ({
    name: `${kind}/tcp_v4_send_reset${v6 ? ',tcp_v6_send_reset' : ''},tcp_send_active_reset`,
    programs: [`${kind}_v4_send_reset`, ...(v6 ? [`${kind}_v6_send_reset`] : []), `${kind}_active_reset`],
    complete: true,
    btfTyped: kind === 'fentry',
  });
  const tps: SendOption[] = tpExists
    ? [
        { name: 'tp_btf/tcp_send_reset', programs: ['tp_btf_send_reset'], complete: tpComplete, btfTyped: true },
        { name: 'tracepoint/tcp/tcp_send_reset', programs: ['tp_send_reset'], complete: tpComplete, btfTyped: false },
      ]
    : [];
  if (tpComplete) return tps;
  if (fallbackFuncs) out.push(fallback('fentry'), fallback('kprobe'));
  return [...out, ...tps];
}

export function planCandidates(f: KernelFeatures): Plan[] {
  const sends = sendOptions(f);
  if (!sends.length) {
    throw new SetupError(
      'this kernel has neither the tcp:tcp_send_reset tracepoint nor the functions tcpwhy can hook instead (tcp_v4_send_reset, tcp_send_active_reset)',
      'tcpwhy needs Linux 4.15 or later with BTF; upgrade the kernel',
    );
  }
  const receiveTyped = f.tpParams.receiveReset > 0 ? ['tp_btf_receive_reset'] : [];
  const receivePlain = f.tpParams.receiveReset > 0 ? ['tp_receive_reset'] : [];
  const stateTyped = f.tpParams.setState > 0 ? ['tp_btf_set_state'] : [];
  const statePlain = f.tpParams.setState > 0 ? ['tp_set_state'] : [];
  const plans: Plan[] = [];
  for (const s of sends) {
    // Typed programs go together; if one kind cannot load, the plain ones may.
    const typed = s.btfTyped || s.programs[0]!.startsWith('kprobe');
    const variants = typed ? [[...receiveTyped, ...stateTyped], [...receivePlain, ...statePlain]] : [[...receivePlain, ...statePlain]];
    for (const extra of variants) {
      plans.push({
        name: s.name,
        programs: [...s.programs, ...extra],
        sendTpHasReason: s.programs.includes('tp_btf_send_reset') && f.tpParams.sendReset >= 4,
        completeSends: s.complete,
        receives: extra.some((p) => p.includes('receive')),
      });
    }
  }
  // Without receive/state tracepoints both variants are the same plan.
  const seen = new Set<string>();
  return plans.filter((p) => {
    const key = p.programs.join(',');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
