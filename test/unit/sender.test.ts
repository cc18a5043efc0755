import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialTtl, senderStack } from '../../src/capture/sender.js';
import type { SideFacts } from '../../src/causes/wire-facts.js';

const side = (ttl: number, synOrder: number, synWin = 64240): SideFacts => ({ ttl, synOrder, synWin, synSeq: 1, ttlVaries: false }) as unknown as SideFacts;

test('the initial TTL is the next value stacks start from', () => {
  assert.deepEqual([1, 32, 33, 46, 64, 65, 125, 128, 200, 232, 255].map(initialTtl), [32, 32, 64, 64, 64, 128, 128, 128, 255, 255, 255]);
});

test('a sender is named by its TTL family, its SYN option order and how its reset is built', () => {
  // Linux: MSS, SACK_PERM, TS, NOP, WS
  const linux = senderStack(side(47, 0x124813), 47, 4, []);
  assert.deepEqual([linux.name, linux.mayBeLinux], ['linux', true]);
  // no SYN seen, TTL 64 family: nothing rules Linux out
  assert.deepEqual([senderStack(side(-1, -1), 50, 4, []).name, senderStack(side(-1, -1), 50, 4, []).mayBeLinux], ['unknown', true]);
  // Windows: TTL 128, MSS, NOP, WS, NOP, NOP, SACK_PERM
  const win = senderStack(side(128, 0x1213114, 65535), 128, 4, ['window 0 (Linux advertises its window in an active reset)']);
  assert.deepEqual([win.name, win.mayBeLinux, win.confidence], ['windows', false, 'high']);
  assert.match(win.signs.join('; '), /^TTL 128 \(initial 128\); SYN options MSS,NOP,WS,NOP,NOP,SACK_PERM, window 65535; window 0/);
  // a load balancer: TTL 232 from 255, a window in a passive reset
  const lb = senderStack(side(232, 0x1213114, 8190), 232, 4, ['window 8201 (Linux sends 0 in a passive reset)']);
  assert.deepEqual([lb.name, lb.mayBeLinux, lb.confidence], ['ttl255', false, 'high']);
  // macOS: TTL 64 family but its own option order
  const mac = senderStack(side(64, 0x121311840, 65535), 64, 6, []);
  assert.deepEqual([mac.name, mac.mayBeLinux], ['bsd', false]);
  assert.match(mac.signs[0]!, /^hop limit 64/);
  // a Linux-ordered SYN whose reset is not built the Linux way: not Linux's reset
  assert.equal(senderStack(side(64, 0x124813), 64, 4, ['timestamps (Linux sends none in a passive reset)']).mayBeLinux, false);
  // options Linux may add that the order does not know (kind 30, MPTCP) prove nothing
  assert.equal(senderStack(side(64, 0x124813f), 64, 4, []).mayBeLinux, true);
});
