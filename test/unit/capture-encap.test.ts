// TCP inside tunnels and encapsulations (src/capture/encap.ts): a synthetic
// frame for each one, decoded to the inner segment; every prefix of each frame
// decoded without a throw; unsupported ones and too-deep nesting named; tshark
// reading the same inner segments; the CLI saying on stderr what it skipped; and
// the real captures of ../shared/real-pcaps whose TCP is tunnelled counting the
// RSTs tshark counts.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { analyzeCapture } from '../../src/capture/analyze.js';
import { decodeTcp, newSegment } from '../../src/capture/decode.js';
import { MAX_LAYERS, skipNote } from '../../src/capture/encap.js';
import { readCapture } from '../../src/capture/reader.js';
import type { Frame, SkipReason } from '../../src/capture/types.js';
import { addrText } from '../../src/net/addr.js';
import { packageRoot } from '../../src/paths.js';
import * as B from '../helpers/capture-build.js';
import { ACK, ETHERTYPE, IPPROTO, LINKTYPE, RST, SYN } from '../helpers/capture-build.js';
import { tsharkAvailable, tsharkFields } from '../helpers/tshark.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-encap-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function put(bytes: Buffer, name: string): string {
  const p = path.join(dir, `${++fileNo}-${name}`);
  writeFileSync(p, bytes);
  return p;
}

// the inner connection, and the outer tunnel endpoints
const IN4: B.Ip4Spec = { src: '10.1.1.1', dst: '10.2.2.2', ttl: 63, id: 0x4242 };
const IN6: B.Ip6Spec = { src: '2001:db8:1::1', dst: '2001:db8:2::2', hopLimit: 62 };
const OUT4: B.Ip4Spec = { src: '192.0.2.1', dst: '198.51.100.2', ttl: 250 };
const OUT6: B.Ip6Spec = { src: '2001:db8:ff::1', dst: '2001:db8:ff::2' };
const TCP: B.TcpSpec = { sport: 40000, dport: 443, seq: 123456789, ack: 987654321, flags: RST | ACK, win: 0, payload: 'bye' };
const in4 = () => B.ipv4Tcp(IN4, TCP);
const in6 = () => B.ipv6Tcp(IN6, TCP);
const innerEth = (ip: Buffer) => B.ethernet(ip, { src: '02:00:00:00:01:01', dst: '02:00:00:00:01:02' });
const overIp4 = (protocol: number, payload: Buffer) => B.ipv4Packet({ ...OUT4, protocol }, payload);
const overUdp4 = (sport: number, dport: number, payload: Buffer) => overIp4(IPPROTO.UDP, B.udp(sport, dport, payload));

interface Case {
  name: string;
  linktype: number;
  frame: Buffer;
  /** the inner segment's family */
  family: 4 | 6;
}

/** Every encapsulation the decoder knows, each around an RST with 3 payload bytes. */
function cases(): Case[] {
  const eth = (ip: Buffer, etherType?: number, vlans?: B.VlanTag[]) => B.ethernet(ip, { etherType, vlans });
  const list: Array<[string, Buffer, 4 | 6]> = [
    ['GRE, plain', eth(overIp4(IPPROTO.GRE, B.gre(in4()))), 4],
    ['GRE with checksum, key and sequence number', eth(overIp4(IPPROTO.GRE, B.gre(in6(), { checksum: true, key: 0xdead, seq: 9 }))), 6],
    ['GRE over IPv6', eth(B.ipv6Packet(OUT6, IPPROTO.GRE, B.gre(in4(), { key: 1 }))), 4],
    ['GRE, transparent Ethernet bridging', eth(overIp4(IPPROTO.GRE, B.gre(innerEth(in4()), { proto: ETHERTYPE.TEB }))), 4],
    ['GRE, Ethernet with a VLAN tag', eth(overIp4(IPPROTO.GRE, B.gre(B.ethernet(in6(), { vlans: [{ vid: 5 }] }), { proto: ETHERTYPE.TEB }))), 6],
    ['ERSPAN type I', eth(overIp4(IPPROTO.GRE, B.gre(innerEth(in4()), { proto: ETHERTYPE.ERSPAN_2 }))), 4],
    ['ERSPAN type II', eth(overIp4(IPPROTO.GRE, B.gre(B.erspan(innerEth(in4()), 2), { proto: ETHERTYPE.ERSPAN_2, seq: 1 }))), 4],
    ['ERSPAN type III', eth(overIp4(IPPROTO.GRE, B.gre(B.erspan(innerEth(in6()), 3), { proto: ETHERTYPE.ERSPAN_3, seq: 2 }))), 6],
    [
      'ERSPAN type III with the platform subheader',
      eth(overIp4(IPPROTO.GRE, B.gre(B.erspan(innerEth(in4()), 3, { subheader: true }), { proto: ETHERTYPE.ERSPAN_3, seq: 3 }))),
      4,
    ],
    ['GRE, Aruba 802.11 QoS data', eth(overIp4(IPPROTO.GRE, B.gre(B.wlanData(in4()), { proto: ETHERTYPE.ARUBA })), undefined, [{ vid: 300 }]), 4],
    [
      'GRE, Aruba 802.11 data, four addresses, no QoS',
      eth(overIp4(IPPROTO.GRE, B.gre(B.wlanData(in4(), { qos: false, fourAddr: true }), { proto: 0x8210 }))),
      4,
    ],
    ['GRE version 1 (PPTP) with PPP', eth(overIp4(IPPROTO.GRE, B.gre(B.ppp(in4()), { version: 1, proto: ETHERTYPE.PPP, seq: 4, ackNo: 3 }))), 4],
    ['GRE, MPLS', eth(overIp4(IPPROTO.GRE, B.gre(B.mpls([100], in4()), { proto: ETHERTYPE.MPLS }))), 4],
    ['VXLAN', eth(overUdp4(51000, 4789, B.vxlan(innerEth(in4())))), 4],
    ['VXLAN over IPv6', eth(B.ipv6Packet(OUT6, IPPROTO.UDP, B.udp(51000, 4789, B.vxlan(innerEth(in6()))))), 6],
    ['Geneve, Ethernet, with options', eth(overUdp4(51000, 6081, B.geneve(innerEth(in4()), ETHERTYPE.TEB, 8))), 4],
    ['Geneve, IPv6', eth(overUdp4(51000, 6081, B.geneve(in6(), ETHERTYPE.IPV6))), 6],
    ['Teredo', eth(overUdp4(3544, 60000, B.teredo(in6()))), 6],
    ['Teredo with origin indication and authentication', eth(overUdp4(60000, 3544, B.teredo(in6(), { origin: true, auth: true }))), 6],
    ['IPv4 in IPv4', eth(overIp4(IPPROTO.IPIP, in4())), 4],
    ['IPv6 in IPv4 (6in4)', eth(overIp4(IPPROTO.IPV6, in6())), 6],
    ['IPv4 in IPv6', eth(B.ipv6Packet(OUT6, IPPROTO.IPIP, in4())), 4],
    ['IPv6 in IPv6 after extension headers', eth(B.ipv6Packet({ ...OUT6, ext: [{ type: 'dst' }] }, IPPROTO.IPV6, in6())), 6],
    ['PPPoE session', eth(B.pppoe(in4()), ETHERTYPE.PPPOE), 4],
    ['PPPoE session, IPv6, after QinQ', eth(B.pppoe(in6()), ETHERTYPE.PPPOE, [{ tpid: ETHERTYPE.QINQ, vid: 1 }, { vid: 2 }]), 6],
    ['MPLS, one label', eth(B.mpls([29], in4()), ETHERTYPE.MPLS), 4],
    ['MPLS multicast, three labels, IPv6', eth(B.mpls([16, 17, 2], in6()), ETHERTYPE.MPLS_MULTICAST), 6],
    ['MPLS pseudowire with a control word', eth(B.mpls([1000, 2000], innerEth(in4()), { controlWord: true }), ETHERTYPE.MPLS), 4],
    ['MPLS pseudowire without a control word', eth(B.mpls([1000], B.ethernet(in4(), { dst: 'a2:00:00:00:00:02' })), ETHERTYPE.MPLS), 4],
    ['802.3 with LLC/SNAP', B.ethernetLlc(in4()), 4],
    [
      'GRE in VXLAN in GRE',
      eth(overIp4(IPPROTO.GRE, B.gre(innerEth(overUdp4(1, 4789, B.vxlan(innerEth(overIp4(IPPROTO.GRE, B.gre(in4())))))), { proto: ETHERTYPE.TEB }))),
      4,
    ],
  ];
  return [
    ...list.map(([name, frame, family]) => ({ name, linktype: LINKTYPE.ETHERNET, frame, family })),
    { name: 'FDDI with LLC/SNAP', linktype: LINKTYPE.FDDI, frame: B.fddi(in4()), family: 4 },
    { name: 'Linux cooked SLL, PPPoE', linktype: LINKTYPE.LINUX_SLL, frame: B.sll(B.pppoe(in4()), { protocol: ETHERTYPE.PPPOE }), family: 4 },
    { name: 'raw IP, GRE', linktype: LINKTYPE.RAW, frame: overIp4(IPPROTO.GRE, B.gre(in6())), family: 6 },
  ];
}

/** A frame as the reader hands it out, from bytes. */
function frameOf(linktype: number, data: Buffer, caplen = data.length): Frame {
  return { index: 1, sec: 0, nsec: 0, iface: 0, linktype, caplen, origlen: data.length, buf: data, off: 0, fileOffset: 24 };
}

describe('TCP inside encapsulations', () => {
  for (const c of cases()) {
    test(`${c.name}: the inner segment`, () => {
      const seg = newSegment();
      const why = decodeTcp(frameOf(c.linktype, c.frame), seg);
      assert.equal(why, null, `${c.name}: skipped as ${why} (${skipNote})`);
      const inner = c.family === 4 ? IN4 : IN6;
      assert.deepEqual(
        {
          family: seg.family,
          src: addrText(seg.srcKey),
          dst: addrText(seg.dstKey),
          ttl: seg.ttl,
          sport: seg.sport,
          dport: seg.dport,
          seq: seg.seq,
          ack: seg.ack,
          flags: seg.flags,
          len: seg.len,
          payload: c.frame.subarray(seg.payloadOff, seg.payloadOff + seg.captured).toString(),
        },
        {
          family: c.family,
          src: inner.src,
          dst: inner.dst,
          ttl: c.family === 4 ? IN4.ttl : IN6.hopLimit,
          sport: TCP.sport,
          dport: TCP.dport,
          seq: TCP.seq,
          ack: TCP.ack,
          flags: TCP.flags,
          len: 3,
          payload: 'bye',
        },
      );
    });
  }

  test('every prefix of every frame: a reason or the segment, never a throw, never a byte past the end', () => {
    const seg = newSegment();
    for (const c of cases()) {
      for (let n = 0; n <= c.frame.length; n++) {
        // the prefix in a buffer of its own length: a read past it would come back undefined and show
        const data = Buffer.from(c.frame.subarray(0, n));
        const why = decodeTcp(frameOf(c.linktype, data), seg);
        if (why === null) {
          assert.ok(seg.payloadOff + seg.captured <= n, `${c.name}, ${n} bytes: payload past the end`);
          assert.equal(seg.seq, TCP.seq, `${c.name}, ${n} bytes`);
        } else assert.ok(n < c.frame.length, `${c.name}: the whole frame skipped as ${why}`);
      }
    }
  });

  test('the inner 4-tuple is the key: the same connection in two tunnels is one connection, as in two VLANs', async () => {
    const syn = B.ipv4Tcp(IN4, { sport: 40000, dport: 443, seq: 1, flags: SYN });
    const rst = B.ipv4Tcp({ ...IN4, src: IN4.dst, dst: IN4.src }, { sport: 443, dport: 40000, seq: 0, ack: 2, flags: RST | ACK, win: 0 });
    const file = put(
      B.pcap([{ data: B.ethernet(overIp4(IPPROTO.GRE, B.gre(syn, { key: 1 }))) }, { data: B.ethernet(overUdp4(1, 4789, B.vxlan(innerEth(rst)))) }], {
        linktype: LINKTYPE.ETHERNET,
      }).bytes,
      'two-tunnels.pcap',
    );
    const a = await analyzeCapture(file);
    assert.equal(a.tcp_segments, 2);
    assert.equal(a.connections, 1);
    assert.equal(a.handshakes.refused, 1);
  });
});

describe('what is not decoded is named', () => {
  const named: Array<[string, number, Buffer, SkipReason, string | null]> = [
    [
      'GRE of an unknown protocol',
      LINKTYPE.ETHERNET,
      B.ethernet(overIp4(IPPROTO.GRE, B.gre(in4(), { proto: 0x883e }))),
      'encapsulation',
      'GRE protocol 0x883e',
    ],
    [
      'GRE with source routing',
      LINKTYPE.ETHERNET,
      B.ethernet(overIp4(IPPROTO.GRE, B.gre(in4(), { routing: true }))),
      'encapsulation',
      'GRE with source routing',
    ],
    [
      'encrypted 802.11 in Aruba GRE',
      LINKTYPE.ETHERNET,
      B.ethernet(overIp4(IPPROTO.GRE, B.gre(B.wlanData(in4(), { protected: true }), { proto: ETHERTYPE.ARUBA }))),
      'encapsulation',
      '802.11 protected (encrypted) frame',
    ],
    [
      'PPTP with compressed PPP',
      LINKTYPE.ETHERNET,
      B.ethernet(overIp4(IPPROTO.GRE, B.gre(B.ppp(in4(), 0xfd), { version: 1, proto: ETHERTYPE.PPP }))),
      'encapsulation',
      'PPP compressed or encrypted (CCP/ECP)',
    ],
    ['Geneve of an unknown protocol', LINKTYPE.ETHERNET, B.ethernet(overUdp4(1, 6081, B.geneve(in4(), 0x1234))), 'encapsulation', 'Geneve protocol 0x1234'],
    ['an unknown link type', 147, in4(), 'unknown-linktype', 'link type 147'],
    // UDP to and from the tunnel ports that is not a tunnel stays UDP
    [
      'UDP from port 3544 that is not Teredo',
      LINKTYPE.ETHERNET,
      B.ethernet(overUdp4(3544, 53, Buffer.from('not ipv6 at all, just some bytes here and more to fill 40'))),
      'not-tcp',
      null,
    ],
    ['UDP to port 4789 without the VXLAN I flag', LINKTYPE.ETHERNET, B.ethernet(overUdp4(1, 4789, Buffer.alloc(64))), 'not-tcp', null],
    [
      'ARP bridged in GRE',
      LINKTYPE.ETHERNET,
      B.ethernet(overIp4(IPPROTO.GRE, B.gre(B.ethernet(Buffer.alloc(28), { etherType: ETHERTYPE.ARP }), { proto: ETHERTYPE.TEB }))),
      'not-ip',
      null,
    ],
    [
      'PPP LCP in PPTP',
      LINKTYPE.ETHERNET,
      B.ethernet(overIp4(IPPROTO.GRE, B.gre(B.ppp(Buffer.alloc(8), 0xc021), { version: 1, proto: ETHERTYPE.PPP }))),
      'not-ip',
      null,
    ],
  ];
  for (const [name, linktype, frame, reason, note] of named) {
    test(name, () => {
      const why = decodeTcp(frameOf(linktype, frame), newSegment());
      assert.equal(why, reason);
      if (note !== null) assert.equal(skipNote, note);
    });
  }

  test(`nesting is bounded: ${MAX_LAYERS} IP-in-IP layers decode, one more is named, 1000 do not recurse`, () => {
    const nest = (n: number) => {
      let p = in4();
      for (let i = 0; i < n; i++) p = overIp4(IPPROTO.IPIP, p);
      return p;
    };
    assert.equal(decodeTcp(frameOf(LINKTYPE.RAW, nest(MAX_LAYERS)), newSegment()), null);
    assert.equal(decodeTcp(frameOf(LINKTYPE.RAW, nest(MAX_LAYERS + 1)), newSegment()), 'encapsulation');
    assert.equal(skipNote, `more than ${MAX_LAYERS} nested encapsulations`);
    // a hostile frame: Ethernet pseudowires in MPLS, each holding the next, 1000 deep
    let f = in4();
    for (let i = 0; i < 1000; i++) f = B.ethernet(B.mpls([16], f), { etherType: ETHERTYPE.MPLS, dst: 'a2:00:00:00:00:02' });
    assert.equal(decodeTcp(frameOf(LINKTYPE.ETHERNET, f), newSegment()), 'encapsulation');
    // a label stack that never ends stops at the frame's end
    const stack = Buffer.alloc(64 * 1024, 0x10);
    assert.equal(decodeTcp(frameOf(LINKTYPE.ETHERNET, B.ethernet(stack, { etherType: ETHERTYPE.MPLS })), newSegment()), 'truncated');
  });

  test('the CLI says on stderr what it skipped, in text and --json; the JSON summary counts it', () => {
    const file = put(
      B.pcap(
        [
          { data: B.ethernet(overIp4(IPPROTO.GRE, B.gre(in4(), { proto: 0x883e }))) },
          { data: B.ethernet(overIp4(IPPROTO.GRE, B.gre(in4(), { proto: 0x883e }))) },
          { data: B.ethernet(overIp4(IPPROTO.GRE, B.gre(in4()))) },
        ],
        { linktype: LINKTYPE.ETHERNET },
      ).bytes,
      'gre-unknown.pcap',
    );
    const bin = path.join(packageRoot, 'bin', 'tcpwhy');
    for (const json of [false, true]) {
      const r = spawnSync(bin, ['analyze', ...(json ? ['--json'] : []), file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        r.stderr,
        /^tcpwhy: .*gre-unknown\.pcap: skipped 2 packets that tcpwhy cannot look into \(TCP there is not analyzed\): 2 GRE protocol 0x883e\n$/,
      );
      if (json) {
        const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
        assert.deepEqual(summary.skipped, { encapsulation: 2 });
        assert.deepEqual(summary.skipped_unsupported, { 'GRE protocol 0x883e': 2 });
        assert.equal(summary.resets, 1);
      } else assert.match(r.stdout, /1 TCP segments \(skipped: 2 encapsulation\)/);
    }
    // nothing skipped that could hide TCP: nothing said
    const plain = put(B.pcap([{ data: B.ethernet(in4()) }], { linktype: LINKTYPE.ETHERNET }).bytes, 'plain.pcap');
    const r = spawnSync(bin, ['analyze', plain], { encoding: 'utf8' });
    assert.equal(r.stderr, '');
  });
});

describe('tshark reads the same inner segments', { skip: tsharkAvailable() ? false : 'tshark is not installed' }, () => {
  test('every encapsulation on Ethernet', async () => {
    // tshark decodes a pseudowire's payload only when told its type per label ("Decode As")
    const list = cases().filter((c) => c.linktype === LINKTYPE.ETHERNET && !c.name.startsWith('MPLS pseudowire'));
    const file = put(
      B.pcap(
        list.map((c) => ({ data: c.frame })),
        { linktype: LINKTYPE.ETHERNET },
      ).bytes,
      'all-tunnels.pcap',
    );
    const rows = tsharkFields(
      file,
      ['tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.flags', 'ip.src', 'ipv6.src'],
      ['tcp.relative_sequence_numbers:FALSE', 'tcp.analyze_sequence_numbers:FALSE'],
    );
    const seg = newSegment();
    let i = 0;
    await readCapture(file, (f) => {
      const c = list[i]!;
      const t = rows[i++]!;
      assert.equal(decodeTcp(f, seg), null, c.name);
      const last = (v: string) => v.split(',').at(-1)!;
      assert.deepEqual(
        { sport: last(t['tcp.srcport']!), seq: last(t['tcp.seq_raw']!), flags: parseInt(last(t['tcp.flags']!), 16) },
        { sport: String(seg.sport), seq: String(seg.seq), flags: seg.flags },
        `${c.name}: tshark reads another segment`,
      );
      const src = seg.family === 4 ? last(t['ip.src']!) : last(t['ipv6.src']!);
      assert.equal(src, addrText(seg.srcKey), `${c.name}: inner source`);
    });
    assert.equal(i, list.length);
  });
});

// ../shared/real-pcaps/: captures whose TCP is tunnelled or on a link type of its own
const SHARED = path.join(packageRoot, '..', 'shared', 'real-pcaps');
const REAL = [
  'zeek-tunnels-gre-aruba.pcap',
  'zeek-tunnels-Teredo.pcap',
  'pcapplusplus-one_http_stream_rst.pcap',
  'zeek-llc.pcap',
  'zeek-mixed-vlan-mpls.pcap',
  'tcpdump-pptp.pcap',
];

describe('real captures with tunnels: RST counts equal tshark 4.0s', () => {
  test('../shared/real-pcaps is there', () => {
    assert.ok(
      existsSync(path.join(SHARED, 'tshark-4.0.json')),
      `${SHARED} is missing: these tests read the shared real captures beside the clone (CI has them); they never skip`,
    );
  });
  for (const name of REAL) {
    test(name, async () => {
      const expected = JSON.parse(readFileSync(path.join(SHARED, 'tshark-4.0.json'), 'utf8')) as Record<
        string,
        { packets: number; rst: number[]; flags: { dup_acks: number[] } }
      >;
      const want = expected[name];
      assert.ok(want, `${name} is not in tshark-4.0.json`);
      const a = await analyzeCapture(path.join(SHARED, name));
      assert.equal(a.frames, want.packets);
      assert.equal(a.resets, want.rst.length, `${name}: RSTs`);
      assert.deepEqual(a.skipped_unsupported, {}, `${name}: nothing left undecoded`);
      if (name === 'zeek-tunnels-gre-aruba.pcap') {
        // every frame is TCP in 802.11 in Aruba GRE; the duplicate ACKs are tshark's too
        assert.equal(a.tcp_segments, want.packets);
        assert.equal(a.loss.dup_acks, want.flags.dup_acks.length);
      }
      if (name === 'zeek-mixed-vlan-mpls.pcap') assert.equal(a.tcp_segments, want.packets, 'the MPLS frames too');
    });
  }
});
