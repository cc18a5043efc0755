import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatWallTime, stateName } from '../../src/events/event.js';

describe('formatWallTime', () => {
  test('RFC 3339 UTC with all nine nanosecond digits', () => {
    assert.equal(formatWallTime(1_700_000_000_123_456_789n), '2023-11-14T22:13:20.123456789Z');
  });
  test('nanoseconds are zero-padded', () => {
    assert.equal(formatWallTime(5n), '1970-01-01T00:00:00.000000005Z');
    assert.equal(formatWallTime(1_700_000_000_000_000_000n), '2023-11-14T22:13:20.000000000Z');
    assert.equal(formatWallTime(1_700_000_000_000_001_000n), '2023-11-14T22:13:20.000001000Z');
  });
  test('sub-millisecond digits are not lost to Date precision', () => {
    assert.equal(formatWallTime(1_767_225_599_999_999_999n), '2025-12-31T23:59:59.999999999Z');
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
