// The loss rules of the catalogue on the shapes the kernel gives (drops,
// retransmissions, errors; recorded on 6.18, with 6.1's reason names where
// they differ), the stories that tie a connection's events together, and the
// received RST a firewall REJECT in another namespace made.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LossDiagnoser, storyKey } from '../../src/diagnose/loss.js';
import { Diagnoser } from '../../src/diagnose/engine.js';
import { causeById } from '../../src/causes/index.js';
import type { HostSnapshot, NatRule } from '../../src/host/types.js';
import type { LossEvent } from '../../src/events/loss-event.js';
import type { Verdict } from '../../src/events/verdict.js';
import { CLIENT_NS, SERVER_NS, lossEvent, socketError, synRetransmit } from '../helpers/loss-event.js';
import { rstEvent } from '../helpers/rst-event.js';

function host(over: Partial<HostSnapshot> = {}): HostSnapshot {
  return { netns: SERVER_NS, takenAtMs: 0, listeners: [], sysctls: {}, counters: {}, rules: [], conntrack: null, errors: [], ...over };
}

const rule = (over: Partial<NatRule> = {}): NatRule => ({
  source: 'nftables',
  family: 'inet',
  table: 't',
  chain: 'in',
  action: 'drop',
  proto: 'tcp',
  dport: [7000, 7000],
  text: 'tcp dport 7000 drop',
  ...over,
});

/** Every evidence name a verdict carries is documented by its cause. */
function documented(v: Verdict): Verdict {
  const c = causeById(v.id)!;
  for (const k of Object.keys(v.evidence)) assert.ok(k in c.evidence, `${v.id}: evidence ${k} not documented`);
  return v;
}

const diagnose = (e: LossEvent, h?: HostSnapshot, d = new LossDiagnoser()) => documented(d.diagnose(e, h));

describe('drops: the kernel reason names the cause', () => {
  const cases: Array<[string, string]> = [
    ['IP_RPFILTER', 'rp-filter'],
    ['IP_NOROUTE', 'no-route'],
    ['IP_OUTNOROUTES', 'no-route'],
    ['NEIGH_FAILED', 'no-route'],
    ['QDISC_DROP', 'qdisc-drop'],
    ['CPU_BACKLOG', 'qdisc-drop'],
    ['TC_INGRESS', 'policy-drop'],
    ['BPF_CGROUP_EGRESS', 'policy-drop'],
    ['TCP_CSUM', 'checksum-error'],
    ['TCP_INVALID_SEQUENCE', 'out-of-window'],
    ['TCP_RFC7323_PAWS', 'out-of-window'],
    ['TCP_OLD_DATA', 'duplicate-segment'],
    ['TCP_OLD_SEQUENCE', 'duplicate-segment'],
    ['SOCKET_RCVBUFF', 'receive-buffer-full'],
    ['PROTO_MEM', 'receive-buffer-full'],
    ['TCP_ZEROWINDOW', 'zero-window'],
    ['TCP_LISTEN_OVERFLOW', 'accept-queue-full'],
    ['PKT_TOO_BIG', 'mtu-black-hole'],
    ['NOT_SPECIFIED', 'unclassified-drop'],
    ['NO_REASON', 'unclassified-drop'],
    ['SUBSYS_3_7', 'unclassified-drop'],
  ];
  for (const [reason, id] of cases) {
    test(`${reason} -> ${id}`, () => {
      const v = diagnose(lossEvent({ reason, segment: { flags: 'ACK', seq: 1, ack: 1, len: 100 } }));
      assert.equal(v.id, id);
    });
  }

  test("an unnamed drop in a qdisc's enqueue (tbf's GSO segments; 6.1's qdiscs): qdisc-drop, medium", () => {
    const v = diagnose(lossEvent({ reason: 'NOT_SPECIFIED', location: 'tbf_enqueue+0x1c4 [sch_tbf]', direction: 'out' }));
    assert.deepEqual([v.id, v.confidence], ['qdisc-drop', 'medium']);
    assert.equal(diagnose(lossEvent({ reason: 'NOT_SPECIFIED', location: 'tcp_v4_rcv+0x12' })).id, 'unclassified-drop');
  });

  test('a NO_SOCKET drop of an RST: segment-without-socket; with the listener named: its full accept queue', () => {
    assert.equal(diagnose(lossEvent({ reason: 'NO_SOCKET', segment: { flags: 'RST', seq: 1, ack: 0, len: 0 } })).id, 'segment-without-socket');
    const cookie = diagnose(
      lossEvent({ reason: 'NO_SOCKET', state: 'LISTEN', segment: { flags: 'ACK', seq: 1, ack: 1, len: 0 }, owner: { pid: 77, comm: 'srv' } }),
    );
    assert.equal(cookie.id, 'accept-queue-full');
    assert.match(cookie.summary, /pid 77 \(srv\)/);
  });
});

describe('firewall and conntrack drops', () => {
  test('NETFILTER_DROP with a rule covering the segment: the rule is quoted (high)', () => {
    const v = diagnose(lossEvent(), host({ rules: [rule({ dport: [22, 22], text: 'tcp dport 22 drop' }), rule()] }));
    assert.equal(v.id, 'firewall-drop');
    assert.equal(v.confidence, 'high');
    assert.equal(v.evidence['rule'], 'tcp dport 7000 drop');
    assert.match(v.summary, /"tcp dport 7000 drop" dropped SYN from 192\.0\.2\.1:40000 to 192\.0\.2\.2:7000/);
  });

  test('a reject rule says it rejected; a rule for another address does not match', () => {
    const reject = rule({ action: 'reject', rejectWith: 'tcp-reset', text: 'tcp dport 7000 reject with tcp reset' });
    assert.match(diagnose(lossEvent(), host({ rules: [reject] })).summary, /rejected \(tcp-reset\)/);
    const other = diagnose(lossEvent(), host({ rules: [rule({ daddr: '198.51.100.0/24' })] }));
    assert.equal(other.id, 'firewall-drop');
    assert.equal(other.confidence, 'medium');
    assert.equal(other.evidence['rule'], null);
  });

  test('rule text from the host is escaped in the verdict', () => {
    const v = diagnose(lossEvent(), host({ rules: [rule({ text: 'tcp dport 7000 drop comment "\u001b[31mx"' })] }));
    assert.ok(!String(v.evidence['rule']).includes('\u001b'));
  });

  test('conntrack table full (recorded shape: a namespace cannot set its own limit here) -> conntrack-drop', () => {
    const ct = { count: 65536, max: 65536, stats: { drop: 12, invalid: 0 }, usedBy: ['entries: 65536'] };
    const v = diagnose(lossEvent(), host({ conntrack: ct }));
    assert.equal(v.id, 'conntrack-drop');
    assert.equal(v.confidence, 'high');
    assert.match(v.summary, /table is full \(65536\/65536/);
  });

  test('a ct state invalid drop rule -> conntrack-drop naming it', () => {
    const inv = rule({ dport: undefined, ctState: ['invalid'], text: 'ct state invalid drop' });
    const v = diagnose(lossEvent({ segment: { flags: 'ACK', seq: 5, ack: 5, len: 0 } }), host({ rules: [inv] }));
    assert.equal(v.id, 'conntrack-drop');
    assert.equal(v.evidence['rule'], 'ct state invalid drop');
  });

  test('a dropped ICMP "fragmentation needed" about a flow is an MTU black hole, not just a firewall drop', () => {
    const icmpRule = rule({ proto: 'icmp', dport: undefined, text: 'icmp type destination-unreachable drop' });
    const e = lossEvent({
      netns: CLIENT_NS,
      packet: { laddr: '192.0.2.1', lport: 40000, raddr: '198.51.100.2', rport: 7000 },
      segment: { flags: '', seq: 1, ack: 0, len: 0 },
      icmp: { type: 3, code: 4, from: '192.0.2.254', mtu: 1280 },
    });
    const v = diagnose(e, host({ netns: CLIENT_NS, rules: [icmpRule] }));
    assert.equal(v.id, 'mtu-black-hole');
    assert.equal(v.evidence['mtu'], 1280);
    assert.equal(v.evidence['rule'], 'icmp type destination-unreachable drop');
    // a dropped host-unreachable error: the application waits for its timeout
    assert.equal(diagnose({ ...e, icmp: { type: 3, code: 1, from: '192.0.2.254', mtu: null } }).id, 'icmp-unreachable');
  });
});

describe('zero windows', () => {
  const probe = { reason: 'TCP_OLD_SEQUENCE', segment: { flags: 'ACK', seq: 99, ack: 1, len: 0 }, state: 'ESTABLISHED' };
  test("the peer's probe into a zero window (the kernel named the socket): high", () => {
    const v = diagnose(lossEvent({ ...probe, window_probe: true }));
    assert.equal(v.id, 'zero-window');
    assert.equal(v.confidence, 'high');
  });
  test('6.1 (no socket named, TCP_INVALID_SEQUENCE): a bare ACK in a namespace that advertised zero windows: medium', () => {
    const e = lossEvent({ ...probe, reason: 'TCP_INVALID_SEQUENCE', state: null });
    assert.equal(diagnose(e, host({ counters: { 'TcpExt.TCPToZeroWindowAdv': 3 } })).confidence, 'medium');
    // without adverts it is a segment out of the window
    assert.equal(diagnose(e, host()).id, 'out-of-window');
  });
});

describe('retransmissions and the story of a connection', () => {
  test('SYNs dropped by a firewall, retransmitted, then connect() times out: each verdict names the rule', () => {
    const d = new LossDiagnoser();
    const h = host({ rules: [rule()] });
    let t = 1e12;
    const verdicts: Verdict[] = [];
    for (let i = 0; i < 3; i++) {
      verdicts.push(diagnose(lossEvent({ mono_ns: t }), h, d));
      t += 1e9;
      if (i < 2) verdicts.push(diagnose(synRetransmit(i + 1, { mono_ns: t }), undefined, d));
    }
    assert.deepEqual(
      verdicts.map((v) => v.id),
      ['firewall-drop', 'firewall-drop', 'firewall-drop', 'firewall-drop', 'firewall-drop'],
    );
    assert.match(verdicts[1]!.summary, /pid 812 \(curl\) 192\.0\.2\.1:40000 -> 192\.0\.2\.2:7000: sent again \(SYN, retry 1\) after its SYN was dropped/);
    const end = diagnose(socketError({ mono_ns: t + 1e9 }), undefined, d);
    assert.equal(end.id, 'connect-timeout');
    assert.equal(end.confidence, 'high');
    assert.match(
      end.summary,
      /3 SYNs, 3 of them dropped in netns 4026532400 \(firewall-drop: rule "tcp dport 7000 drop"\); connect\(\) timed out \(ETIMEDOUT\) after 4\.0 s/,
    );
    assert.equal(end.evidence['syns'], 2);
    // the story ends with the error
    assert.equal(d.storyCount, 0);
  });

  test('a retransmission with no drop seen here: loss beyond this host; a timeout after it: medium', () => {
    const d = new LossDiagnoser();
    const r = diagnose(synRetransmit(1, { reason: 'RTO', state: 'ESTABLISHED' }), undefined, d);
    assert.equal(r.id, 'loss-beyond-host');
    const end = diagnose(socketError({ state: 'ESTABLISHED' }), undefined, d);
    assert.equal(end.id, 'retransmission-timeout');
    assert.equal(end.confidence, 'medium');
    assert.match(end.summary, /1 RTO retransmission/);
  });

  test('a drop long before the retransmission does not explain it', () => {
    const d = new LossDiagnoser();
    diagnose(lossEvent({ mono_ns: 1e12 }), host({ rules: [rule()] }), d);
    assert.equal(diagnose(synRetransmit(1, { mono_ns: 1e12 + 60e9 }), undefined, d).id, 'loss-beyond-host');
  });

  test('a SYN-ACK sent again while the listener accept queue is full', () => {
    const e = synRetransmit(2, {
      reason: 'SYNACK',
      state: 'NEW_SYN_RECV',
      netns: SERVER_NS,
      packet: { laddr: '192.0.2.2', lport: 7000, raddr: '192.0.2.1', rport: 40000 },
      accept_queue: { len: 2, max: 2 },
      owner: { pid: 77, comm: 'srv' },
    });
    const v = diagnose(e);
    assert.equal(v.id, 'accept-queue-full');
    assert.match(v.summary, /accept queue of the listener on port 7000 \(pid 77 \(srv\)\) is full \(2\/2\)/);
    assert.equal(diagnose({ ...e, accept_queue: { len: 0, max: 2 } }).id, 'loss-beyond-host');
    // a full queue is what the event itself shows: it wins over an earlier drop of the connection
    const d = new LossDiagnoser();
    diagnose(
      lossEvent({ mono_ns: e.mono_ns - 1e8, netns: CLIENT_NS, direction: 'out', segment: { flags: 'ACK', seq: 1, ack: 1, len: 0 } }),
      host({ rules: [rule()] }),
      d,
    );
    assert.equal(diagnose(e, undefined, d).id, 'accept-queue-full');
  });

  test('errors the application saw', () => {
    assert.equal(diagnose(socketError({ reason: 'ECONNREFUSED', reason_code: 111 })).id, 'reset-seen-by-app');
    assert.equal(diagnose(socketError({ reason: 'EHOSTUNREACH', reason_code: 113 })).id, 'icmp-unreachable');
    assert.equal(diagnose(socketError({ reason: 'EPROTO', reason_code: 71 })).id, 'unclassified-error');
  });

  test("a connection's key is the same from either end, IPv4-mapped or not", () => {
    const a = lossEvent();
    const b = synRetransmit(1, { packet: { laddr: '::ffff:192.0.2.1', lport: 40000, raddr: '::ffff:192.0.2.2', rport: 7000 } });
    assert.equal(storyKey(a), storyKey(b));
  });
});

describe('a received RST made by a firewall REJECT in another namespace of this host', () => {
  test('the drop of the SYN there, then the RST here: netfilter-reject, with the rule', () => {
    const d = new Diagnoser();
    const reject = rule({ action: 'reject', rejectWith: 'tcp-reset', text: 'tcp dport 7000 reject with tcp reset' });
    d.loss.diagnose(lossEvent({ mono_ns: 1e12 }), host({ rules: [reject] }));
    const t = { laddr: '192.0.2.1', lport: 40000, raddr: '192.0.2.2', rport: 7000 };
    const recv = rstEvent(0, {
      direction: 'received',
      kind: null,
      reason: null,
      state: 'SYN_SENT',
      packet: null,
      socket: t,
      segment: null,
      netns: CLIENT_NS,
      mono_ns: 1e12 + 2e5,
    });
    const v = d.diagnose(recv);
    assert.equal(v.id, 'netfilter-reject');
    assert.equal(v.confidence, 'high');
    assert.equal(v.evidence['netns'], SERVER_NS);
    assert.equal(v.evidence['rule'], 'tcp dport 7000 reject with tcp reset');
    // without the drop it is the peer refusing
    assert.equal(new Diagnoser().diagnose({ ...recv, cause: null }).id, 'connection-refused');
  });
});
