// The `cause` member of a JSON event. Built by hand: under an RST flood every
// event carries one, and JSON.stringify of the object cost more than the rest
// of the line. The fixed part of each cause is made once.
import type { EvidenceValue, Verdict } from '../events/verdict.js';

const fixed = new Map<string, string>();

function value(v: EvidenceValue): string {
  // summary and string evidence hold escaped process names: JSON.stringify quotes them safely
  return typeof v === 'string' ? JSON.stringify(v) : v === null ? 'null' : String(v);
}

const made = new WeakMap<Verdict, string>();

/** The JSON of a verdict; verdicts shared by many events (floods) are serialized once. */
export function causeJson(v: Verdict): string {
  let j = made.get(v);
  if (j === undefined) {
    j = build(v);
    made.set(v, j);
  }
  return j;
}

function build(v: Verdict): string {
  const fk = `${v.id}|${v.confidence}`;
  let head = fixed.get(fk);
  if (head === undefined) {
    head = `{"id":${JSON.stringify(v.id)},"title":${JSON.stringify(v.title)},"confidence":"${v.confidence}","fix":${JSON.stringify(v.fix)}`;
    fixed.set(fk, head);
  }
  let ev = '';
  for (const k in v.evidence) {
    // evidence names are catalogue identifiers ([a-z_]+, checked by a test)
    ev += `${ev ? ',' : ''}"${k}":${value(v.evidence[k]!)}`;
  }
  return `${head},"summary":${JSON.stringify(v.summary)},"evidence":{${ev}}}`;
}
