// Host context read from real namespaces this test makes: a listener with a full
// story (backlog, queued connections, owner), a sysctl set inside the namespace
// only, REDIRECT rules of iptables and nft, a conntrack entry across the REDIRECT,
// the cache, a bogus namespace, and a fresh namespace that reading must leave
// exactly as it was (no table, no conntrack). Nothing outside the namespaces is
// changed; they are deleted in `after`, and by an exit hook if the run dies.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { netnsInodeByName } from '../../src/kernel/netns.js';
import { takeSnapshot } from '../../src/host/snapshot.js';
import { HostContext } from '../../src/host/context.js';
import { netnsPath } from '../../src/host/netns-path.js';
import { runInNetns } from '../../src/host/run.js';
import type { HostSnapshot } from '../../src/host/types.js';

const id = randomBytes(3).toString('hex');
const NS = `tcpwhy-host-${id}`; // listeners, rules, conntrack
const FRESH = `tcpwhy-host-${id}-f`; // nothing: reading must not change it
const LISTEN_PORT = 9300; // backlog 7, two connections never accepted
const TARGET_PORT = 9301; // REDIRECT target
const NFT_PORT = 8081; // nft: redirect to TARGET_PORT
const COMM = 'tw "q,(x'; // quotes, a comma, a parenthesis, a space
const children: ChildProcess[] = [];
const made: string[] = [];

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (ns: string, cmd: string, ...args: string[]) => run('ip', ['netns', 'exec', ns, cmd, ...args]);

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const ns of made.splice(0)) {
    try {
      run('ip', ['netns', 'del', ns]);
    } catch {
      /* gone */
    }
  }
}
process.on('exit', cleanup);

/** Starts node in a namespace and waits for its first line. */
async function nodeIn(ns: string, code: string): Promise<ChildProcess> {
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  const line = await Promise.race([
    once(createInterface({ input: c.stdout! }), 'line').then(([l]) => l as string),
    once(c, 'exit').then(([code]) => `exited ${code}`),
  ]);
  assert.equal(line, 'ready', `child in ${ns}`);
  return c;
}

/** A /proc file of the namespace, or "(absent)": x_tables and conntrack files exist only once their modules are loaded. */
const procFile = (ns: string, file: string) => inNs(ns, 'sh', '-c', 'cat "$1" 2>/dev/null || echo "(absent)"', 'sh', file).trim();

/** The netfilter state of a namespace that reading must not change (a module loaded by the reading shows too). */
function netfilterState(ns: string) {
  const conntrackCount = procFile(ns, '/proc/sys/net/netfilter/nf_conntrack_count');
  return {
    ruleset: inNs(ns, 'nft', 'list', 'ruleset'),
    legacyTables: `${procFile(ns, '/proc/net/ip_tables_names')}|${procFile(ns, '/proc/net/ip6_tables_names')}`,
    conntrackCount,
    // `conntrack -S` would load nf_conntrack itself: asked only where it is loaded
    conntrackStats: conntrackCount === '(absent)' ? '(not loaded)' : inNs(ns, 'conntrack', '-S').replace(/\s+/g, ' '),
  };
}

let nsIno = 0;
let freshIno = 0;
let listener: ChildProcess;
let snap: HostSnapshot;
const rootAbortOnOverflow = readFileSync('/proc/sys/net/ipv4/tcp_abort_on_overflow', 'utf8');

before(async () => {
  for (const ns of [NS, FRESH]) {
    run('ip', ['netns', 'add', ns]);
    made.push(ns);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  nsIno = netnsInodeByName(NS);
  freshIno = netnsInodeByName(FRESH);
  inNs(NS, 'sysctl', '-q', '-w', 'net.ipv4.tcp_abort_on_overflow=1');
  inNs(NS, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-d', '127.0.0.1', '-p', 'tcp', '--dport', '8080', '-j', 'REDIRECT', '--to-ports', String(TARGET_PORT));
  inNs(NS, 'ip6tables', '-A', 'INPUT', '-p', 'tcp', '--dport', '7', '-j', 'REJECT', '--reject-with', 'tcp-reset');
  inNs(NS, 'iptables-legacy', '-A', 'INPUT', '-p', 'tcp', '--dport', '7', '-j', 'REJECT', '--reject-with', 'tcp-reset');
  inNs(
    NS,
    'nft',
    `add table inet twtest
    add chain inet twtest out { type nat hook output priority -100; }
    add rule inet twtest out ip daddr 127.0.0.1 tcp dport ${NFT_PORT} redirect to :${TARGET_PORT}`,
  );
  // listens on both ports, then blocks its event loop: it never accepts
  listener = await nodeIn(
    NS,
    `require('fs').writeFileSync('/proc/self/comm', ${JSON.stringify(COMM)});
     const net = require('net'); let n = 0;
     const up = () => { if (++n < 2) return; console.log('ready');
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600000); };
     net.createServer().listen({ host: '127.0.0.1', port: ${LISTEN_PORT}, backlog: 7 }, up);
     net.createServer().listen({ host: '127.0.0.1', port: ${TARGET_PORT}, backlog: 16 }, up);`,
  );
  // two connections to the listener, one to 8080 (REDIRECTed to the target port)
  await nodeIn(
    NS,
    `const net = require('net'); let n = 0; const keep = [];
     const c = (port) => keep.push(net.connect(port, '127.0.0.1', () => { if (++n === 3) console.log('ready'); }));
     c(${LISTEN_PORT}); c(${LISTEN_PORT}); c(8080);`,
  );
  snap = await takeSnapshot(nsIno);
});

after(cleanup);

describe('takeSnapshot of a namespace with a listener, rules and conntrack', () => {
  test('the listener: accept queue 2, backlog 7, its pid and raw name', () => {
    const l = snap.listeners.find((x) => x.lport === LISTEN_PORT);
    assert.ok(l, JSON.stringify(snap.listeners));
    assert.equal(l.laddr, '127.0.0.1');
    assert.equal(l.queue, 2);
    assert.equal(l.backlog, 7);
    assert.deepEqual(l.processes, [{ pid: listener.pid, comm: COMM }]);
  });

  test('tcp_abort_on_overflow is 1 in the namespace, the root namespace is untouched', () => {
    assert.equal(snap.sysctls['net.ipv4.tcp_abort_on_overflow'], '1');
    assert.equal(readFileSync('/proc/sys/net/ipv4/tcp_abort_on_overflow', 'utf8'), rootAbortOnOverflow);
    for (const k of ['net.core.somaxconn', 'net.ipv4.tcp_syncookies', 'net.netfilter.nf_conntrack_tcp_loose', 'net.ipv4.tcp_max_orphans', 'net.ipv4.tcp_mem']) {
      assert.match(snap.sysctls[k] ?? '', /^\d+(\t\d+)*$/, k);
    }
  });

  test('the REDIRECT rules, with dport and toPort: iptables once (not again from nft), nft native', () => {
    const red = snap.rules.filter((r) => r.action === 'redirect');
    assert.deepEqual(
      red.map((r) => [r.source, r.family, r.table, r.chain, r.proto, r.daddr, r.dport, r.toPort]),
      [
        ['iptables', 'ipv4', 'nat', 'OUTPUT', 'tcp', '127.0.0.1', [8080, 8080], [TARGET_PORT, TARGET_PORT]],
        ['nftables', 'inet', 'twtest', 'out', 'tcp', '127.0.0.1', [NFT_PORT, NFT_PORT], [TARGET_PORT, TARGET_PORT]],
      ],
    );
    assert.equal(red[1]!.text, `ip daddr 127.0.0.1 tcp dport ${NFT_PORT} redirect to :${TARGET_PORT}`);
  });

  test('REJECT with tcp-reset: ip6tables, and iptables-legacy (x_tables, invisible to nft)', () => {
    const rej = snap.rules.filter((r) => r.action === 'reject');
    assert.deepEqual(
      rej.map((r) => [r.source, r.legacy ?? false, r.dport, r.rejectWith]),
      [
        ['iptables', true, [7, 7], 'tcp-reset'],
        ['ip6tables', false, [7, 7], 'tcp-reset'],
      ],
    );
  });

  test('conntrack is active, for the right reasons', () => {
    assert.ok(snap.conntrack);
    assert.ok((snap.conntrack.count ?? 0) >= 3, `count ${snap.conntrack.count}`);
    assert.ok((snap.conntrack.max ?? 0) > 0);
    assert.equal(typeof snap.conntrack.stats.invalid, 'number');
    assert.ok(snap.conntrack.usedBy.includes('iptables nat rules'), snap.conntrack.usedBy.join(', '));
    assert.ok(snap.conntrack.usedBy.includes('nft nat chain inet twtest out'));
  });

  test('counters of the namespace', () => {
    for (const k of [
      'TcpExt.ListenOverflows',
      'TcpExt.ListenDrops',
      'TcpExt.TCPAbortOnClose',
      'TcpExt.TCPAbortOnData',
      'TcpExt.TCPAbortOnLinger',
      'TcpExt.TCPAbortOnMemory',
      'TcpExt.TCPAbortOnTimeout',
      'Tcp.OutRsts',
      'Tcp.EstabResets',
    ]) {
      assert.equal(typeof snap.counters[k], 'number', k);
    }
    assert.ok(snap.counters['Tcp.ActiveOpens']! >= 3, 'the three connections of this namespace');
  });

  test('nothing went wrong', () => {
    assert.deepEqual(snap.errors, []);
    assert.equal(snap.netns, nsIno);
    assert.ok(Math.abs(Date.now() - snap.takenAtMs) < 60_000);
  });

  test('takeSnapshot time: median of 10', async (t) => {
    const ms: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const s = await takeSnapshot(nsIno);
      ms.push(performance.now() - t0);
      assert.deepEqual(s.errors, []);
    }
    ms.sort((a, b) => a - b);
    const median = (ms[4]! + ms[5]!) / 2;
    t.diagnostic(`takeSnapshot median ${median.toFixed(1)} ms (min ${ms[0]!.toFixed(1)}, max ${ms[9]!.toFixed(1)})`);
    assert.ok(median < 3000);
  });
});

describe('HostContext with real snapshots', () => {
  test('concurrent fresh() calls share one snapshot; a fresh one comes back synchronously', async () => {
    let takes = 0;
    const ctx = new HostContext({
      maxAgeMs: 10_000,
      take: (n) => {
        takes++;
        return takeSnapshot(n);
      },
    });
    const ps = Array.from({ length: 5 }, () => ctx.fresh(nsIno));
    assert.ok(ps.every((p) => p === ps[0] && p instanceof Promise));
    const s = await ps[0]!;
    assert.equal(takes, 1);
    const again = ctx.fresh(nsIno);
    assert.equal(again, s, 'synchronous and the same object');
    assert.equal(ctx.latest(nsIno), s);
    assert.equal(takes, 1);
  });
});

describe('namespaces that cannot be read, or must not be changed', () => {
  test('a namespace without a name is entered through a process in it, and is gone with it', async () => {
    const c = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
    children.push(c);
    // unshare enters its new namespace, then execs sleep: wait until the pid is in another one
    const own = readlinkSync('/proc/self/ns/net');
    let ino = 0;
    for (let i = 0; i < 100 && !ino; i++) {
      await new Promise((r) => setTimeout(r, 20));
      try {
        const link = readlinkSync(`/proc/${c.pid}/ns/net`);
        if (link !== own) ino = Number(/\d+/.exec(link)![0]);
      } catch {
        /* not there yet */
      }
    }
    assert.ok(ino);
    assert.equal(netnsPath(ino), `/proc/${c.pid}/ns/net`);
    const s = await takeSnapshot(ino);
    assert.deepEqual(s.errors, []);
    assert.equal(s.sysctls['net.core.somaxconn'] !== undefined, true);
    c.kill('SIGKILL');
    await once(c, 'exit');
    assert.equal(netnsPath(ino), null);
  });

  test('a bogus namespace inode: errors say so, nothing else is made up', async () => {
    const s = await takeSnapshot(1);
    assert.equal(s.errors.length, 1, s.errors.join('\n'));
    assert.match(s.errors[0]!, /network namespace 1: no way in/);
    assert.deepEqual([s.listeners, s.rules, s.counters, s.conntrack], [[], [], {}, null]);
    assert.equal(netnsPath(1), null);
  });

  test('reading a fresh namespace creates no table and starts no conntrack', async () => {
    const before = netfilterState(FRESH);
    assert.equal(before.ruleset, '');
    assert.equal(before.conntrackCount, '0');
    const s = await takeSnapshot(freshIno);
    assert.deepEqual(netfilterState(FRESH), before);
    assert.deepEqual(s.rules, []);
    assert.equal(s.conntrack, null);
    assert.deepEqual(s.listeners, []);
    assert.deepEqual(s.errors, []);
    assert.equal(s.sysctls['net.ipv4.tcp_abort_on_overflow'], '0');
  });
});

describe('when the tools fail', () => {
  test('missing tools are errors, not empty lists; conntrack statistics then come from /proc', async () => {
    // a PATH with nsenter, sh and ss, but no iptables, nft or conntrack
    const bin = mkdtempSync(path.join(tmpdir(), 'tcpwhy-host-bin-'));
    const saved = process.env.PATH;
    try {
      for (const tool of ['nsenter', 'ss', 'cat', 'grep']) {
        const real = run('sh', ['-c', `command -v ${tool}`]).trim();
        symlinkSync(real, path.join(bin, tool));
      }
      process.env.PATH = bin;
      const s = await takeSnapshot(nsIno);
      process.env.PATH = saved;
      const e = s.errors.join('\n');
      // (the legacy filter table of the namespace cannot be read either)
      for (const what of ['iptables-save', 'iptables-legacy-save', 'ip6tables-save', 'nft -j list ruleset', 'conntrack -S']) {
        assert.ok(
          s.errors.some((x) => x.startsWith(`${what}:`)),
          `${what} in:\n${e}`,
        );
      }
      assert.ok(s.errors.includes('conntrack statistics read from /proc/net/stat/nf_conntrack instead'), e);
      assert.equal(typeof s.conntrack?.stats.invalid, 'number');
      assert.deepEqual(s.rules, []);
      assert.ok(
        s.listeners.some((l) => l.lport === LISTEN_PORT),
        'ss still read',
      );
    } finally {
      process.env.PATH = saved;
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test("a path that enters no namespace: enterFailed, with nsenter's word", async () => {
    const r = await runInNetns('/proc/999999999/ns/net', 'sec a echo hi\n', [], { timeoutMs: 3000 });
    assert.equal(r.enterFailed, true);
    assert.equal(r.sections.size, 0);
    assert.match(r.errors.join(), /nsenter: cannot open/);
  });

  test('a hung command: the timeout kills the whole process group, what came before is kept', async () => {
    const t0 = performance.now();
    const r = await runInNetns('/proc/self/ns/net', 'sec a echo hi\nsec b sleep 30\n', [], { timeoutMs: 300 });
    assert.ok(performance.now() - t0 < 5000);
    assert.equal(r.sections.get('a')?.out, 'hi\n');
    assert.equal(r.sections.has('b'), false);
    assert.match(r.errors.join(), /timed out after 300 ms/);
    assert.equal(run('sh', ['-c', 'pgrep -f "^sleep 30$" || true']).trim(), '', 'the sleep was killed too');
  });
});
