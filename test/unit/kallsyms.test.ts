import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Kallsyms, KernelSymbols, moduleRanges, symbolizeStack } from '../../src/kernel/kallsyms.js';

// Deliberately unsorted, with data symbols, a weak symbol, module symbols and
// the all-zero addresses an unprivileged reader sees.
const KALLSYMS = [
  'ffffffff81000000 T func_a',
  'ffffffff81000100 t func_b',
  'ffffffff81000080 D some_data',
  'ffffffff81000090 b some_bss',
  'ffffffff81000300 W weak_fn',
  'ffffffff81000200 T tcp_v4_send_reset',
  'ffffffff81000400 R some_rodata',
  'ffffffffc0a01000 t nf_hook_thing\t[nf_conntrack]',
  'ffffffffc0b00000 t bpf_prog_6deef7357e7b4530_tp_btf_send_reset\t[bpf]',
  'ffffffff81000500 T bpf_trace_run2',
  'ffffffff81000600 t __bpf_trace_tcp_send_reset',
  'ffffffff81000700 T tcp_rcv_state_process',
  'ffffffff81000800 T tcp_v4_do_rcv',
  '0000000000000000 T hidden_by_kptr_restrict',
  '',
  'garbage-without-space',
].join('\n');

describe('Kallsyms', () => {
  const k = new Kallsyms(KALLSYMS);

  test('keeps text symbols (T/t/W), drops data and zero addresses', () => {
    // func_a func_b tcp_v4_send_reset weak_fn bpf_trace_run2 __bpf_trace_tcp_send_reset
    // tcp_rcv_state_process tcp_v4_do_rcv nf_hook_thing bpf_prog_...
    assert.equal(k.size, 10);
  });

  test('exact start of a symbol is +0x0', () => {
    assert.equal(k.symbolize(0xffffffff81000000n), 'func_a+0x0');
    assert.equal(k.symbolize(0xffffffff81000100n), 'func_b+0x0');
    assert.equal(k.symbolize(0xffffffff81000200n), 'tcp_v4_send_reset+0x0');
  });

  test('inside a symbol: name and hex offset (lower-case type too)', () => {
    assert.equal(k.symbolize(0xffffffff81000010n), 'func_a+0x10');
    assert.equal(k.symbolize(0xffffffff810000ffn), 'func_a+0xff');
    assert.equal(k.symbolize(0xffffffff8100012an), 'func_b+0x2a');
    assert.equal(k.symbolize(0xffffffff81000310n), 'weak_fn+0x10');
  });

  test('data symbols do not cover addresses', () => {
    // 0x...80 is some_data (D) and 0x...90 some_bss (b): still inside func_a
    assert.equal(k.symbolize(0xffffffff81000085n), 'func_a+0x85');
    assert.equal(k.symbolize(0xffffffff81000095n), 'func_a+0x95');
    // 0x...400 is some_rodata (R): still inside weak_fn
    assert.equal(k.symbolize(0xffffffff81000410n), 'weak_fn+0x110');
  });

  test('before the first symbol: bare hex address', () => {
    assert.equal(k.symbolize(0xffffffff80ffffffn), '0xffffffff80ffffff');
    assert.equal(k.symbolize(0x1234n), '0x1234');
  });

  test('module symbols keep the module name', () => {
    const s = k.symbolize(0xffffffffc0a01020n);
    assert.match(s, /^nf_hook_thing\b/);
    assert.match(s, /nf_conntrack/);
    assert.match(s, /\+0x20\b/);
    assert.doesNotMatch(s, /\t/);
  });

  test('module frames are function+0xoffset [module], as the kernel (%pS), perf and bcc print them', () => {
    // the documented frame format is function+0xoffset: the module goes after the offset
    assert.equal(k.symbolize(0xffffffffc0a01020n), 'nf_hook_thing+0x20 [nf_conntrack]');
  });

  test('zero-address symbols are ignored', () => {
    assert.doesNotMatch(k.symbolize(0n), /hidden_by_kptr_restrict/);
    assert.equal(k.symbolize(0n), '0x0');
  });

  test('an unprivileged kallsyms (all zeros) gives an empty table', () => {
    const z = new Kallsyms('0000000000000000 T a\n0000000000000000 t b\n');
    assert.equal(z.size, 0);
    assert.equal(z.symbolize(0xffffffff81000000n), '0xffffffff81000000');
  });
});

describe('symbolizeStack', () => {
  const k = new Kallsyms(KALLSYMS);

  test('drops leading tracing frames and stops at the first 0', () => {
    const ips = BigUint64Array.from([
      0xffffffffc0b00040n, // bpf_prog_..._tp_btf_send_reset
      0xffffffff81000510n, // bpf_trace_run2
      0xffffffff81000620n, // __bpf_trace_tcp_send_reset
      0xffffffff81000234n, // tcp_v4_send_reset
      0xffffffff81000750n, // tcp_rcv_state_process
      0xffffffff81000808n, // tcp_v4_do_rcv
      0n,
      0xffffffff81000010n, // after the terminator: ignored
    ]);
    assert.deepEqual(symbolizeStack(k, ips), ['tcp_v4_send_reset+0x34', 'tcp_rcv_state_process+0x50', 'tcp_v4_do_rcv+0x8']);
  });

  test('without a zero terminator uses the whole array', () => {
    const ips = BigUint64Array.from([0xffffffff81000200n, 0xffffffff81000001n]);
    assert.deepEqual(symbolizeStack(k, ips), ['tcp_v4_send_reset+0x0', 'func_a+0x1']);
  });

  test('tracing frames below the first real frame are kept', () => {
    const ips = BigUint64Array.from([0xffffffff81000200n, 0xffffffff81000510n, 0n]);
    assert.deepEqual(symbolizeStack(k, ips), ['tcp_v4_send_reset+0x0', 'bpf_trace_run2+0x10']);
  });

  test('an empty stack (first entry 0) gives no frames', () => {
    assert.deepEqual(symbolizeStack(k, BigUint64Array.from([0n, 0xffffffff81000200n])), []);
    assert.deepEqual(symbolizeStack(k, new BigUint64Array(0)), []);
  });

  test('unknown addresses are kept as hex', () => {
    const ips = BigUint64Array.from([0xffffffff81000510n, 0x10n, 0n]);
    assert.deepEqual(symbolizeStack(k, ips), ['0x10']);
  });
});

describe('KernelSymbols', () => {
  test('the table is read again when a module comes or goes, not when only use counts change', () => {
    const withDiag = `${KALLSYMS}\nffffffffc0c00100 t tcp_diag_destroy\t[tcp_diag]`;
    let modules = 'inet_diag 28672 1 tcp_diag, Live 0xffffffffc0a00000\n';
    let text = KALLSYMS;
    let loads = 0;
    const syms = new KernelSymbols(
      () => modules,
      () => {
        loads++;
        return new Kallsyms(text);
      },
    );
    const ip = 0xffffffffc0c00138n;
    // before tcp_diag is loaded the address falls after the last symbol known
    assert.doesNotMatch(syms.get().symbolize(ip), /tcp_diag_destroy/);
    assert.equal(loads, 1);
    modules = 'inet_diag 28672 2 tcp_diag, Live 0xffffffffc0a00000\n'; // a use count: no reload
    syms.get();
    assert.equal(loads, 1);
    // `ss -K` made the kernel load tcp_diag
    modules += 'tcp_diag 16384 0 - Live 0xffffffffc0c00000\n';
    text = withDiag;
    assert.equal(syms.get().symbolize(ip), 'tcp_diag_destroy+0x38 [tcp_diag]');
    assert.equal(loads, 2);
  });
});

describe('module ranges', () => {
  test('a module symbol outside its module (an init symbol whose memory a later module reuses) is left out', () => {
    // as /proc/kallsyms listed them on Debian 12's 6.1 after `ss -K` loaded inet_diag, then tcp_diag
    const text = [
      'ffffffffc0491000 t tcp_diag_destroy\t[tcp_diag]',
      'ffffffffc0491000 T inet_diag_init\t[inet_diag]',
      'ffffffffc048a100 t inet_diag_cmd_exact\t[inet_diag]',
    ].join('\n');
    const modules = 'tcp_diag 16384 0 - Live 0xffffffffc0491000\ninet_diag 24576 1 tcp_diag, Live 0xffffffffc048a000\n';
    const ranges = moduleRanges(modules);
    assert.deepEqual(ranges.get('inet_diag'), [0xffffffffc048a000n, 0xffffffffc0490000n]);
    const k = new Kallsyms(text, ranges);
    assert.equal(k.symbolize(0xffffffffc0491038n), 'tcp_diag_destroy+0x38 [tcp_diag]');
    assert.equal(k.symbolize(0xffffffffc048a125n), 'inet_diag_cmd_exact+0x25 [inet_diag]');
    assert.equal(k.size, 2);
    // hidden addresses (not root): no ranges, every symbol kept
    assert.equal(moduleRanges('tcp_diag 16384 0 - Live 0x0000000000000000\n').size, 0);
    assert.equal(new Kallsyms(text, moduleRanges('')).size, 3);
  });
});
