// Typed face of the libbpf addon (native/tcpwhy_native.c).
import { createRequire } from 'node:module';
import { addonPath } from './paths.js';

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

export interface OpenOptions {
  programs: string[];
  config: {
    sendTpHasReason?: number;
    filterFamily?: number;
    withStacks?: number;
    /** stack walks per CPU per 100 ms; 0: no limit */
    stacksPerWindow?: number;
    /** wake the reader once this many bytes wait; 0: on every event */
    wakeupBytes?: number;
  };
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
  recursionMisses: number;
}

declare const sessionBrand: unique symbol;
export type NativeSession = { readonly [sessionBrand]: true };

export interface Native {
  btfQuery(btfPath: string | null, q: BtfQuery): BtfAnswer | null;
  structLayout(objPath: string, struct: string): StructMember[] & { structSize: number };
  open(objPath: string, opts: OpenOptions): NativeSession;
  attach(s: NativeSession): string[];
  /** onBatch gets the same buffer every time: read `count` records during the call, keep nothing */
  start(s: NativeSession, onBatch: (batch: ArrayBuffer | null, count: number, error: number) => void): void;
  stop(s: NativeSession): void;
  close(s: NativeSession): void;
  counters(s: NativeSession): KernelCounters;
  stack(s: NativeSession, id: number): ArrayBuffer | null;
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
