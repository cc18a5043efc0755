// The JSON Schema of `tcpwhy explain --json`: the catalogue of causes that
// `tcpwhy analyze --json` names by id (src/cli/catalogue-json.ts).
import { DRAFT, arrayOf, nullable, object, oneOfStrings, str, type JsonSchema } from './json-schema.js';

const GROUPS = ['active', 'passive', 'received', 'netfilter', 'nat', 'race', 'fallback', 'drop', 'outcome'];

const evidence = (what: string): JsonSchema => ({ type: 'object', description: what, additionalProperties: { type: 'string' } });

export const causeSchema = (): JsonSchema =>
  object(
    {
      id: str('The id verdicts name (cause.id of analyze --json and watch --json).'),
      kind: oneOfStrings(['reset', 'loss'], "reset: an RST's cause; loss: a drop or what the application saw."),
      group: oneOfStrings(GROUPS),
      title: str(),
      map: arrayOf(str(), "Rows of the map of the kernel's RSTs (../shared/docs/kernel-rst-map.md)."),
      happened: str('What happened, for someone who saw the RST.'),
      why: str('Why the kernel did it: the kernel path and the RFC.'),
      fix: str(),
      live: object({ recognized: str(), evidence: evidence('Evidence names of live verdicts, and what each means.') }, 'How `tcpwhy watch` recognizes it.'),
      capture: nullable(
        object(
          {
            finding: oneOfStrings(['reset', 'loss'], 'What analyze reports it as: a reset (or storm) line, or a loss line.'),
            recognized: str(),
            alike: arrayOf(str(), 'Causes that look the same on the wire.'),
            evidence: evidence('Evidence names of capture verdicts, and what each means.'),
          },
          'How `tcpwhy analyze` recognizes it in a capture; null: no packet pattern of its own.',
        ),
      ),
    },
    'One cause of the catalogue.',
  );

export function explainCatalogueSchema(): JsonSchema {
  return {
    $schema: DRAFT,
    title: 'tcpwhy explain --json',
    description: '`tcpwhy explain --json`: every cause; `tcpwhy explain --json ID` prints one cause ($defs.cause).',
    ...object({ causes: { type: 'array', items: { $ref: '#/$defs/cause' } } }),
    $defs: { cause: causeSchema() },
  };
}
