// src/events/generated/event-type.ts is generated from EVENT_SCHEMA, the table
// that docs/events.md and the JSON Schema come from: `make docs` rewrites it
// and a test fails when it is stale, so the TypeScript type of an event cannot
// drift from what the docs say it holds. A generated file rather than a type
// computed from the table by the checker: parsing the table's type strings
// ('"sent" | "received"', 'string[] | null') at the type level would take
// template-literal recursion that is hard to read and slow to check, and the
// checker would show callers those computations instead of plain interfaces.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENT_SCHEMA } from './event.js';
import { LOSS_SCHEMA } from './loss-event.js';
import { packageRoot } from '../paths.js';

export const eventTypePath = path.join(packageRoot, 'src', 'events', 'generated', 'event-type.ts');

type Field = (typeof EVENT_SCHEMA)[number];
type Table = readonly Field[];

// Where the TypeScript type is not the JSON's. `cause` is 'object' in the JSON,
// where every line has one, but an event leaves toEvent() with none and gets it
// from the diagnosis (src/diagnose/); its members are the Verdict's, which the
// cause.* rows document as the JSON has them (test/unit/json.test.ts checks a
// diagnosed event's line against the JSON Schema, so the two cannot part).
const OVERRIDES: Record<string, { type: string; doc: string }> = {
  cause: { type: 'Verdict | null', doc: 'the diagnosis (src/diagnose/); null until diagnosed' },
};

// Objects of the table with one shape under a name: each path listed must have
// the same members (the generator fails otherwise), and its type names the shape.
const NAMED: Record<string, string[]> = {
  Tuple: ['packet', 'socket'],
};

const depthOf = (p: string) => p.split('.').length;
const nameOf = (p: string) => p.split('.').at(-1)!;

/** The members documented under `prefix` (the top level for ''). */
function members(table: Table, prefix: string): Field[] {
  const depth = prefix ? depthOf(prefix) + 1 : 1;
  return table.filter((f) => depthOf(f.path) === depth && (!prefix || f.path.startsWith(`${prefix}.`)));
}

/** A row's type in TypeScript: 'object' becomes the object of the rows under it. */
function typeOf(table: Table, f: Field, indent: string): string {
  const override = OVERRIDES[f.path];
  if (override) return override.type;
  return f.type
    .split('|')
    .map((t) => t.trim())
    .map((t) => {
      if (/^"[^"']*"$/.test(t)) return `'${JSON.parse(t) as string}'`;
      if (['string', 'number', 'boolean', 'null', 'string[]'].includes(t)) return t;
      if (t === 'object') return objectType(table, f.path, indent);
      throw new Error(`type not understood: ${f.path}: ${f.type}`);
    })
    .join(' | ');
}

function objectType(table: Table, p: string, indent: string): string {
  const named = Object.entries(NAMED).find(([, paths]) => paths.includes(p));
  if (named) {
    sameShape(named[0], named[1], table);
    return named[0];
  }
  const inner = members(table, p);
  if (!inner.length) throw new Error(`object without members in its schema table: ${p}`);
  return `{\n${body(table, inner, `${indent}  `)}${indent}}`;
}

const comment = (doc: string, indent: string) => `${indent}/** ${doc.replace(/\*\//g, '*\\/')} */\n`;

function body(table: Table, fields: Field[], indent: string): string {
  return fields.map((f) => `${comment(OVERRIDES[f.path]?.doc ?? f.doc, indent)}${indent}${nameOf(f.path)}: ${typeOf(table, f, indent)};\n`).join('');
}

/** A named shape must be the same wherever a table uses it, and the same as the event's. */
function sameShape(name: string, paths: string[], table: Table): void {
  const shapes = [...paths.map((p) => [table, p] as const), ...paths.map((p) => [EVENT_SCHEMA, p] as const)].map(([t, p]) =>
    members(t, p)
      .map((f) => `${nameOf(f.path)}: ${f.type}`)
      .join('; '),
  );
  if (new Set(shapes).size !== 1) throw new Error(`${name}: ${paths.join(', ')} differ between the schema tables`);
}

function namedShape(name: string, paths: string[]): string {
  sameShape(name, paths, EVENT_SCHEMA);
  // the rows' docs say what each path's members mean (this host's address, the
  // socket's): the shape itself carries none
  const inner = members(EVENT_SCHEMA, paths[0]!).map((f) => `  ${nameOf(f.path)}: ${typeOf(EVENT_SCHEMA, f, '  ')};\n`);
  return `/** The shape of ${paths.map((p) => `\`${p}\``).join(' and ')}. */\nexport interface ${name} {\n${inner.join('')}}\n`;
}

export function eventTypeSource(): string {
  return `// Generated from EVENT_SCHEMA in src/events/event.ts and LOSS_SCHEMA in
// src/events/loss-event.ts by src/events/type-gen.ts (\`make docs\`). Do not
// edit: test/docs.test.ts fails when it is stale.
import type { Verdict } from '../verdict.js';

${Object.entries(NAMED)
  .map(([name, paths]) => namedShape(name, paths))
  .join('\n')}
/** One TCP RST, as \`tcpwhy watch --json\` prints it (docs/events.md). */
export interface RstEvent {
${body(EVENT_SCHEMA, members(EVENT_SCHEMA, ''), '  ')}}

/** One drop, retransmission or error a socket reported, as \`tcpwhy watch --json\` prints it (docs/events.md). */
export interface LossEvent {
${body(LOSS_SCHEMA, members(LOSS_SCHEMA, ''), '  ')}}
`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    if (readFileSync(eventTypePath, 'utf8') !== eventTypeSource()) {
      console.error('src/events/generated/event-type.ts is stale: run make docs');
      process.exit(1);
    }
  } else {
    writeFileSync(eventTypePath, eventTypeSource());
    console.log(`wrote ${eventTypePath}`);
  }
}
