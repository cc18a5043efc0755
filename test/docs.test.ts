import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eventsDocPath, eventsMarkdown } from '../src/events/docs.js';

test('docs/events.md is generated from the event schema and up to date (make docs)', () => {
  assert.equal(readFileSync(eventsDocPath, 'utf8'), eventsMarkdown());
});

test('the RstEvent type is generated from the event schema and up to date (make docs)', async () => {
  const { eventTypePath, eventTypeSource } = await import('../src/events/type-gen.js');
  assert.equal(readFileSync(eventTypePath, 'utf8'), eventTypeSource());
});

test('docs/causes.md is generated from the catalogue and up to date (make docs)', async () => {
  const { causesDocPath, causesMarkdown } = await import('../src/causes/docs.js');
  assert.equal(readFileSync(causesDocPath, 'utf8'), causesMarkdown());
});

test('the example in docs/events.md is a complete event (every documented field, cause included)', async () => {
  const { schemaProblems } = await import('./helpers/schema.js');
  const md = readFileSync(eventsDocPath, 'utf8');
  const json = md.split('```json\n')[1]!.split('\n```')[0]!;
  const ev = JSON.parse(json) as Record<string, unknown>;
  assert.deepEqual(schemaProblems(ev), []);
  assert.equal((ev['cause'] as { id: string }).id, 'no-listener');
});
