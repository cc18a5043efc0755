// The CLI as a user runs it: JSON lines that match the documented schema, the
// table, --count and --stacks, clean detach on every way out, and clear errors
// (exit 2, no stack trace) on machines that cannot run it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { Lab } from '../../src/lab/netns.js';
import { labCase } from '../../src/lab/cases.js';
import { lossScenario, type PairScenario } from '../../src/lab/loss-scenarios.js';
import { loadedPrograms, runCli, startCli } from '../helpers/cli.js';
import { watchLineProblems } from '../helpers/schema.js';
import { kernelUnderTest } from '../helpers/kernel.js';

// what this kernel says: reasons from 6.10 on, none before (then verdicts rest on stacks and state: medium)
const k = kernelUnderTest();
const noSocket = k.reason('passive', 'NO_SOCKET');
const reasonCol = (r: string | null) => (r ?? '-').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let lab: Lab;
before(() => {
  lab = Lab.create('cli');
});
after(() => lab?.destroy());

const OUR_PROGRAMS = /^(tp_btf_|tp_send_|tp_receive_|tp_set_state|tp_kfree_skb|tp_retransmit_|tp_sk_error|fentry_|kprobe_)/;

/** The kernel frees a program after its last reference goes (RCU, a workqueue):
 * give it up to 3 s before calling a program leaked. */
async function stillLoaded(progs: Array<{ id: number; name: string }>): Promise<Array<{ id: number; name: string }>> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const left = new Set(loadedPrograms().map((p) => p.id));
    const remaining = progs.filter((p) => left.has(p.id));
    if (!remaining.length || Date.now() > deadline) return remaining;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('tcpwhy watch', () => {
  test('--json: every line is one event matching docs/events.md, then the summary; programs are gone after SIGINT', async () => {
    const before = new Set(loadedPrograms().map((p) => p.id));
    const cli = startCli(['watch', '--json', '--netns', lab.server.ns, '--netns', String(lab.client.netns)]);
    await cli.ready;
    const ours = loadedPrograms().filter((p) => !before.has(p.id) && OUR_PROGRAMS.test(p.name));
    assert.ok(ours.length >= 3, `expected tcpwhy's programs to be loaded, saw ${JSON.stringify(ours)}`);
    await labCase('close-unread').run(lab, 6, 9100);
    await labCase('closed-port').run(lab, 4, 9101);
    await new Promise((r) => setTimeout(r, 300));
    const run = await cli.stop('SIGINT');
    assert.equal(run.code, 0, run.stderr);
    const all = run.stdout.trim().split('\n');
    // 4 RSTs, the 2 errors their receivers' applications saw, the summary
    assert.equal(all.length, 7, run.stdout);
    for (const line of all) {
      const obj = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual(watchLineProblems(obj), [], line);
    }
    // a few RSTs: every one shown in full, and the summary says so
    const summary = JSON.parse(all.at(-1)!) as {
      type: string;
      rsts: { sent: number; received: number };
      shown: number;
      counted_only: number;
      lost: number;
      loss: { errors: number; shown: number };
    };
    assert.equal(summary.type, 'summary');
    assert.deepEqual([summary.rsts, summary.shown, summary.counted_only, summary.lost], [{ sent: 2, received: 2 }, 4, 0, 0]);
    assert.deepEqual([summary.loss.errors, summary.loss.shown], [2, 2]);
    const lines = all
      .slice(0, -1)
      .map((l) => JSON.parse(l) as { type?: string; direction: string; reason: string | null; family: string; cause: { id: string } });
    const events = lines.filter((e) => e.type === undefined);
    assert.deepEqual(events.map((e) => `${e.direction}/${e.reason}/${e.family}`).sort(), [
      'received/null/ipv4',
      'received/null/ipv6',
      `sent/${noSocket}/ipv4`,
      `sent/${k.reason('active', 'TCP_ABORT_ON_CLOSE')}/ipv6`,
    ]);
    // what the applications saw of the received ones
    assert.deepEqual(
      lines
        .filter((e) => e.type === 'error')
        .map((e) => `${e.reason}/${e.cause.id}`)
        .sort(),
      ['ECONNREFUSED/reset-seen-by-app', 'ECONNRESET/reset-seen-by-app'],
    );
    assert.match(run.stderr, /tcpwhy: 6 events; 0 events lost/);
    assert.deepEqual(await stillLoaded(ours), [], 'programs still loaded after exit');
  });

  test('SIGTERM and --duration also detach cleanly', async () => {
    const before = new Set(loadedPrograms().map((p) => p.id));
    const cli = startCli(['watch', '--netns', lab.server.ns]);
    await cli.ready;
    const ours = loadedPrograms().filter((p) => !before.has(p.id) && OUR_PROGRAMS.test(p.name));
    assert.ok(ours.length >= 3);
    const run = await cli.stop('SIGTERM');
    assert.equal(run.code, 0, run.stderr);
    const timed = await runCli(['watch', '--duration', '0.5', '--netns', lab.server.ns]);
    assert.equal(timed.code, 0, timed.stderr);
    assert.deepEqual(await stillLoaded(ours), []);
    assert.deepEqual(await stillLoaded(loadedPrograms().filter((p) => !before.has(p.id) && OUR_PROGRAMS.test(p.name))), []);
  });

  test('table with --stacks: header, one row per RST, its verdict and the kernel stack under it', async () => {
    const cli = startCli(['watch', '--stacks', '--netns', lab.server.ns]);
    await cli.ready;
    await labCase('closed-port').run(lab, 4, 9102);
    await new Promise((r) => setTimeout(r, 300));
    const run = await cli.stop();
    const lines = run.stdout.split('\n');
    assert.match(lines[0]!, /^TIME\s+PID\s+COMM\s+LOCAL\s+REMOTE\s+STATE\s+DIR\s+KIND\s+REASON$/);
    const row = lines.find((l) => l.includes('192.0.2.2:9102'));
    assert.ok(row, run.stdout);
    assert.match(row, new RegExp(`192\\.0\\.2\\.2:9102\\s+192\\.0\\.2\\.1:\\d+\\s+-\\s+SENT passive ${reasonCol(noSocket)}(\\s|$)`));
    const idx = lines.indexOf(row);
    // certain with the kernel's reason (6.10+), or without one from the stack: tcp_v4_rcv sends an RST without a socket only when its lookup failed
    assert.match(
      lines[idx + 1]!,
      /^\s+=> no-listener \[high\]: nothing listens on 192\.0\.2\.2:9102 in this namespace: the connection was refused \(ECONNREFUSED\)$/,
    );
    assert.match(lines[idx + 2]!, /^\s+tcp_v4_send_reset\+0x[0-9a-f]+$/);
  });

  test('--count: events counted by cause, stack and reason, printed at exit', async () => {
    const cli = startCli(['watch', '--count', '--netns', lab.server.ns]);
    await cli.ready;
    for (let i = 0; i < 3; i++) await labCase('closed-port').run(lab, 4, 9103);
    await new Promise((r) => setTimeout(r, 300));
    const run = await cli.stop();
    assert.equal(run.code, 0, run.stderr);
    // one group per distinct stack: a SYN may leave ip_finish_output2() from another call site
    // (the 6.1 guest grouped them 1 + 2, at +0x297 and +0x16c), so the groups add up to 3
    const groups = [
      ...run.stdout.matchAll(new RegExp(`^\\s+(\\d+) {2}no-listener {2}sent passive {2}reason=${reasonCol(noSocket)} {2}state=no-socket$`, 'gm')),
    ];
    assert.ok(groups.length >= 1, run.stdout);
    assert.equal(
      groups.reduce((n, m) => n + Number(m[1]), 0),
      3,
      run.stdout,
    );
    assert.match(run.stdout, /^\s+tcp_v4_send_reset\+0x/m);
  });
});

describe('errors', () => {
  const noStackTrace = (s: string) => assert.doesNotMatch(s, /^\s+at .+\(.*:\d+:\d+\)$/m, 'no stack trace for the user');

  test('--events drops --count: only drops, counted by cause and reason; the table shows a drop row and its verdict', async () => {
    const reject = lossScenario('firewall-reject') as PairScenario;
    const count = startCli(['watch', '--events', 'drops', '--count', '--netns', lab.server.ns, '--netns', String(lab.client.netns)]);
    await count.ready;
    await reject.run(lab, 4, 9105);
    await new Promise((r) => setTimeout(r, 300));
    const counted = await count.stop('SIGINT');
    assert.equal(counted.code, 0, counted.stderr);
    assert.match(counted.stderr, /watching TCP drops via .*tp(_btf)?_kfree_skb/);
    // the SYN the firewall rejected; not the RST it made, nor the error the client saw
    assert.match(counted.stdout, /^\s+1\s+firewall-drop\s+drop in\s+reason=NETFILTER_DROP/m, counted.stdout);
    assert.doesNotMatch(counted.stdout, /netfilter-reject|reset-seen-by-app|connection-refused/);
    // the scenario loads its rule into a table of its own: gone before it runs again
    lab.nft(lab.server, 'delete table inet tcpwhy_fw');
    const table = startCli(['watch', '--events', 'drops,errors', '--netns', lab.server.ns, '--netns', String(lab.client.netns)]);
    await table.ready;
    await reject.run(lab, 6, 9106);
    await new Promise((r) => setTimeout(r, 300));
    const shown = await table.stop('SIGINT');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /DROP in\s+NETFILTER_DROP\n\s+=> firewall-drop \[high\]: the firewall rule "tcp dport 9106 reject with tcp reset" rejected/);
    assert.match(shown.stdout, /ERR\s+-\s+ECONNREFUSED\n\s+=> reset-seen-by-app \[high\]/);
    assert.doesNotMatch(shown.stdout, /RECV|SENT/);
  });

  test('without CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN: exit 2 naming the capabilities', async () => {
    const run = await runCli(['watch', '--duration', '1'], {
      // capsh drops them from the bounding set too, so root cannot get them back
      wrap: ['capsh', '--drop=cap_bpf,cap_perfmon,cap_sys_admin', '--', '-c', 'exec "$0" "$@"'],
    });
    assert.equal(run.code, 2, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /CAP_BPF/);
    assert.match(run.stderr, /what to do: run it as root/);
    noStackTrace(run.stderr);
  });

  test('kernel without BTF: exit 2 naming BTF and --btf', async () => {
    const run = await runCli(['watch', '--duration', '1'], {
      env: { ...process.env, TCPWHY_KERNEL_BTF: '/nonexistent/vmlinux' },
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /no BTF type information/);
    assert.match(run.stderr, /CONFIG_DEBUG_INFO_BTF=y/);
    assert.match(run.stderr, /--btf FILE/);
    noStackTrace(run.stderr);
  });

  test('--btf with a missing file, bad options, unknown command: exit 2', async () => {
    for (const args of [
      ['watch', '--btf', '/nonexistent.btf', '--duration', '1'],
      ['watch', '--port', '0'],
      ['watch', '--bogus'],
      ['watch', '--netns', 'no-such-namespace-here'],
      ['frobnicate'],
    ]) {
      const run = await runCli(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /^tcpwhy: /);
      noStackTrace(run.stderr);
    }
  });
});

describe('the installed command and its output', () => {
  test('bin/tcpwhy (the package bin, with its node flags) runs watch', async () => {
    const child = spawn(path.join(packageRoot, 'bin', 'tcpwhy'), ['watch', '--duration', '0.3', '--netns', lab.server.ns], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0, err);
    assert.match(out, /^TIME\s+PID/);
    assert.match(err, /tcpwhy: 0 events; 0 events lost/);
  });

  test('a reader that goes away (| head): tcpwhy stops cleanly on EPIPE', async () => {
    const cli = startCli(['watch', '--json', '--netns', lab.server.ns]);
    try {
      await cli.ready;
      await labCase('closed-port').run(lab, 4, 9110);
      // generous: under emulation (the kernel matrix) a verdict waits seconds for its host snapshot
      const deadline = Date.now() + 60000;
      while (!cli.stdout() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(cli.stdout(), 'the first event was printed');
      cli.closeStdout();
      // the next write fails with EPIPE
      await labCase('closed-port').run(lab, 4, 9111);
      const run = await Promise.race([cli.exited, new Promise<null>((r) => setTimeout(() => r(null), 60000))]);
      assert.ok(run, 'tcpwhy did not stop after its output was closed');
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /output was closed \(EPIPE\)/);
      noTrace(run.stderr);
    } finally {
      // a failed check must not leave the watcher running (the file would wait for it)
      await cli.stop('SIGKILL');
    }
  });
});

function noTrace(s: string): void {
  assert.doesNotMatch(s, /^\s+at .+\(.*:\d+:\d+\)$/m);
}
