// Completeness against independent witnesses: in a fresh lab, the number of
// sent-RST events equals the kernel's own Tcp OutRsts delta and the number of
// RSTs tcpdump sees crossing the veth link.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Lab } from '../../src/lab/netns.js';
import { scenario } from '../../src/lab/scenarios.js';
import { captureDuring } from '../helpers/capture.js';

let lab: Lab;
before(() => {
  lab = Lab.create('cmp');
});
after(() => lab?.destroy());

/** tcpdump on the server's veth end: every RST between the two hosts crosses it
 * (IPv6: TCP right after the fixed header, as the lab sends no extension headers). */
async function startTcpdump(): Promise<{ stop(): Promise<{ captured: number; dropped: number }> }> {
  const child = spawn(
    'ip',
    ['netns', 'exec', lab.server.ns, 'tcpdump', '-i', 'veth1', '-nn', '--immediate-mode', '-w', process.env['TCPWHY_TEST_PCAP'] ?? '/dev/null' /* set it to keep the capture */, '(ip and tcp[tcpflags] & tcp-rst != 0) or (ip6 and ip6[6] == 6 and ip6[53] & 4 != 0)'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 5000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`tcpdump exited: ${err}`)));
  });
  return {
    async stop() {
      child.kill('SIGINT');
      await once(child, 'exit');
      const captured = Number(/(\d+) packets? captured/.exec(err)?.[1] ?? NaN);
      const dropped = Number(/(\d+) packets? dropped by kernel/.exec(err)?.[1] ?? NaN);
      return { captured, dropped };
    },
  };
}

function outRsts(): number {
  return lab.snmp(lab.client).Tcp!.OutRsts! + lab.snmp(lab.server).Tcp!.OutRsts!;
}

test('sent-RST events = OutRsts delta = RSTs on the wire', async () => {
  const SYNS = 300;
  const dump = await startTcpdump();
  const before = outRsts();
  const cap = await captureDuring(
    { netns: [lab.client.netns, lab.server.netns] },
    async () => {
      // passive RSTs: SYNs to a closed port, IPv4 (hping3, bounded count and rate)
      const h = spawn('ip', ['netns', 'exec', lab.client.ns, 'hping3', '-q', '-S', '-p', '7', '-c', String(SYNS), '-i', 'u500', lab.server.v4], { stdio: 'ignore' });
      const [code] = (await once(h, 'exit')) as [number];
      assert.equal(code === 0 || code === 1, true, `hping3 exit ${code}`); // 1: no replies counted as "lost"
      // active RSTs and IPv6, from real sockets
      let port = 9500;
      for (const name of ['close-unread', 'linger-zero', 'closed-port']) {
        for (const family of [4, 6] as const) await scenario(name).run(lab, family, port++);
      }
    },
    { minEvents: SYNS },
  );
  await new Promise((r) => setTimeout(r, 300));
  const wire = await dump.stop();
  const delta = outRsts() - before;
  const sent = cap.events.filter((e) => e.direction === 'sent').length;
  assert.equal(wire.dropped, 0, 'tcpdump dropped packets: the witness is incomplete');
  assert.ok(delta >= SYNS + 6, `OutRsts delta ${delta} too small: the load did not run`);
  assert.equal(sent, delta, `sent events ${sent} vs OutRsts delta ${delta}`);
  assert.equal(sent, wire.captured, `sent events ${sent} vs RSTs seen by tcpdump ${wire.captured}`);
  assert.equal(cap.summary.counters.ringbufFull + cap.summary.counters.recursionMisses, 0);
});
