// A minimal sent passive RST for tests of what handles events without reading
// most of them (the pipeline, its bounds): number i differs in time, port and seq.
import type { RstEvent } from '../../src/events/event.js';

export function rstEvent(i: number, over: Partial<RstEvent> = {}): RstEvent {
  return {
    time: 't',
    mono_ns: 1e12 + i * 1000,
    direction: 'sent',
    kind: 'passive',
    reason: 'NO_SOCKET',
    reason_code: 1,
    state: null,
    family: 'ipv4',
    packet: { laddr: '192.0.2.2', lport: 8080, raddr: '192.0.2.1', rport: 40000 + i },
    socket: null,
    segment: { flags: 'SYN', seq: i, ack: 0, len: 0 },
    process: { pid: 1, tid: 1, comm: 'x' },
    owner: null,
    netns: 7,
    cgroup_id: '1',
    sock_cookie: null,
    queues: null,
    linger: null,
    accept_queue: null,
    hook: 'h',
    stack_status: 'lost',
    stack_id: null,
    stack: null,
    cause: null,
    ...over,
  };
}
