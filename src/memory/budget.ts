// How big each table of user space may grow, sized from the heap this process
// really has: `tcpwhy watch` runs with a 64 MB old generation (bin/tcpwhy),
// `analyze` with 4 GB, tests with node's default. A bound fixed in entries
// would be too big for the first and pointlessly small for the others.
//
// Every table is stated here, in one place, with what an entry costs and the
// share of the heap it may take, so that the shares can be added up: what is
// left (at least 40 %) is the working set (a ring-buffer batch decoded, the
// output being written, garbage between collections). Bytes per entry are
// estimates of the retained V8 heap of a typical entry (checked by
// test/unit/heap-bounds.test.ts, which fills every table to its bound under
// bin/tcpwhy's own heap flags).
import { getHeapStatistics } from 'node:v8';
import { BoundedMap, warnOnce } from './bounded.js';

export interface TableBudget {
  /** how the table is named when it is full (fullMessage) */
  name: string;
  /** estimated retained heap of one entry, bytes */
  bytesPerEntry: number;
  /** share of the heap limit it may take */
  share: number;
  /** never fewer entries than this (below it the table stops doing its job) */
  floor: number;
  /** never more than this (the source of the keys holds no more, or more buys nothing) */
  ceiling: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

export const BUDGETS = {
  // src/host/context.ts: one snapshot per network namespace: ~350 counters,
  // sysctls, listeners with their processes, NAT/reject rules with their text
  hostSnapshots: { name: 'host snapshots (network namespaces)', bytesPerEntry: 48 * KiB, share: 0.08, floor: 16, ceiling: 1024 },
  // src/host/netns-path.ts: inode -> /run/netns/NAME or /proc/PID/ns/net
  netnsPaths: { name: 'network namespace paths', bytesPerEntry: 256, share: 0.005, floor: 64, ceiling: 4096 },
  // src/kernel/tracer.ts: a symbolized stack (~32 frames "fn+0x1a/0x2c", each
  // a string of its own); the kernel's stack map holds 16384 ids, so no more
  // can ever be asked for
  stackSymbols: { name: 'kernel stack symbols', bytesPerEntry: 6 * KiB, share: 0.05, floor: 64, ceiling: 16384 },
  // src/kernel/tracer.ts: the function+offset of a drop's kernel address (a
  // few hundred places in the kernel drop packets)
  locationSymbols: { name: 'drop location symbols', bytesPerEntry: 512, share: 0.002, floor: 256, ceiling: 16384 },
  // src/cli/output.ts (--count): a key and what is printed of the first event
  // of its group, its stack included (shared with the stack symbols, unless
  // they forgot it)
  stackCounts: { name: 'stack counts (--count)', bytesPerEntry: 6 * KiB, share: 0.03, floor: 64, ceiling: 65536 },
  // src/events/text.ts: text of addresses and process names seen in records; a
  // flood from random sources makes one per packet, and forgetting one costs
  // only its formatting again (4096 was the bound before it was stated here)
  ipv4Texts: { name: 'IPv4 address texts', bytesPerEntry: 96, share: 0.01, floor: 256, ceiling: 4096 },
  ipv6Texts: { name: 'IPv6 address texts', bytesPerEntry: 416, share: 0.02, floor: 256, ceiling: 4096 },
  nameTexts: { name: 'process name texts', bytesPerEntry: 352, share: 0.02, floor: 256, ceiling: 4096 },
  // --- tables of src/diagnose/, src/live/ and src/events/json.ts ---
  // history.ts: a connection's RSTs (live, its state changes stay in the
  // kernel's conns map; only given ones, from tests and recordings, are kept here)
  historyConnections: { name: 'connection history', bytesPerEntry: 2 * KiB, share: 0.1, floor: 1024, ceiling: 65536 },
  // history.ts: listener episodes per namespace and port
  historyPorts: { name: 'listener history', bytesPerEntry: 1 * KiB, share: 0.02, floor: 256, ceiling: 8192 },
  // history.ts: the last RST sent on each tuple
  sentResets: { name: 'sent RSTs', bytesPerEntry: 512, share: 0.02, floor: 256, ceiling: 8192 },
  // history.ts: SYNs refused without a socket, by local endpoint (a port scan makes one per port)
  refusedPorts: { name: 'refused ports', bytesPerEntry: 256, share: 0.01, floor: 256, ceiling: 8192 },
  // flood.ts: verdicts shared by shape (a port scan makes one per port)
  floodShapes: { name: 'flood shapes', bytesPerEntry: 1 * KiB, share: 0.01, floor: 256, ceiling: 4096 },
  // engine.ts: the function names of a stack, for the rules (a Set of ~32
  // strings: 2.8 KB measured by test/unit/heap-bounds.test.ts)
  stackFunctions: { name: 'stack function sets', bytesPerEntry: 3 * KiB, share: 0.03, floor: 64, ceiling: 16384 },
  // src/live/storm.ts: the newest verdict of each storm key (the kernel's table holds 8192 keys a second)
  stormVerdicts: { name: 'storm verdicts', bytesPerEntry: 1 * KiB, share: 0.01, floor: 256, ceiling: 8192 },
  // json.ts: a stack's JSON text
  stackJson: { name: 'stack JSON texts', bytesPerEntry: 2 * KiB, share: 0.03, floor: 64, ceiling: 16384 },
  // loss.ts: the story of a connection with drops or retransmissions (at most
  // STORY_DROPS drops kept, with their cause and rule text)
  lossStories: { name: 'connection loss stories', bytesPerEntry: 3 * KiB, share: 0.02, floor: 256, ceiling: 32768 },
  // pipeline.ts: events waiting for their namespace's host context
  waitingEvents: { name: 'events waiting for host context', bytesPerEntry: 2 * KiB, share: 0.05, floor: 256, ceiling: 2000 },
} as const satisfies Record<string, TableBudget>;

export type TableId = keyof typeof BUDGETS;

/**
 * The output of one host snapshot (src/host/run.ts) is read whole into one
 * string, then parsed into rules: it may take this share of the heap. A
 * larger output (tens of thousands of NAT rules) is cut short and says so.
 */
export const SNAPSHOT_OUTPUT = { share: 0.08, floor: 1 * MiB, ceiling: 64 * MiB };

/**
 * `tcpwhy analyze` (a process of its own): the connections its tracker holds
 * at once (src/capture/track.ts). About 1.9 KB of heap each (its 576-byte
 * packet ring included; test/unit/track-memory.test.ts holds it to 2.2 KB), a
 * share of the heap, and never more than 131,072 whatever the heap (250 MB):
 * a generation is a third of it, and a flood of 65,536 peers (every port)
 * then stays tracked instead of being finished and opened again and again; a
 * capture with more connections open at once has the quietest forgotten,
 * counted and said.
 */
export const CAPTURE_CONNECTIONS: TableBudget = {
  name: 'tracked connections (analyze)',
  bytesPerEntry: 2 * KiB,
  share: 0.3,
  floor: 3072,
  ceiling: 131072,
};

/** Share of the heap the working set keeps, whatever the tables take. */
export const WORKING_SET_SHARE = 0.4;

/** The heap this process may use (V8's limit: --max-old-space-size plus the young generation). */
export function heapLimitBytes(): number {
  return getHeapStatistics().heap_size_limit;
}

const clamp = (n: number, floor: number, ceiling: number) => Math.max(floor, Math.min(ceiling, Math.floor(n)));

/** Entries of bytesPerEntry that fit in share of the heap, between floor and ceiling. */
export function entriesFor(bytesPerEntry: number, share: number, floor: number, ceiling: number, heapBytes = heapLimitBytes()): number {
  return clamp((heapBytes * share) / bytesPerEntry, floor, ceiling);
}

/** The bound of a table, in entries, for this process's heap. */
export function boundOf(id: TableId, heapBytes = heapLimitBytes()): number {
  const b: TableBudget = BUDGETS[id];
  return entriesFor(b.bytesPerEntry, b.share, b.floor, b.ceiling, heapBytes);
}

/** The connections analyze's tracker holds at once, for this process's heap. */
export function captureConnectionsBound(heapBytes = heapLimitBytes()): number {
  const b = CAPTURE_CONNECTIONS;
  return entriesFor(b.bytesPerEntry, b.share, b.floor, b.ceiling, heapBytes);
}

/** The largest snapshot output read, in bytes, for this process's heap. */
export function snapshotOutputBytes(heapBytes = heapLimitBytes()): number {
  return clamp(heapBytes * SNAPSHOT_OUTPUT.share, SNAPSHOT_OUTPUT.floor, SNAPSHOT_OUTPUT.ceiling);
}

/** A table sized by its budget, that says once through warn when it starts forgetting. */
export function boundedTable<K extends string | number, V>(id: TableId, warn?: (msg: string) => void, heapBytes?: number): BoundedMap<K, V> {
  return new BoundedMap<K, V>(BUDGETS[id].name, boundOf(id, heapBytes), warnOnce(warn));
}
