// Checks a JSON event against EVENT_SCHEMA (the source of docs/events.md):
// every documented field present with its documented type, nothing else.
import { EVENT_SCHEMA } from '../../src/events/event.js';

function typeOk(type: string, v: unknown): boolean {
  const alts = type.split('|').map((t) => t.trim());
  return alts.some((t) => {
    if (t === 'null') return v === null;
    if (t === 'string') return typeof v === 'string';
    if (t === 'number') return typeof v === 'number' && Number.isFinite(v);
    if (t === 'boolean') return typeof v === 'boolean';
    if (t === 'object') return typeof v === 'object' && v !== null && !Array.isArray(v);
    if (t === 'string[]') return Array.isArray(v) && v.every((x) => typeof x === 'string');
    if (/^".*"$/.test(t)) return v === JSON.parse(t);
    throw new Error(`schema type not understood: ${t}`);
  });
}

/** Problems with one parsed JSON event; empty when it matches the schema. */
export function schemaProblems(obj: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const documented = new Set(EVENT_SCHEMA.map((f) => f.path));
  const walk = (o: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(o)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (!documented.has(p)) problems.push(`undocumented field ${p}`);
      // evidence names are documented per cause (docs/causes.md), checked by the diagnosis tests
      if (p === 'cause.evidence') continue;
      if (v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, p);
    }
  };
  walk(obj, '');
  for (const f of EVENT_SCHEMA) {
    const parts = f.path.split('.');
    let cur: unknown = obj;
    let parentNull = false;
    for (const part of parts.slice(0, -1)) {
      cur = (cur as Record<string, unknown>)[part];
      if (cur === null) parentNull = true;
    }
    if (parentNull) continue;
    const last = parts[parts.length - 1]!;
    if (!(last in (cur as Record<string, unknown>))) {
      problems.push(`missing field ${f.path}`);
      continue;
    }
    const v = (cur as Record<string, unknown>)[last];
    if (!typeOk(f.type, v)) problems.push(`${f.path}: ${JSON.stringify(v)} is not ${f.type}`);
  }
  return problems;
}
