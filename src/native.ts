// Typed face of the libbpf addon (native/tcpwhy_native.c).
import { createRequire } from 'node:module';
import { addonPath } from './paths.js';
import type { CONFIG_LAYOUT } from './events/generated/contract.js';

export interface StructMember {
  name: string;
  offset: number;
  /** size in bytes of the scalar, or of one element for arrays */
  size: number;
  signed: boolean;
  /** element count for arrays, 0 for scalars */
  count: number;
}

export interface BtfQuery {
  enums?: string[];
  typedefParams?: string[];
  members?: Array<[string, string]>;
  funcs?: string[];
}

export interface BtfAnswer {
  enums: Record<string, Array<[string, number]> | null>;
  typedefParams: Record<string, number>;
  members: Record<string, boolean>;
  funcs: Record<string, boolean>;
}

type ConfigMember = keyof (typeof CONFIG_LAYOUT)['fields'];
/** Only members of struct tcpwhy_config: a name the header loses fails to compile. */
type Members<K extends ConfigMember> = K;

/** The members of struct tcpwhy_config (bpf/tcpwhy.h) that the caller sets;
 * the addon derives the filter members from the filter lists. */
export type KernelConfig = Partial<
  Record<Members<'send_tp_has_reason' | 'filter_family' | 'stacks_per_window' | 'wakeup_bytes' | 'full_per_key' | 'full_per_window' | 'drop_tp_params'>, number>
>;

/** What open() loads: the BPF object is compiled into the addon (its skeleton). */
export interface OpenOptions {
  programs: string[];
  config: KernelConfig;
  ringbufBytes?: number;
  /** map name -> max_entries, set before loading (small maps for a probe load) */
  maxEntries?: Record<string, number>;
  btfPath?: string;
  /** libbpf Kconfig values, e.g. 'CONFIG_HZ=250' */
  kconfig?: string;
  ports?: number[];
  addrs?: Buffer[];
  pids?: number[];
  netns?: number[];
}

export interface KernelCounters {
  ringbufFull: number;
  stackLost: number;
  stackSkipped: number;
  /** RSTs counted outside any storm key (the interval's key table was full) */
  unkeyedSent: number;
  unkeyedReceived: number;
  /** RSTs over the global budget of full events: counted under their key, not shown */
  overBudget: number;
  /** drops, retransmissions and errors counted without a storm key */
  unkeyedLoss: number;
  recursionMisses: number;
}

declare const sessionBrand: unique symbol;
export type NativeSession = { readonly [sessionBrand]: true };

export interface Native {
  btfQuery(btfPath: string | null, q: BtfQuery): BtfAnswer | null;
  structLayout(objPath: string, struct: string): StructMember[] & { structSize: number };
  open(opts: OpenOptions): NativeSession;
  attach(s: NativeSession): string[];
  /** onBatch gets the same buffer every time: read `count` records during the call, keep nothing */
  start(s: NativeSession, onBatch: (batch: ArrayBuffer | null, count: number, error: number) => void): void;
  stop(s: NativeSession): void;
  close(s: NativeSession): void;
  counters(s: NativeSession): KernelCounters;
  stack(s: NativeSession, id: number): ArrayBuffer | null;
  /** the storm table of the interval that ends: (struct tcpwhy_storm_key, struct tcpwhy_storm_val) records */
  stormSwap(s: NativeSession): ArrayBuffer;
  /** RSTs counted without a storm key: [netns, direction, count] rows */
  unkeyed(s: NativeSession): Array<[number, number, number]>;
  /** detaches the programs, keeping the maps */
  unlink(s: NativeSession): void;
  /** the conns map's record (struct tcpwhy_conn) for a struct tcpwhy_conn_key, or null */
  conn(s: NativeSession, key: Buffer): ArrayBuffer | null;
}

/** Errors thrown by the addon carry the errno and what libbpf printed. */
export interface NativeError extends Error {
  errno?: number;
  code?: string;
  libbpf?: string;
}

let cached: Native | undefined;

export function native(): Native {
  if (!cached) {
    const require = createRequire(import.meta.url);
    cached = require(addonPath) as Native;
  }
  return cached;
}
