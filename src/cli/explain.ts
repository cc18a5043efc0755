// `tcpwhy explain [cause-id]`: one cause of the registry, or the list of them.
import type { Writable } from 'node:stream';
import { causeText } from '../causes/docs.js';
import { CATALOGUE, causeById } from '../causes/index.js';
import { UsageError } from '../kernel/errors.js';
import { fitColumns, tableRow } from '../text/table.js';

export function explain(args: string[], out: Writable): number {
  if (args.length > 1) throw new UsageError(`explain takes one cause id, got ${args.length}`);
  const [id] = args;
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
  out.write(causeText(c));
  return 0;
}
