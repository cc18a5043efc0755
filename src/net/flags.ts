// TCP flags: the bits, and the two ways tcpwhy writes them. Live events name
// them (`PSH|ACK`, the event's JSON field too); capture reports write them as
// tcpdump does (`P.`), so that a report reads next to `tcpdump -r`.

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

const NAMES: Array<[number, string]> = [
  [FIN, 'FIN'],
  [SYN, 'SYN'],
  [RST, 'RST'],
  [PSH, 'PSH'],
  [ACK, 'ACK'],
  [URG, 'URG'],
  [ECE, 'ECE'],
  [CWR, 'CWR'],
];

// a flood repeats a few flag bytes: each text is made once
const named: string[] = [];

/** The flags by name, joined by '|' ('none' without any): "PSH|ACK". */
export function formatTcpFlags(flags: number): string {
  return (named[flags & 0xff] ??= flagNames(flags & 0xff));
}

function flagNames(flags: number): string {
  const names = NAMES.filter(([bit]) => flags & bit).map(([, n]) => n);
  return names.length ? names.join('|') : 'none';
}

/** The flags as tcpdump writes them: S, F, R, P, U, E, W, then . for ACK ('none' without any): "P.". */
export function tcpdumpFlags(f: number): string {
  let s = '';
  if (f & SYN) s += 'S';
  if (f & FIN) s += 'F';
  if (f & RST) s += 'R';
  if (f & PSH) s += 'P';
  if (f & URG) s += 'U';
  if (f & ECE) s += 'E';
  if (f & CWR) s += 'W';
  if (f & ACK) s += '.';
  return s || 'none';
}
