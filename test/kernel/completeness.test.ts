// Completeness against independent witnesses: in a fresh lab, the number of
// sent RSTs tcpwhy counts equals the kernel's own Tcp OutRsts delta and the
// number of RSTs tcpdump sees crossing the veth link, and so does the number
// of sent-RST events when every RST is shown in full.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Lab } from '../../src/lab/netns.js';
import { labCase } from '../../src/lab/cases.js';
import { startRecording, type Recording } from '../../src/lab/record.js';
import { captureDuring } from '../helpers/capture.js';

let lab: Lab;
before(() => {
  lab = Lab.create('cmp');
});
after(() => lab?.destroy());

/** tcpdump on the server's veth end: every RST between the two hosts crosses it
 * (IPv6: TCP right after the fixed header, as the lab sends no extension headers). */
function startTcpdump(): Promise<Recording> {
  const file = process.env['TCPWHY_TEST_PCAP'] ?? '/dev/null'; // set it to keep the capture
  return startRecording(lab.server.ns, 'veth1', file, { filter: '(ip and tcp[tcpflags] & tcp-rst != 0) or (ip6 and ip6[6] == 6 and ip6[53] & 4 != 0)' });
}

function outRsts(): number {
  return lab.snmp(lab.client).Tcp!.OutRsts! + lab.snmp(lab.server).Tcp!.OutRsts!;
}

/** The witnessed load: SYNs to a closed port (hping3, bounded count and rate), then active RSTs and IPv6 from real sockets. */
async function load(syns: number, firstPort: number): Promise<void> {
  const h = spawn('ip', ['netns', 'exec', lab.client.ns, 'hping3', '-q', '-S', '-p', '7', '-c', String(syns), '-i', 'u500', lab.server.v4], {
    stdio: 'ignore',
  });
  const [code] = (await once(h, 'exit')) as [number];
  assert.equal(code === 0 || code === 1, true, `hping3 exit ${code}`); // 1: no replies counted as "lost"
  let port = firstPort;
  for (const name of ['close-unread', 'linger-zero', 'closed-port']) {
    for (const family of [4, 6] as const) await labCase(name).run(lab, family, port++);
  }
}

for (const fullPerKey of [0, undefined]) {
  const all = fullPerKey === 0;
  test(`${all ? 'every RST shown: sent-RST events' : 'storm limit on: sent RSTs counted'} = OutRsts delta = RSTs on the wire`, async () => {
    const SYNS = 300;
    const dump = await startTcpdump();
    const before = outRsts();
    const cap = await captureDuring(
      { netns: [lab.client.netns, lab.server.netns], ...(all ? { fullPerKey, fullRate: 0 } : {}) },
      () => load(SYNS, all ? 9500 : 9600),
      {
        minEvents: all ? SYNS : 100,
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    const wire = await dump.stop();
    const delta = outRsts() - before;
    const sent = cap.events.filter((e) => e.direction === 'sent').length;
    assert.equal(wire.dropped, 0, 'tcpdump dropped packets: the witness is incomplete');
    assert.ok(delta >= SYNS + 6, `OutRsts delta ${delta} too small: the load did not run`);
    assert.equal(cap.summary.rsts.sent, delta, `sent RSTs counted ${cap.summary.rsts.sent} vs OutRsts delta ${delta}`);
    assert.equal(cap.summary.rsts.sent, wire.packets, `sent RSTs counted ${cap.summary.rsts.sent} vs RSTs seen by tcpdump ${wire.packets}`);
    if (all) assert.equal(sent, delta, `sent events ${sent} vs OutRsts delta ${delta}`);
    // the SYN storm's key shows its first 100 a second; the six others are each their own key
    else assert.ok(sent >= 100 + 6 && sent < delta, `${sent} sent events shown of ${delta}`);
    assert.equal(cap.summary.rsts.shown + cap.summary.rsts.counted_only, cap.summary.rsts.sent + cap.summary.rsts.received);
    assert.equal(cap.summary.counters.ringbufFull + cap.summary.counters.recursionMisses, 0);
  });
}
