import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addrFilterKey, addrKey, addrText, formatIPv6, parseAddr } from '../../src/net/addr.js';
import { formatTcpFlags, tcpdumpFlags } from '../../src/net/flags.js';

// the capture's address keys and the kernel filter's keys come from one parser and one formatter
test('capture address keys and filter keys read and write addresses alike', () => {
  for (const s of [
    '192.0.2.1',
    '0.0.0.0',
    '::',
    '::1',
    '2001:db8::1',
    'fe80::1234:5678:9abc:def0',
    '1:0:0:2::3',
    '::ffff:192.0.2.33',
    '2001:db8:0:1:1:1:1:1',
  ]) {
    const key = addrKey(s);
    assert.ok(key, s);
    assert.equal(addrText(key), s);
    if (s.includes(':')) assert.equal(formatIPv6(addrFilterKey(s)), s);
  }
  assert.equal(addrKey('[2001:db8::7]'), addrKey('2001:db8::7'));
  // the filter maps IPv4 into IPv6; a capture key keeps the family it was written in
  assert.deepEqual(addrFilterKey('::ffff:10.1.2.3'), addrFilterKey('10.1.2.3'));
  assert.notEqual(addrKey('::ffff:10.1.2.3'), addrKey('10.1.2.3'));
  for (const bad of ['300.0.2.1', '2001:db8::zz', '1::2::3', '1.2.3', 'example.com', '1:2:3:4:5:6:7:8:9']) {
    assert.equal(addrKey(bad), null, bad);
    assert.throws(() => parseAddr(bad), Error, bad);
  }
});

test('TCP flags in both notations', () => {
  assert.equal(formatTcpFlags(0x18), 'PSH|ACK');
  assert.equal(tcpdumpFlags(0x18), 'P.');
  assert.equal(tcpdumpFlags(0x12), 'S.');
  assert.equal(tcpdumpFlags(0x14), 'R.');
  assert.equal(tcpdumpFlags(0xff), 'SFRPUEW.');
  assert.equal(tcpdumpFlags(0), 'none');
});
