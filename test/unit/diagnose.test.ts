// The catalogue's rules on recorded event shapes: each cause is recognized
// from the facts the kernel gives, older kernels' shapes (no reason, fallback
// hooks) get a lower confidence, and the two kernel races are recognized from
// their event sequences. The shapes follow events recorded from the lab cases
// on 6.18 (tcpwhy watch --json); older-kernel shapes drop what those kernels
// do not report.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { RstEvent, StateEvent, Tuple } from '../../src/events/event.js';
import { Diagnoser } from '../../src/diagnose/engine.js';
import { History } from '../../src/diagnose/history.js';
import { CATALOGUE, causeById, CAUSES, LOSS_CAUSES } from '../../src/causes/index.js';
import type { HostSnapshot } from '../../src/host/types.js';
import { packageRoot } from '../../src/paths.js';

const NS = 4026532300;
const CLIENT_NS = 4026532299;
const T0 = 5_000_000_000_000;

function rst(over: Partial<RstEvent> & Pick<RstEvent, 'direction'>): RstEvent {
  return {
    time: '2026-11-25T00:00:00.000000000Z',
    mono_ns: T0,
    kind: null,
    reason: null,
    reason_code: null,
    state: null,
    family: 'ipv4',
    packet: null,
    socket: null,
    segment: null,
    process: { pid: 1, tid: 1, comm: 'swapper/0' },
    owner: null,
    netns: NS,
    cgroup_id: '1',
    sock_cookie: null,
    queues: null,
    linger: null,
    accept_queue: null,
    hook: 'tp_btf/tcp_send_reset',
    stack_status: 'captured',
    stack_id: null,
    stack: null,
    cause: null,
    ...over,
  };
}

const SRV = '192.0.2.2';
const CLI = '192.0.2.1';
const tup = (lport: number, rport: number, l = SRV, r = CLI): Tuple => ({ laddr: l, lport, raddr: r, rport });
const stack = (...fns: string[]) => fns.map((f, i) => `${f}+0x${(i + 1) * 16}`);
const fullSock = (unread = 0) => ({ queues: { rcv_unread: unread, snd_unacked: 0, snd_unsent: 0 }, linger: { on: false, seconds: 0 } });

function host(over: Partial<HostSnapshot> = {}): HostSnapshot {
  return { netns: NS, takenAtMs: 0, listeners: [], sysctls: {}, counters: {}, rules: [], conntrack: null, errors: [], ...over };
}

function state(over: Partial<StateEvent> & Pick<StateEvent, 'old_state' | 'new_state' | 'socket'>): StateEvent {
  return {
    mono_ns: T0 - 1e9,
    netns: NS,
    family: 'ipv4',
    sock_cookie: '77',
    process: { pid: 4121, comm: 'server' },
    owner: { pid: 4121, comm: 'server' },
    rcv_unread: null,
    ...over,
  };
}

/** The RST a closed socket's kernel sends for data that still arrives (TCP_ABORT_ON_DATA). */
function dataAfterCloseRst(conn: RstEvent['packet'], over: Partial<RstEvent> = {}): RstEvent {
  return rst({
    direction: 'sent',
    kind: 'passive',
    reason: 'TCP_ABORT_ON_DATA',
    state: 'CLOSE',
    packet: conn,
    socket: conn,
    segment: { flags: 'PSH|ACK', seq: 1, ack: 1, len: 5 },
    ...fullSock(),
    ...over,
  });
}

function diagnose(e: RstEvent, opts: { h?: HostSnapshot; states?: StateEvent[]; d?: Diagnoser } = {}) {
  const d = opts.d ?? new Diagnoser({ kernel: { version: [6, 18] } });
  for (const s of opts.states ?? []) d.addState(s);
  const v = d.diagnose(e, opts.h);
  // every verdict of this file: only evidence names its entry documents
  const declared = Object.keys(causeById(v.id)!.evidence);
  for (const k of Object.keys(v.evidence)) assert.ok(declared.includes(k), `${v.id}: evidence ${k} not documented`);
  return v;
}

// ---- events as recorded on 6.18 ----

const closeUnread = () =>
  rst({
    direction: 'sent',
    kind: 'active',
    reason: 'TCP_ABORT_ON_CLOSE',
    state: 'CLOSE',
    socket: tup(8080, 40000),
    owner: { pid: 4121, comm: 'server' },
    ...fullSock(5),
    stack: stack('tcp_send_active_reset', '__tcp_close', 'tcp_close', 'inet_release'),
  });
const lingerZero = () =>
  rst({
    direction: 'sent',
    kind: 'active',
    reason: 'TCP_STATE',
    state: 'ESTABLISHED',
    socket: tup(40000, 8080, CLI, SRV),
    owner: { pid: 900, comm: 'client' },
    queues: { rcv_unread: 0, snd_unacked: 0, snd_unsent: 0 },
    linger: { on: true, seconds: 0 },
    stack: stack('tcp_send_active_reset', 'tcp_disconnect', '__tcp_close', 'tcp_close'),
  });
const synNoSocket = (reason: string | null = 'NO_SOCKET') =>
  rst({
    direction: 'sent',
    kind: 'passive',
    reason,
    packet: tup(8080, 40000),
    segment: { flags: 'SYN', seq: 1, ack: 0, len: 0 },
    stack: stack('tcp_v4_send_reset', 'tcp_v4_rcv'),
  });
const ackNoSocket = (lport = 8080, rport = 40000) =>
  rst({
    direction: 'sent',
    kind: 'passive',
    reason: 'NO_SOCKET',
    packet: tup(lport, rport),
    segment: { flags: 'PSH|ACK', seq: 100, ack: 200, len: 5 },
    stack: stack('tcp_v4_send_reset', 'tcp_v4_rcv'),
  });
const ackToListener = (len: number, max: number, reason: string | null = 'TCP_FLAGS') =>
  rst({
    direction: 'sent',
    kind: 'passive',
    reason,
    state: 'LISTEN',
    packet: tup(8080, 40000),
    socket: tup(8080, 0, SRV, '0.0.0.0'),
    segment: { flags: 'PSH|ACK', seq: 100, ack: 200, len: 5 },
    owner: { pid: 4121, comm: 'server' },
    ...fullSock(),
    accept_queue: { len, max },
    stack: stack('tcp_v4_send_reset', 'tcp_v4_do_rcv', 'tcp_v4_rcv'),
  });

describe('active resets', () => {
  test('close with unread data: high with the reason or with __tcp_close on the stack (pre-6.10), medium from the queue alone', () => {
    const v = diagnose(closeUnread());
    assert.equal(v.id, 'close-with-unread-data');
    assert.equal(v.confidence, 'high');
    assert.equal(v.evidence['unread_bytes'], 5);
    assert.equal(v.evidence['pid'], 4121);
    assert.match(v.summary, /pid 4121 \(server\) closed the socket with 5 bytes unread/);
    // __tcp_close() checks unread data before every other way it resets: the stack and the queue make it certain
    const old = diagnose({ ...closeUnread(), reason: null, hook: 'kprobe/tcp_send_active_reset' });
    assert.deepEqual([old.id, old.confidence], ['close-with-unread-data', 'high']);
    // 6.10-6.11 report NOT_SPECIFIED for every active reset: no better than no reason
    assert.equal(diagnose({ ...closeUnread(), reason: 'NOT_SPECIFIED' }).confidence, 'high');
    // a stack over the rate limit: the queue alone
    const noStack = diagnose({ ...closeUnread(), reason: null, stack: null, stack_status: 'rate_limited' });
    assert.deepEqual([noStack.id, noStack.confidence], ['close-with-unread-data', 'medium']);
  });

  test('SO_LINGER {on, 0}: by socket facts and stack; without a stack only medium', () => {
    const v = diagnose(lingerZero());
    assert.equal(v.id, 'linger-zero-close');
    assert.equal(v.confidence, 'high');
    const noStack = diagnose({ ...lingerZero(), stack: null, stack_status: 'rate_limited', reason: null });
    assert.equal(noStack.id, 'linger-zero-close');
    assert.equal(noStack.confidence, 'medium');
  });

  test('keepalive timeout: reason, or the timer on the stack outside FIN_WAIT2 (its only other reset)', () => {
    const e = rst({
      direction: 'sent',
      kind: 'active',
      reason: 'TCP_KEEPALIVE_TIMEOUT',
      state: 'ESTABLISHED',
      socket: tup(40000, 8080, CLI, SRV),
      owner: { pid: 900, comm: 'client' },
      ...fullSock(),
      stack: stack('tcp_send_active_reset', 'tcp_keepalive_timer', 'call_timer_fn'),
    });
    const v = diagnose(e, { h: host({ sysctls: { 'net.ipv4.tcp_keepalive_probes': '2' } }) });
    assert.equal(v.id, 'keepalive-timeout');
    assert.equal(v.evidence['keepalive_probes'], '2');
    assert.deepEqual([diagnose({ ...e, reason: null }).id, diagnose({ ...e, reason: null }).confidence], ['keepalive-timeout', 'high']);
  });

  test('orphaned FIN_WAIT2 timing out is told apart from keepalive by the state', () => {
    const e = rst({
      direction: 'sent',
      kind: 'active',
      reason: 'TCP_STATE',
      state: 'FIN_WAIT2',
      socket: tup(8080, 40000),
      ...fullSock(),
      stack: stack('tcp_send_active_reset', 'tcp_keepalive_timer'),
    });
    assert.equal(diagnose(e).id, 'orphan-fin-wait2-timeout');
    assert.equal(diagnose({ ...e, reason: null }).id, 'orphan-fin-wait2-timeout');
  });

  test('memory or orphan pressure: the stack tells close from timer', () => {
    const e = rst({
      direction: 'sent',
      kind: 'active',
      reason: 'TCP_ABORT_ON_MEMORY',
      state: 'CLOSE',
      socket: tup(8080, 40000),
      ...fullSock(),
      stack: stack('tcp_send_active_reset', 'tcp_out_of_resources', 'tcp_retransmit_timer'),
    });
    const v = diagnose(e, { h: host({ sysctls: { 'net.ipv4.tcp_max_orphans': '4096' }, counters: { 'TcpExt.TCPAbortOnMemory': 3 } }) });
    assert.equal(v.id, 'orphan-or-memory-limit');
    assert.equal(v.evidence['path'], 'timer');
    assert.equal(v.evidence['tcp_max_orphans'], '4096');
    assert.equal(diagnose({ ...e, stack: stack('tcp_send_active_reset', '__tcp_close') }).evidence['path'], 'close');
  });

  test('stack-only paths: ss -K, connect(AF_UNSPEC), a listener closing with queued children', () => {
    const base = { direction: 'sent' as const, kind: 'active' as const, reason: 'TCP_STATE', state: 'ESTABLISHED', socket: tup(8080, 40000), ...fullSock() };
    const killed = diagnose(
      rst({ ...base, process: { pid: 77, tid: 77, comm: 'ss' }, stack: stack('tcp_send_active_reset', 'tcp_abort', 'inet_diag_destroy') }),
    );
    assert.equal(killed.id, 'socket-destroyed');
    assert.equal(killed.evidence['destroyer_comm'], 'ss');
    assert.equal(diagnose(rst({ ...base, stack: stack('tcp_send_active_reset', 'tcp_disconnect', '__inet_stream_connect') })).id, 'disconnect-abort');
    assert.equal(
      diagnose(rst({ ...base, state: 'SYN_RECV', stack: stack('tcp_send_active_reset', 'tcp_disconnect', 'inet_csk_listen_stop', 'tcp_close') })).id,
      'listener-closed-with-pending',
    );
    // compiler clones keep their function's name for the rules
    assert.equal(diagnose(rst({ ...base, stack: stack('tcp_send_active_reset', 'tcp_abort.isra.0', 'inet_diag_destroy') })).id, 'socket-destroyed');
  });

  test('reasons alone: TCP_ABORT_ON_LINGER, TCP_DISCONNECT_WITH_DATA, MPTCP', () => {
    const base = { direction: 'sent' as const, kind: 'active' as const, state: 'CLOSE', socket: tup(8080, 40000), ...fullSock() };
    assert.equal(diagnose(rst({ ...base, reason: 'TCP_ABORT_ON_LINGER' })).id, 'fin-wait2-linger-negative');
    assert.equal(diagnose(rst({ ...base, reason: 'TCP_DISCONNECT_WITH_DATA' })).id, 'disconnect-with-unsent-data');
    assert.equal(diagnose(rst({ ...base, reason: 'MPTCP_RST_EMPTCP' })).id, 'mptcp-subflow-reset');
  });

  test('TCP_LINGER2 < 0 without a reason (6.1): the FIN_WAIT2 -> CLOSE just before, from __tcp_close, medium', () => {
    // as recorded on Debian 12's 6.1 (lab case fin-wait2-linger-negative): the state change, then the RST
    const e = rst({
      direction: 'sent',
      kind: 'active',
      reason: null,
      state: 'CLOSE',
      socket: tup(40000, 8097, CLI, SRV),
      owner: { pid: 1548, comm: 'python3' },
      ...fullSock(),
      stack: stack('tcp_send_active_reset', '__tcp_close', 'tcp_close'),
    });
    const closing = (old: string, dt = 5_000) => [state({ old_state: old, new_state: 'CLOSE', mono_ns: T0 - dt, socket: tup(40000, 8097, CLI, SRV) })];
    const v = diagnose(e, { states: closing('FIN_WAIT2') });
    assert.deepEqual([v.id, v.confidence, v.evidence['closed_from'], v.evidence['pid']], ['fin-wait2-linger-negative', 'medium', 'FIN_WAIT2', 1548]);
    assert.match(v.summary, /orphan or memory limit/);
    // from another state, long before, with unread data, or through tcp_disconnect: not this cause
    assert.notEqual(diagnose(e, { states: closing('ESTABLISHED') }).id, 'fin-wait2-linger-negative');
    assert.notEqual(diagnose(e, { states: closing('FIN_WAIT2', 2e9) }).id, 'fin-wait2-linger-negative');
    assert.notEqual(diagnose({ ...e, ...fullSock(5) }, { states: closing('FIN_WAIT2') }).id, 'fin-wait2-linger-negative');
    assert.notEqual(
      diagnose({ ...e, stack: stack('tcp_send_active_reset', 'tcp_disconnect', '__tcp_close') }, { states: closing('FIN_WAIT2') }).id,
      'fin-wait2-linger-negative',
    );
    assert.equal(diagnose(e).id, 'unclassified-active'); // no history: nothing to go on
  });

  test('an active reset nothing explains is unclassified, low, with what was seen', () => {
    const v = diagnose(
      rst({
        direction: 'sent',
        kind: 'active',
        reason: null,
        state: 'CLOSE',
        socket: tup(8080, 40000),
        ...fullSock(),
        stack: stack('tcp_send_active_reset', 'some_new_path'),
      }),
    );
    assert.equal(v.id, 'unclassified-active');
    assert.equal(v.confidence, 'low');
    assert.match(String(v.evidence['stack_top']), /some_new_path/);
  });
});

describe('passive resets', () => {
  test('SYN to a port nobody listens on: high with host context and NO_SOCKET or its stack, medium without', () => {
    const v = diagnose(synNoSocket(), { h: host() });
    assert.equal(v.id, 'no-listener');
    assert.equal(v.confidence, 'high');
    assert.equal(diagnose(synNoSocket()).confidence, 'medium'); // no host context
    // before 6.10: only the kprobe/fentry fallback sees no-socket resets, without a reason; tcp_v4_rcv
    // sends one without a socket only when its lookup failed, which is what NO_SOCKET says
    const old = diagnose({ ...synNoSocket(null), hook: 'kprobe/tcp_v4_send_reset' }, { h: host() });
    assert.deepEqual([old.id, old.confidence], ['no-listener', 'high']);
    // without the stack (over the rate limit) nothing says where it came from
    const noStack = diagnose({ ...synNoSocket(null), stack: null, stack_status: 'rate_limited' }, { h: host() });
    assert.deepEqual([noStack.id, noStack.confidence], ['no-listener', 'medium']);
  });

  test('a listener that exited is named from the history', () => {
    const sock = tup(8080, 0, '0.0.0.0', '0.0.0.0');
    const states = [
      state({ old_state: 'CLOSE', new_state: 'LISTEN', socket: sock, mono_ns: T0 - 5e9 }),
      state({ old_state: 'LISTEN', new_state: 'CLOSE', socket: sock, mono_ns: T0 - 3e9 }),
    ];
    const v = diagnose(synNoSocket(), { h: host(), states });
    assert.equal(v.id, 'listener-gone');
    assert.equal(v.evidence['listener_pid'], 4121);
    assert.equal(v.evidence['closed_ago_s'], 3);
    assert.match(v.summary, /pid 4121 \(server\), closed 3\.0 s ago/);
    // listening again: a SYN then is not this cause
    const again = [
      ...states,
      state({
        old_state: 'CLOSE',
        new_state: 'LISTEN',
        socket: sock,
        mono_ns: T0 - 1e9,
        process: { pid: 5000, comm: 'server2' },
        owner: { pid: 5000, comm: 'server2' },
      }),
    ];
    assert.equal(diagnose(synNoSocket(), { h: host(), states: again }).id, 'unclassified-passive');
  });

  test('a listener known only from the host snapshot stops a no-listener verdict', () => {
    const h = host({ listeners: [{ laddr: '0.0.0.0', lport: 8080, queue: 0, backlog: 128, processes: [{ pid: 1, comm: 'x' }] }] });
    assert.equal(diagnose(synNoSocket(), { h }).id, 'unclassified-passive');
  });

  test('a listener bound to another address does not count, and the verdict says where it is', () => {
    const lo = host({ listeners: [{ laddr: '127.0.0.1', lport: 8080, queue: 0, backlog: 128, processes: [{ pid: 1, comm: 'x' }] }] });
    const v = diagnose(synNoSocket(), { h: lo });
    assert.equal(v.id, 'no-listener');
    assert.equal(v.evidence['bound_elsewhere'], '127.0.0.1:8080');
    // ss shows an IPv6-only wildcard as '::': it does not take IPv4
    assert.equal(diagnose(synNoSocket(), { h: host({ listeners: [{ ...lo.listeners[0]!, laddr: '::' }] }) }).id, 'no-listener');
    assert.equal(diagnose(synNoSocket(), { h: host({ listeners: [{ ...lo.listeners[0]!, laddr: '*' }] }) }).id, 'unclassified-passive');
    // the same from the history: a listener on 127.0.0.1 closing does not make 192.0.2.2 "gone"
    const sock = tup(8080, 0, '127.0.0.1', '0.0.0.0');
    const states = [
      state({ old_state: 'CLOSE', new_state: 'LISTEN', socket: sock, mono_ns: T0 - 5e9 }),
      state({ old_state: 'LISTEN', new_state: 'CLOSE', socket: sock, mono_ns: T0 - 3e9 }),
    ];
    assert.equal(diagnose(synNoSocket(), { h: host(), states }).id, 'no-listener');
  });

  test('a host snapshot whose ss failed lowers the no-listener confidence', () => {
    const v = diagnose(synNoSocket(), { h: host({ errors: ['ss: not installed (not found)'] }) });
    assert.deepEqual([v.id, v.confidence], ['no-listener', 'medium']);
  });

  test('accept queue overflow: with abort_on_overflow the listener resets, without it the expired handshake does', () => {
    const abort = rst({ ...ackToListener(2, 1, 'INVALID_SYN'), segment: { flags: 'ACK', seq: 1, ack: 1, len: 0 } });
    const v = diagnose(abort, { h: host({ sysctls: { 'net.ipv4.tcp_abort_on_overflow': '1' }, counters: { 'TcpExt.ListenOverflows': 1 } }) });
    assert.equal(v.id, 'accept-queue-overflow-abort');
    assert.deepEqual([v.evidence['queue_len'], v.evidence['backlog'], v.evidence['listener_pid'], v.evidence['abort_on_overflow']], [2, 1, 4121, '1']);
    const silent = diagnose(ackToListener(2, 1), {
      h: host({ sysctls: { 'net.ipv4.tcp_abort_on_overflow': '0' }, counters: { 'TcpExt.ListenOverflows': 6 } }),
    });
    assert.equal(silent.id, 'accept-queue-overflow-silent');
    assert.equal(silent.evidence['listen_overflows'], 6);
    // no overflow counted: the same shape is not called an overflow
    assert.equal(diagnose(ackToListener(2, 1), { h: host({ counters: { 'TcpExt.ListenOverflows': 0 } }) }).id, 'stray-ack-to-listener');
    // len == max is not full (the kernel's test is len > max)
    assert.equal(diagnose(ackToListener(1, 1), { h: host({ counters: { 'TcpExt.ListenOverflows': 6 } }) }).id, 'stray-ack-to-listener');
    // without a reason, tcp_abort_on_overflow tells the two overflows apart
    const noReason = diagnose(
      { ...ackToListener(2, 1, null), stack: null },
      { h: host({ sysctls: { 'net.ipv4.tcp_abort_on_overflow': '0' }, counters: { 'TcpExt.ListenOverflows': 6 } }) },
    );
    assert.deepEqual([noReason.id, noReason.confidence], ['accept-queue-overflow-silent', 'medium']);
    // ... and tcp_v4_do_rcv() resetting for the listener (not tcp_check_req) says what TCP_FLAGS would
    const byStack = diagnose(
      { ...ackToListener(2, 1, null), stack: stack('tcp_v4_send_reset', 'tcp_v4_do_rcv', 'tcp_v4_rcv') },
      { h: host({ sysctls: { 'net.ipv4.tcp_abort_on_overflow': '0' }, counters: { 'TcpExt.ListenOverflows': 6 } }) },
    );
    assert.deepEqual([byStack.id, byStack.confidence], ['accept-queue-overflow-silent', 'high']);
    // the abort: tcp_check_req() on the stack with the sysctl read as 1
    const abortOld = rst({
      ...ackToListener(2, 1, null),
      segment: { flags: 'ACK', seq: 1, ack: 1, len: 0 },
      stack: stack('tcp_v4_send_reset', 'tcp_check_req', 'tcp_v4_rcv'),
    });
    const h1 = host({ sysctls: { 'net.ipv4.tcp_abort_on_overflow': '1' } });
    assert.deepEqual([diagnose(abortOld, { h: h1 }).id, diagnose(abortOld, { h: h1 }).confidence], ['accept-queue-overflow-abort', 'high']);
    assert.equal(diagnose(abortOld).confidence, 'medium'); // the sysctl unknown
  });

  test('a connection this host forgot: ended in the history, answered by a listener or by nobody', () => {
    const conn = tup(8080, 40000);
    const states = [
      state({ old_state: 'SYN_RECV', new_state: 'ESTABLISHED', socket: conn, mono_ns: T0 - 4e9 }),
      state({ old_state: 'ESTABLISHED', new_state: 'CLOSE', socket: conn, mono_ns: T0 - 2e9 }),
    ];
    const viaListener = diagnose(ackToListener(0, 128), { states, h: host() });
    assert.equal(viaListener.id, 'connection-forgotten');
    assert.equal(viaListener.confidence, 'high');
    assert.equal(viaListener.evidence['ended_ago_ms'], 2000);
    assert.equal(viaListener.evidence['listener_pid'], 4121);
    const noListener = diagnose(ackNoSocket(), { states, h: host() });
    assert.equal(noListener.id, 'connection-forgotten');
    // a listener's RST to an ACK it cannot place, without history: not called forgotten
    assert.equal(diagnose(ackToListener(0, 128), { h: host() }).id, 'stray-ack-to-listener');
    // without history: still this cause, but only medium
    const unknown = diagnose(ackNoSocket(), { h: host() });
    assert.equal(unknown.id, 'connection-forgotten');
    assert.equal(unknown.confidence, 'medium');
  });

  test('data after close, with who closed it from the history; without the reason, the stack decides', () => {
    const conn = tup(8080, 40000);
    const e = dataAfterCloseRst(conn);
    const states = [state({ old_state: 'ESTABLISHED', new_state: 'FIN_WAIT1', socket: conn, mono_ns: T0 - 50e6 })];
    const v = diagnose(e, { states });
    assert.equal(v.id, 'data-after-close');
    assert.equal(v.evidence['closed_by_pid'], 4121);
    assert.equal(v.evidence['closed_ago_ms'], 50);
    assert.equal(v.evidence['data_bytes'], 5);
    assert.equal(diagnose({ ...e, reason: null, state: 'FIN_WAIT2' }).confidence, 'medium');
    // sent by tcp_v4_do_rcv() for a closing socket (its one reset on data): high
    assert.equal(diagnose({ ...e, reason: null, stack: stack('tcp_v4_send_reset', 'tcp_v4_do_rcv', 'tcp_v4_rcv') }).confidence, 'high');
  });

  test('TIME_WAIT, SYN_SENT and SYN_RECV rejections by reason', () => {
    const p = { direction: 'sent' as const, kind: 'passive' as const, packet: tup(8080, 40000), segment: { flags: 'ACK', seq: 1, ack: 1, len: 0 } };
    assert.equal(diagnose(rst({ ...p, reason: 'TCP_TIMEWAIT_SOCKET', state: 'TIME_WAIT', socket: tup(8080, 40000) })).id, 'time-wait-reject');
    assert.equal(diagnose(rst({ ...p, reason: 'TCP_INVALID_ACK_SEQUENCE', state: 'SYN_SENT', socket: tup(8080, 40000) })).id, 'syn-sent-bad-ack');
    assert.equal(diagnose(rst({ ...p, reason: 'TCP_RFC7323_PAWS', state: 'SYN_SENT', socket: tup(8080, 40000) })).id, 'syn-sent-paws');
    assert.equal(diagnose(rst({ ...p, reason: 'TCP_OLD_ACK', state: 'SYN_RECV', socket: tup(8080, 40000) })).id, 'syn-recv-bad-ack');
    assert.equal(
      diagnose(
        rst({
          ...p,
          reason: 'INVALID_SYN',
          state: 'LISTEN',
          socket: tup(8080, 0),
          segment: { flags: 'SYN', seq: 5, ack: 0, len: 0 },
          accept_queue: { len: 0, max: 128 },
        }),
      ).id,
      'in-window-syn-to-request',
    );
    // older kernels: the state alone, medium
    const tw = diagnose(rst({ ...p, reason: null, state: 'TIME_WAIT', socket: tup(8080, 40000), hook: 'kprobe/tcp_v4_send_reset' }));
    assert.deepEqual([tw.id, tw.confidence], ['time-wait-reject', 'medium']);
  });
});

describe('NAT, conntrack and the kernel races', () => {
  const redirect = {
    source: 'nftables' as const,
    family: 'ipv4' as const,
    table: 'nat',
    chain: 'prerouting',
    action: 'redirect' as const,
    proto: 'tcp',
    dport: [8080, 8080] as [number, number],
    toPort: [8081, 8081] as [number, number],
    text: 'tcp dport 8080 redirect to :8081',
  };

  test('NAT not applied: the segment reached the original port while the connection lives on the translated one', () => {
    const nat = tup(8081, 40000);
    const states = [state({ old_state: 'SYN_RECV', new_state: 'ESTABLISHED', socket: nat, mono_ns: T0 - 2e9 })];
    const h = host({
      rules: [redirect],
      sysctls: { 'net.netfilter.nf_conntrack_tcp_loose': '0' },
      conntrack: { count: 0, max: 65536, stats: { invalid: 3 }, usedBy: ['nat chains'] },
    });
    const v = diagnose(ackNoSocket(8080, 40000), { states, h });
    assert.equal(v.id, 'nat-not-applied');
    assert.equal(v.confidence, 'high');
    assert.equal(v.evidence['original_port'], 8080);
    assert.equal(v.evidence['redirected_port'], 8081);
    assert.equal(v.evidence['rule'], redirect.text);
    assert.equal(v.evidence['tcp_loose'], '0');
    assert.equal(v.evidence['conntrack_invalid'], 3);
    // the connection on the translated tuple closed: not this cause
    const closed = [...states, state({ old_state: 'ESTABLISHED', new_state: 'CLOSE', socket: nat, mono_ns: T0 - 1e9 })];
    assert.equal(diagnose(ackNoSocket(8080, 40000), { states: closed, h }).id, 'connection-forgotten');
  });

  test('ehash lookup race: an RST to the first data segment within microseconds of ESTABLISHED, even when the state event comes after', () => {
    const conn = tup(8080, 40000);
    for (const gap of [-40_000, 30_000]) {
      const states = [state({ old_state: 'SYN_RECV', new_state: 'ESTABLISHED', socket: conn, mono_ns: T0 + gap })];
      const v = diagnose(ackNoSocket(), { states, h: host() });
      assert.equal(v.id, 'ehash-lookup-race', `gap ${gap}`);
      assert.equal(v.confidence, 'high'); // 6.18: before the 6.19 fix
    }
    // fixed kernels: still recognized, but only medium
    const d = new Diagnoser({ kernel: { version: [6, 19] } });
    const v = diagnose(ackNoSocket(), {
      d,
      states: [state({ old_state: 'SYN_RECV', new_state: 'ESTABLISHED', socket: conn, mono_ns: T0 - 10_000 })],
      h: host(),
    });
    assert.deepEqual([v.id, v.confidence], ['ehash-lookup-race', 'medium']);
    // 50 ms apart is no race
    assert.equal(
      diagnose(ackNoSocket(), { states: [state({ old_state: 'SYN_RECV', new_state: 'ESTABLISHED', socket: conn, mono_ns: T0 - 50e6 })], h: host() }).id,
      'connection-forgotten',
    );
  });

  test('TIME_WAIT race: a FIN drawing NO_SOCKET while the socket moves to TIME_WAIT', () => {
    const conn = tup(8080, 40000);
    const fin = rst({ ...ackNoSocket(), segment: { flags: 'FIN|ACK', seq: 1, ack: 1, len: 0 } });
    const v = diagnose(fin, { states: [state({ old_state: 'FIN_WAIT2', new_state: 'CLOSE', socket: conn, mono_ns: T0 - 20_000 })], h: host() });
    assert.equal(v.id, 'timewait-transition-race');
    // data (no FIN) right after this host closed by a reset is no race
    const d = new Diagnoser({ kernel: { version: [6, 18] } });
    d.addState(state({ old_state: 'FIN_WAIT2', new_state: 'CLOSE', socket: conn, mono_ns: T0 - 20_000 }));
    d.diagnose(dataAfterCloseRst(conn, { mono_ns: T0 - 10_000 }));
    assert.equal(d.diagnose(ackNoSocket()).id, 'connection-forgotten');
  });

  test('early demux + DNAT port clash: a segment handed to a socket of another tuple under NAT', () => {
    // (a segment the socket rejected: its reason varies; an out-of-window ACK draws TCP_INVALID_ACK_SEQUENCE-like reasons)
    const e = rst({
      direction: 'sent',
      kind: 'passive',
      reason: 'TCP_INVALID_ACK_SEQUENCE',
      state: 'ESTABLISHED',
      packet: tup(9090, 40000),
      socket: tup(8081, 40000),
      segment: { flags: 'SYN', seq: 9, ack: 0, len: 0 },
      ...fullSock(),
    });
    const h = host({ rules: [redirect, { ...redirect, dport: [9090, 9090], text: 'tcp dport 9090 redirect to :8081' }] });
    const old = diagnose(e, { d: new Diagnoser({ kernel: { version: [6, 6] } }), h });
    assert.deepEqual([old.id, old.confidence], ['early-demux-nat-port-clash', 'high']);
    assert.equal(diagnose(e, { h }).confidence, 'medium');
    assert.equal(diagnose(e, { h: host() }).id, 'syn-sent-bad-ack'); // no NAT rule: the reason's entry
  });
});

describe('received resets', () => {
  test("named after the owner, and after the sender's verdict when the sender is on this host", () => {
    const d = new Diagnoser({ kernel: { version: [6, 18] } });
    const sent = closeUnread();
    d.diagnose(sent);
    const recv = rst({
      direction: 'received',
      netns: CLIENT_NS,
      state: 'ESTABLISHED',
      socket: tup(40000, 8080, CLI, SRV),
      owner: { pid: 900, comm: 'client' },
      ...fullSock(),
      hook: 'tp_btf/tcp_receive_reset',
      mono_ns: T0 + 50_000,
    });
    const v = d.diagnose(recv);
    assert.equal(v.id, 'reset-by-peer');
    assert.equal(v.evidence['pid'], 900);
    assert.equal(v.evidence['peer_cause'], 'close-with-unread-data');
    assert.match(v.summary, /on the peer: pid 4121 \(server\) closed the socket with 5 bytes unread/);
  });

  test('SYN_SENT: connection refused; a REJECT rule on this host is named', () => {
    const recv = rst({ direction: 'received', state: 'SYN_SENT', socket: tup(40000, 8080, CLI, SRV), owner: { pid: 900, comm: 'client' }, ...fullSock() });
    assert.equal(diagnose(recv).id, 'connection-refused');
    const reject = {
      source: 'iptables' as const,
      family: 'ipv4' as const,
      table: 'filter',
      chain: 'OUTPUT',
      daddr: SRV,
      action: 'reject' as const,
      proto: 'tcp',
      dport: [8080, 8080] as [number, number],
      rejectWith: 'tcp-reset',
      text: '-A OUTPUT -p tcp --dport 8080 -j REJECT --reject-with tcp-reset',
    };
    const v = diagnose(recv, { h: host({ rules: [reject] }) });
    assert.equal(v.id, 'netfilter-reject');
    assert.equal(v.evidence['rule'], reject.text);
    // an INPUT rule cannot make an RST this host receives
    assert.equal(diagnose(recv, { h: host({ rules: [{ ...reject, chain: 'INPUT' }] }) }).id, 'connection-refused');
  });
});

describe('the catalogue itself', () => {
  test('ids are unique kebab-case; every entry has its texts; evidence names are declared', () => {
    const ids = CATALOGUE.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const c of CATALOGUE) {
      assert.match(c.id, /^[a-z0-9]+(-[a-z0-9]+)*$/);
      for (const k of ['title', 'happened', 'why', 'recognized', 'fix'] as const) assert.ok(c[k].length > 10 || k === 'title', `${c.id}.${k}`);
      for (const k of Object.keys(c.evidence)) assert.match(k, /^[a-z_]+$/);
    }
  });

  test('every cause module of src/causes is in the registry', () => {
    const notCauses = new Set([
      'index',
      'types',
      'docs',
      'live-facts',
      'live-helpers',
      'loss-facts',
      'loss-helpers',
      'wire-facts',
      'wire-helpers',
      'wire-loss-facts',
      'wire-loss-helpers',
    ]);
    const modules = readdirSync(path.join(packageRoot, 'src', 'causes'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3))
      .filter((f) => !notCauses.has(f));
    assert.deepEqual(modules.sort(), CATALOGUE.map((c) => c.id).sort());
    // reset causes have live rules or wire rules; loss causes have loss rules
    for (const c of LOSS_CAUSES) assert.ok(c.loss && !c.match, `${c.id}: a loss cause has a loss rule and no reset rule`);
    for (const c of CAUSES) assert.ok(!c.loss, `${c.id}: a reset cause has no loss rule`);
  });

  test('verdicts carry only evidence names their entry documents', () => {
    // every shape used in this file, diagnosed once more
    const shapes = [closeUnread(), lingerZero(), synNoSocket(), ackNoSocket(), ackToListener(2, 1), ackToListener(0, 5)];
    for (const e of shapes) {
      const v = diagnose(e, { h: host({ counters: { 'TcpExt.ListenOverflows': 1 } }) });
      const declared = Object.keys(causeById(v.id)!.evidence);
      for (const k of Object.keys(v.evidence)) assert.ok(declared.includes(k), `${v.id}: evidence ${k} not documented`);
    }
  });

  test('the kernel map rows are all covered', () => {
    const rows = new Set(CAUSES.flatMap((c) => c.map));
    for (const r of [
      'A1',
      'A2',
      'A3',
      'A4',
      'A5',
      'A6',
      'A7',
      'A8',
      'A9',
      'A10',
      'A11',
      'P1',
      'P2',
      'P3a',
      'P3b',
      'P3c',
      'P3d',
      'P3e',
      'P3f',
      'P6',
      'received',
      'netfilter REJECT',
      'middlebox',
    ]) {
      assert.ok(rows.has(r), `map row ${r} has no cause`);
    }
    assert.ok([...rows].some((r) => r.startsWith('races: ehash')) && [...rows].some((r) => r.startsWith('races: early demux')));
  });

  test('the history is bounded', () => {
    const h = new History({ connections: 100, perConnection: 4 });
    for (let i = 0; i < 1000; i++) h.addState(state({ old_state: 'SYN_SENT', new_state: 'ESTABLISHED', socket: tup(8080, 1000 + i) }));
    assert.ok(h.connections <= 100 && h.connections >= 50, String(h.connections));
    for (let i = 0; i < 10; i++) h.addState(state({ old_state: 'ESTABLISHED', new_state: 'CLOSE', socket: tup(8080, 1999) }));
    assert.equal(h.conn(NS, tup(8080, 1999)).states.length, 4);
  });
});

describe('untrusted host text', () => {
  test('process names from ss and rule texts (comments) are escaped in verdicts', () => {
    const h = host({
      listeners: [{ laddr: '0.0.0.0', lport: 8080, queue: 0, backlog: 128, processes: [{ pid: 9, comm: 'evil\u001b[2J\u202e' }] }],
      rules: [
        {
          source: 'iptables',
          family: 'ipv4',
          table: 'nat',
          chain: 'PREROUTING',
          action: 'redirect',
          proto: 'tcp',
          dport: [8080, 8080],
          toPort: [8081, 8081],
          text: '-A PREROUTING -m comment --comment "\u001b]0;pwned\u0007" -j REDIRECT --to-ports 8081',
        },
      ],
    });
    const forgotten = diagnose(ackNoSocket(), { h });
    const nat = diagnose(ackNoSocket(), { h: { ...h, listeners: [...h.listeners, { ...h.listeners[0]!, lport: 8081 }] } });
    assert.deepEqual([forgotten.id, nat.id], ['connection-forgotten', 'nat-not-applied']);
    for (const v of [forgotten, nat]) {
      const all = JSON.stringify(v);
      assert.doesNotMatch(v.summary + Object.values(v.evidence).join(' '), /[\u0000-\u001f\u202e]/, all);
      assert.match(all, /\\\\x1b/);
    }
  });
});
