// Which TCP stack sent a reset, from the packets: the initial TTL its packets
// started from, the option order and window of its SYN, and how the reset is
// built. The construction rules of ../shared/docs/kernel-rst-map.md and the
// sysctl advice of the causes describe Linux; a verdict about a Windows host
// or a load balancer must not lean on them (the wire rules ask mayBeLinux).
import type { SenderStack, SideFacts } from '../causes/wire-facts.js';

/** The initial TTL a received TTL started from: the next of the values stacks use. */
export function initialTtl(ttl: number): number {
  return ttl <= 32 ? 32 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
}

// option orders of SYNs and SYN-ACKs (TcpSegment.optOrder): kinds in order, one hex digit each
/**
 * Linux (tcp_options_write): MSS, then SACK_PERM and TS packed together, then
 * NOP, WS; NOPs stand in for SACK_PERM or TS when one of them is off
 */
const LINUX_ORDERS = new Set([0x124813, 0x1211413, 0x1211813, 0x1213, 0x1248, 0x12114, 0x12118, 0x12]);
/** Windows: MSS, NOP, WS, NOP, NOP, SACK_PERM */
const WINDOWS_ORDERS = new Set([0x1213114]);
/**
 * macOS: MSS, NOP, WS, NOP, NOP, TS, SACK_PERM, EOL; the BSDs: MSS, NOP, WS,
 * NOP, NOP, TS, NOP, NOP, SACK_PERM, or MSS, NOP, NOP, SACK_PERM, NOP, WS, NOP, NOP, TS
 */
const BSD_ORDERS = new Set([0x121311840, 0x12131184, 0x1213118114, 0x12114130118]);

const hex = (order: number) => order.toString(16).slice(1);
const KIND_NAMES: Record<string, string> = { '0': 'EOL', '1': 'NOP', '2': 'MSS', '3': 'WS', '4': 'SACK_PERM', '8': 'TS' };
const orderText = (order: number) => [...hex(order)].map((k) => KIND_NAMES[k] ?? `kind ${parseInt(k, 16)}`).join(',');

const NONE: string[] = [];
const UNKNOWN: SenderStack = { name: 'unknown', mayBeLinux: true, confidence: 'low', signs: [] };

/**
 * The stack of a reset's sender: `d` is its direction (its TTL and SYN as the
 * capture saw them), `rstTtl` the reset's own TTL (used when the sender sent
 * nothing else), `unlikeLinux` the ways the reset is not built as Linux builds it.
 */
export function senderStack(d: SideFacts, rstTtl: number, family: 4 | 6, unlikeLinux: readonly string[]): SenderStack {
  const ttl = d.ttl >= 0 ? d.ttl : rstTtl;
  const init = initialTtl(ttl);
  const order = Math.max(d.synOrder, 0);
  // most resets come from Linux hosts that say so plainly: no words for them
  if (init === 64 && (order === 0 || LINUX_ORDERS.has(order)) && unlikeLinux.length === 0) {
    return order === 0 ? UNKNOWN : { name: 'linux', mayBeLinux: true, confidence: 'medium', signs: NONE };
  }
  const signs: string[] = [];
  const hop = family === 4 ? 'TTL' : 'hop limit';
  signs.push(`${hop} ${ttl} (initial ${init})`);
  if (order) signs.push(`SYN options ${orderText(order)}${d.synWin >= 0 ? `, window ${d.synWin}` : ''}`);
  let name: SenderStack['name'] = 'unknown';
  if (init === 128 || init === 32) name = 'windows';
  else if (init === 255) name = 'ttl255';
  else if (init === 64) name = LINUX_ORDERS.has(order) ? 'linux' : BSD_ORDERS.has(order) ? 'bsd' : 'unknown';
  signs.push(...unlikeLinux);
  // Linux starts at TTL 64, orders its options its own way and builds resets as the map says;
  // an order with options it does not know (kinds above 14) proves nothing
  const mayBeLinux = init === 64 && (order === 0 || LINUX_ORDERS.has(order) || hex(order).includes('f')) && unlikeLinux.length === 0;
  // two signs that agree: the TTL and the SYN's options, or the TTL and how the reset is built
  const agree = (name === 'windows' && WINDOWS_ORDERS.has(order)) || (name !== 'linux' && name !== 'unknown' && unlikeLinux.length > 0) || name === 'bsd';
  const confidence = name === 'unknown' ? 'low' : agree ? 'high' : 'medium';
  return { name, mayBeLinux, confidence, signs };
}
