import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { canTrace, effectiveCaps } from '../../src/kernel/capabilities.js';

const status = (capEff: string) => `Name:\tnode
Umask:\t0022
State:\tR (running)
Tgid:\t1234
Pid:\t1234
Uid:\t0\t0\t0\t0
CapInh:\t0000000000000000
CapPrm:\t000001ffffffffff
CapEff:\t${capEff}
CapBnd:\t000001ffffffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t0
`;

const bit = (n: number) => 1n << BigInt(n);
const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

describe('effectiveCaps', () => {
  test('parses CapEff (and not CapPrm/CapBnd)', () => {
    assert.equal(effectiveCaps(status('000001ffffffffff')), 0x1ffffffffffn);
    assert.equal(effectiveCaps(status('000000c000000000')), bit(CAP_BPF) | bit(CAP_PERFMON));
    assert.equal(effectiveCaps(status('0000000000000000')), 0n);
  });
  test('no CapEff line: no capabilities', () => {
    assert.equal(effectiveCaps('Name:\tnode\nCapPrm:\t000001ffffffffff\n'), 0n);
  });
  test('reads this process status when given nothing', () => {
    assert.equal(typeof effectiveCaps(), 'bigint');
  });
});

describe('canTrace', () => {
  test('full root capabilities', () => {
    assert.equal(canTrace(0x1ffffffffffn), true);
  });
  test('CAP_BPF + CAP_PERFMON is enough', () => {
    assert.equal(canTrace(bit(CAP_BPF) | bit(CAP_PERFMON)), true);
  });
  test('CAP_BPF alone or CAP_PERFMON alone is not', () => {
    assert.equal(canTrace(bit(CAP_BPF)), false);
    assert.equal(canTrace(bit(CAP_PERFMON)), false);
  });
  test('CAP_SYS_ADMIN alone is enough', () => {
    assert.equal(canTrace(bit(CAP_SYS_ADMIN)), true);
  });
  test('nothing, or unrelated capabilities (NET_ADMIN, NET_RAW, DAC_OVERRIDE)', () => {
    assert.equal(canTrace(0n), false);
    assert.equal(canTrace(bit(12) | bit(13) | bit(1)), false);
    // every bit except the three that matter
    assert.equal(canTrace(0x1ffffffffffn & ~(bit(CAP_SYS_ADMIN) | bit(CAP_BPF) | bit(CAP_PERFMON))), false);
  });
  test('parsed root status can trace', () => {
    assert.equal(canTrace(effectiveCaps(status('000001ffffffffff'))), true);
    assert.equal(canTrace(effectiveCaps(status('0000000000000000'))), false);
  });
});
