// A tracer's output file read line by line, streamed: under a flood it can be
// gigabytes, more than a string may hold.
import { closeSync, openSync, readSync } from 'node:fs';

const CHUNK = 1 << 20;
const MAX_LINE = 1 << 20; // longer lines than this are not tcpwhy's: counted as unreadable

/** Calls `onLine` for each non-empty line of `file`; returns how many lines were too long or cut short. */
export function forEachLine(file: string, onLine: (line: string) => void): number {
  let unreadable = 0;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(CHUNK);
    let rest = Buffer.alloc(0);
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      const data = rest.length ? Buffer.concat([rest, buf.subarray(0, n)]) : buf.subarray(0, n);
      let pos = 0;
      for (;;) {
        const end = data.indexOf(10, pos);
        if (end < 0) break;
        const line = data.toString('utf8', pos, end);
        pos = end + 1;
        if (line) onLine(line);
      }
      rest = Buffer.from(data.subarray(pos));
      if (rest.length > MAX_LINE) {
        unreadable++;
        rest = Buffer.alloc(0);
      }
      if (n === 0) {
        if (rest.length) unreadable++; // a last line cut short
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return unreadable;
}
