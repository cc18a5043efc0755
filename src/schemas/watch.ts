// The JSON Schema of `tcpwhy watch --json` lines, made from EVENT_SCHEMA, the
// table that docs/events.md comes from too: the schema says what the docs say.
import { EVENT_SCHEMA } from '../events/event.js';
import { DRAFT, type JsonSchema, type JsonType } from './json-schema.js';

type Field = (typeof EVENT_SCHEMA)[number];

/** A type of the table ("string | null", '"sent" | "received"', "string[]" ...) as JSON Schema. */
function typeSchema(type: string): JsonSchema {
  const alts = type.split('|').map((t) => t.trim());
  const literals = alts.filter((t) => /^".*"$/.test(t)).map((t) => JSON.parse(t) as string);
  const plain = alts.filter((t) => !/^".*"$/.test(t));
  if (literals.length) {
    if (plain.some((t) => t !== 'null')) throw new Error(`type not understood: ${type}`);
    return { enum: plain.length ? [...literals, null] : literals };
  }
  const types: JsonType[] = [];
  let items: JsonSchema | undefined;
  for (const t of plain) {
    if (t === 'string[]') {
      types.push('array');
      items = { type: 'string' };
    } else if (['string', 'number', 'boolean', 'object', 'null'].includes(t)) {
      types.push(t as JsonType);
    } else {
      throw new Error(`type not understood: ${type}`);
    }
  }
  return { type: types.length === 1 ? types[0]! : types, ...(items ? { items } : {}) };
}

/** The members documented under `prefix` (the top level for ''). */
function members(prefix: string): Field[] {
  const depth = prefix ? prefix.split('.').length + 1 : 1;
  return EVENT_SCHEMA.filter((f) => f.path.split('.').length === depth && (!prefix || f.path.startsWith(`${prefix}.`)));
}

function fieldSchema(f: Field): JsonSchema {
  const s: JsonSchema = { description: f.doc, ...typeSchema(f.type) };
  const types = Array.isArray(s.type) ? s.type : [s.type];
  if (!types.includes('object')) return s;
  const inner = members(f.path);
  if (!inner.length) {
    // a map the table does not itemize (cause.evidence: documented per cause)
    return { ...s, additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } };
  }
  return { ...s, ...objectOf(inner) };
}

function objectOf(fields: Field[]): JsonSchema {
  return {
    properties: Object.fromEntries(fields.map((f) => [f.path.split('.').at(-1)!, fieldSchema(f)])),
    required: fields.map((f) => f.path.split('.').at(-1)!),
    additionalProperties: false,
  };
}

export function watchEventSchema(): JsonSchema {
  return {
    $schema: DRAFT,
    title: 'tcpwhy watch --json: one TCP RST',
    description:
      'One line of `tcpwhy watch --json`: an RST this host sent or received, with its diagnosis. Generated from EVENT_SCHEMA (src/events/event.ts), like docs/events.md.',
    type: 'object',
    ...objectOf(members('')),
  };
}
