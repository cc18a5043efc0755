// One source of truth for the kernel contract: what scripts/gen-contract.mjs read
// from the BPF object through bpftool must be what libbpf reads from it, and each
// program must report the hook named after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { native, type StructMember } from '../../src/native.js';
import { bpfObjectPath, packageRoot } from '../../src/paths.js';
import { CONFIG_LAYOUT, EVENT_LAYOUT, HOOKS } from '../../src/events/generated/contract.js';

/** libbpf's view of a struct in the generated layouts' shape. */
function libbpfLayout(struct: string): { size: number; fields: Record<string, { offset: number; kind: string }> } {
  const members = native().structLayout(bpfObjectPath, struct);
  const kind = (m: StructMember) => (m.count && m.size === 1 ? `bytes${m.count}` : `${m.signed ? 's' : 'u'}${m.size * 8}${m.count ? `[${m.count}]` : ''}`);
  return { size: members.structSize, fields: Object.fromEntries(members.map((m) => [m.name, { offset: m.offset, kind: kind(m) }])) };
}

test('struct tcpwhy_event and tcpwhy_config in the BPF object are the generated layouts', () => {
  assert.deepEqual(libbpfLayout('tcpwhy_event'), EVENT_LAYOUT);
  assert.deepEqual(libbpfLayout('tcpwhy_config'), CONFIG_LAYOUT);
});

test('every program reports the hook named after it', () => {
  const src = readFileSync(path.join(packageRoot, 'bpf', 'tcpwhy.bpf.c'), 'utf8');
  const programs = Object.values(HOOKS);
  assert.ok(programs.length >= 10);
  for (const { program, section } of programs) {
    // from the program's SEC() to the next one
    const start = src.indexOf(`SEC("${section}")`);
    assert.ok(start >= 0, `no SEC("${section}")`);
    const end = src.indexOf('SEC("', start + 1);
    const body = src.slice(start, end < 0 ? undefined : end);
    assert.match(body, new RegExp(`\\b${program}\\b`), `${section} is not ${program}`);
    const used = [...body.matchAll(/TCPWHY_HOOK_(\w+)/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(used)], [program.toUpperCase()], `${program} reports ${used.join(', ')}`);
  }
});
