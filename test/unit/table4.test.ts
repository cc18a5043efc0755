// The IPv4 connection table against a Map, on a seeded random mix of
// inserts, lookups and deletes (deletes exercise the backward shift).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Table4 } from '../../src/capture/table4.js';

test('Table4 agrees with a Map through inserts, lookups, deletes and growth', () => {
  let seed = 42;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const t = new Table4<number>();
  const m = new Map<string, number>();
  // few distinct keys at first (many collisions and deletes), then many (growth)
  for (let round = 0; round < 2; round++) {
    const space = round === 0 ? 500 : 300_000;
    for (let i = 0; i < 200_000; i++) {
      const a = rnd(space) | 0;
      const b = (0xc0000200 + rnd(4)) | 0;
      const p = rnd(3) << 16;
      const k = `${a},${b},${p}`;
      const op = rnd(3);
      if (op === 0) {
        t.set(a, b, p, i);
        m.set(k, i);
      } else if (op === 1) assert.equal(t.delete(a, b, p), m.delete(k));
      else assert.equal(t.get(a, b, p), m.get(k));
    }
    assert.equal(t.size, m.size);
    for (const [k, v] of m) {
      const [a, b, p] = k.split(',').map(Number) as [number, number, number];
      assert.equal(t.get(a, b, p), v);
    }
    let n = 0;
    t.forEach(() => {
      n++;
    });
    assert.equal(n, m.size);
  }
});
