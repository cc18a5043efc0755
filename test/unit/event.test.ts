import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatWallTime, stateName, wallOffset, wallTimeOf } from '../../src/events/event.js';

describe('formatWallTime / wallTimeOf', () => {
  test('RFC 3339 UTC with all nine nanosecond digits', () => {
    assert.equal(formatWallTime(1_700_000_000, 123_456_789), '2023-11-14T22:13:20.123456789Z');
  });
  test('nanoseconds are zero-padded', () => {
    assert.equal(formatWallTime(0, 5), '1970-01-01T00:00:00.000000005Z');
    assert.equal(formatWallTime(1_700_000_000, 0), '2023-11-14T22:13:20.000000000Z');
    assert.equal(formatWallTime(1_700_000_000, 1000), '2023-11-14T22:13:20.000001000Z');
  });
  test('the cached date part follows the second', () => {
    assert.equal(formatWallTime(1_767_225_599, 999_999_999), '2025-12-31T23:59:59.999999999Z');
    assert.equal(formatWallTime(1_767_225_600, 0), '2026-01-01T00:00:00.000000000Z');
  });
  test('monotonic time plus the clock offset, carrying nanoseconds into seconds', () => {
    const off = { sec: 1_700_000_000, nsec: 900_000_000 };
    assert.equal(wallTimeOf(5_200_000_001, off), '2023-11-14T22:13:26.100000001Z');
    assert.equal(wallTimeOf(0, off), '2023-11-14T22:13:20.900000000Z');
  });
  test('the clock offset is wall minus monotonic', () => {
    const off = wallOffset();
    const monoNow = Number(process.hrtime.bigint());
    const wall = Date.parse(wallTimeOf(monoNow, off));
    assert.ok(Math.abs(wall - Date.now()) < 50, `${wall} vs ${Date.now()}`);
  });
});

describe('stateName', () => {
  test('0 is no state', () => {
    assert.equal(stateName(0), null);
  });
  test('known states', () => {
    assert.equal(stateName(1), 'ESTABLISHED');
    assert.equal(stateName(6), 'TIME_WAIT');
    assert.equal(stateName(7), 'CLOSE');
    assert.equal(stateName(10), 'LISTEN');
    assert.equal(stateName(12), 'NEW_SYN_RECV');
  });
  test('unknown states are named by number', () => {
    assert.equal(stateName(99), 'STATE_99');
  });
});
