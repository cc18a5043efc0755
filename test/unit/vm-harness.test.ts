// The kernel matrix's own logic, without booting anything: what a guest is
// told, how its test results are read, and when a kernel passes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { qemuArgs } from '../vm/qemu.js';
import { tapFailures } from '../vm/tap.js';
import { judge, type Leg } from '../vm/verdict.js';
import { familyError, matrixMarkdown } from '../vm/report.js';
import { KERNELS } from '../vm/kernels.js';
import type { GuestResult, LabCaseResult, LabResult } from '../vm/job.js';

describe('qemu', () => {
  test('the host root is shared read-only, the results directory writable, the stage-two script named on the command line', () => {
    const a = qemuArgs({
      kernel: {
        package: 'p',
        version: 'v',
        release: '6.1.0-57-amd64',
        root: '/k',
        vmlinuz: '/k/boot/vmlinuz',
        config: '/k/boot/config',
        modules: '/k/lib/modules/6.1.0-57-amd64',
      },
      initramfs: '/k/init.cpio',
      repo: '/src/tcpwhy',
      outDir: '/out',
      timeoutMs: 1000,
    });
    const after = (flag: string) => a.filter((_, i) => a[i - 1] === flag);
    assert.deepEqual(after('-fsdev'), ['local,id=root,path=/,security_model=none,readonly=on,multidevs=remap', 'local,id=out,path=/out,security_model=none']);
    assert.ok(a.includes('-no-reboot') && a.includes('-nographic'));
    const append = after('-append')[0]!;
    assert.match(append, /tcpwhy\.stage2=\/src\/tcpwhy\/test\/vm\/guest-init\.sh/);
    assert.match(append, /tcpwhy\.kroot=\/k( |$)/);
    assert.match(append, /panic=-1/);
  });
});

describe('TAP', () => {
  test('failed tests are named by their path, suites that only failed through a test are not', () => {
    const tap = [
      '# Subtest: tcpwhy watch',
      '    # Subtest: --json',
      '    not ok 1 - --json',
      '    # Subtest: --count',
      '    ok 2 - --count',
      'not ok 1 - tcpwhy watch',
      '# Subtest: errors',
      'ok 2 - errors',
      '# Subtest: /x/cli.test.js',
      'not ok 3 - /x/cli.test.js',
      '# pass 1',
      '# fail 2',
    ].join('\n');
    assert.deepEqual(tapFailures(tap), ['tcpwhy watch > --json', '/x/cli.test.js']);
  });
});

const lab = (hooks: LabResult['hooks'], okAll: boolean): LabResult => ({
  hooks,
  plan: 'p',
  error: null,
  cases: [
    {
      case: 'closed-port',
      family: 4,
      expected: 'no-listener',
      diagnosed: okAll ? 'no-listener' : null,
      confidence: okAll ? 'medium' : null,
      ok: okAll,
      problems: okAll ? [] : ['no sent passive RST'],
      capture: null,
      ms: 1,
    } satisfies LabCaseResult,
    {
      case: 'linger-zero',
      family: 6,
      expected: 'linger-zero-close',
      diagnosed: 'linger-zero-close',
      confidence: 'high',
      ok: true,
      problems: [],
      capture: null,
      ms: 1,
    },
  ],
});

function leg(labs: LabResult[], over: Partial<GuestResult> = {}): Leg {
  const family = (f: 'tp_btf' | 'tracepoint' | 'fentry' | 'kprobe', complete: boolean) => ({
    family: f,
    plan: f,
    programs: [],
    completeSends: complete,
    error: null,
  });
  const result: GuestResult = {
    kernel: 'debian12-6.1',
    release: '6.1.0-57-amd64',
    btfFile: false,
    probe: {
      features: { tpParams: { sendReset: 3, receiveReset: 2, setState: 4 }, sendRecordHasReason: false, funcs: {}, reasons: 0, kprobes: true },
      auto: { ...family('fentry', true), attempts: [], missing: [], sendTpHasReason: false },
      families: [family('tp_btf', false), family('tracepoint', false), family('fentry', true), family('kprobe', true)],
    },
    labs,
    tests: { files: ['a'], pass: 3, fail: 0, failures: [], exitCode: 0 },
    steps: [{ step: 'probe', ms: 1, error: null }],
    complete: true,
    ...over,
  };
  return {
    id: 'debian12-6.1',
    title: 't',
    package: 'linux-image-6.1.0-57-amd64-unsigned 6.1.192-3',
    release: '6.1.0-57-amd64',
    native: false,
    result,
    ms: 60000,
    timedOut: false,
    exitCode: 0,
    error: null,
  };
}

describe('when a kernel passes', () => {
  test('every verdict right with its own hooks and the complete fallbacks; the incomplete tracepoint lab is only reported', () => {
    const v = judge(leg([lab('auto', true), lab('kprobe', true), lab('tracepoint', false)]));
    assert.ok(v.ok, v.lines.join('\n'));
    assert.ok(v.lines.some((l) => /lab --hooks tracepoint: 1\/2 right .*not required/.test(l)));
  });

  test('a family this kernel lacks is a lab not run, said, and no failure', () => {
    const skipped: LabResult = {
      hooks: 'kprobe',
      plan: null,
      cases: [],
      error: null,
      skipped: '--hooks kprobe: this kernel offers no kprobe hook for sent RSTs',
    };
    const v = judge(leg([lab('auto', true), skipped]));
    assert.ok(v.ok, v.lines.join('\n'));
    assert.ok(v.lines.includes('  lab --hooks kprobe: not run: --hooks kprobe: this kernel offers no kprobe hook for sent RSTs'));
  });

  test('a wrong verdict with a complete family, a failed test, a job cut short: FAIL, saying why', () => {
    assert.ok(!judge(leg([lab('auto', true), lab('kprobe', false)])).ok);
    assert.ok(!judge(leg([lab('auto', false)])).ok);
    const failedTest = judge(leg([lab('auto', true)], { tests: { files: ['a'], pass: 2, fail: 1, failures: ['cli > --json'], exitCode: 1 } }));
    assert.ok(!failedTest.ok);
    assert.ok(failedTest.lines.includes('    FAILED cli > --json'));
    const cut = judge(leg([lab('auto', true)], { complete: false }));
    assert.ok(!cut.ok && cut.lines.some((l) => /job stopped after: probe/.test(l)));
    assert.ok(!judge({ ...leg([]), result: null, error: 'the guest ended without finishing its job (time limit)' }).ok);
  });

  test('the matrix table and the per-case table come from the results', () => {
    const md = matrixMarkdown([leg([lab('auto', true), lab('kprobe', true)])]);
    assert.match(
      md,
      /\| debian12-6\.1<br>6\.1\.0-57-amd64 \| linux-image-6\.1\.0-57-amd64-unsigned 6\.1\.192-3 \| fentry \| 2\/2 right \(1 medium, 1 high\) \| kprobe: 2\/2 right/,
    );
    assert.match(md, /\| closed-port IPv4 \| no-listener \| ok, medium \|/);
    assert.match(md, /no reset reasons/);
  });

  test('every kernel of the matrix is a Debian package of the generic flavour, and 6.1 is in make test', () => {
    for (const k of KERNELS) assert.match(k.package.source, /amd64-unsigned\$$/, k.id);
    assert.ok(KERNELS.some((k) => k.ci && k.id === 'debian12-6.1'));
    assert.equal(new Set(KERNELS.map((k) => k.id)).size, KERNELS.length);
  });
});

test('a family that did not load is said on one line, without repeating its name, with its first attempt', () => {
  assert.equal(
    familyError('fentry', '--hooks fentry: this kernel offers no fentry hook for sent RSTs; it has tp_btf, tracepoint'),
    'this kernel offers no fentry hook for sent RSTs; it has tp_btf, tracepoint',
  );
  assert.equal(
    familyError(
      'tp_btf',
      "none of tcpwhy's kernel hooks for sent RSTs could be loaded on this kernel:\n    tp_btf/tcp_send_reset: cannot load BPF programs: Invalid argument",
    ),
    "none of tcpwhy's kernel hooks for sent RSTs could be loaded on this kernel: tp_btf/tcp_send_reset: cannot load BPF programs: Invalid argument",
  );
  assert.equal(familyError('kprobe', null), 'no reason given');
});
