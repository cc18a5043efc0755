// The TypeScript bindings of the kernel contract are generated from the BPF
// object (scripts/gen-contract.mjs, run by make build); the committed file must
// be what the object says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';

test('src/events/generated/contract.ts is current with build/tcpwhy.bpf.o', () => {
  const r = spawnSync(process.execPath, [path.join(packageRoot, 'scripts', 'gen-contract.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('the generator refuses a stale file', () => {
  const stale = path.join(packageRoot, 'build', 'contract-stale-test.ts');
  const r = spawnSync(process.execPath, [path.join(packageRoot, 'scripts', 'gen-contract.mjs'), '--check', '--out', stale], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /is stale/);
});
