import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRstPayload, HEX_BYTES, MAX_TEXT_CHARS, REASON_NAMES, type RstPayload } from '../../src/capture/rst-payload.js';

const bytes = (...xs: number[]) => Buffer.from(xs);
const decode = (b: Buffer) => decodeRstPayload(b, 0, b.length);

/** The 8-byte compact diagnostic payload: 0x33AA, reason-code, pen. */
function compact(code: number, pen: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(0x33aa, 0);
  b.writeUInt16BE(code, 2);
  b.writeUInt32BE(pen, 4);
  return b;
}

// Just enough CBOR encoding to build the legacy payloads.
function cborHead(major: number, n: number): Buffer {
  if (n < 24) return bytes((major << 5) | n);
  if (n < 0x100) return bytes((major << 5) | 24, n);
  if (n < 0x10000) return bytes((major << 5) | 25, n >> 8, n & 0xff);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}
const cUint = (n: number) => cborHead(0, n);
const cText = (s: string) => {
  const t = Buffer.from(s, 'utf8');
  return Buffer.concat([cborHead(3, t.length), t]);
};
const cMap = (entries: Buffer[][]) => Buffer.concat([cborHead(5, entries.length), ...entries.flat()]);
const COOKIE = cUint(12345);

function isSane(r: RstPayload | null, len: number): void {
  if (len === 0) {
    assert.equal(r, null);
    return;
  }
  assert.ok(r, 'a non-empty payload is described');
  assert.ok(['ietf-diagnostic', 'text', 'binary'].includes(r.format));
  assert.equal(r.length, len);
  if (r.hex !== undefined) assert.ok(r.hex.length <= HEX_BYTES * 2);
  for (const s of [r.text, r.description]) {
    if (s !== undefined) assert.ok([...s].length <= MAX_TEXT_CHARS);
  }
  if (r.format === 'binary') assert.ok(r.hex !== undefined);
  if (r.format === 'text') assert.ok(r.text !== undefined && r.text.length > 0);
  if (r.format === 'ietf-diagnostic') assert.ok(r.reasonCode !== undefined || r.description !== undefined);
}

describe('no data', () => {
  test('empty or out-of-range slices are null', () => {
    const b = bytes(1, 2, 3);
    assert.equal(decodeRstPayload(b, 0, 0), null);
    assert.equal(decodeRstPayload(b, 3, 5), null);
    assert.equal(decodeRstPayload(b, 10, 5), null);
    assert.equal(decodeRstPayload(b, 0, -4), null);
    assert.equal(decodeRstPayload(b, NaN, 2), null);
    assert.equal(decodeRstPayload(b, 0, Infinity), null);
    assert.equal(decodeRstPayload(Buffer.alloc(0), 0, 0), null);
  });
  test('a length past the buffer is cut to what was captured', () => {
    const r = decodeRstPayload(Buffer.from('abc'), 1, 100);
    assert.deepEqual(r, { format: 'text', length: 2, text: 'bc' });
  });
});

describe('IETF diagnostic payload, compact (0x33AA)', () => {
  test('the draft examples: registry codes with pen 0', () => {
    assert.deepEqual(decode(compact(2, 0)), {
      format: 'ietf-diagnostic',
      length: 8,
      encoding: 'compact',
      reasonCode: 2,
      reasonName: 'desynchronized state',
      pen: 0,
    });
    const r = decode(Buffer.from('33aa000e00000000', 'hex'));
    assert.equal(r?.reasonCode, 14);
    assert.equal(r?.reasonName, 'connection timeout');
  });
  test('vendor code (the draft example: 1234 from documentation PEN 32473) gets no registry name', () => {
    assert.deepEqual(decode(Buffer.from('33aa04d200007ed9', 'hex')), {
      format: 'ietf-diagnostic',
      length: 8,
      encoding: 'compact',
      reasonCode: 1234,
      pen: 32473,
    });
    // a vendor code that happens to be a registry number is still the vendor's
    assert.equal(decode(compact(2, 32473))?.reasonName, undefined);
  });
  test('every listed registry code is named; unknown codes are kept without a name', () => {
    for (const [code, name] of REASON_NAMES) assert.equal(decode(compact(code, 0))?.reasonName, name);
    const r = decode(compact(0xffff, 0));
    assert.equal(r?.format, 'ietf-diagnostic');
    assert.equal(r?.reasonCode, 0xffff);
    assert.equal(r?.reasonName, undefined);
    assert.equal(decode(compact(7, 0xffffffff))?.pen, 0xffffffff);
  });
  test('read at an offset inside a larger frame', () => {
    const frame = Buffer.concat([Buffer.alloc(54, 0xee), compact(10, 0), Buffer.alloc(4, 0xee)]);
    const r = decodeRstPayload(frame, 54, 8);
    assert.equal(r?.reasonCode, 10);
    assert.equal(r?.reasonName, 'resource exceeded');
  });
  test('magic with another length is malformed (binary, with why)', () => {
    for (const n of [2, 3, 7, 9, 12, 40]) {
      const b = Buffer.concat([compact(3, 0), Buffer.alloc(40)]).subarray(0, n);
      const r = decode(b);
      assert.equal(r?.format, 'binary', `length ${n}`);
      assert.match(r?.malformed ?? '', /0x33aa but \d+ bytes/);
      assert.equal(r?.hex, b.subarray(0, HEX_BYTES).toString('hex'));
    }
  });
  test('a capture that cut the payload short is malformed, not a code', () => {
    const b = compact(4, 0);
    const r = decodeRstPayload(b, 0, 6);
    assert.equal(r?.format, 'binary');
    assert.ok(r?.malformed);
  });
  test('reserved reason-code 0 is malformed', () => {
    const r = decode(compact(0, 0));
    assert.equal(r?.format, 'binary');
    assert.match(r?.malformed ?? '', /reserved reason-code 0/);
  });
});

describe('IETF diagnostic payload, free description (0xF317, individual -15/-16)', () => {
  test('UTF-8 description after the magic', () => {
    const b = Buffer.concat([bytes(0xf3, 0x17), Buffer.from('idle timeout (NAT)')]);
    assert.deepEqual(decode(b), {
      format: 'ietf-diagnostic',
      length: b.length,
      encoding: 'free-description',
      description: 'idle timeout (NAT)',
    });
  });
  test('no description, or not UTF-8, is malformed', () => {
    assert.ok(decode(bytes(0xf3, 0x17))?.malformed);
    const r = decode(bytes(0xf3, 0x17, 0xff, 0xfe));
    assert.equal(r?.format, 'binary');
    assert.match(r?.malformed ?? '', /not UTF-8/);
  });
  test('a long description is capped', () => {
    const r = decode(Buffer.concat([bytes(0xf3, 0x17), Buffer.from('x'.repeat(1000))]));
    assert.equal(r?.description, 'x'.repeat(MAX_TEXT_CHARS));
    assert.equal(r?.truncated, true);
  });
});

describe('IETF diagnostic payload, legacy CBOR (cookie 12345)', () => {
  test('the legacy draft example: 19 3039 A1 01 02', () => {
    assert.deepEqual(decode(Buffer.from('193039a10102', 'hex')), {
      format: 'ietf-diagnostic',
      length: 6,
      encoding: 'cbor',
      reasonCode: 2,
      reasonName: 'desynchronized state',
    });
  });
  test('vendor code with pen, and a description alone', () => {
    const v = Buffer.concat([
      COOKIE,
      cMap([
        [cUint(1), cUint(1234)],
        [cUint(2), cUint(32473)],
      ]),
    ]);
    assert.deepEqual(decode(v), { format: 'ietf-diagnostic', length: v.length, encoding: 'cbor', reasonCode: 1234, pen: 32473 });
    const d = Buffer.concat([COOKIE, cMap([[cUint(3), cText('brief reason')]])]);
    assert.deepEqual(decode(d), { format: 'ietf-diagnostic', length: d.length, encoding: 'cbor', description: 'brief reason' });
  });
  test('the array form [12345, {...}] and unknown keys are accepted', () => {
    const b = Buffer.concat([
      bytes(0x82),
      COOKIE,
      cMap([
        [cUint(1), cUint(14)],
        [cUint(9), cText('extra')],
        [cText('k'), bytes(0xf6)],
      ]),
    ]);
    const r = decode(b);
    assert.equal(r?.encoding, 'cbor');
    assert.equal(r?.reasonCode, 14);
    assert.equal(r?.reasonName, 'connection timeout');
  });
  test('a long description is capped without splitting a character', () => {
    const b = Buffer.concat([COOKIE, cMap([[cUint(3), cText('\u{1f525}'.repeat(300))]])]);
    const r = decode(b);
    assert.equal(r?.description, '\u{1f525}'.repeat(MAX_TEXT_CHARS));
    assert.equal(r?.truncated, true);
  });
  test('every truncation of a valid payload is malformed, never a reason', () => {
    const full = Buffer.concat([
      COOKIE,
      cMap([
        [cUint(1), cUint(1234)],
        [cUint(2), cUint(32473)],
        [cUint(3), cText('why')],
      ]),
    ]);
    assert.equal(decode(full)?.format, 'ietf-diagnostic');
    for (let n = 1; n < full.length; n++) {
      const r = decodeRstPayload(full, 0, n);
      assert.notEqual(r?.format, 'ietf-diagnostic', `prefix ${n}`);
      if (n >= 3) assert.match(r?.malformed ?? '', /CBOR cookie 12345/, `prefix ${n}`);
    }
  });
  test('structurally wrong payloads are malformed', () => {
    const cases: [string, Buffer][] = [
      ['trailing byte', Buffer.concat([COOKIE, cMap([[cUint(1), cUint(2)]]), bytes(0)])],
      ['reason not a map', Buffer.concat([COOKIE, cUint(2)])],
      ['code is text', Buffer.concat([COOKIE, cMap([[cUint(1), cText('2')]])])],
      ['negative code', Buffer.concat([COOKIE, cMap([[cUint(1), bytes(0x20)]])])],
      [
        'pen is bytes',
        Buffer.concat([
          COOKIE,
          cMap([
            [cUint(1), cUint(2)],
            [cUint(2), bytes(0x41, 0)],
          ]),
        ]),
      ],
      ['description is a number', Buffer.concat([COOKIE, cMap([[cUint(3), cUint(3)]])])],
      ['neither code nor description', Buffer.concat([COOKIE, cMap([[cUint(2), cUint(9)]])])],
      [
        'duplicate key',
        Buffer.concat([
          COOKIE,
          cMap([
            [cUint(1), cUint(2)],
            [cUint(1), cUint(3)],
          ]),
        ]),
      ],
      ['indefinite map', Buffer.concat([COOKIE, bytes(0xbf, 0x01, 0x02, 0xff)])],
      ['stray break', Buffer.concat([COOKIE, bytes(0xff)])],
      ['reserved additional info', Buffer.concat([COOKIE, bytes(0xbc)])],
      ['text not UTF-8', Buffer.concat([COOKIE, cMap([[cUint(3), bytes(0x62, 0xc3, 0x28)]])])],
      ['map claims 2^64-1 pairs', Buffer.concat([COOKIE, bytes(0xbb), Buffer.alloc(8, 0xff)])],
      ['text claims 4 GB', Buffer.concat([COOKIE, cMap([[cUint(3), bytes(0x7a, 0xff, 0xff, 0xff, 0xff)]])])],
      ['tags nested past the depth limit', Buffer.concat([COOKIE, Buffer.alloc(200, 0xc1), cMap([[cUint(1), cUint(2)]])])],
      ['arrays nested past the depth limit', Buffer.concat([COOKIE, Buffer.alloc(200, 0x81), bytes(0)])],
      [
        'more items than the limit',
        Buffer.concat([
          COOKIE,
          cMap([
            [cUint(1), cUint(2)],
            [cUint(4), Buffer.concat([cborHead(4, 100), Buffer.alloc(100)])],
          ]),
        ]),
      ],
    ];
    for (const [name, b] of cases) {
      const r = decode(b);
      assert.equal(r?.format, 'binary', name);
      assert.match(r?.malformed ?? '', /CBOR cookie 12345/, name);
    }
  });
  test('something that merely starts like CBOR but is not the cookie is left alone', () => {
    const r = decode(bytes(0x19, 0x00, 0x01, 0xa0));
    assert.equal(r?.format, 'binary');
    assert.equal(r?.malformed, undefined);
  });
});

describe('plain text (RFC 9293 3.5.3 diagnostic text)', () => {
  test('printable ASCII and UTF-8, unescaped', () => {
    assert.deepEqual(decode(Buffer.from('Connection reset by policy\r\n')), {
      format: 'text',
      length: 28,
      text: 'Connection reset by policy\r\n',
    });
    assert.equal(decode(Buffer.from('délai dépassé\tß'))?.text, 'délai dépassé\tß');
  });
  test('NUL padding after the text is dropped', () => {
    const b = Buffer.concat([Buffer.from('bye'), Buffer.alloc(5)]);
    assert.deepEqual(decode(b), { format: 'text', length: 8, text: 'bye' });
  });
  test('long text is capped at MAX_TEXT_CHARS', () => {
    const r = decode(Buffer.from('a'.repeat(5000)));
    assert.equal(r?.text?.length, MAX_TEXT_CHARS);
    assert.equal(r?.truncated, true);
    assert.equal(decode(Buffer.from('a'.repeat(MAX_TEXT_CHARS)))?.truncated, undefined);
  });
  test('control characters, NUL inside, or bad UTF-8 make it binary', () => {
    for (const b of [
      Buffer.from('abc\x01def'),
      Buffer.from('ab\x00cd'),
      Buffer.from('esc \x1b[31m'),
      Buffer.from('del\x7f'),
      bytes(0x61, 0xc2, 0x85), // U+0085, a C1 control
      bytes(0x68, 0x69, 0xc3), // truncated sequence
      bytes(0xed, 0xa0, 0x80), // a UTF-16 surrogate in UTF-8
    ]) {
      const r = decode(b);
      assert.equal(r?.format, 'binary', b.toString('hex'));
      assert.equal(r?.hex, b.toString('hex'));
      assert.equal(r?.malformed, undefined);
    }
  });
});

describe('binary', () => {
  test('hex of the first 32 bytes only', () => {
    const b = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 7 + 128) & 0xff));
    const r = decode(b);
    assert.equal(r?.format, 'binary');
    assert.equal(r?.length, 100);
    assert.equal(r?.hex, b.subarray(0, 32).toString('hex'));
  });
  test('all zeros, and the Linux experiment (reason byte + 999 zeros), are binary', () => {
    assert.deepEqual(decode(Buffer.alloc(4)), { format: 'binary', length: 4, hex: '00000000' });
    const linux = Buffer.alloc(1000);
    linux[0] = 5;
    const r = decode(linux);
    assert.equal(r?.format, 'binary');
    assert.equal(r?.hex, `05${'00'.repeat(31)}`);
  });
});

describe('fuzz: seeded random bytes never throw', () => {
  // mulberry32: small, deterministic
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const prefixes = [bytes(), bytes(0x33, 0xaa), bytes(0xf3, 0x17), bytes(0x19, 0x30, 0x39), bytes(0x82, 0x19, 0x30, 0x39), Buffer.from('RST: ')];

  test('2000 random payloads, biased to start like each format', () => {
    const rand = rng(0x7c9a11);
    for (let i = 0; i < 2000; i++) {
      const prefix = prefixes[i % prefixes.length]!;
      const body = Buffer.alloc(Math.floor(rand() * 64));
      const printable = rand() < 0.2;
      for (let j = 0; j < body.length; j++) body[j] = printable ? 0x20 + Math.floor(rand() * 95) : Math.floor(rand() * 256);
      const b = Buffer.concat([prefix, body]);
      let r: RstPayload | null = null;
      assert.doesNotThrow(() => {
        r = decode(b);
      }, b.toString('hex'));
      isSane(r, b.length);
    }
  });

  test('2000 byte-flipped valid CBOR payloads', () => {
    const rand = rng(42);
    const seeds = [
      Buffer.concat([
        COOKIE,
        cMap([
          [cUint(1), cUint(1234)],
          [cUint(2), cUint(32473)],
          [cUint(3), cText('why not')],
        ]),
      ]),
      Buffer.concat([
        bytes(0x82),
        COOKIE,
        cMap([
          [cUint(1), cUint(14)],
          [cUint(4), Buffer.concat([cborHead(4, 3), cUint(1), bytes(0xc1, 0xfb), Buffer.alloc(8), cText('x')])],
        ]),
      ]),
    ];
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(seeds[i % seeds.length]!);
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips; f++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      const cut = rand() < 0.3 ? Math.floor(rand() * b.length) : b.length;
      let r: RstPayload | null = null;
      assert.doesNotThrow(() => {
        r = decodeRstPayload(b, 0, cut);
      }, b.toString('hex'));
      isSane(r, cut);
    }
  });

  test('random offsets and lengths, in and out of range', () => {
    const rand = rng(7);
    const b = Buffer.from(Array.from({ length: 64 }, () => Math.floor(rand() * 256)));
    const picks = [-5, 0, 1, 8, 63, 64, 65, 1e9, -Infinity, NaN, 2.5];
    for (const off of picks) {
      for (const len of picks) {
        assert.doesNotThrow(() => {
          const r = decodeRstPayload(b, off, len);
          if (r) assert.ok(r.length >= 1 && r.length <= 64);
        }, `off ${off} len ${len}`);
      }
    }
  });
});
