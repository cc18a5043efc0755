// `tcpwhy explain [--json] [cause-id]`: one cause of the registry, or the list of them.
import type { Writable } from 'node:stream';
import { catalogueJson, causeJson } from './catalogue-json.js';
import { causeText } from '../causes/docs.js';
import { CATALOGUE, causeById } from '../causes/index.js';
import { UsageError } from '../kernel/errors.js';
import { fitColumns, tableRow } from '../text/table.js';

export function explain(argv: string[], out: Writable): number {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  const bad = args.find((a) => a.startsWith('-'));
  if (bad) throw new UsageError(`explain: unknown option ${JSON.stringify(bad)} (it takes --json and a cause id)`);
  if (args.length > 1) throw new UsageError(`explain takes one cause id, got ${args.length}`);
  const [id] = args;
  if (!id && json) {
    out.write(`${JSON.stringify(catalogueJson())}\n`);
    return 0;
  }
  if (!id) {
    const cols = fitColumns(CATALOGUE.map((c) => [c.id]));
    out.write(`RST causes tcpwhy knows (tcpwhy explain ID for one; docs/causes.md for all):\n\n`);
    for (const c of CATALOGUE) out.write(`  ${tableRow([c.id, c.title], cols)}\n`);
    return 0;
  }
  const c = causeById(id);
  if (!c) {
    const near = CATALOGUE.filter((x) => x.id.includes(id) || id.includes(x.id.split('-')[0]!)).map((x) => x.id);
    throw new UsageError(`no cause ${JSON.stringify(id)}${near.length ? `; did you mean ${near.slice(0, 3).join(', ')}?` : ''} (tcpwhy explain lists them)`);
  }
  out.write(json ? `${JSON.stringify(causeJson(c))}\n` : causeText(c));
  return 0;
}
