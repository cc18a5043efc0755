// A temporary directory for a test file's recordings (pcaps), made before its
// tests and removed after them, unless TCPWHY_KEEP_RECORDINGS=1 asks to keep
// it: tests remove the recordings of runs that passed, so what stays is
// what failed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';

/** Registers the directory's before/after hooks; call the result for its path (inside tests). */
export function recordingsDir(prefix: string): () => string {
  let dir = '';
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), `tcpwhy-${prefix}-`));
  });
  after(() => {
    if (dir && process.env['TCPWHY_KEEP_RECORDINGS'] === '1') console.error(`recordings kept in ${dir}`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => dir;
}
