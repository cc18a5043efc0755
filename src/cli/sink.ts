// Output lines gathered in one reusable buffer and written in large chunks:
// joining thousands of strings and converting each chunk to bytes cost as
// much as making the lines.
//
// Two ways to meet a reader that is behind (a non-blocking stdout answers
// EAGAIN). A report of a file (analyze) waits for it: nothing may be lost, and
// the report ends when the file does. Live output (watch) must never wait:
// waiting in a synchronous loop holds up signals and timers, so Ctrl-C,
// SIGTERM and --duration would go unheard. Its bytes wait in a bounded queue
// that the event loop writes when the reader takes them; lines that do not fit
// are dropped and counted, and whatever still waits at exit is abandoned after
// a bounded time.
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { OutputError } from '../kernel/errors.js';

const CHUNK = 1 << 20;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Live output that may wait for a slow reader before lines are dropped. */
export const LIVE_PENDING_BYTES = 4 * CHUNK;

export interface SinkOptions {
  /**
   * Never wait for the reader: keep at most this many bytes for it and drop
   * the lines beyond them (counted in `dropped`). Without it, a reader that
   * is behind is waited for.
   */
  maxPendingBytes?: number;
  /** told once, when lines start being dropped */
  onDropping?: () => void;
  /** a write failure (EPIPE, ENOSPC) of live output, which is then discarded; a file's report throws it */
  onError?: (err: OutputError) => void;
}

function countLines(b: Uint8Array): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) n++;
  return n;
}

function isAgain(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'EAGAIN';
}

export class LineSink {
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private readonly fd: number;
  /** bytes waiting for the reader (live output), oldest first; the first may be in the stream's hands */
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private writing = false;
  private failed = false;
  private idle: (() => void) | null = null;
  /** room()'s caller, woken when no more than `roomBytes` wait for the reader */
  private roomy: (() => void) | null = null;
  private readonly roomBytes: number;
  private lost = 0;
  private gaveUp = false;

  constructor(
    private readonly out: Writable,
    private readonly opts: SinkOptions = {},
  ) {
    this.fd = out === process.stdout ? 1 : -1;
    this.roomBytes = (opts.maxPendingBytes ?? 0) / 2;
    if (opts.maxPendingBytes !== undefined) {
      // a failure of a write handed to the stream; kept for the sink's life, so
      // that a late one (after the watch ended) is not an uncaught 'error'
      out.on('error', (e: Error) => this.fail(e));
    }
  }

  /** Output lines dropped because the reader was behind (live output only). */
  get dropped(): number {
    return this.lost;
  }

  /** Whether output that waited for the reader was left unwritten at close(). */
  get abandoned(): boolean {
    return this.gaveUp;
  }

  push(line: string): void {
    // a UTF-8 byte count is at most 3 per UTF-16 unit
    if (this.pos + line.length * 3 + 1 > CHUNK) this.flush();
    if (line.length * 3 + 1 > CHUNK) {
      this.emit(Buffer.from(`${line}\n`), false);
      return;
    }
    this.pos += this.buf.write(line, this.pos);
    this.buf[this.pos++] = 0x0a;
  }

  /**
   * A line made of text and bytes encoded once before (the JSON of a verdict
   * shared by a flood's events, src/diagnose/flood.ts: copying its bytes
   * costs far less than encoding the same text again for every line).
   */
  pushWithTail(head: string, tail: Uint8Array): void {
    if (this.pos + head.length * 3 + tail.length + 1 > CHUNK) this.flush();
    if (head.length * 3 + tail.length + 1 > CHUNK) {
      this.emit(Buffer.concat([Buffer.from(head), tail, Buffer.from('\n')]), false);
      return;
    }
    this.pos += this.buf.write(head, this.pos);
    this.buf.set(tail, this.pos);
    this.pos += tail.length;
    this.buf[this.pos++] = 0x0a;
  }

  flush(): void {
    if (!this.pos) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.pos = 0;
    this.emit(chunk, true);
  }

  /**
   * Writes what is buffered and waits up to `waitMs` for a reader that is
   * behind; then what still waits is abandoned (counted as dropped). Live
   * output only; the process must then exit without waiting for stdout.
   */
  async close(waitMs: number): Promise<void> {
    this.flush();
    if (!this.pending.length) return;
    await this.wakeOrTimeout(waitMs, (wake) => (this.idle = wake));
    if (this.pending.length) {
      // the first chunk may be half written: its cut line counts as dropped
      for (const b of this.pending) this.lost += countLines(b);
      this.pending.length = 0;
      this.pendingBytes = 0;
      this.gaveUp = true;
    }
  }

  /**
   * Writes what is buffered, then waits until at most half the bound waits
   * for the reader, for at most `waitMs`. For output that is bounded in
   * number but comes many lines at once (the storm records of an interval,
   * thousands in a port scan): written at the reader's pace, such a burst is
   * not dropped for being larger than the bound. False when the reader was
   * still behind at the end of the wait (what is pushed next may be dropped).
   * Immediate when nothing waits or the output failed.
   */
  async room(waitMs: number): Promise<boolean> {
    this.flush();
    if (this.pendingBytes <= this.roomBytes || this.failed) return true;
    await this.wakeOrTimeout(waitMs, (wake) => (this.roomy = wake));
    return this.pendingBytes <= this.roomBytes || this.failed;
  }

  /** Resolves when the function handed to `arm` is called, or after `ms`; then disarms it. */
  private async wakeOrTimeout(ms: number, arm: (wake: (() => void) | null) => void): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      arm(resolve);
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    arm(null);
  }

  /** `reused`: the bytes are the sink's own buffer, refilled after this call. */
  private emit(chunk: Buffer, reused: boolean): void {
    if (this.fd < 0) {
      // a stream other than stdout may keep the chunk: give it a copy
      this.out.write(reused ? Buffer.from(chunk) : chunk);
      return;
    }
    if (this.opts.maxPendingBytes === undefined) {
      this.writeWaiting(chunk);
      return;
    }
    if (this.failed) return;
    let off = 0;
    if (!this.pending.length) {
      try {
        while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
        return;
      } catch (e) {
        // told, not thrown: a throw from a flush at the end of a watch would end it with a stack trace
        if (!isAgain(e)) {
          this.fail(e as Error);
          return;
        }
      }
    }
    this.enqueue(chunk.subarray(off), reused);
  }

  /** A file's report: wait for the reader, however long it takes. */
  private writeWaiting(buf: Uint8Array): void {
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        if (!isAgain(e)) throw OutputError.of(e);
        Atomics.wait(sleeper, 0, 0, 5);
      }
    }
  }

  private enqueue(bytes: Buffer, reused: boolean): void {
    if (this.pendingBytes + bytes.length > this.opts.maxPendingBytes!) {
      if (!this.lost) this.opts.onDropping?.();
      // a chunk not begun holds whole lines only: nothing half written reaches the reader
      this.lost += countLines(bytes);
      return;
    }
    this.pending.push(reused ? Buffer.from(bytes) : bytes);
    this.pendingBytes += bytes.length;
    this.writeNext();
  }

  /** Hands the oldest waiting chunk to the stream, which writes it when the reader takes it. */
  private writeNext(): void {
    if (this.writing || this.failed) return;
    const next = this.pending[0];
    if (!next) {
      this.idle?.();
      return;
    }
    this.writing = true;
    this.out.write(next, (err) => {
      this.writing = false;
      if (err) {
        this.fail(err);
        return;
      }
      this.pending.shift();
      this.pendingBytes -= next.length;
      if (this.pendingBytes <= this.roomBytes) this.roomy?.();
      this.writeNext();
    });
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.idle?.();
    this.roomy?.();
    this.opts.onError?.(OutputError.of(err));
  }
}
