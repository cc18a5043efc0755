// Runs the whole suite with node's test runner. Files run one at a time:
// kernel tests attach BPF programs and check what is loaded, so they must not
// overlap with each other.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) {
      // dist/ may hold tests whose source was deleted or moved: run only
      // the compiled form of a test that still exists
      const source = path.join(root, path.relative(path.join(root, 'dist'), p)).replace(/\.js$/, '.ts');
      if (existsSync(source)) files.push(p);
      else console.error(`skipping ${path.relative(root, p)}: its source ${path.relative(root, source)} is gone`);
    }
  }
};
walk(path.join(root, 'dist', 'test'));
if (!files.length) {
  console.error('no test files under dist/test: build first (make build)');
  process.exit(1);
}
const only = process.argv.slice(2);
const chosen = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=120000', ...chosen], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(r.status ?? 1);
