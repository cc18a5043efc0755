// The loss signs of each frame, from tcpwhy and from tshark, named the same way,
// so a test can ask both for the frames it expects.
import { analyzeCapture } from '../../src/capture/analyze.js';
import { addrKey } from '../../src/net/addr.js';
import { tsharkTcpSigns } from './tshark.js';

/** tcpwhy's loss signs per frame of the connections on addr:port (fast and spurious retransmissions are retransmissions too, as in tshark). */
export async function lossSigns(file: string, addr: string, port: number): Promise<Record<number, string[]>> {
  const out: Record<number, string[]> = {};
  await analyzeCapture(file, {
    conn: { a: { addr: addrKey(addr)!, port }, b: null },
    onConnPacket: ({ row }) => {
      const signs = new Set(row.notes);
      if (signs.has('fast retransmission') || signs.has('spurious retransmission')) signs.add('retransmission');
      if (signs.size) out[row.frame] = [...signs].sort();
    },
  });
  return out;
}

/** tshark's signs per frame, resets left out (the conversations these tests build are about loss). */
export function tsharkLossSigns(file: string): Record<number, string[]> {
  const out: Record<number, string[]> = {};
  for (const f of tsharkTcpSigns(file)) {
    f.signs.delete('reset');
    if (f.signs.size) out[f.frame] = [...f.signs].sort();
  }
  return out;
}
