// The JSON Schema of `tcpwhy watch --json` lines, made from EVENT_SCHEMA, the
// table that docs/events.md comes from too: the schema says what the docs say.
import { EVENT_SCHEMA } from '../events/event.js';
import { STORM_SCHEMA, SUMMARY_SCHEMA } from '../events/storm-schema.js';
import { LOSS_SCHEMA } from '../events/loss-event.js';
import { DRAFT, type JsonSchema, type JsonType } from './json-schema.js';

type Field = (typeof EVENT_SCHEMA)[number];
type Table = readonly Field[];

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
function members(table: Table, prefix: string): Field[] {
  const depth = prefix ? prefix.split('.').length + 1 : 1;
  return table.filter((f) => f.path.split('.').length === depth && (!prefix || f.path.startsWith(`${prefix}.`)));
}

function fieldSchema(table: Table, f: Field): JsonSchema {
  const s: JsonSchema = { description: f.doc, ...typeSchema(f.type) };
  const types = Array.isArray(s.type) ? s.type : [s.type];
  if (!types.includes('object')) return s;
  const inner = members(table, f.path);
  if (!inner.length) {
    // a map the table does not itemize (cause.evidence: documented per cause;
    // a storm's cause is an event's; the summary's namespaces)
    if (table !== EVENT_SCHEMA && f.path === 'cause') return { ...s, ...objectOf(EVENT_SCHEMA, members(EVENT_SCHEMA, 'cause')) };
    return { ...s, additionalProperties: table === SUMMARY_SCHEMA ? { type: 'object' } : { type: ['string', 'number', 'boolean', 'null'] } };
  }
  return { ...s, ...objectOf(table, inner) };
}

function objectOf(table: Table, fields: Field[]): JsonSchema {
  return {
    properties: Object.fromEntries(fields.map((f) => [f.path.split('.').at(-1)!, fieldSchema(table, f)])),
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
    ...objectOf(EVENT_SCHEMA, members(EVENT_SCHEMA, '')),
  };
}

export function watchStormSchema(): JsonSchema {
  return {
    $schema: DRAFT,
    title: 'tcpwhy watch --json: a storm record',
    description:
      'A line of `tcpwhy watch --json` with "type": "storm": the RSTs of one key over about a second when not all of them were shown as events. Generated from STORM_SCHEMA (src/events/storm-schema.ts).',
    type: 'object',
    ...objectOf(STORM_SCHEMA, members(STORM_SCHEMA, '')),
  };
}

export function watchLossSchema(): JsonSchema {
  return {
    $schema: DRAFT,
    title: 'tcpwhy watch --json: a drop, a retransmission or an error',
    description:
      'A line of `tcpwhy watch --json` with "type": "drop", "retransmit" or "error", with its diagnosis. Generated from LOSS_SCHEMA (src/events/loss-event.ts), like docs/events.md.',
    type: 'object',
    ...objectOf(LOSS_SCHEMA, members(LOSS_SCHEMA, '')),
  };
}

export function watchSummarySchema(): JsonSchema {
  return {
    $schema: DRAFT,
    title: 'tcpwhy watch --json: the summary',
    description: 'The last line of `tcpwhy watch --json`, "type": "summary". Generated from SUMMARY_SCHEMA (src/events/storm-schema.ts).',
    type: 'object',
    ...objectOf(SUMMARY_SCHEMA, members(SUMMARY_SCHEMA, '')),
  };
}
