// Every lab case, in each of its families, against the real kernel: the
// watcher runs around the case (on the lab's two namespaces, as the runner
// does) and the test checks the raw facts a diagnosis will rest on: the
// primary event exists and has the direction, kind, reason, state, tuples,
// owner and stack the case says, and that the diagnosis gave the primary event
// exactly the case's expected cause, with the facts the case knows in its
// evidence (checkVerdict, the same check `tcpwhy lab` makes). Each run is
// also recorded (tcpdump on the server's veth1) and the capture's analysis
// must agree with the live verdicts: every RST on the wire is one the watcher
// saw sent, by the same endpoint, of the same kind and cause (checkCapture,
// as `tcpwhy lab` does).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Lab } from '../../src/lab/netns.js';
import { kernelUnderTest } from '../helpers/kernel.js';
import { CASES, labCase, type CaseRun, type Family } from '../../src/lab/cases.js';
import type { RstEvent } from '../../src/events/event.js';
import { captureDuring, stackHas as stackHasRaw } from '../helpers/capture.js';
import { recordingsDir } from '../helpers/recordings.js';
import { checkVerdict } from '../../src/lab/run.js';
import { startRecording } from '../../src/lab/record.js';
import { agreementText, checkCapture, matchFor, type CaptureComparison } from '../../src/lab/compare.js';

interface Ran {
  lab: Lab;
  family: Family;
  port: number;
  run: CaseRun;
  events: RstEvent[];
  /** the last event matching run.primary */
  primary: RstEvent;
  serverAddr: string;
  clientAddr: string;
  /** the run's capture against its live events */
  capture: CaptureComparison;
}

const recDir = recordingsDir('labcases');

/**
 * The stack, when captured, has fn. A stack can be "lost" (its hash bucket in
 * the kernel's stack table held another stack: bpf_get_stackid without
 * REUSE_STACKID), which the event says; the facts checked here are others.
 */
const stackHas = (e: RstEvent, fn: string) => e.stack_status === 'lost' || stackHasRaw(e, fn);

const onPort = (e: RstEvent, port: number) => [e.packet, e.socket].some((t) => t && (t.lport === port || t.rport === port));

function primaryOf(events: RstEvent[], p: CaseRun['primary']): RstEvent | undefined {
  return events.filter((e) => e.netns === p.netns && e.direction === p.direction && (p.kind === undefined || e.kind === p.kind) && (p.port === undefined || onPort(e, p.port))).at(-1);
}

let nextPort = 9400;

/**
 * Runs one case in a fresh lab under the watcher, recorded; `minEvents`: how
 * many events the case makes at least; `unseen`: the causes of sent RSTs that
 * never reach the wire (dropped on purpose by the case).
 */
async function runCase(name: string, family: Family, minEvents: number, unseen: string[], t: { diagnostic(s: string): void }): Promise<Ran> {
  const c = labCase(name);
  assert.ok(c.families.includes(family));
  const port = (nextPort += 10);
  const lab = Lab.create('case');
  const pcap = path.join(recDir(), `${name}-v${family}.pcap`);
  try {
    const t0 = Date.now();
    const rec = await startRecording(lab.server.ns, 'veth1', pcap);
    let cap;
    try {
      cap = await captureDuring({ netns: [lab.client.netns, lab.server.netns] }, () => c.run(lab, family, port), { minEvents });
    } finally {
      const recorded = await rec.stop();
      assert.equal(recorded.dropped, 0, 'the recording lost no packet');
    }
    t.diagnostic(`${name} IPv${family}: run() took ${Date.now() - t0} ms with the watcher's settling and the recording; ${cap.events.length} events`);
    assert.equal(cap.summary.counters.ringbufFull + cap.summary.counters.recursionMisses, 0, 'no event lost');
    const run = cap.result;
    assert.match(run.story, /\S/);
    assert.match(run.clientSaw, /\S/);
    const primary = primaryOf(cap.events, run.primary);
    assert.ok(primary, `no event matches the primary ${JSON.stringify(run.primary)}: ${JSON.stringify(cap.events)}`);
    assert.deepEqual(checkVerdict(c, run, cap.events).problems, [], `verdict of ${name}: ${JSON.stringify(primary.cause)}`);
    for (const e of cap.events) assert.ok(e.cause, 'every event is diagnosed');
    // the capture explains every RST on the wire as the live watcher did
    const capture = await checkCapture(pcap, cap.events);
    const pairs = capture.matched.map((m) => `frame ${m.reset.frame} ${m.reset.sender} ${m.reset.kind} ${m.reset.cause.id} ~ ${m.live.cause?.id} (${m.agreement})`);
    t.diagnostic(`capture: ${agreementText(capture)}; ${pairs.join('; ')}`);
    assert.deepEqual(capture.problems, [], `the capture disagrees with the live verdicts (${pairs.join('; ')})`);
    assert.ok(capture.matched.length > 0, 'at least one RST on the wire');
    assert.deepEqual(capture.unseen.map((e) => e.cause?.id), unseen, 'sent RSTs missing from the wire');
    const own = matchFor(capture, primary);
    assert.ok(own, `the primary's RST is in the capture: ${JSON.stringify(primary)}`);
    assert.notEqual(own.agreement, 'disagrees');
    rmSync(pcap, { force: true });
    const v4 = family === 4;
    return {
      lab,
      family,
      port,
      run,
      events: cap.events,
      primary,
      serverAddr: v4 ? lab.server.v4 : lab.server.v6,
      clientAddr: v4 ? lab.client.v4 : lab.client.v6,
      capture,
    };
  } finally {
    lab.destroy();
  }
}

const fam = (f: Family) => (f === 4 ? 'ipv4' : 'ipv6');
const sendReset = (f: Family) => (f === 4 ? 'tcp_v4_send_reset' : 'tcp_v6_send_reset');
const json = (x: unknown) => JSON.stringify(x);
const kernel = kernelUnderTest();

/** The connection's tuple seen from the server: the server's address and port, the client's. */
function assertServerTuple(r: Ran, t: RstEvent['packet'], port = r.port) {
  assert.deepEqual(t, { laddr: r.serverAddr, lport: port, raddr: r.clientAddr, rport: r.run.clientPort ?? t?.rport });
}

/** The same tuple seen from the client. */
function assertClientTuple(r: Ran, t: RstEvent['socket']) {
  assert.deepEqual(t, { laddr: r.clientAddr, lport: r.run.clientPort ?? t?.lport, raddr: r.serverAddr, rport: r.port });
}

// `reason`: what the kernel says where it gives reasons (6.10+; active ones 6.12+); kernelUnderTest() maps it
function assertActiveFrom(r: Ran, e: RstEvent, netns: number, reason: string, state: string) {
  assert.equal(e.direction, 'sent');
  assert.equal(e.kind, 'active');
  assert.equal(e.reason, kernel.reason('active', reason), json(e));
  assert.equal(e.state, state, json(e));
  assert.equal(e.netns, netns);
  assert.equal(e.family, fam(r.family));
  assert.equal(e.packet, null);
  assert.equal(e.segment, null);
  assert.notEqual(e.sock_cookie, null);
  assert.ok(stackHas(e, 'tcp_send_active_reset'), e.stack?.join('\n'));
}

function assertPassiveFrom(r: Ran, e: RstEvent, reason: string, state: string | null) {
  assert.equal(e.direction, 'sent');
  assert.equal(e.kind, 'passive');
  assert.equal(e.reason, kernel.reason('passive', reason), json(e));
  assert.equal(e.state, state, json(e));
  assert.equal(e.netns, r.lab.server.netns);
  assert.equal(e.family, fam(r.family));
  assert.ok(stackHas(e, sendReset(r.family)), e.stack?.join('\n'));
}

/** The client's reception of the RST, owned by `pid` when given. */
function assertClientReceived(r: Ran, state: string, pid?: number) {
  const port = r.run.clientPort;
  const rc = r.events.filter(
    (e) => e.direction === 'received' && e.netns === r.lab.client.netns && onPort(e, r.port) && (port === undefined || e.socket?.lport === port),
  );
  assert.equal(rc.length, 1, json(r.events));
  assert.equal(rc[0]!.state, state);
  assertClientTuple(r, rc[0]!.socket);
  if (pid !== undefined) assert.equal(rc[0]!.owner?.pid, pid);
  assert.ok(stackHas(rc[0]!, 'tcp_reset'));
}

type Check = (r: Ran) => void;

/**
 * Per case: the least number of events it makes, what its events must show,
 * and (unseen) the causes of sent RSTs the case drops before the wire.
 */
const CHECKS: Record<string, { minEvents: number; unseen?: string[]; check: Check }> = {
  'closed-port': {
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertPassiveFrom(r, e, 'NO_SOCKET', null);
      assert.equal(e.socket, null);
      assert.equal(e.owner, null);
      assertServerTuple(r, e.packet);
      assert.equal(e.segment?.flags, 'SYN');
      assert.equal(r.run.facts['port'], r.port);
      assertClientReceived(r, 'SYN_SENT');
    },
  },
  'listener-exited': {
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertPassiveFrom(r, e, 'NO_SOCKET', null);
      assert.equal(e.socket, null);
      assertServerTuple(r, e.packet);
      assert.equal(e.segment?.flags, 'SYN');
      assert.equal(r.events.filter((x) => x.direction === 'sent').length, 1, 'the listener exited without an RST');
      assert.equal(r.run.facts['listener_comm'], 'node');
      assert.ok(Number(r.run.facts['listener_pid']) > 0);
      assertClientReceived(r, 'SYN_SENT');
    },
  },
  'close-unread': {
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertActiveFrom(r, e, r.lab.server.netns, 'TCP_ABORT_ON_CLOSE', 'CLOSE');
      assertServerTuple(r, e.socket);
      assert.equal(e.queues?.rcv_unread, 5);
      assert.equal(r.run.facts['unread_bytes'], 5);
      assert.equal(e.linger?.on, false);
      assert.equal(e.process.pid, r.run.facts['pid'], 'close() runs in the server process');
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.owner?.comm, r.run.facts['comm']);
      assert.ok(stackHas(e, '__tcp_close'), e.stack?.join('\n'));
      assert.ok(!stackHasRaw(e, 'tcp_disconnect'));
      assertClientReceived(r, 'ESTABLISHED');
    },
  },
  'linger-zero': {
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertActiveFrom(r, e, r.lab.client.netns, 'TCP_STATE', 'CLOSE');
      assertClientTuple(r, e.socket);
      assert.deepEqual(e.linger, { on: true, seconds: 0 });
      assert.equal(e.queues?.rcv_unread, 0);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.process.pid, r.run.facts['pid']);
      assert.ok(stackHas(e, 'tcp_disconnect') && stackHas(e, '__tcp_close'), e.stack?.join('\n'));
    },
  },
  'data-after-close': {
    minEvents: 3,
    check: (r) => {
      const e = r.primary;
      assertPassiveFrom(r, e, 'TCP_ABORT_ON_DATA', 'CLOSE');
      // the closed socket still exists: both tuples, and its owner is the process that closed it
      assertServerTuple(r, e.packet);
      assert.deepEqual(e.socket, e.packet);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.segment?.flags, 'PSH|ACK');
      assert.equal(e.segment?.len, 5);
      assert.equal(e.queues?.rcv_unread, 0, 'nothing was unread when the server closed');
      assert.ok(stackHas(e, r.family === 4 ? 'tcp_v4_do_rcv' : 'tcp_v6_do_rcv'));
      // tcp_reset() on the server's own socket (FIN_WAIT2 + data) fires the
      // receive tracepoint although no RST arrived: a "received" event on the
      // sender, just before its RST
      const srv = r.events.filter((x) => x.direction === 'received' && x.netns === r.lab.server.netns);
      assert.equal(srv.length, 1, json(r.events));
      assert.equal(srv[0]!.state, 'FIN_WAIT2');
      assert.equal(srv[0]!.sock_cookie, e.sock_cookie);
      assert.ok(srv[0]!.mono_ns <= e.mono_ns);
      assert.ok(stackHas(srv[0]!, 'tcp_rcv_state_process'));
      assertClientReceived(r, 'CLOSE_WAIT');
    },
  },
  'accept-overflow-abort': {
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertPassiveFrom(r, e, 'INVALID_SYN', 'LISTEN');
      assertServerTuple(r, e.packet);
      assert.deepEqual(e.socket, { laddr: r.serverAddr, lport: r.port, raddr: '0.0.0.0', rport: 0 });
      assert.deepEqual(e.accept_queue, { len: 2, max: 1 });
      assert.equal(r.run.facts['backlog'], 1);
      assert.equal(e.owner?.pid, r.run.facts['listener_pid']);
      assert.equal(e.segment?.flags, 'PSH|ACK');
      assert.equal(e.segment?.len, 5);
      assert.ok(stackHas(e, 'tcp_check_req'), e.stack?.join('\n'));
      // the overflow is the only passive RST; the listener's exit then resets the 2 queued connections
      const passive = r.events.filter((x) => x.kind === 'passive');
      assert.equal(passive.length, 1, json(r.events));
    },
  },
  'accept-overflow-silent': {
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      const quiet = r.run.quietUntilMono;
      assert.ok(quiet !== undefined, 'the case returns the end of its quiet window');
      const early = r.events.filter((x) => x.direction === 'sent' && x.netns === r.lab.server.netns && x.mono_ns < quiet);
      assert.deepEqual(early, [], 'no RST from the server while the accept queue overflowed');
      assert.ok(e.mono_ns > quiet);
      assertPassiveFrom(r, e, 'TCP_FLAGS', 'LISTEN');
      assertServerTuple(r, e.packet);
      assert.deepEqual(e.socket, { laddr: r.serverAddr, lport: r.port, raddr: '0.0.0.0', rport: 0 });
      assert.deepEqual(e.accept_queue, { len: 2, max: 1 });
      assert.equal(e.owner?.pid, r.run.facts['listener_pid']);
      assert.equal(e.segment?.len, 5, 'a retransmission of the client\'s data');
      assert.ok(!stackHasRaw(e, 'tcp_check_req'), 'no request sock any more: the segment reached the listener');
      assertClientReceived(r, 'ESTABLISHED');
    },
  },
  'keepalive-timeout': {
    minEvents: 1,
    check: (r) => {
      const e = r.primary;
      assertActiveFrom(r, e, r.lab.client.netns, 'TCP_KEEPALIVE_TIMEOUT', 'ESTABLISHED');
      assertClientTuple(r, e.socket);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.owner?.comm, r.run.facts['comm']);
      assert.ok(stackHas(e, 'tcp_keepalive_timer'), e.stack?.join('\n'));
      assert.equal(r.events.filter((x) => x.direction === 'received').length, 0, 'the server dropped the RST');
    },
  },
  'peer-restarted': {
    minEvents: 3,
    // the nft rule that makes the old server vanish drops its RST on the way out
    unseen: ['close-with-unread-data'],
    check: (r) => {
      const e = r.primary;
      // with a listener on the port, the segment of the forgotten connection reaches it
      assertPassiveFrom(r, e, 'TCP_FLAGS', 'LISTEN');
      assertServerTuple(r, e.packet);
      assert.deepEqual(e.socket, { laddr: r.serverAddr, lport: r.port, raddr: '0.0.0.0', rport: 0 });
      assert.equal(e.owner?.pid, r.run.facts['listener_pid']);
      assert.equal(e.segment?.flags, 'PSH|ACK');
      assert.equal(e.segment?.len, 5);
      assert.ok(stackHas(e, r.family === 4 ? 'tcp_v4_do_rcv' : 'tcp_v6_do_rcv'));
      // history: the old server's abort (its RST dropped on the way out) on the same connection
      const old = r.events.filter((x) => x.direction === 'sent' && x.kind === 'active');
      assert.equal(old.length, 1, json(r.events));
      assert.equal(old[0]!.reason, kernel.reason('active', 'TCP_ABORT_ON_CLOSE'));
      assert.equal(old[0]!.owner?.pid, r.run.facts['old_pid']);
      assert.deepEqual(old[0]!.socket, e.packet);
      assertClientReceived(r, 'ESTABLISHED');
    },
  },
  'nat-conntrack-lost': {
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertPassiveFrom(r, e, 'NO_SOCKET', null);
      assert.equal(r.run.facts['redirected_port'], r.port + 1);
      assert.match(String(r.run.facts['rule']), new RegExp(`dport ${r.port} redirect to :${r.port + 1}`));
      // the untranslated tuple: the original port, where nothing listens
      assertServerTuple(r, e.packet, r.port);
      assert.equal(e.socket, null);
      assert.equal(e.segment?.flags, 'PSH|ACK');
      assert.equal(e.segment?.len, 5);
      assertClientReceived(r, 'ESTABLISHED');
    },
  },
  'rst-received': {
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assert.equal(e.direction, 'received');
      assert.equal(e.kind, null);
      assert.equal(e.reason, null);
      assert.equal(e.state, 'ESTABLISHED');
      assert.equal(e.netns, r.lab.client.netns);
      assertClientTuple(r, e.socket);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.owner?.comm, r.run.facts['comm']);
      assert.ok(stackHas(e, 'tcp_reset'));
      const sent = r.events.filter((x) => x.direction === 'sent');
      assert.equal(sent.length, 1);
      assertActiveFrom(r, sent[0]!, r.lab.server.netns, 'TCP_STATE', 'CLOSE');
      assert.deepEqual(sent[0]!.linger, { on: true, seconds: 0 });
      assert.equal(sent[0]!.socket?.rport, e.socket?.lport);
      // no order asserted: the active reset's tracepoint fires after the
      // transmit, and over a veth the peer receives it within that transmit
    },
  },
  'socket-destroyed': {
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertActiveFrom(r, e, r.lab.client.netns, 'TCP_STATE', 'ESTABLISHED');
      assertClientTuple(r, e.socket);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.process.comm, 'ss', 'the RST is sent in the task that destroyed the socket');
      assert.ok(stackHas(e, 'tcp_abort') && stackHas(e, 'tcp_diag_destroy'), e.stack?.join('\n'));
    },
  },
  'fin-wait2-linger-negative': {
    minEvents: 2,
    check: (r) => {
      const e = r.primary;
      assertActiveFrom(r, e, r.lab.client.netns, 'TCP_ABORT_ON_LINGER', 'CLOSE');
      assertClientTuple(r, e.socket);
      assert.equal(e.owner?.pid, r.run.facts['pid']);
      assert.equal(e.process.pid, r.run.facts['pid']);
      assert.ok(stackHas(e, '__tcp_close') && !stackHasRaw(e, 'tcp_disconnect'), e.stack?.join('\n'));
    },
  },
  'listener-closed-with-pending': {
    minEvents: 4,
    check: (r) => {
      const resets = r.events.filter((x) => x.direction === 'sent');
      assert.equal(resets.length, 2, json(r.events));
      for (const e of resets) {
        assertActiveFrom(r, e, r.lab.server.netns, 'TCP_STATE', 'CLOSE');
        assert.equal(e.socket?.lport, r.port);
        assert.equal(e.owner?.pid, r.run.facts['pid'], 'queued connections belong to the listener\'s process');
        assert.equal(e.process.pid, r.run.facts['pid']);
        assert.ok(stackHas(e, 'inet_csk_listen_stop') && stackHas(e, 'tcp_disconnect'), e.stack?.join('\n'));
      }
      assert.equal(r.primary, resets.at(-1));
    },
  },
};

test('every case has checks', () => {
  assert.deepEqual(CASES.map((c) => c.name).sort(), Object.keys(CHECKS).sort());
});

for (const c of CASES) {
  for (const family of c.families) {
    test(`${c.name} IPv${family}: ${c.title}`, async (t) => {
      const spec = CHECKS[c.name];
      assert.ok(spec, `no checks for ${c.name}`);
      const r = await runCase(c.name, family, spec.minEvents, spec.unseen ?? [], t);
      spec.check(r);
    });
  }
}
