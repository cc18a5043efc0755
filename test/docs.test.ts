import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eventsDocPath, eventsMarkdown } from '../src/events/docs.js';

test('docs/events.md is generated from the event schema and up to date (make docs)', () => {
  assert.equal(readFileSync(eventsDocPath, 'utf8'), eventsMarkdown());
});

test('docs/causes.md is generated from the catalogue and up to date (make docs)', async () => {
  const { causesDocPath, causesMarkdown } = await import('../src/diagnose/docs.js');
  assert.equal(readFileSync(causesDocPath, 'utf8'), causesMarkdown());
});
