// --conn: the connections of one endpoint, or of one pair of endpoints.
import { addrKey } from '../net/addr.js';
import type { Conn } from './track.js';

export interface ConnFilter {
  a: { addr: string; port: number };
  b: { addr: string; port: number } | null;
}

/** Parses --conn: "ADDR:PORT" or "ADDR:PORT-ADDR:PORT" (IPv6 in brackets). */
export function parseConnFilter(text: string): ConnFilter | null {
  const one = (s: string) => {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
    if (!m) return null;
    const addr = addrKey(m[1]!);
    const port = Number(m[2]);
    if (!addr || port > 65535) return null;
    return { addr, port };
  };
  const parts = text.split(/-(?=[[\d])/);
  if (parts.length > 2) return null;
  const a = one(parts[0]!);
  const b = parts.length === 2 ? one(parts[1]!) : null;
  if (!a || (parts.length === 2 && !b)) return null;
  return { a, b };
}

export function connMatches(f: ConnFilter, c: Conn): boolean {
  const is = (e: { addr: string; port: number }, s: number) => c.addrOf(s) === e.addr && c.portOf(s) === e.port;
  if (!f.b) return is(f.a, 0) || is(f.a, 1);
  return (is(f.a, 0) && is(f.b, 1)) || (is(f.a, 1) && is(f.b, 0));
}

/** Whether a flow with these ends (address keys and ports, either order) matches: for flows no connection holds. */
export function flowMatches(f: ConnFilter, x: { addr: string; port: number }, y: { addr: string; port: number }): boolean {
  const same = (e: { addr: string; port: number }, g: { addr: string; port: number }) => e.addr === g.addr && e.port === g.port;
  if (!f.b) return same(f.a, x) || same(f.a, y);
  return (same(f.a, x) && same(f.b, y)) || (same(f.a, y) && same(f.b, x));
}
