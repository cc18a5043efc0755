// Where a capture's bytes come from: a file, or a stream (standard input as
// `-`, a FIFO, a pipe or socket named by a path) that is read as it arrives.
//
// Gzip is told by the first bytes the source delivers, never by reading the
// file again at offset 0: a pipe cannot be read twice (pread on it fails with
// ESPIPE), and the bytes sniffed are the bytes parsed.
import { close, constants, fstat, open, read, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** How much a file read asks for at a time when a chunk is wanted (gunzip's input). */
const RAW_CHUNK = 1 << 20;

/** Bytes arriving in order: either into a caller's buffer (fill) or as chunks (next); not both on one source. */
export interface ByteSource {
  /** fills buf[at, at+max) with up to max bytes; 0 at the end (or once stopped) */
  fill(buf: Buffer, at: number, max: number): Promise<number>;
  /** bytes of the input consumed so far (compressed bytes for gzip) */
  consumed(): number;
  close(): Promise<void>;
}

interface RawSource extends ByteSource {
  /** the next chunk as read, null at the end (or once stopped) */
  next(): Promise<Buffer | null>;
}

/** An opened capture: its bytes, and its size when it is a file (null for a stream). */
export interface CaptureSource {
  raw: RawSource;
  size: number | null;
}

const fstatOf = (fd: number) => new Promise<Stats>((res, rej) => fstat(fd, (e, st) => (e ? rej(e) : res(st))));
const readFd = (fd: number, buf: Buffer, at: number, max: number) =>
  new Promise<number>((res, rej) => read(fd, buf, at, max, null, (e, n) => (e ? rej(e) : res(n))));

/**
 * Opens `path` (`-`: standard input). A FIFO or socket is read as a stream
 * (through the event loop, so that nothing waits on the thread pool: a
 * reader that is stopped leaves no blocked read behind); anything else is
 * read with plain reads (a file: in large chunks, its size known). The open
 * itself cannot block: a FIFO without a writer yet opens at once and is read
 * when one comes.
 */
export async function openSource(path: string, signal?: AbortSignal): Promise<CaptureSource> {
  const fd = path === '-' ? 0 : await openPath(path);
  let st: Stats;
  try {
    st = await fstatOf(fd);
  } catch (e) {
    if (fd !== 0) close(fd, () => {});
    throw e;
  }
  if (st.isFIFO() || st.isSocket()) return { raw: streamSource(new Socket({ fd, readable: true, writable: false }), signal), size: null };
  return { raw: fdSource(fd, signal), size: st.isFile() ? st.size : null };
}

/** A descriptor of ours that names one of this process's own (/dev/stdin, /dev/fd/N, /proc/self/fd/N). */
const OWN_FD = /^\/(?:dev\/(?:std(in)|fd\/(\d+))|proc\/self\/fd\/(\d+))$/;

function openPath(path: string): Promise<number> {
  return new Promise<number>((res, rej) =>
    open(path, constants.O_RDONLY | constants.O_NONBLOCK, (e, fd) => {
      if (!e) return res(fd);
      // a socket cannot be opened again through /proc (ENXIO): /dev/stdin is then read as the descriptor it names
      const own = e.code === 'ENXIO' ? OWN_FD.exec(path) : null;
      if (own) return res(own[1] ? 0 : Number(own[2] ?? own[3]));
      rej(e);
    }),
  );
}

function fdSource(fd: number, signal: AbortSignal | undefined): RawSource {
  let done = 0;
  // the read under way: the descriptor is closed only after it (a number reused by then would be read)
  let reading: Promise<number> | null = null;
  return {
    async fill(buf, at, max) {
      if (signal?.aborted) return 0;
      reading = readFd(fd, buf, at, max);
      const n = await reading;
      reading = null;
      done += n;
      return n;
    },
    async next() {
      const b = Buffer.allocUnsafe(RAW_CHUNK);
      const n = await this.fill(b, 0, RAW_CHUNK);
      return n === 0 ? null : n === RAW_CHUNK ? b : b.subarray(0, n);
    },
    consumed: () => done,
    async close() {
      if (reading) await reading.catch(() => 0);
      // standard input stays open: it is not ours
      if (fd !== 0) await new Promise<void>((res) => close(fd, () => res()));
    },
  };
}

/** A Readable read as it delivers: what it has is handed out at once, so a slow writer's packets are not held back. */
function streamSource(stream: Readable, signal: AbortSignal | undefined): RawSource {
  let done = 0;
  let ended = false;
  let failed: Error | null = null;
  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  stream.on('readable', poke);
  stream.on('end', () => {
    ended = true;
    poke();
  });
  stream.on('error', (e) => {
    failed = e;
    poke();
  });
  signal?.addEventListener('abort', poke, { once: true });
  let pending: Buffer | null = null;
  let pendingAt = 0;
  const next = async (): Promise<Buffer | null> => {
    for (;;) {
      if (signal?.aborted) return null;
      const b = stream.read() as Buffer | null;
      if (b) {
        done += b.length;
        return b;
      }
      if (failed) throw failed;
      if (ended) return null;
      await new Promise<void>((res) => (wake = res));
    }
  };
  return {
    async fill(buf, at, max) {
      if (!pending) {
        pending = await next();
        pendingAt = 0;
        if (!pending) return 0;
      }
      const n = Math.min(max, pending.length - pendingAt);
      pending.copy(buf, at, pendingAt, pendingAt + n);
      pendingAt += n;
      if (pendingAt >= pending.length) pending = null;
      return n;
    },
    next,
    consumed: () => done,
    async close() {
      signal?.removeEventListener('abort', poke);
      stream.destroy();
    },
  };
}

/** The first bytes of the source, at least n unless it ends sooner. */
async function head(raw: RawSource, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const b = await raw.next();
    if (!b) break;
    parts.push(b);
    have += b.length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** The source's bytes, gunzipped when they start with gzip's magic. */
export async function decompressed(raw: RawSource): Promise<{ src: ByteSource; gzip: boolean }> {
  const first = await head(raw, 2);
  const gzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
  return { src: gzip ? gunzipSource(raw, first) : prefixed(raw, first), gzip };
}

/** `first` (already read from raw), then the rest of raw. */
function prefixed(raw: RawSource, first: Buffer): ByteSource {
  let at = 0;
  return {
    async fill(buf, to, max) {
      if (at < first.length) {
        const n = Math.min(max, first.length - at);
        first.copy(buf, to, at, at + n);
        at += n;
        return n;
      }
      return raw.fill(buf, to, max);
    },
    consumed: () => raw.consumed(),
    close: () => raw.close(),
  };
}

function gunzipSource(raw: RawSource, first: Buffer): ByteSource {
  async function* chunks(): AsyncGenerator<Buffer> {
    yield first;
    for (let b = await raw.next(); b; b = await raw.next()) yield b;
  }
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  // pipeline, not pipe: a read error of the input reaches gunzip (and the reader) instead of leaving it waiting
  pipeline(Readable.from(chunks(), { objectMode: false }), gunzip, () => {});
  const it = gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let pending: Buffer | null = null;
  let pendingAt = 0;
  return {
    async fill(buf, at, max) {
      if (!pending) {
        const next = await it.next();
        if (next.done) return 0;
        pending = next.value;
        pendingAt = 0;
      }
      const n = Math.min(max, pending.length - pendingAt);
      pending.copy(buf, at, pendingAt, pendingAt + n);
      pendingAt += n;
      if (pendingAt >= pending.length) pending = null;
      return n;
    },
    consumed: () => raw.consumed(),
    async close() {
      gunzip.destroy();
      await raw.close();
    },
  };
}
