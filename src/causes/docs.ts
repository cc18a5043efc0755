// docs/causes.md is generated from the cause registry: `make docs` rewrites
// it and a test fails when it is stale. `tcpwhy explain` prints the same text.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../paths.js';
import { CATALOGUE, CAUSES, causeById, LOSS_CAUSES, WIRE_LOSS_ORDER, WIRE_ORDER } from './index.js';
import type { Cause, CauseGroup, EvidenceDocs } from './types.js';

export const causesDocPath = path.join(packageRoot, 'docs', 'causes.md');

const GROUPS: Array<[CauseGroup, string]> = [
  ['active', 'Active resets: this host aborted one of its connections'],
  ['passive', 'Passive resets: the stack answered a segment it could not accept'],
  ['nat', 'NAT and conntrack'],
  ['race', 'Kernel races and bugs'],
  ['received', 'Received resets'],
  ['netfilter', 'Resets not made by TCP'],
  ['fallback', 'When no rule matches'],
  ['drop', 'Loss: packets dropped on the way'],
  ['outcome', 'Loss: what the application saw'],
];

/** Every entry docs/causes.md shows: resets, then loss. */
const ENTRIES: readonly Cause[] = CATALOGUE;

/** How `tcpwhy analyze` recognizes the cause from packets, or why it cannot. */
function wireText(id: string): string {
  const loss = WIRE_LOSS_ORDER.find((c) => c.id === id)?.wireLoss;
  if (loss) return `a loss finding: ${loss.recognized}`;
  if (LOSS_CAUSES.some((c) => c.id === id)) return 'no loss finding of its own: the packets do not show this drop (it happened inside a host).';
  const r = causeById(id)?.wire;
  const alike = WIRE_ORDER.filter((x) => x.wire!.alike.includes(id)).map((x) => x.id);
  const also = alike.length
    ? ` Looks like ${alike.join(' or ')} on the wire: a verdict of ${alike.length > 1 ? 'those' : 'that'} lists this cause among those the capture cannot rule out.`
    : '';
  if (r) return `${r.recognized}${also}`;
  return `no packet pattern of its own.${also || " It needs the host's view (socket state, kernel reason or stack, host context)."}`;
}

/** The text of one entry, as `tcpwhy explain` prints it and docs/causes.md shows it. */
export function causeText(c: Cause, md = false): string {
  const h = (t: string) => (md ? `**${t}**` : t.toUpperCase());
  const list = (docs: EvidenceDocs) => Object.entries(docs).map(([k, v]) => (md ? `- \`${k}\`: ${v}` : `  ${k.padEnd(20)} ${v}`));
  const wireRule = c.wire ?? c.wireLoss;
  const wireEvidence = wireRule ? ['', `${h('Evidence in a capture')}:`, ...list(wireRule.evidence)] : [];
  return [
    md ? `### \`${c.id}\`: ${c.title}` : `${c.id}: ${c.title}`,
    '',
    // loss causes are no RSTs: the map of the kernel's RSTs has no row for them
    ...(c.group === 'drop' || c.group === 'outcome'
      ? []
      : [`${h('Kernel map')}: ${c.map.length ? c.map.join(', ') : '-'} (../shared/docs/kernel-rst-map.md)`, '']),
    `${h('What happened')}: ${c.happened}`,
    '',
    `${h('Why')}: ${c.why}`,
    '',
    `${h('Recognized by')}: ${c.recognized}`,
    '',
    `${h('In a capture')} (tcpwhy analyze): ${wireText(c.id)}`,
    '',
    `${h('Evidence')}:`,
    ...list(c.evidence),
    ...wireEvidence,
    '',
    `${h('Fix')}: ${c.fix}`,
    '',
  ].join('\n');
}

function anchor(c: Cause): string {
  return `[\`${c.id}\`](#${c.id}-${c.title
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-')})`;
}

export function causesMarkdown(): string {
  const out = [
    '# RST and loss causes: the catalogue',
    '',
    '<!-- Generated from the cause registry (src/causes/) by `make docs`. Do not edit by hand. -->',
    '',
    'Every RST that `tcpwhy watch` shows carries a `cause` from this list (`tcpwhy explain ID` prints one entry).',
    'Rules are tried in the order of the table (column #); the first that recognizes the event gives the verdict.',
    'The sections below group the same entries by kind. Confidence:',
    "**high** when the kernel's reason or an unambiguous kernel path agrees with the socket or host facts;",
    '**medium** when the evidence is weaker (kernels without reasons, a stack or a state alone, missing host',
    'context); **low** for a possibility the facts allow but do not show.',
    '`tcpwhy analyze` tries its wire rules in an order of its own (`WIRE_ORDER` in src/causes/index.ts).',
    'Each cause is one module, `src/causes/<id>.ts`: [adding-a-cause.md](adding-a-cause.md) says how to add one.',
    'The loss causes (drops, retransmissions and what the application saw; the last sections, and the second table) explain the drop, retransmit and error events of `tcpwhy watch` (`LOSS_CAUSES`, tried in the order of the second table);',
    "a retransmission after a drop this host saw carries that drop's cause. `tcpwhy analyze` names some of them as loss findings (`WIRE_LOSS_ORDER`).",
    '',
    '| # | id | title | kernel map |',
    '|--:|---|---|---|',
    ...CAUSES.map((c, i) => `| ${i + 1} | ${anchor(c)} | ${c.title} | ${c.map.join(', ') || '-'} |`),
    '',
    '| # | loss cause | title | group |',
    '|--:|---|---|---|',
    ...LOSS_CAUSES.map((c, i) => `| ${i + 1} | ${anchor(c)} | ${c.title} | ${c.group} |`),
    '',
  ];
  for (const [g, title] of GROUPS) {
    const cs = ENTRIES.filter((c) => c.group === g);
    if (!cs.length) continue;
    out.push(`## ${title}`, '');
    for (const c of cs) out.push(causeText(c, true));
  }
  return out.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    if (readFileSync(causesDocPath, 'utf8') !== causesMarkdown()) {
      console.error('docs/causes.md is stale: run make docs');
      process.exit(1);
    }
  } else {
    writeFileSync(causesDocPath, causesMarkdown());
    console.log(`wrote ${causesDocPath}`);
  }
}
