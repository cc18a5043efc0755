// The assertions lab cases make of their events (each case's check), shared:
// who sent the RST, of which kind, for which reason, in which state, on which
// tuple, and through which kernel functions.
import assert from 'node:assert/strict';
import type { RstEvent } from '../events/event.js';
import type { Family, Outcome } from './case.js';

/** The event's kernel stack (when captured) went through fn. */
export function stackHas(e: RstEvent, fn: string): boolean {
  return (e.stack ?? []).some((f) => f.startsWith(`${fn}+`));
}

/**
 * The stack, when captured, has fn. A stack can be "lost" (its hash bucket in
 * the kernel's stack table held another stack: bpf_get_stackid without
 * REUSE_STACKID), which the event says; the facts checked here are others.
 */
export const stackHasOrLost = (e: RstEvent, fn: string) => e.stack_status === 'lost' || stackHas(e, fn);

export const onPort = (e: RstEvent, port: number) => [e.packet, e.socket].some((t) => t && (t.lport === port || t.rport === port));

export const fam = (f: Family) => (f === 4 ? 'ipv4' : 'ipv6');
const sendReset = (f: Family) => (f === 4 ? 'tcp_v4_send_reset' : 'tcp_v6_send_reset');
export const json = (x: unknown) => JSON.stringify(x);

/** The connection's tuple seen from the server: the server's address and port, the client's. */
export function assertServerTuple(r: Outcome, t: RstEvent['packet'], port = r.port) {
  assert.deepEqual(t, { laddr: r.serverAddr, lport: port, raddr: r.clientAddr, rport: r.run.clientPort ?? t?.rport });
}

/** The same tuple seen from the client. */
export function assertClientTuple(r: Outcome, t: RstEvent['socket']) {
  assert.deepEqual(t, { laddr: r.clientAddr, lport: r.run.clientPort ?? t?.lport, raddr: r.serverAddr, rport: r.port });
}

// `reason`: what the kernel says where it gives reasons (6.10+; active ones 6.12+); r.reason maps it
export function assertActiveFrom(r: Outcome, e: RstEvent, netns: number, reason: string, state: string) {
  assert.equal(e.direction, 'sent');
  assert.equal(e.kind, 'active');
  assert.equal(e.reason, r.reason('active', reason), json(e));
  assert.equal(e.state, state, json(e));
  assert.equal(e.netns, netns);
  assert.equal(e.family, fam(r.family));
  assert.equal(e.packet, null);
  assert.equal(e.segment, null);
  assert.notEqual(e.sock_cookie, null);
  assert.ok(stackHasOrLost(e, 'tcp_send_active_reset'), e.stack?.join('\n'));
}

export function assertPassiveFrom(r: Outcome, e: RstEvent, reason: string, state: string | null) {
  assert.equal(e.direction, 'sent');
  assert.equal(e.kind, 'passive');
  assert.equal(e.reason, r.reason('passive', reason), json(e));
  assert.equal(e.state, state, json(e));
  assert.equal(e.netns, r.lab.server.netns);
  assert.equal(e.family, fam(r.family));
  assert.ok(stackHasOrLost(e, sendReset(r.family)), e.stack?.join('\n'));
}

/** The client's reception of the RST, owned by `pid` when given. */
export function assertClientReceived(r: Outcome, state: string, pid?: number) {
  const port = r.run.clientPort;
  const rc = r.events.filter(
    (e) => e.direction === 'received' && e.netns === r.lab.client.netns && onPort(e, r.port) && (port === undefined || e.socket?.lport === port),
  );
  assert.equal(rc.length, 1, json(r.events));
  assert.equal(rc[0]!.state, state);
  assertClientTuple(r, rc[0]!.socket);
  if (pid !== undefined) assert.equal(rc[0]!.owner?.pid, pid);
  assert.ok(stackHasOrLost(rc[0]!, 'tcp_reset'));
}
