// What the kernel under test offers, for tests whose expectations depend on
// it (a reason, a hook that can attach). Everything comes from probing the
// running kernel the way tcpwhy does, never from its version number, so the
// same tests run on 6.18 here and on 6.1 in the kernel matrix (test/vm/).
import { existsSync } from 'node:fs';
import { probeKernel, type KernelFeatures } from '../../src/kernel/features.js';
import { hookOptions, preferredPlan, type Plan } from '../../src/kernel/plan.js';

export interface KernelUnderTest {
  features: KernelFeatures;
  /** what tcpwhy tries first here */
  preferred: Plan;
  /** kprobes can attach (the kprobe PMU exists; this project's 6.18 machines have none) */
  kprobes: boolean;
  /** sent RSTs carry the kernel's reason (tcp_send_reset passes one, 6.10+) */
  reasons: boolean;
  /** active RSTs carry a reason of their own, not NOT_SPECIFIED (the enum names them, 6.12+) */
  activeReasons: boolean;
  /**
   * The `reason` an event of this kernel has for an RST whose reason is
   * `name` where the kernel says it: `name`, NOT_SPECIFIED for an active RST
   * on a kernel that gives active ones none, null without reasons.
   */
  reason(kind: 'active' | 'passive', name: string): string | null;
}

let cached: KernelUnderTest | undefined;

export function kernelUnderTest(): KernelUnderTest {
  if (cached) return cached;
  const features = probeKernel();
  const preferred = preferredPlan(hookOptions(features));
  const reasons = preferred.sendTpHasReason || (preferred.completeSends && features.sendRecordHasReason && preferred.hooks[0]!.family === 'tracepoint');
  const names = new Set(features.reasons.values());
  const activeReasons = reasons && names.has('TCP_ABORT_ON_CLOSE');
  cached = {
    features,
    preferred,
    kprobes: existsSync('/sys/bus/event_source/devices/kprobe'),
    reasons,
    activeReasons,
    reason(kind, name) {
      if (!reasons) return null;
      if (kind === 'active' && !activeReasons) return 'NOT_SPECIFIED';
      return name;
    },
  };
  return cached;
}
