import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { reasonsFromFormat } from '../../src/kernel/features.js';
import { bpfKconfig, kernelHz } from '../../src/kernel/kconfig.js';

// As in the brief: state names symbolic, reason table last.
const FORMAT_6_10 = `name: tcp_send_reset
ID: 1432
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:const void * skbaddr;	offset:8;	size:8;	signed:0;
	field:const void * skaddr;	offset:16;	size:8;	signed:0;
	field:int state;	offset:24;	size:4;	signed:1;
	field:enum sk_rst_reason reason;	offset:28;	size:4;	signed:0;
	field:__u8 saddr[sizeof(struct sockaddr_in6)];	offset:32;	size:28;	signed:0;
	field:__u8 daddr[sizeof(struct sockaddr_in6)];	offset:60;	size:28;	signed:0;

print fmt: "skbaddr=%p skaddr=%p src=%pISpc dest=%pISpc state=%s reason=%s", REC->skbaddr, REC->skaddr, REC->saddr, REC->daddr, REC->state ? __print_symbolic(REC->state, { TCP_ESTABLISHED, "TCP_ESTABLISHED" }, { TCP_SYN_SENT, "TCP_SYN_SENT" }) : "UNKNOWN", __print_symbolic(REC->reason, { 0, "NOT_SPECIFIED" }, { 1, "NO_SOCKET" }, { 2, "TCP_INVALID_ACK_SEQUENCE" }, { 24, "ERROR" }, { 25, "MAX" })
`;

// What tracefs really prints: enum names were replaced by their values
// (TRACE_DEFINE_ENUM), so the state table has numbers that collide with reason values.
const FORMAT_NUMERIC_STATES = `name: tcp_send_reset
format:
	field:int state;	offset:24;	size:4;	signed:1;
	field:enum sk_rst_reason reason;	offset:28;	size:4;	signed:0;
print fmt: "skbaddr=%p skaddr=%p src=%pISpc dest=%pISpc state=%s reason=%s", REC->skbaddr, REC->skaddr, REC->saddr, REC->daddr, REC->state ? __print_symbolic(REC->state, { 1, "TCP_ESTABLISHED" }, { 2, "TCP_SYN_SENT" }, { 3, "TCP_SYN_RECV" }, { 7, "TCP_CLOSE" }) : "UNKNOWN", __print_symbolic(REC->reason, { 0, "NOT_SPECIFIED" }, { 1, "NO_SOCKET" }, { 2, "TCP_INVALID_ACK_SEQUENCE" })
`;

// Before 6.10: no reason field, only a state table.
const FORMAT_5_15 = `name: tcp_send_reset
format:
	field:const void * skbaddr;	offset:8;	size:8;	signed:0;
	field:const void * skaddr;	offset:16;	size:8;	signed:0;
	field:int state;	offset:24;	size:4;	signed:1;
print fmt: "sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 saddrv6=%pI6c daddrv6=%pI6c state=%s", REC->sport, REC->dport, REC->saddr, REC->daddr, REC->saddr_v6, REC->daddr_v6, __print_symbolic(REC->state, { 1, "TCP_ESTABLISHED" }, { 2, "TCP_SYN_SENT" }, { 7, "TCP_CLOSE" })
`;

describe('reasonsFromFormat', () => {
  test('reads the reason table of a 6.10+ format', () => {
    const r = reasonsFromFormat(FORMAT_6_10);
    assert.deepEqual(
      [...r.entries()],
      [
        [0, 'NOT_SPECIFIED'],
        [1, 'NO_SOCKET'],
        [2, 'TCP_INVALID_ACK_SEQUENCE'],
        [24, 'ERROR'],
        [25, 'MAX'],
      ],
    );
  });

  test('the state table before the reason table does not leak in', () => {
    const r = reasonsFromFormat(FORMAT_NUMERIC_STATES);
    assert.equal(r.get(1), 'NO_SOCKET');
    assert.equal(r.get(2), 'TCP_INVALID_ACK_SEQUENCE');
    assert.equal(r.has(3), false);
    assert.equal(r.has(7), false);
    assert.equal(r.size, 3);
    assert.ok(![...r.values()].some((n) => n.startsWith('TCP_ESTABLISHED') || n === 'TCP_CLOSE'));
  });

  test('a table after the reason table does not leak in either', () => {
    const f = FORMAT_NUMERIC_STATES.replace(/\)\n$/, '), __print_symbolic(REC->other, { 7, "SEVEN" }, { 1, "ONE" })\n');
    const r = reasonsFromFormat(f);
    assert.deepEqual(
      [...r.entries()],
      [
        [0, 'NOT_SPECIFIED'],
        [1, 'NO_SOCKET'],
        [2, 'TCP_INVALID_ACK_SEQUENCE'],
      ],
    );
  });

  test('a format without a reason table gives an empty map', () => {
    assert.equal(reasonsFromFormat(FORMAT_5_15).size, 0);
    assert.equal(reasonsFromFormat('').size, 0);
  });
});

describe('kconfig handed to libbpf', () => {
  test('CONFIG_HZ from the kernel config, and 0 (unknown) without one: never empty', () => {
    assert.equal(kernelHz('CONFIG_FOO=y\nCONFIG_HZ=250\n'), 250);
    assert.equal(kernelHz(null), null);
    assert.equal(bpfKconfig(250), 'CONFIG_HZ=250');
    // an empty string sends libbpf to /proc/config.gz or /boot/config-*, and
    // without them (Debian's 6.1 booted in a VM, containers) nothing loads
    assert.equal(bpfKconfig(null), 'CONFIG_HZ=0');
  });
});
