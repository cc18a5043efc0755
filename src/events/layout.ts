// The decoder of kernel events, derived from the BTF that clang wrote into the
// BPF object for `struct tcpwhy_event` (bpf/tcpwhy.h). The field list below only
// says what TypeScript expects; the offsets come from BTF, and buildDecoder()
// refuses to run if the two disagree, so the layout has one source of truth.
import type { StructMember } from '../native.js';

/** How TypeScript reads each member of struct tcpwhy_event. */
export const EVENT_FIELDS = {
  mono_ns: 'u64',
  sock_cookie: 'u64',
  cgroup_id: 'u64',
  netns: 'u32',
  pid: 'u32',
  tid: 'u32',
  owner_pid: 'u32',
  reason: 's32',
  stack_id: 's32',
  seg_seq: 'u32',
  seg_ack: 'u32',
  seg_len: 'u32',
  rcv_unread: 'u32',
  snd_unacked: 'u32',
  snd_unsent: 'u32',
  linger_jiffies: 'u32',
  ack_backlog: 'u32',
  max_ack_backlog: 'u32',
  hz: 'u16',
  family: 'u16',
  sk_family: 'u16',
  pkt_lport: 'u16',
  pkt_rport: 'u16',
  sk_lport: 'u16',
  sk_rport: 'u16',
  flags: 'u16',
  direction: 'u8',
  kind: 'u8',
  state: 'u8',
  seg_flags: 'u8',
  hook: 'u8',
  type: 'u8',
  old_state: 'u8',
  pkt_laddr: 'bytes16',
  pkt_raddr: 'bytes16',
  sk_laddr: 'bytes16',
  sk_raddr: 'bytes16',
  comm: 'bytes16',
  owner_comm: 'bytes16',
} as const;

type FieldKind = (typeof EVENT_FIELDS)[keyof typeof EVENT_FIELDS];
/**
 * One kernel event as the kernel wrote it. Integers are numbers (64-bit ones
 * are exact below 2^53: cookies and cgroup ids always are, monotonic
 * nanoseconds for the first 104 days of uptime, within 16 ns for 3 years).
 * Byte arrays are not copied: their fields hold the offset of the bytes in
 * `view`, which stays valid while the event is processed.
 */
export type RawEvent = { -readonly [F in keyof typeof EVENT_FIELDS]: number } & { view: DataView };

export interface Decoder {
  /** bytes per record in the ring buffer */
  readonly recordSize: number;
  /** a new event object */
  decode(view: DataView, offset: number): RawEvent;
  /** fills `into` and returns it: the event path reuses one object, so a
   * flood allocates nothing per event here */
  decodeInto(into: RawEvent, view: DataView, offset: number): RawEvent;
}

const kindShape: Record<FieldKind, { size: number; signed: boolean; count: number }> = {
  u64: { size: 8, signed: false, count: 0 },
  u32: { size: 4, signed: false, count: 0 },
  s32: { size: 4, signed: true, count: 0 },
  u16: { size: 2, signed: false, count: 0 },
  u8: { size: 1, signed: false, count: 0 },
  bytes16: { size: 1, signed: false, count: 16 },
};

/** Differences between the BTF layout and EVENT_FIELDS; empty when they agree. */
export function layoutMismatches(members: readonly StructMember[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const m of members) {
    seen.add(m.name);
    const kind = Object.hasOwn(EVENT_FIELDS, m.name) ? (EVENT_FIELDS as Record<string, FieldKind>)[m.name] : undefined;
    if (!kind) {
      problems.push(`${m.name}: in bpf/tcpwhy.h but not in EVENT_FIELDS`);
      continue;
    }
    const want = kindShape[kind];
    // char arrays are signed in C; the decoder reads them as bytes either way
    const signedMatters = want.count === 0 && want.size > 1;
    if (m.size !== want.size || m.count !== want.count || (signedMatters && m.signed !== want.signed)) {
      problems.push(
        `${m.name}: BTF has ${m.signed ? 's' : 'u'}${m.size * 8}${m.count ? `[${m.count}]` : ''}, EVENT_FIELDS says ${kind}`,
      );
    }
  }
  for (const name of Object.keys(EVENT_FIELDS)) {
    if (!seen.has(name)) problems.push(`${name}: in EVENT_FIELDS but not in bpf/tcpwhy.h`);
  }
  return problems;
}

const readers: Record<FieldKind, (off: string) => string> = {
  // two 32-bit reads and a multiply: BigInt would cost more than the rest of the event
  u64: (o) => `v.getUint32(${o} + 4, true) * 4294967296 + v.getUint32(${o}, true)`,
  u32: (o) => `v.getUint32(${o}, true)`,
  s32: (o) => `v.getInt32(${o}, true)`,
  u16: (o) => `v.getUint16(${o}, true)`,
  u8: (o) => `v.getUint8(${o})`,
  bytes16: (o) => `${o}`,
};

/**
 * Builds a decoder from the BTF member list. The reader is compiled into one
 * function with constant offsets: the event path is hot (hundreds of thousands
 * of events a second), and one object shape keeps V8's inline caches happy.
 */
export function buildDecoder(members: readonly StructMember[], structSize: number): Decoder {
  const problems = layoutMismatches(members);
  if (problems.length) {
    throw new Error(`event layout of the BPF object does not match the decoder:\n  ${problems.join('\n  ')}`);
  }
  const reads = members.map((m) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(m.name)) throw new Error(`odd member name ${m.name}`);
    const kind = (EVENT_FIELDS as Record<string, FieldKind>)[m.name]!;
    return [m.name, readers[kind](`o + ${m.offset >>> 0}`)] as const;
  });
  const literal = reads.map(([n, r]) => `${n}: ${r}`).join(',\n');
  const assigns = reads.map(([n, r]) => `t.${n} = ${r};`).join('\n');
  const decode = new Function('v', 'o', `return {\nview: v,\n${literal}\n};`) as Decoder['decode'];
  const fill = new Function('t', 'v', 'o', `t.view = v;\n${assigns}\nreturn t;`) as (t: RawEvent, v: DataView, o: number) => RawEvent;
  return { recordSize: structSize, decode, decodeInto: (t, v, o) => fill(t, v, o) };
}
