// Output lines gathered in one reusable buffer and written in large chunks:
// joining thousands of strings and converting each chunk to bytes cost as
// much as making the lines. Writing stdout synchronously is also the right
// back-pressure: while a slow reader holds us up, the kernel's ring buffer
// absorbs the events, and whatever does not fit is counted as lost.
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

const CHUNK = 1 << 20;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      // a non-blocking stdout whose reader is behind: wait a little and retry
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(sleeper, 0, 0, 5);
    }
  }
}

export class LineSink {
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private readonly fd: number;

  constructor(private readonly out: Writable) {
    this.fd = out === process.stdout ? 1 : -1;
  }

  push(line: string): void {
    // a UTF-8 byte count is at most 3 per UTF-16 unit
    if (this.pos + line.length * 3 + 1 > CHUNK) this.flush();
    if (line.length * 3 + 1 > CHUNK) {
      this.emit(Buffer.from(`${line}\n`));
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
      this.emit(Buffer.concat([Buffer.from(head), tail, Buffer.from('\n')]));
      return;
    }
    this.pos += this.buf.write(head, this.pos);
    this.buf.set(tail, this.pos);
    this.pos += tail.length;
    this.buf[this.pos++] = 0x0a;
  }

  flush(): void {
    if (!this.pos) return;
    // a stream other than stdout may keep the chunk: give it a copy
    this.emit(this.fd >= 0 ? this.buf.subarray(0, this.pos) : Buffer.from(this.buf.subarray(0, this.pos)));
    this.pos = 0;
  }

  private emit(chunk: Buffer): void {
    if (this.fd >= 0) writeAll(this.fd, chunk);
    else this.out.write(chunk);
  }
}
