import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cString, escapeText, FieldText } from '../../src/events/text.js';
import { addrFilterKey, endpoint, formatIPv4, formatIPv6 } from '../../src/net/addr.js';
import { formatTcpFlags } from '../../src/net/flags.js';

/** 16 bytes from 8 16-bit groups. */
function v6(...groups: number[]): Uint8Array {
  assert.equal(groups.length, 8, 'helper wants 8 groups');
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    b[i * 2] = g >> 8;
    b[i * 2 + 1] = g & 0xff;
  });
  return b;
}

const bytes = (...xs: number[]) => Uint8Array.from(xs);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('formatIPv4', () => {
  test('dotted quad of the first four bytes', () => {
    assert.equal(formatIPv4(bytes(192, 168, 1, 20)), '192.168.1.20');
    assert.equal(formatIPv4(bytes(0, 0, 0, 0)), '0.0.0.0');
    assert.equal(formatIPv4(bytes(255, 255, 255, 255)), '255.255.255.255');
  });
  test('ignores bytes after the fourth (16-byte kernel address field)', () => {
    const b = new Uint8Array(16);
    b.set([10, 0, 0, 1]);
    b.fill(0xaa, 4);
    assert.equal(formatIPv4(b), '10.0.0.1');
  });
});

describe('formatIPv6 (RFC 5952)', () => {
  test('all zeros and loopback', () => {
    assert.equal(formatIPv6(v6(0, 0, 0, 0, 0, 0, 0, 0)), '::');
    assert.equal(formatIPv6(v6(0, 0, 0, 0, 0, 0, 0, 1)), '::1');
    assert.equal(formatIPv6(v6(1, 0, 0, 0, 0, 0, 0, 0)), '1::');
  });
  test('lower case, no leading zeros in groups', () => {
    assert.equal(formatIPv6(v6(0x2001, 0x0db8, 0x00ab, 0xcdef, 0x0001, 0x0023, 0x4567, 0x89ab)), '2001:db8:ab:cdef:1:23:4567:89ab');
  });
  test('compresses the zero run in the middle', () => {
    assert.equal(formatIPv6(v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)), '2001:db8::1');
    assert.equal(formatIPv6(v6(0xfe80, 0, 0, 0, 0x1234, 0x5678, 0x9abc, 0xdef0)), 'fe80::1234:5678:9abc:def0');
  });
  test('longest zero run wins, not the first', () => {
    assert.equal(formatIPv6(v6(1, 0, 0, 2, 0, 0, 0, 3)), '1:0:0:2::3');
    assert.equal(formatIPv6(v6(0, 0, 1, 0, 0, 0, 0, 2)), '0:0:1::2');
  });
  test('first run wins on ties', () => {
    assert.equal(formatIPv6(v6(1, 0, 0, 2, 3, 0, 0, 4)), '1::2:3:0:0:4');
    assert.equal(formatIPv6(v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1)), '2001:db8::1:0:0:1');
  });
  test('a single zero group is not shortened to ::', () => {
    assert.equal(formatIPv6(v6(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1)), '2001:db8:0:1:1:1:1:1');
    assert.equal(formatIPv6(v6(1, 2, 3, 4, 5, 6, 7, 0)), '1:2:3:4:5:6:7:0');
    assert.equal(formatIPv6(v6(0, 2, 3, 4, 5, 6, 7, 8)), '0:2:3:4:5:6:7:8');
  });
  test('zero run at the end', () => {
    assert.equal(formatIPv6(v6(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0)), '2001:db8:1::');
  });
  test('v4-mapped addresses end in dotted quad', () => {
    const b = new Uint8Array(16);
    b[10] = 0xff;
    b[11] = 0xff;
    b.set([192, 0, 2, 33], 12);
    assert.equal(formatIPv6(b), '::ffff:192.0.2.33');
  });
  test('not v4-mapped when another group is non-zero', () => {
    const b = v6(0, 0, 0, 0, 1, 0xffff, 0xc000, 0x0221);
    assert.equal(formatIPv6(b), '::1:ffff:c000:221');
  });
  test('full form without zero groups', () => {
    assert.equal(formatIPv6(v6(1, 2, 3, 4, 5, 6, 7, 8)), '1:2:3:4:5:6:7:8');
  });
});

describe('FieldText / endpoint', () => {
  const v4 = new Uint8Array(16);
  v4.set([127, 0, 0, 1]);
  // a record: addresses at 0, 16, 32, 48, names at 64 and 80
  const record = (family: number, skFamily: number, fill: (b: Uint8Array) => void) => {
    const b = new Uint8Array(96);
    fill(b);
    return {
      view: new DataView(b.buffer),
      bytes: b,
      family,
      sk_family: skFamily,
      pkt_laddr: 0,
      pkt_raddr: 16,
      sk_laddr: 32,
      sk_raddr: 48,
      comm: 64,
      owner_comm: 80,
    };
  };
  test('AF_INET (2) vs AF_INET6 (10), per field', () => {
    const r = record(2, 10, (b) => {
      b.set(v4, 0);
      b.set(v6(0, 0, 0, 0, 0, 0, 0, 1), 32);
    });
    const t = new FieldText();
    assert.equal(t.packetLocal(r), '127.0.0.1');
    assert.equal(t.socketLocal(r), '::1');
  });
  test('each field remembers its own last value, and a changed value is seen', () => {
    const t = new FieldText();
    const r = record(10, 10, (b) => {
      b.set(v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 0);
      b.set(v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2), 16);
      b.set(Buffer.from('nginx'), 64);
      b.set(Buffer.from('curl'), 80);
    });
    for (let i = 0; i < 3; i++) {
      assert.equal(t.packetLocal(r), '2001:db8::1');
      assert.equal(t.packetRemote(r), '2001:db8::2');
      assert.deepEqual([t.comm(r), t.ownerComm(r)], ['nginx', 'curl']);
    }
    r.bytes.set(v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3), 0);
    r.bytes.set(Buffer.from('node\0'), 64);
    assert.equal(t.packetLocal(r), '2001:db8::3');
    assert.equal(t.comm(r), 'node');
    assert.equal(new FieldText().packetRemote(r), '2001:db8::2', 'another reader has caches of its own');
  });
  test('IPv4 endpoint is addr:port, IPv6 endpoint is [addr]:port', () => {
    assert.equal(endpoint(formatIPv4(v4), 8080), '127.0.0.1:8080');
    assert.equal(endpoint(formatIPv6(v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)), 443), '[2001:db8::1]:443');
    assert.equal(endpoint(formatIPv6(v6(0, 0, 0, 0, 0, 0, 0, 0)), 0), '[::]:0');
  });
});

describe('addrFilterKey', () => {
  test('IPv4 becomes a v4-mapped IPv6 key', () => {
    const k = addrFilterKey('10.1.2.3');
    assert.equal(k.length, 16);
    assert.equal(hex(k), '00000000000000000000ffff0a010203');
    assert.equal(hex(addrFilterKey('255.255.255.255')), '00000000000000000000ffffffffffff');
    assert.equal(hex(addrFilterKey('0.0.0.0')), '00000000000000000000ffff00000000');
  });
  test('IPv6 with ::', () => {
    assert.equal(hex(addrFilterKey('::1')), '00000000000000000000000000000001');
    assert.equal(hex(addrFilterKey('::')), '00000000000000000000000000000000');
    assert.equal(hex(addrFilterKey('2001:db8::1')), '20010db8000000000000000000000001');
    assert.equal(hex(addrFilterKey('fe80::')), 'fe800000000000000000000000000000');
    assert.equal(hex(addrFilterKey('1:2:3:4:5:6:7::')), '00010002000300040005000600070000');
    assert.equal(hex(addrFilterKey('::2:3:4:5:6:7:8')), '00000002000300040005000600070008');
  });
  test('IPv6 full form, upper case accepted', () => {
    assert.equal(hex(addrFilterKey('2001:0DB8:0000:0000:0000:ff00:0042:8329')), '20010db8000000000000ff0000428329');
    assert.equal(hex(addrFilterKey('1:2:3:4:5:6:7:8')), '00010002000300040005000600070008');
  });
  test('IPv6 with embedded IPv4', () => {
    assert.equal(hex(addrFilterKey('::ffff:192.0.2.1')), '00000000000000000000ffffc0000201');
    assert.equal(hex(addrFilterKey('64:ff9b::10.0.0.1')), '0064ff9b0000000000000000' + '0a000001');
    // the IPv4 filter key of an address equals the key of its v4-mapped form
    assert.deepEqual(addrFilterKey('::ffff:10.1.2.3'), addrFilterKey('10.1.2.3'));
  });
  test('brackets are stripped', () => {
    assert.deepEqual(addrFilterKey('[::1]'), addrFilterKey('::1'));
    assert.deepEqual(addrFilterKey('[2001:db8::7]'), addrFilterKey('2001:db8::7'));
  });
  test('formatIPv6 and addrFilterKey round-trip', () => {
    for (const s of ['2001:db8::1', '1:0:0:2::3', 'fe80::1234:5678:9abc:def0', '::ffff:192.0.2.33', '1:2:3:4:5:6:7:8', '::']) {
      assert.equal(formatIPv6(addrFilterKey(s)), s);
    }
  });
  test('rejects garbage', () => {
    for (const s of ['', 'localhost', 'not-an-ip', 'abc', '1.2.3', '1.2.3.4.5', '1.2.3.4/24', ' 1.2.3.4', 'g::1', ':', ':::', '::1%eth0']) {
      assert.throws(() => addrFilterKey(s), Error, `should reject ${JSON.stringify(s)}`);
    }
  });
  test('rejects out-of-range IPv4 octets', () => {
    for (const s of ['256.0.0.1', '1.2.3.999', '300.300.300.300', '::ffff:1.2.3.256']) {
      assert.throws(() => addrFilterKey(s), Error, `should reject ${s}`);
    }
  });
  test('rejects too many or too few groups', () => {
    for (const s of ['1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:1.2.3.4']) {
      assert.throws(() => addrFilterKey(s), Error, `should reject ${s}`);
    }
  });
  test('rejects more than one ::', () => {
    assert.throws(() => addrFilterKey('1::2::3'), Error);
    assert.throws(() => addrFilterKey('::1::'), Error);
  });
  test('rejects an IPv4 part anywhere but in the last 32 bits (RFC 4291 2.2)', () => {
    for (const s of ['1.2.3.4::', '::1.2.3.4:5', '1.2.3.4::1']) {
      assert.throws(() => addrFilterKey(s), Error, `should reject ${s}`);
    }
  });
  test('rejects unbalanced brackets', () => {
    for (const s of ['[::1', '::1]', '[10.0.0.1]']) {
      assert.throws(() => addrFilterKey(s), Error, `should reject ${s}`);
    }
  });
  test('rejects groups longer than 4 hex digits and stray colons', () => {
    for (const s of ['12345::1', '1:2:3:4:5:6:7:', ':1:2:3:4:5:6:7', '1::2:']) {
      assert.throws(() => addrFilterKey(s), Error, `should reject ${s}`);
    }
  });
});

describe('formatTcpFlags', () => {
  test('single flags', () => {
    assert.equal(formatTcpFlags(0x02), 'SYN');
    assert.equal(formatTcpFlags(0x04), 'RST');
    assert.equal(formatTcpFlags(0x80), 'CWR');
  });
  test('combinations in bit order joined with |', () => {
    assert.equal(formatTcpFlags(0x18), 'PSH|ACK');
    assert.equal(formatTcpFlags(0x12), 'SYN|ACK');
    assert.equal(formatTcpFlags(0x14), 'RST|ACK');
    assert.equal(formatTcpFlags(0x11), 'FIN|ACK');
    assert.equal(formatTcpFlags(0xff), 'FIN|SYN|RST|PSH|ACK|URG|ECE|CWR');
  });
  test('no flags', () => {
    assert.equal(formatTcpFlags(0), 'none');
  });
});

describe('escapeText', () => {
  test('keeps ordinary text and UTF-8', () => {
    assert.equal(escapeText('nginx: worker'), 'nginx: worker');
    assert.equal(escapeText('café'), 'café');
    assert.equal(escapeText('日本語 ✓'), '日本語 ✓');
  });
  test('escapes C0 controls, ESC, DEL and C1 controls as \\xNN', () => {
    assert.equal(escapeText('a\nb'), 'a\\x0ab');
    assert.equal(escapeText('\t\r\0'), '\\x09\\x0d\\x00');
    assert.equal(escapeText('\x1b[31mred'), '\\x1b[31mred');
    assert.equal(escapeText('x\x7fy'), 'x\\x7fy');
    assert.equal(escapeText('\u0085\u009b'), '\\x85\\x9b');
  });
  test('escapes the backslash itself so escapes are unambiguous', () => {
    assert.equal(escapeText('a\\b'), 'a\\\\b');
    assert.equal(escapeText('\\x1b'), '\\\\x1b');
    assert.notEqual(escapeText('\\x1b'), escapeText('\x1b'));
  });
  test('escapes bidi overrides and isolates', () => {
    assert.equal(escapeText('evil\u202egnp.exe'), 'evil\\u202egnp.exe');
    assert.equal(escapeText('\u202a\u202b\u202c\u202d'), '\\u202a\\u202b\\u202c\\u202d');
    assert.equal(escapeText('\u2066x\u2069'), '\\u2066x\\u2069');
    assert.equal(escapeText('\u200e\u200f'), '\\u200e\\u200f');
  });
  test('escapes zero-width characters and BOM', () => {
    assert.equal(escapeText('ss\u200bhd'), 'ss\\u200bhd');
    assert.equal(escapeText('\u200c\u200d\u2060\ufeff'), '\\u200c\\u200d\\u2060\\ufeff');
  });
  test('output is printable: no control or format characters remain', () => {
    let all = '';
    for (let c = 0; c < 0x2070; c++) all += String.fromCharCode(c);
    all += '\ufeff';
    const out = escapeText(all);
    assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/);
  });
});

describe('cString', () => {
  const comm = (s: string | number[], size = 16): Uint8Array => {
    const b = new Uint8Array(size);
    const src = typeof s === 'string' ? Buffer.from(s, 'utf8') : Uint8Array.from(s);
    b.set(src.subarray(0, size));
    return b;
  };
  test('stops at the first NUL (ascii fast path)', () => {
    assert.equal(cString(comm('curl')), 'curl');
    const b = comm('ab');
    b[3] = 0x41; // garbage after the terminator
    assert.equal(cString(b), 'ab');
  });
  test('no NUL: the whole array', () => {
    assert.equal(cString(Buffer.from('0123456789abcdef')), '0123456789abcdef');
  });
  test('empty', () => {
    assert.equal(cString(new Uint8Array(16)), '');
    assert.equal(cString(new Uint8Array(0)), '');
  });
  test('valid UTF-8 is decoded', () => {
    assert.equal(cString(comm('café')), 'café');
  });
  test('an ANSI escape sequence in a comm is escaped', () => {
    assert.equal(cString(comm('\x1b[31mevil')), '\\x1b[31mevil');
  });
  test('backslash in a comm is escaped', () => {
    assert.equal(cString(comm('a\\b')), 'a\\\\b');
  });
  test('bidi override in a UTF-8 comm is escaped', () => {
    assert.equal(cString(comm('x\u202ey')), 'x\\u202ey');
  });
  test('non-UTF-8 bytes are shown as \\xNN, printable ASCII kept', () => {
    assert.equal(cString(comm([0x66, 0xff, 0x6f, 0x80])), 'f\\xffo\\x80');
    assert.equal(cString(comm([0xc3, 0x28, 0x5c, 0x1b])), '\\xc3(\\\\\\x1b');
  });
});

describe('cString with a name the kernel cut inside a UTF-8 character', () => {
  test('keeps the valid start and shows the dangling bytes as \\xNN', () => {
    // "aaaaaaaaaaaaaaé" is 16 bytes; the kernel keeps 15 + NUL, cutting é (c3 a9) after c3
    const bytes = new Uint8Array(16);
    bytes.set(Buffer.from('aaaaaaaaaaaaaaé', 'utf8').subarray(0, 15));
    assert.equal(cString(bytes), 'aaaaaaaaaaaaaa\\xc3');
  });
  test('valid multi-byte names are kept', () => {
    const bytes = new Uint8Array(16);
    bytes.set(Buffer.from('café', 'utf8'));
    assert.equal(cString(bytes), 'café');
  });
});
