// A TCP conversation between a client C and a server S written as an Ethernet
// pcap, segment by segment: what the capture tests of the wire rules and of
// the loss flags build their cases from.
import { writeFileSync } from 'node:fs';
import { ACK, ethernet, inetChecksum, ipv4Tcp, ipv6Tcp, LINKTYPE, pcap, RST, timestamps, type Packet } from './capture-build.js';

export const C = '192.0.2.1';
export const S = '192.0.2.2';
export const C6 = '2001:db8::1';
export const S6 = '2001:db8::2';

export interface Seg {
  from: 'c' | 's';
  flags: number;
  seq: number;
  ack?: number;
  /** payload bytes ('x' each), unless `payload` is given */
  len?: number;
  /** default 502, 0 for an RST without ACK */
  win?: number;
  ttl?: number;
  /** a timestamp option (values from the segment's index) */
  ts?: boolean;
  payload?: string | Buffer;
  /** seconds after the start (default: a millisecond per segment) */
  t?: number;
  /** the client's port (default 40000) */
  cport?: number;
  /** the IP length claims this many payload bytes more than the frame holds (and its original length says) */
  stripped?: number;
}

/** A frame whose IP total length claims `more` bytes the frame does not carry; the header checksum stays right. */
function claimMore(ip: Buffer, more: number): Buffer {
  const out = Buffer.from(ip);
  out.writeUInt16BE(out.readUInt16BE(2) + more, 2);
  out.writeUInt16BE(0, 10);
  out.writeUInt16BE(inetChecksum(out.subarray(0, (out[0]! & 15) * 4)), 10);
  return out;
}

/** Writes the conversation between C:cport and S:sport (S6/C6 with v6) to `file`. */
export function writeConversation(file: string, segs: Seg[], o: { sport?: number; v6?: boolean } = {}): void {
  const sport = o.sport ?? 80;
  const packets: Packet[] = segs.map((g, i) => {
    const cport = g.cport ?? 40000;
    const tcp = {
      sport: g.from === 'c' ? cport : sport,
      dport: g.from === 'c' ? sport : cport,
      seq: g.seq,
      ack: g.ack ?? 0,
      flags: g.flags,
      win: g.win ?? (g.flags & RST && !(g.flags & ACK) ? 0 : 502),
      options: g.ts ? [timestamps(1000 + i, 500 + i)] : [],
      payload: g.payload ?? (g.len ? 'x'.repeat(g.len) : ''),
    };
    let ip = o.v6
      ? ipv6Tcp({ src: g.from === 'c' ? C6 : S6, dst: g.from === 'c' ? S6 : C6, hopLimit: g.ttl ?? 64 }, tcp)
      : ipv4Tcp({ src: g.from === 'c' ? C : S, dst: g.from === 'c' ? S : C, ttl: g.ttl ?? 64, df: true }, tcp);
    if (g.stripped) ip = claimMore(ip, g.stripped);
    const t = g.t ?? i * 0.001;
    return { data: ethernet(ip), sec: 1_700_000_000 + Math.floor(t), nsec: Math.round((t % 1) * 1e9) };
  });
  writeFileSync(file, pcap(packets, { linktype: LINKTYPE.ETHERNET }).bytes);
}
