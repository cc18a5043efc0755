// tshark as a witness for the capture tests: what it reads from a file is what the
// reader and decoder must read.
import { spawnSync } from 'node:child_process';

export function tsharkAvailable(): boolean {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** Dissection preferences for comparisons: raw sequence numbers, checksums verified, no reassembly. */
export const TSHARK_PREFS = [
  'ip.check_checksum:TRUE',
  'tcp.check_checksum:TRUE',
  'tcp.relative_sequence_numbers:FALSE',
  'tcp.analyze_sequence_numbers:FALSE',
  'tcp.desegment_tcp_streams:FALSE',
  'ip.defragment:FALSE',
  'ipv6.defragment:FALSE',
];

/**
 * One row per frame, one map entry per field; a field tshark has no value for is ''
 * (several occurrences are joined by ',').
 */
export function tsharkFields(file: string, fields: string[], prefs: string[] = TSHARK_PREFS): Array<Record<string, string>> {
  const args = ['-n', '-r', file, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const p of prefs) args.push('-o', p);
  for (const f of fields) args.push('-e', f);
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
  const problems = r.stderr
    .split('\n')
    .filter((l) => l.trim() && !/Running as user "root"/.test(l));
  if (problems.length) throw new Error(`tshark complained about ${file}:\n${problems.join('\n')}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const vals = line.split('\t');
      return Object.fromEntries(fields.map((f, i) => [f, vals[i] ?? '']));
    });
}
