// The decoder of kernel events. Offsets and kinds of struct tcpwhy_event come
// from generated/contract.ts, which scripts/gen-contract.mjs writes from the BTF
// of the BPF object: the layout is written once, in bpf/tcpwhy.h.
import { EVENT_LAYOUT } from './generated/contract.js';

type EventFields = (typeof EVENT_LAYOUT)['fields'];
/** How a member of struct tcpwhy_event is read; a kind the header gains and
 * the readers below lack fails to compile. */
export type FieldKind = EventFields[keyof EventFields]['kind'];

/** A struct layout in the shape of the generated ones. */
export interface Layout {
  readonly size: number;
  readonly fields: { readonly [name: string]: { readonly offset: number; readonly kind: FieldKind } };
}

/**
 * One kernel event as the kernel wrote it. Integers are numbers (64-bit ones
 * are exact below 2^53: cookies and cgroup ids always are, monotonic
 * nanoseconds for the first 104 days of uptime, within 16 ns for 3 years).
 * Byte arrays are not copied: their fields hold the offset of the bytes in
 * `view`, which stays valid while the event is processed.
 */
export type RawEvent = { -readonly [F in keyof EventFields]: number } & { view: DataView };

export interface Decoder {
  /** bytes per record in the ring buffer */
  readonly recordSize: number;
  /** a new event object */
  decode(view: DataView, offset: number): RawEvent;
  /** fills `into` and returns it: the event path reuses one object, so a
   * flood allocates nothing per event here */
  decodeInto(into: RawEvent, view: DataView, offset: number): RawEvent;
}

const readers: Record<FieldKind, (off: string) => string> = {
  // two 32-bit reads and a multiply: BigInt would cost more than the rest of the event
  u64: (o) => `v.getUint32(${o} + 4, true) * 4294967296 + v.getUint32(${o}, true)`,
  u32: (o) => `v.getUint32(${o}, true)`,
  s32: (o) => `v.getInt32(${o}, true)`,
  u16: (o) => `v.getUint16(${o}, true)`,
  u8: (o) => `v.getUint8(${o})`,
  bytes16: (o) => `${o}`,
  bytes36: (o) => `${o}`,
};

/**
 * Builds the decoder of a layout (the event's, unless a test gives another).
 * The reader is compiled into one function with constant offsets: the event
 * path is hot (hundreds of thousands of events a second), and one object shape
 * keeps V8's inline caches happy.
 */
export function buildDecoder(layout: Layout = EVENT_LAYOUT): Decoder {
  const reads = Object.entries(layout.fields).map(([name, f]) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`odd member name ${name}`);
    return [name, readers[f.kind](`o + ${f.offset >>> 0}`)] as const;
  });
  const literal = reads.map(([n, r]) => `${n}: ${r}`).join(',\n');
  const assigns = reads.map(([n, r]) => `t.${n} = ${r};`).join('\n');
  const decode = new Function('v', 'o', `return {\nview: v,\n${literal}\n};`) as Decoder['decode'];
  const fill = new Function('t', 'v', 'o', `t.view = v;\n${assigns}\nreturn t;`) as (t: RawEvent, v: DataView, o: number) => RawEvent;
  return { recordSize: layout.size, decode, decodeInto: (t, v, o) => fill(t, v, o) };
}
