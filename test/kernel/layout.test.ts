// One source of truth for the event layout: the decoder's field list and the
// constants mirrored in TypeScript must agree with bpf/tcpwhy.h as compiled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { native } from '../../src/native.js';
import { bpfObjectPath, packageRoot } from '../../src/paths.js';
import { EVENT_FIELDS, layoutMismatches } from '../../src/events/layout.js';
import * as ev from '../../src/events/event.js';

const header = readFileSync(path.join(packageRoot, 'bpf', 'tcpwhy.h'), 'utf8');

function headerValue(name: string): number {
  const def = new RegExp(`#define\\s+${name}\\s+\\(1u << (\\d+)\\)`).exec(header);
  if (def) return 1 << Number(def[1]);
  const en = new RegExp(`\\b${name}\\s*=\\s*(\\d+)`).exec(header);
  if (en) return Number(en[1]);
  throw new Error(`${name} not found in bpf/tcpwhy.h`);
}

test('struct tcpwhy_event in the BPF object matches the decoder field by field', () => {
  const layout = native().structLayout(bpfObjectPath, 'tcpwhy_event');
  assert.deepEqual(layoutMismatches(layout), []);
  assert.equal(layout.length, Object.keys(EVENT_FIELDS).length);
  // records are copied whole: the size must cover the last member
  const last = layout[layout.length - 1]!;
  assert.ok(layout.structSize >= last.offset + last.size * Math.max(1, last.count));
});

test('flag bits, directions, kinds and hooks mirror bpf/tcpwhy.h', () => {
  const pairs: Array<[string, number]> = [
    ['TCPWHY_F_HAS_PKT', ev.F_HAS_PKT],
    ['TCPWHY_F_HAS_SK', ev.F_HAS_SK],
    ['TCPWHY_F_FULL_SK', ev.F_FULL_SK],
    ['TCPWHY_F_HAS_REASON', ev.F_HAS_REASON],
    ['TCPWHY_F_HAS_OWNER', ev.F_HAS_OWNER],
    ['TCPWHY_F_LINGER', ev.F_LINGER],
    ['TCPWHY_F_STACK_LOST', ev.F_STACK_LOST],
    ['TCPWHY_DIR_SENT', ev.DIR_SENT],
    ['TCPWHY_DIR_RECEIVED', ev.DIR_RECEIVED],
    ['TCPWHY_KIND_ACTIVE', ev.KIND_ACTIVE],
    ['TCPWHY_KIND_PASSIVE', ev.KIND_PASSIVE],
    ['TCPWHY_EV_RESET', ev.EV_RESET],
    ['TCPWHY_EV_STATE', ev.EV_STATE],
  ];
  for (const [name, value] of pairs) assert.equal(value, headerValue(name), name);
  // every hook in the header has a name, and the names match the SEC() of bpf/tcpwhy.bpf.c
  const hooks = [...header.matchAll(/TCPWHY_HOOK_(\w+)\s*=\s*(\d+)/g)];
  assert.ok(hooks.length >= 10);
  const src = readFileSync(path.join(packageRoot, 'bpf', 'tcpwhy.bpf.c'), 'utf8');
  for (const [, name, value] of hooks) {
    const label = ev.HOOKS[Number(value)];
    assert.ok(label, `hook ${name} has no name in HOOKS`);
    // the program using TCPWHY_HOOK_<name> sits right under SEC("<label>")
    const use = new RegExp(`SEC\\("([^"]+)"\\)[^]*?TCPWHY_HOOK_${name}\\b`).exec(src);
    assert.ok(use, `TCPWHY_HOOK_${name} unused`);
    const secs = [...use[0].matchAll(/SEC\("([^"]+)"\)/g)];
    assert.equal(secs[secs.length - 1]![1], label, `TCPWHY_HOOK_${name}`);
  }
});
