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
  const problems = r.stderr.split('\n').filter((l) => l.trim() && !/Running as user "root"/.test(l));
  if (problems.length) throw new Error(`tshark complained about ${file}:\n${problems.join('\n')}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const vals = line.split('\t');
      return Object.fromEntries(fields.map((f, i) => [f, vals[i] ?? '']));
    });
}

/**
 * Preferences for reading tcp.analysis flags: sequence analysis on, with
 * Wireshark's defaults otherwise (relative sequence numbers, 3 ms out-of-order
 * threshold without an RTT, fast retransmissions before out-of-order); no
 * reassembly, no checksum checks (frames captured on a veth carry the partial
 * checksums of checksum offload).
 */
export const TSHARK_ANALYSIS_PREFS = [
  'tcp.analyze_sequence_numbers:TRUE',
  'tcp.relative_sequence_numbers:TRUE',
  'tcp.fastrt_supersedes_ooo:TRUE',
  'tcp.desegment_tcp_streams:FALSE',
  'tcp.check_checksum:FALSE',
  'ip.check_checksum:FALSE',
  'ip.defragment:FALSE',
  'ipv6.defragment:FALSE',
];

/**
 * The signs both tools put on a TCP frame, named as tcpwhy's ladder notes
 * name them (lossNotes in src/capture/analyze.ts), with the tshark field that
 * marks the frame. tshark puts tcp.analysis.retransmission on fast and
 * spurious retransmissions too; a SYN retransmission is a retransmission of a
 * frame with SYN.
 */
export const TCP_SIGNS = {
  reset: 'tcp.flags.reset',
  retransmission: 'tcp.analysis.retransmission',
  'fast retransmission': 'tcp.analysis.fast_retransmission',
  'spurious retransmission': 'tcp.analysis.spurious_retransmission',
  'out of order': 'tcp.analysis.out_of_order',
  'dup ack': 'tcp.analysis.duplicate_ack',
  'zero window': 'tcp.analysis.zero_window',
  keepalive: 'tcp.analysis.keep_alive',
  'SYN retransmission': 'tcp.analysis.retransmission',
} as const;
export type TcpSign = keyof typeof TCP_SIGNS;

export interface TsharkTcpFrame {
  frame: number;
  /** source and destination address (IPv4 or IPv6, as tshark prints them) and ports */
  src: string;
  dst: string;
  sport: number;
  dport: number;
  signs: Set<TcpSign>;
}

/** Every TCP frame of a capture with the signs tshark's sequence analysis gives it. */
export function tsharkTcpSigns(file: string): TsharkTcpFrame[] {
  const flagFields = [...new Set(Object.values(TCP_SIGNS))];
  const rows = tsharkFields(
    file,
    ['frame.number', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.syn', ...flagFields],
    TSHARK_ANALYSIS_PREFS,
  );
  // a flag field holds a value per occurrence: a boolean's is 0 or 1, a
  // tcp.analysis item's is present or absent (several when repeated)
  const set = (v: string | undefined, boolean: boolean) => v !== undefined && v !== '' && (!boolean || v.split(',').includes('1'));
  return rows
    .filter((r) => r['tcp.srcport'] !== '')
    .map((r) => {
      const signs = new Set<TcpSign>();
      for (const [sign, field] of Object.entries(TCP_SIGNS) as Array<[TcpSign, string]>) {
        if (!set(r[field], field.startsWith('tcp.flags.'))) continue;
        if (sign === 'SYN retransmission' && !set(r['tcp.flags.syn'], true)) continue;
        signs.add(sign);
      }
      return {
        frame: Number(r['frame.number']),
        src: r['ip.src'] || r['ipv6.src']!,
        dst: r['ip.dst'] || r['ipv6.dst']!,
        sport: Number(r['tcp.srcport']!.split(',')[0]),
        dport: Number(r['tcp.dstport']!.split(',')[0]),
        signs,
      };
    });
}
