import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { parseLabArgs, parseWatchArgs } from '../../src/cli/args.js';
import { parseTcpdumpCounts } from '../../src/lab/record.js';
import { UsageError } from '../../src/kernel/errors.js';

function usageError(args: string[], pattern?: RegExp): void {
  assert.throws(
    () => parseWatchArgs(args),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, `expected UsageError for ${JSON.stringify(args)}, got ${String(e)}`);
      assert.equal(e.name, 'UsageError');
      if (pattern) assert.match(e.message, pattern);
      return true;
    },
  );
}

describe('parseWatchArgs: valid', () => {
  test('no options: defaults', () => {
    assert.deepEqual(parseWatchArgs([]), {
      json: false,
      stacks: false,
      count: false,
      explain: false,
      ports: [],
      pids: [],
      addrs: [],
      netns: [],
    });
  });

  test('--port lists and repeats', () => {
    assert.deepEqual(parseWatchArgs(['--port', '80,443', '--port', '8080']).ports, [80, 443, 8080]);
    assert.deepEqual(parseWatchArgs(['--port=1', '--port', '65535']).ports, [1, 65535]);
    assert.deepEqual(parseWatchArgs(['--port', ' 22 , 23 ']).ports, [22, 23]);
  });

  test('-4 and -6', () => {
    assert.equal(parseWatchArgs(['-4']).family, 4);
    assert.equal(parseWatchArgs(['-6']).family, 6);
    assert.equal(parseWatchArgs([]).family, undefined);
  });

  test('--duration fractional seconds', () => {
    assert.equal(parseWatchArgs(['--duration', '1.5']).durationSec, 1.5);
    assert.equal(parseWatchArgs(['--duration', '30']).durationSec, 30);
    assert.equal(parseWatchArgs([]).durationSec, undefined);
  });

  test('storm limits and the kernel history budget', () => {
    const o = parseWatchArgs(['--full-per-key', '0', '--full-rate', '250', '--history-mb', '64']);
    assert.deepEqual([o.fullPerKey, o.fullRate, o.historyMiB], [0, 250, 64]);
    assert.deepEqual([parseWatchArgs([]).fullPerKey, parseWatchArgs([]).historyMiB], [undefined, undefined]);
  });

  test('--buffer-mb power of two', () => {
    assert.equal(parseWatchArgs(['--buffer-mb', '16']).bufferMiB, 16);
    assert.equal(parseWatchArgs(['--buffer-mb', '1']).bufferMiB, 1);
    assert.equal(parseWatchArgs(['--buffer-mb', '1024']).bufferMiB, 1024);
  });

  test('--netns numeric inode', () => {
    assert.deepEqual(parseWatchArgs(['--netns', '4026531840']).netns, [4026531840]);
    assert.deepEqual(parseWatchArgs(['--netns', '4026531840,4026532000']).netns, [4026531840, 4026532000]);
  });

  test('--addr keeps the text of valid IPv4 and IPv6 addresses', () => {
    assert.deepEqual(parseWatchArgs(['--addr', '10.0.0.1', '--addr', '::1,[2001:db8::1]']).addrs, ['10.0.0.1', '::1', '[2001:db8::1]']);
  });

  test('--pid, booleans and --btf', () => {
    const o = parseWatchArgs(['--pid', '1,4242', '--json', '--stacks', '--btf', '/tmp/vmlinux.btf']);
    assert.deepEqual(o.pids, [1, 4242]);
    assert.equal(o.json, true);
    assert.equal(o.stacks, true);
    assert.equal(o.count, false);
    assert.equal(o.btfPath, '/tmp/vmlinux.btf');
    assert.equal(parseWatchArgs(['--count']).count, true);
  });

  test('--hooks: one family of kernel hooks', () => {
    for (const h of ['tp_btf', 'tracepoint', 'fentry', 'kprobe'] as const) assert.equal(parseWatchArgs(['--hooks', h]).hooks, h);
    assert.equal(parseWatchArgs([]).hooks, undefined);
  });

  test('64 values are allowed', () => {
    const ports = Array.from({ length: 64 }, (_, i) => String(i + 1)).join(',');
    assert.equal(parseWatchArgs(['--port', ports]).ports?.length, 64);
  });
});

describe('parseWatchArgs: UsageError', () => {
  test('unknown option', () => usageError(['--frobnicate']));
  test('unknown short option', () => usageError(['-x']));
  test('positional argument', () => usageError(['eth0']));
  test('--port 0', () => usageError(['--port', '0'], /--port/));
  test('--port 70000', () => usageError(['--port', '70000'], /--port/));
  test('--port 65536', () => usageError(['--port', '65536'], /--port/));
  test('--port abc', () => usageError(['--port', 'abc'], /--port/));
  test('--port 80,abc', () => usageError(['--port', '80,abc'], /--port/));
  test('--port -1 / 1.5', () => {
    usageError(['--port=-1']);
    usageError(['--port', '1.5']);
  });
  test('--port without a value', () => usageError(['--port']));
  test('more than 64 ports', () => {
    const ports = Array.from({ length: 65 }, (_, i) => String(i + 1)).join(',');
    usageError(['--port', ports], /64/);
  });
  test('-4 with -6', () => usageError(['-4', '-6'], /-4/));
  test('--json with --count', () => usageError(['--json', '--count'], /--json/));
  test('--buffer-mb 3 (not a power of two)', () => usageError(['--buffer-mb', '3'], /power of two/));
  test('--history-mb 0', () => usageError(['--history-mb', '0'], /--history-mb/));
  test('--full-per-key -1', () => usageError(['--full-per-key', '-1'], /--full-per-key/));
  test('--buffer-mb out of range', () => {
    usageError(['--buffer-mb', '0']);
    usageError(['--buffer-mb', '2048']);
    usageError(['--buffer-mb', 'lots']);
  });
  test('--duration -1', () => {
    usageError(['--duration', '-1']);
    usageError(['--duration=-1'], /--duration/);
  });
  test('--duration 0, empty or not a number', () => {
    usageError(['--duration', '0'], /--duration/);
    usageError(['--duration='], /--duration/);
    usageError(['--duration', 'soon'], /--duration/);
    usageError(['--duration', 'Infinity'], /--duration/);
  });
  test('--addr not-an-ip', () => usageError(['--addr', 'not-an-ip'], /--addr/));
  test('--addr with a bad octet', () => usageError(['--addr', '10.0.0.256'], /--addr/));
  test('--pid 0', () => usageError(['--pid', '0'], /--pid/));
  test('--hooks with an unknown or empty family', () => {
    usageError(['--hooks', 'ebpf'], /--hooks must be one of tp_btf, tracepoint, fentry, kprobe/);
    usageError(['--hooks', ''], /--hooks/);
    usageError(['--hooks'], /hooks/);
  });
  test('--netns with a name that does not exist', () => {
    assert.ok(!existsSync('/run/netns/no-such-ns-xyz') && !existsSync('/var/run/netns/no-such-ns-xyz'));
    usageError(['--netns', 'no-such-ns-xyz'], /no-such-ns-xyz/);
  });
  test('--netns path traversal', () => {
    usageError(['--netns', '../etc'], /bad network namespace name/);
    // these resolve to files that exist (/run/netns/../../proc/self/ns/net is this
    // process's namespace): they must be refused, not silently turned into an inode
    usageError(['--netns', '../../proc/self/ns/net']);
    usageError(['--netns', '../netns']);
    usageError(['--netns', '..']);
    usageError(['--netns', '/proc/self/ns/net']);
  });
  test('--netns 0 and too large inode', () => {
    usageError(['--netns', '0']);
    usageError(['--netns', '4294967296']);
  });
});

describe('parseLabArgs', () => {
  const names = ['closed-port', 'linger-zero'];
  const bad = (args: string[], pattern: RegExp) =>
    assert.throws(
      () => parseLabArgs(args, names),
      (e: unknown) => e instanceof UsageError && pattern.test(e.message),
    );
  test('all cases, one case, --record in either place', () => {
    assert.deepEqual(parseLabArgs([], names), {});
    assert.deepEqual(parseLabArgs(['linger-zero'], names), { only: 'linger-zero' });
    assert.deepEqual(parseLabArgs(['--record', '/tmp/r'], names), { record: '/tmp/r' });
    assert.deepEqual(parseLabArgs(['closed-port', '--record=/tmp/r'], names), { only: 'closed-port', record: '/tmp/r' });
    assert.deepEqual(parseLabArgs(['--hooks', 'kprobe', '--btf', '/tmp/vmlinux.btf'], names), { hooks: 'kprobe', btfPath: '/tmp/vmlinux.btf' });
  });
  test('refused: unknown case, two cases, unknown option, --record without a directory', () => {
    bad(['nope'], /no lab case "nope"; cases: closed-port, linger-zero/);
    bad(['closed-port', 'linger-zero'], /at most one case/);
    bad(['--json'], /--json/);
    bad(['--record'], /record/);
    bad(['--record='], /--record wants a directory/);
    bad(['--hooks', 'bpf'], /--hooks must be one of/);
    bad(['--btf='], /--btf wants a file/);
  });
});

describe('parseTcpdumpCounts', () => {
  test("tcpdump's closing lines", () => {
    const stderr =
      'tcpdump: listening on veth1, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n12 packets captured\n14 packets received by filter\n0 packets dropped by kernel\n';
    assert.deepEqual(parseTcpdumpCounts(stderr), { packets: 12, dropped: 0 });
    assert.deepEqual(parseTcpdumpCounts('1 packet captured\n1 packet received by filter\n3 packets dropped by kernel\n'), { packets: 1, dropped: 3 });
  });
  test('missing lines are -1', () => assert.deepEqual(parseTcpdumpCounts('tcpdump: listening on veth1\n'), { packets: -1, dropped: -1 }));
});

describe('parseWatchArgs: --events', () => {
  test('kinds by name or alias, comma-separated or repeated; default: none given (all are watched)', () => {
    assert.equal(parseWatchArgs([]).events, undefined);
    assert.deepEqual([...parseWatchArgs(['--events', 'drops,retrans']).events!].sort(), ['drops', 'retransmits']);
    assert.deepEqual([...parseWatchArgs(['--events', 'resets', '--events', 'errors']).events!].sort(), ['errors', 'resets']);
    assert.deepEqual([...parseWatchArgs(['--events=RST,Drop']).events!].sort(), ['drops', 'resets']);
  });
  test('an unknown or empty kind is a usage error (an empty value never means everything)', () => {
    for (const v of ['losses', '', 'drops,', ' ']) {
      assert.throws(
        () => parseWatchArgs(['--events', v]),
        (e: unknown) => e instanceof UsageError && /--events takes resets, drops, retransmits, errors/.test(e.message),
        v,
      );
    }
  });
});
