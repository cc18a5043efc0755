// Writes the published JSON Schemas into schemas/ (`make docs`); with --check,
// fails when a committed one differs (test/unit/schemas.test.ts checks too).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../paths.js';
import { analyzeLineSchema } from './analyze.js';
import { explainCatalogueSchema } from './explain.js';
import { watchEventSchema, watchLossSchema, watchStormSchema, watchSummarySchema } from './watch.js';
import type { JsonSchema } from './json-schema.js';

export const SCHEMAS: Record<string, () => JsonSchema> = {
  'watch-event.schema.json': watchEventSchema,
  'watch-storm.schema.json': watchStormSchema,
  'watch-loss.schema.json': watchLossSchema,
  'watch-summary.schema.json': watchSummarySchema,
  'analyze-line.schema.json': analyzeLineSchema,
  'explain-catalogue.schema.json': explainCatalogueSchema,
};

export const schemaPath = (name: string): string => path.join(packageRoot, 'schemas', name);
export const schemaText = (name: string): string => `${JSON.stringify(SCHEMAS[name]!(), null, 2)}\n`;

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  for (const name of Object.keys(SCHEMAS)) {
    const file = schemaPath(name);
    if (check) {
      let current = '';
      try {
        current = readFileSync(file, 'utf8');
      } catch {}
      if (current !== schemaText(name)) {
        console.error(`schemas/${name} is stale: run make docs`);
        process.exitCode = 1;
      }
    } else {
      writeFileSync(file, schemaText(name));
      console.log(`wrote ${file}`);
    }
  }
}
