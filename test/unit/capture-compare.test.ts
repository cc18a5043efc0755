// compareCapture: capture RSTs paired with the live sent events of the same
// run, and the agreement of sender, kind and cause.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResetReport } from '../../src/capture/analyze.js';
import type { RstEvent } from '../../src/events/event.js';
import { agreementText, compareCapture, matchFor } from '../../src/lab/compare.js';

const T0 = Date.parse('2026-01-02T03:04:05Z') / 1000;
const iso = (s: number) => `${new Date(Math.floor(s) * 1000).toISOString().slice(0, 19)}.${String(Math.round((s % 1) * 1e9)).padStart(9, '0')}Z`;

function reset(p: Partial<ResetReport> & { sender: string; receiver: string; kind: ResetReport['kind']; id: string; alternatives?: string[] }): ResetReport {
  const { id, alternatives, ...rest } = p;
  return {
    frame: 1,
    time: T0,
    family: p.sender.startsWith('[') ? 'ipv6' : 'ipv4',
    conn: 1,
    role: 'server',
    kind_why: '',
    flags: p.kind === 'passive' ? 'R' : 'R.',
    seq: 1,
    ack: 0,
    win: 0,
    ttl: 64,
    answers: null,
    cause: { id, title: id, confidence: 'medium', summary: id, evidence: {}, fix: '', alternatives: alternatives ?? [] },
    proof: [],
    payload: null,
    ...rest,
  };
}

function live(p: {
  direction?: RstEvent['direction'];
  kind: RstEvent['kind'];
  local: [string, number];
  remote: [string, number];
  id: string;
  t?: number;
  segment?: RstEvent['segment'];
}): RstEvent {
  const tuple = { laddr: p.local[0], lport: p.local[1], raddr: p.remote[0], rport: p.remote[1] };
  const passive = p.kind === 'passive';
  return {
    time: iso(p.t ?? T0),
    mono_ns: 0,
    direction: p.direction ?? 'sent',
    kind: p.kind,
    reason: null,
    reason_code: null,
    state: null,
    family: p.local[0].includes(':') ? 'ipv6' : 'ipv4',
    packet: passive ? tuple : null,
    // a passive RST's socket is the listener's (or none): never the sender's tuple
    socket: passive ? { laddr: p.local[0], lport: p.local[1], raddr: '0.0.0.0', rport: 0 } : tuple,
    segment: p.segment ?? null,
    process: { pid: 1, tid: 1, comm: 'x' },
    owner: null,
    netns: 1,
    cgroup_id: '0',
    sock_cookie: null,
    queues: null,
    linger: null,
    accept_queue: null,
    hook: 'test',
    stack_status: 'captured',
    stack_id: null,
    stack: null,
    cause: { id: p.id, title: p.id, confidence: 'high', summary: '', evidence: {}, fix: '' },
  };
}

const S: [string, number] = ['192.0.2.2', 8080];
const C: [string, number] = ['192.0.2.1', 40000];

describe('compareCapture', () => {
  test('same sender, kind and cause: exact; the live cause among the alternatives: ambiguous', () => {
    const resets = [
      reset({ sender: '192.0.2.2:8080', receiver: '192.0.2.1:40000', kind: 'active', id: 'close-with-unread-data' }),
      reset({
        frame: 7,
        time: T0 + 1,
        sender: '192.0.2.1:40001',
        receiver: '192.0.2.2:8080',
        kind: 'active',
        id: 'linger-zero-close',
        alternatives: ['socket-destroyed'],
      }),
    ];
    const events = [
      live({ kind: 'active', local: S, remote: C, id: 'close-with-unread-data' }),
      live({ kind: 'active', local: ['192.0.2.1', 40001], remote: S, id: 'socket-destroyed', t: T0 + 1 }),
      live({ direction: 'received', kind: null, local: C, remote: S, id: 'reset-by-peer' }),
    ];
    const c = compareCapture(resets, events);
    assert.deepEqual(c.problems, []);
    assert.deepEqual(
      c.matched.map((m) => [m.reset.frame, m.live.cause!.id, m.agreement]),
      [
        [1, 'close-with-unread-data', 'exact'],
        [7, 'socket-destroyed', 'ambiguous'],
      ],
    );
    assert.deepEqual(c.counts, { resets: 2, exact: 1, ambiguous: 1 });
    assert.equal(agreementText(c), '2/2 (1 exact, 1 ambiguous)');
    assert.deepEqual(c.unseen, []);
    // the client's received event is about the server's RST
    assert.equal(matchFor(c, events[2]!)?.reset.frame, 1);
    assert.equal(matchFor(c, events[0]!)?.reset.frame, 1);
  });

  test("IPv6: the capture's [addr]:port matches plain (and differently written) live addresses", () => {
    const r = reset({ sender: '[2001:db8::2]:8081', receiver: '[2001:db8::1]:50000', kind: 'passive', id: 'no-listener' });
    const e = live({ kind: 'passive', local: ['2001:DB8:0::2', 8081], remote: ['2001:db8::1', 50000], id: 'no-listener' });
    const c = compareCapture([r], [e]);
    assert.deepEqual(c.problems, []);
    assert.equal(c.matched[0]?.agreement, 'exact');
  });

  test('a v4-mapped socket address is the IPv4 address on the wire', () => {
    const r = reset({ sender: '192.0.2.2:8080', receiver: '192.0.2.1:40000', kind: 'active', id: 'linger-zero-close' });
    const e = live({ kind: 'active', local: ['::ffff:192.0.2.2', 8080], remote: ['::ffff:192.0.2.1', 40000], id: 'linger-zero-close' });
    assert.equal(compareCapture([r], [e]).matched.length, 1);
  });

  test('a different cause is a problem that names both', () => {
    const r = reset({ sender: '192.0.2.2:8080', receiver: '192.0.2.1:40000', kind: 'passive', id: 'connection-forgotten', alternatives: ['nat-not-applied'] });
    const e = live({ kind: 'passive', local: S, remote: C, id: 'data-after-close' });
    const c = compareCapture([r], [e]);
    assert.equal(c.matched[0]?.agreement, 'disagrees');
    assert.equal(c.problems.length, 1);
    assert.match(c.problems[0]!, /cause: capture connection-forgotten \[medium\] \(alternatives: nat-not-applied\), live data-after-close/);
    assert.equal(agreementText(c), '0/1 (0 exact, 0 ambiguous)');
  });

  test('a different kind is a problem (the tuple still pairs them)', () => {
    const r = reset({ sender: '192.0.2.2:8080', receiver: '192.0.2.1:40000', kind: 'unknown', id: 'linger-zero-close' });
    const e = live({ kind: 'active', local: S, remote: C, id: 'linger-zero-close' });
    const c = compareCapture([r], [e]);
    assert.equal(c.matched.length, 1);
    assert.match(c.problems[0]!, /kind: capture unknown, live active/);
  });

  test('an RST nobody saw sent is a problem; a sent RST missing from the wire is only unseen', () => {
    const r = reset({ sender: '192.0.2.2:8080', receiver: '192.0.2.1:40000', kind: 'passive', id: 'no-listener' });
    const e = live({ kind: 'active', local: ['192.0.2.1', 40005], remote: S, id: 'keepalive-timeout' });
    const c = compareCapture([r], [e]);
    assert.deepEqual(c.matched, []);
    assert.deepEqual(c.unmatched, [r]);
    assert.deepEqual(c.unseen, [e]);
    assert.equal(c.problems.length, 1);
    assert.match(c.problems[0]!, /frame 1 192\.0\.2\.2:8080 -> 192\.0\.2\.1:40000 \[R\] \(passive, capture: no-listener\): no live sent event/);
  });

  test('one connection, an active RST dropped before the wire and a passive one on it: kind decides', () => {
    // peer-restarted: the old server's active RST never leaves; the new listener's passive RST does
    const r = reset({ sender: '192.0.2.2:8080', receiver: '192.0.2.1:40000', kind: 'passive', id: 'connection-forgotten', time: T0 + 0.2 });
    const old = live({ kind: 'active', local: S, remote: C, id: 'close-with-unread-data', t: T0 + 0.19 });
    const now = live({ kind: 'passive', local: S, remote: C, id: 'connection-forgotten', t: T0 + 0.2 });
    const c = compareCapture([r], [old, now]);
    assert.deepEqual(c.problems, []);
    assert.equal(c.matched[0]?.live, now);
    assert.deepEqual(c.unseen, [old]);
  });

  test('several passive RSTs on one tuple: the trigger segment, then time, pairs them; each live event once', () => {
    const answers = (seq: number, ack: number) => ({ frame: 1, flags: 'P.', seq, ack, len: 5 });
    const r1 = reset({
      frame: 10,
      time: T0,
      sender: '192.0.2.2:8080',
      receiver: '192.0.2.1:40000',
      kind: 'passive',
      id: 'connection-forgotten',
      answers: answers(100, 500),
    });
    const r2 = reset({
      frame: 12,
      time: T0 + 0.001,
      sender: '192.0.2.2:8080',
      receiver: '192.0.2.1:40000',
      kind: 'passive',
      id: 'connection-forgotten',
      answers: answers(105, 500),
    });
    const seg = (seq: number) => ({ flags: 'PSH|ACK', seq, ack: 500, len: 5 });
    // the live order is the reverse of the capture's and the clocks say the opposite: the trigger wins
    const e2 = live({ kind: 'passive', local: S, remote: C, id: 'connection-forgotten', t: T0, segment: seg(105) });
    const e1 = live({ kind: 'passive', local: S, remote: C, id: 'connection-forgotten', t: T0 + 0.001, segment: seg(100) });
    const c = compareCapture([r2, r1], [e2, e1]);
    assert.deepEqual(c.problems, []);
    assert.deepEqual(
      c.matched.map((m) => [m.reset.frame, m.live.segment!.seq]),
      [
        [10, 100],
        [12, 105],
      ],
    );
    // a third wire RST on the tuple finds no live event left
    const r3 = reset({
      frame: 14,
      time: T0 + 0.002,
      sender: '192.0.2.2:8080',
      receiver: '192.0.2.1:40000',
      kind: 'passive',
      id: 'connection-forgotten',
      answers: answers(110, 500),
    });
    const c3 = compareCapture([r1, r2, r3], [e2, e1]);
    assert.equal(c3.matched.length, 2);
    assert.deepEqual(c3.unmatched, [r3]);
  });

  test('a passive pair whose trigger differs is a problem', () => {
    const r = reset({
      sender: '192.0.2.2:8080',
      receiver: '192.0.2.1:40000',
      kind: 'passive',
      id: 'no-listener',
      answers: { frame: 3, flags: 'S', seq: 99, ack: 0, len: 0 },
    });
    const e = live({ kind: 'passive', local: S, remote: C, id: 'no-listener', segment: { flags: 'SYN', seq: 98, ack: 0, len: 0 } });
    const c = compareCapture([r], [e]);
    assert.match(c.problems[0] ?? '', /trigger: capture answers seq 99 ack 0, live segment seq 98 ack 0/);
  });
});

describe('the lab summary table', () => {
  test('a capture column; a disagreeing capture fails its run', async () => {
    const { summaryTable } = await import('../../src/cli/lab.js');
    const good = compareCapture(
      [reset({ sender: '192.0.2.2:8080', receiver: '192.0.2.1:40000', kind: 'active', id: 'linger-zero-close', alternatives: ['socket-destroyed'] })],
      [live({ kind: 'active', local: S, remote: C, id: 'socket-destroyed' })],
    );
    const bad = compareCapture(
      [reset({ sender: '192.0.2.2:8080', receiver: '192.0.2.1:40000', kind: 'passive', id: 'no-listener' })],
      [live({ kind: 'passive', local: S, remote: C, id: 'data-after-close' })],
    );
    const result = (name: string, captureCheck: typeof good | null, ok: boolean) => ({
      name,
      title: name,
      family: 4 as const,
      lab: { client: { ns: 'c', netns: 1, v4: '192.0.2.1', v6: '2001:db8::1' }, server: { ns: 's', netns: 2, v4: '192.0.2.2', v6: '2001:db8::2' } },
      expected: 'x',
      diagnosed: 'x',
      ok,
      problems: [],
      run: null,
      events: [],
      primary: null,
      lost: 0,
      ms: 1,
      capture: null,
      captureCheck,
    });
    const text = summaryTable([result('a', good, true), result('b', bad, false), result('c', null, true)]);
    const lines = text.split('\n');
    assert.match(lines[0]!, /^CASE +FAMILY +EXPECTED CAUSE +DIAGNOSED CAUSE +CAPTURE +OK$/);
    assert.match(lines[1]!, /^a .* 1\/1 \(0 exact, 1 ambiguous\) +ok$/);
    assert.match(lines[2]!, /^b .* 0\/1 \(0 exact, 0 ambiguous\) DISAGREES +FAIL$/);
    assert.match(lines[3]!, /^c .* - +ok$/);
    assert.ok(lines.includes('3/3 cases diagnosed as expected'), text);
    assert.ok(
      lines.includes(
        '1/2 captures agree with the live verdicts: 1/2 RSTs on the wire (0 exact, 1 ambiguous: the live cause is one the capture cannot tell from its own)',
      ),
      text,
    );
  });
});
