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
  pad0: 'u8',
  pkt_laddr: 'bytes16',
  pkt_raddr: 'bytes16',
  sk_laddr: 'bytes16',
  sk_raddr: 'bytes16',
  comm: 'bytes16',
  owner_comm: 'bytes16',
} as const;

type FieldKind = (typeof EVENT_FIELDS)[keyof typeof EVENT_FIELDS];
type TsType<K extends FieldKind> = K extends 'u64' ? bigint : K extends 'bytes16' ? Uint8Array : number;

/** One kernel event exactly as the kernel wrote it. */
export type RawEvent = { -readonly [F in keyof typeof EVENT_FIELDS]: TsType<(typeof EVENT_FIELDS)[F]> };

export interface Decoder {
  /** bytes per record in the ring buffer */
  readonly recordSize: number;
  decode(view: DataView, offset: number): RawEvent;
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
  u64: (o) => `v.getBigUint64(${o}, true)`,
  u32: (o) => `v.getUint32(${o}, true)`,
  s32: (o) => `v.getInt32(${o}, true)`,
  u16: (o) => `v.getUint16(${o}, true)`,
  u8: (o) => `v.getUint8(${o})`,
  bytes16: (o) => `new Uint8Array(v.buffer, v.byteOffset + ${o}, 16)`,
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
  const body = members
    .map((m) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(m.name)) throw new Error(`odd member name ${m.name}`);
      const kind = (EVENT_FIELDS as Record<string, FieldKind>)[m.name]!;
      return `${m.name}: ${readers[kind](`o + ${m.offset >>> 0}`)}`;
    })
    .join(',\n');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const decode = new Function('v', 'o', `return {\n${body}\n};`) as Decoder['decode'];
  return { recordSize: structSize, decode };
}
