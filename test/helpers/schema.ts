// A small validator for the subset of JSON Schema (draft 2020-12) that the
// published schemas use (src/schemas/json-schema.ts), and the checks of watch
// and analyze lines against the committed schema files.
import { readFileSync } from 'node:fs';
import type { JsonSchema, JsonType } from '../../src/schemas/json-schema.js';
import { schemaPath } from '../../src/schemas/write.js';

const KNOWN = new Set([
  '$schema',
  '$id',
  'title',
  'description',
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'oneOf',
  '$ref',
  '$defs',
]);

function isType(t: JsonType, v: unknown): boolean {
  switch (t) {
    case 'null':
      return v === null;
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'array':
      return Array.isArray(v);
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

/** Where `value` breaks `schema`; empty when it is valid. */
export function validate(schema: JsonSchema, value: unknown, root: JsonSchema = schema, at = '$'): string[] {
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`schema keyword ${k} not understood (${at})`);
  if (schema.$ref) {
    const m = /^#\/\$defs\/(\w+)$/.exec(schema.$ref);
    const target = m && root.$defs?.[m[1]!];
    if (!target) throw new Error(`unresolved $ref ${schema.$ref}`);
    return validate(target, value, root, at);
  }
  const problems: string[] = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => isType(t, value))) return [`${at}: ${JSON.stringify(value)} is not ${types.join(' or ')}`];
  }
  if (schema.enum && !schema.enum.includes(value as never)) problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && value !== schema.const) problems.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (schema.oneOf) {
    const passing = schema.oneOf.map((s) => validate(s, value, root, at));
    const ok = passing.filter((p) => !p.length).length;
    if (ok !== 1) problems.push(`${at}: matches ${ok} of oneOf, not 1 (${passing.flat().slice(0, 5).join('; ')})`);
  }
  if (isType('object', value)) {
    const o = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in o)) problems.push(`${at}: missing ${r}`);
    for (const [k, v] of Object.entries(o)) {
      if (schema.propertyNames) problems.push(...validate(schema.propertyNames, k, root, `${at}.${k} (name)`));
      const p = schema.properties?.[k];
      if (p) problems.push(...validate(p, v, root, `${at}.${k}`));
      else if (schema.additionalProperties === false) problems.push(`${at}: undocumented field ${k}`);
      else if (typeof schema.additionalProperties === 'object') problems.push(...validate(schema.additionalProperties, v, root, `${at}.${k}`));
    }
  }
  if (Array.isArray(value) && schema.items)
    value.forEach((v, i) => {
      problems.push(...validate(schema.items!, v, root, `${at}[${i}]`));
    });
  return problems;
}

const cache = new Map<string, JsonSchema>();
function committed(name: string): JsonSchema {
  let s = cache.get(name);
  if (!s) cache.set(name, (s = JSON.parse(readFileSync(schemaPath(name), 'utf8')) as JsonSchema));
  return s;
}

/** Problems with one parsed `watch --json` event; empty when it matches schemas/watch-event.schema.json. */
export function schemaProblems(obj: Record<string, unknown>): string[] {
  return validate(committed('watch-event.schema.json'), obj);
}

/** Problems with any line of `watch --json`: an event, a storm record or the summary, by its "type". */
export function watchLineProblems(obj: Record<string, unknown>): string[] {
  if (obj['type'] === 'storm') return validate(committed('watch-storm.schema.json'), obj);
  if (obj['type'] === 'drop' || obj['type'] === 'retransmit' || obj['type'] === 'error') return validate(committed('watch-loss.schema.json'), obj);
  if (obj['type'] === 'summary') return validate(committed('watch-summary.schema.json'), obj);
  return schemaProblems(obj);
}

/** Problems with one parsed `analyze --json` line; empty when it matches schemas/analyze-line.schema.json. */
export function analyzeLineProblems(obj: Record<string, unknown>): string[] {
  return validate(committed('analyze-line.schema.json'), obj);
}
