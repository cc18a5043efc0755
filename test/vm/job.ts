// What the host asks a kernel of the matrix to run, and what comes back: the
// contract between test/vm/run.ts (host) and test/vm/guest.ts (guest), as
// JSON files in the directory they share.
import type { HookFamily } from '../../src/kernel/plan.js';

export type Step =
  /** load and attach every family of hooks on its own; record what tcpwhy picks by itself */
  | { kind: 'probe' }
  /** the lab, every case; `hooks` as tcpwhy lab --hooks */
  | { kind: 'lab'; hooks?: HookFamily }
  /** test files (dist/test/...), run with node's test runner */
  | { kind: 'tests'; files: string[] };

export interface Job {
  kernel: string;
  /** hide the kernel's BTF from tcpwhy and pass a copy with --btf (kernels without BTF) */
  btfFile: boolean;
  steps: Step[];
}

export interface FamilyProbe {
  family: HookFamily;
  /** the plan tcpwhy made with --hooks FAMILY, if it loaded */
  plan: string | null;
  programs: string[];
  completeSends: boolean;
  /** why it did not load */
  error: string | null;
}

export interface ProbeResult {
  features: {
    tpParams: { sendReset: number; receiveReset: number; setState: number };
    sendRecordHasReason: boolean;
    funcs: Record<string, boolean>;
    reasons: number;
    kprobes: boolean;
  };
  /** what tcpwhy picks by itself */
  auto: FamilyProbe & { attempts: Array<{ hook: string; error: string }>; missing: string[]; sendTpHasReason: boolean };
  families: FamilyProbe[];
}

export interface LabCaseResult {
  case: string;
  family: 4 | 6;
  expected: string;
  diagnosed: string | null;
  confidence: string | null;
  ok: boolean;
  problems: string[];
  /** RSTs on the wire that agree with the live verdicts, of how many */
  capture: { agree: number; resets: number } | null;
  ms: number;
}

export interface LabResult {
  hooks: HookFamily | 'auto';
  plan: string | null;
  cases: LabCaseResult[];
  error: string | null;
  /** not run: this kernel has no hooks of that family (why) */
  skipped?: string;
}

export interface TestsResult {
  files: string[];
  pass: number;
  fail: number;
  /** names of the failed tests (nested ones as "file > suite > test") */
  failures: string[];
  exitCode: number | null;
}

export interface StepTime {
  step: string;
  ms: number;
  error: string | null;
}

export interface GuestResult {
  kernel: string;
  /** uname -r in the guest */
  release: string;
  btfFile: boolean;
  probe: ProbeResult | null;
  labs: LabResult[];
  tests: TestsResult | null;
  steps: StepTime[];
  /** the whole job ran (false: it was cut short; see steps) */
  complete: boolean;
}
