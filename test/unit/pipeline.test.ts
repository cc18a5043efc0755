// The diagnosis pipeline: order kept, events wait for their namespace's host
// context (bounded), received RSTs are diagnosed after the sent ones of their
// batch, and nothing is lost or delivered twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RstEvent } from '../../src/events/event.js';
import type { HostSnapshot } from '../../src/host/types.js';
import { Diagnoser } from '../../src/diagnose/engine.js';
import { DiagnosisPipeline, type HostSource } from '../../src/diagnose/pipeline.js';
import { HostContext } from '../../src/host/context.js';
import { rstEvent } from '../helpers/rst-event.js';

const snap = (netns: number, takenAtMs = Date.now(), errors: string[] = []): HostSnapshot => ({
  netns,
  takenAtMs,
  listeners: [],
  sysctls: {},
  counters: {},
  rules: [],
  conntrack: null,
  errors,
});

/** A host source whose snapshots arrive when the test says so. */
function slowHost() {
  let release!: () => void;
  let latest: HostSnapshot | undefined;
  const pending = new Promise<HostSnapshot>((r) => (release = () => r((latest = snap(7)))));
  const source: HostSource = { latest: () => latest, since: () => latest ?? pending };
  return { source, release: () => release() };
}

test('events wait for the first host context of their namespace, in order, then all come out once', async () => {
  const h = slowHost();
  const out: number[] = [];
  const p = new DiagnosisPipeline<number>(new Diagnoser(), h.source, (_e, i) => out.push(i));
  for (let i = 0; i < 5; i++) p.push(rstEvent(i), i);
  p.drain();
  assert.deepEqual(out, []);
  h.release();
  await p.flushed();
  assert.deepEqual(out, [0, 1, 2, 3, 4]);
});

test('waiting is bounded: past 2000 events they go on without the context, still in order and once each', async () => {
  const h = slowHost();
  const out: number[] = [];
  const p = new DiagnosisPipeline<number>(new Diagnoser(), h.source, (_e, i) => out.push(i));
  for (let i = 0; i < 2500; i++) p.push(rstEvent(i), i);
  p.drain();
  assert.equal(out.length, 2001); // the first 2001 went on without context; the rest wait again
  assert.ok(p.pending <= 2000);
  h.release();
  await p.flushed();
  assert.equal(out.length, 2500);
  assert.ok(out.every((v, i) => v === i));
  assert.equal(p.pending, 0);
});

test('flushNow delivers what still waits (the end of a watch)', () => {
  const h = slowHost();
  const out: RstEvent[] = [];
  const p = new DiagnosisPipeline<undefined>(new Diagnoser(), h.source, (e) => out.push(e as RstEvent));
  p.push(rstEvent(0), undefined);
  p.flushNow();
  assert.equal(out.length, 1);
  assert.equal(out[0]!.cause?.id, 'no-listener');
  assert.equal(out[0]!.cause?.confidence, 'medium'); // no host context
});

test('a received RST queued before the sent RST of its batch is paired with it', () => {
  const out: RstEvent[] = [];
  const p = new DiagnosisPipeline<undefined>(new Diagnoser(), null, (e) => out.push(e as RstEvent));
  const recv = rstEvent(0, {
    direction: 'received',
    kind: null,
    reason: null,
    state: 'SYN_SENT',
    netns: 5,
    packet: null,
    segment: null,
    socket: { laddr: '192.0.2.1', lport: 40000, raddr: '192.0.2.2', rport: 8080 },
  });
  p.push(recv, undefined); // between namespaces the reception fires first
  p.push(rstEvent(0), undefined);
  p.drain();
  assert.deepEqual(
    out.map((e) => e.direction),
    ['received', 'sent'],
  );
  assert.equal(out[0]!.cause?.id, 'connection-refused');
  assert.equal(out[0]!.cause?.evidence['peer_cause'], 'no-listener');
});

test('an incomplete host snapshot is reported once', async () => {
  const warnings: string[] = [];
  let got: HostSnapshot | undefined;
  const get = () => got ?? Promise.resolve((got = snap(7, Date.now(), ['ss: not installed'])));
  const source: HostSource = { latest: () => got, since: get };
  const p = new DiagnosisPipeline<undefined>(
    new Diagnoser(),
    source,
    () => undefined,
    (m) => warnings.push(m),
  );
  p.push(rstEvent(0), undefined);
  await p.flushed();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /incomplete: ss: not installed/);
});

test('a delivery that fails after waiting for host context (the output closed) reaches the fatal handler, once', async () => {
  const fatal: unknown[] = [];
  const warnings: string[] = [];
  let got: HostSnapshot | undefined;
  const source: HostSource = { latest: () => got, since: () => got ?? Promise.resolve((got = snap(7, Date.now()))) };
  const epipe = Object.assign(new Error('EPIPE: broken pipe, write'), { code: 'EPIPE' });
  const p = new DiagnosisPipeline<undefined>(
    new Diagnoser(),
    source,
    () => {
      throw epipe;
    },
    (m) => warnings.push(m),
    () => undefined,
    undefined,
    (e) => fatal.push(e),
  );
  p.push(rstEvent(0), undefined);
  p.drain(); // waits for the snapshot: the delivery happens in its continuation
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(fatal, [epipe]);
  assert.deepEqual(warnings, [], 'not a warning: the watch must stop');
});

test('HostContext.since: one refresh for a burst, a new one only when the cached one is too old', async () => {
  let takes = 0;
  const hc = new HostContext({
    take: async (n) => {
      takes++;
      return snap(n);
    },
  });
  const now = Date.now();
  const a = hc.since(3, now - 1000);
  const b = hc.since(3, now - 1000);
  assert.ok(a instanceof Promise && a === b);
  await a;
  assert.equal(takes, 1);
  assert.ok(!(hc.since(3, now - 1000) instanceof Promise)); // cached, recent enough
  const c = hc.since(3, Date.now() + 10); // asks for one begun later than the cached one
  assert.ok(c instanceof Promise);
  await c;
  assert.equal(takes, 2);
});
