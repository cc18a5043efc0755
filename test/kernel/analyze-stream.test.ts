// `tcpdump -U -w - | tcpwhy analyze -` on real traffic: the verdict of a real
// RST arrives while tcpdump still runs, and the summary once it stops.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { labCase } from '../../src/lab/cases.js';
import { Lab } from '../../src/lab/netns.js';
import { packageRoot } from '../../src/paths.js';

let lab: Lab;
const started: ChildProcess[] = [];
before(() => {
  lab = Lab.create('stream');
});
after(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  lab?.destroy();
});

async function until(what: () => string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`no ${what()} within ${ms} ms`);
    await sleep(20);
  }
}

test('tcpdump -U -w - | tcpwhy analyze -: the RST of a closed port is explained while tcpdump runs', async () => {
  const tcpdump = spawn('ip', ['netns', 'exec', lab.server.ns, 'tcpdump', '-i', 'veth1', '-U', '-w', '-', '-nn', 'tcp'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(tcpdump);
  let dumpErr = '';
  tcpdump.stderr!.on('data', (d: Buffer) => (dumpErr += d.toString()));
  const analyze = spawn(path.join(packageRoot, 'bin', 'tcpwhy'), ['analyze', '-'], { stdio: [tcpdump.stdout!, 'pipe', 'pipe'] });
  started.push(analyze);
  let out = '';
  let err = '';
  analyze.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  analyze.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = once(analyze, 'exit');
  await until(
    () => `tcpdump listening (${dumpErr})`,
    () => dumpErr.includes('listening on'),
    20_000,
  );

  await labCase('closed-port').run(lab, 4, 9601);
  await until(
    () => `verdict on stdout (stdout: ${out}; stderr: ${err})`,
    () => /192\.0\.2\.2:9601 -> 192\.0\.2\.1:\d+ {2}server, passive/.test(out),
    10_000,
  );
  assert.equal(tcpdump.exitCode, null, 'tcpdump still runs');
  assert.match(out, /=> no-listener \[/);
  assert.doesNotMatch(out, /RSTs:/, 'no summary while the stream goes on');

  tcpdump.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0, err);
  assert.match(out, /^-: pcap, /m);
  assert.match(out, /RSTs: 1 \(0 active, 1 passive\)/);
});
