// Loss signs where real captures showed tcpwhy and tshark apart: a SYN sent
// again after a reset, an RST carrying a stray ACK's seq, header-only frames
// whose IP length claims a payload the frame does not hold. Each conversation
// is read by tshark too and must get the same flags frame by frame (the
// expected values are Wireshark's); and `analyze --json --loss-frames` lists
// every frame with a loss sign.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { analyzeCapture } from '../../src/capture/analyze.js';
import { packageRoot } from '../../src/paths.js';
import { ACK, FIN, PSH, RST, SYN } from '../helpers/capture-build.js';
import { lossSigns, tsharkLossSigns } from '../helpers/loss-signs.js';
import { S, S6, type Seg, writeConversation } from '../helpers/conversation.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tcpwhy-loss-tshark-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function write(segs: Seg[], v6 = false): string {
  const file = path.join(dir, `t${n++}.pcap`);
  writeConversation(file, segs, { v6 });
  return file;
}

async function expectSigns(segs: Seg[], expected: Record<number, string[]>, v6 = false): Promise<string> {
  const file = write(segs, v6);
  assert.deepEqual(tsharkLossSigns(file), expected, 'tshark');
  assert.deepEqual(await lossSigns(file, v6 ? S6 : S, 80), expected, 'tcpwhy');
  return file;
}

const SYN_AGAIN = ['SYN retransmission', 'retransmission'];

test('a SYN sent again with the same ISN after the reset that refused it is a retransmission (each retry, then the accepted one; IPv4 and IPv6)', async () => {
  const retries: Seg[] = [
    { from: 'c', flags: SYN, seq: 1000, t: 0 },
    { from: 's', flags: RST | ACK, seq: 0, ack: 1001, win: 0, t: 0.05 },
    { from: 'c', flags: SYN, seq: 1000, t: 0.5 },
    { from: 's', flags: RST | ACK, seq: 0, ack: 1001, win: 0, t: 0.55 },
    { from: 'c', flags: SYN, seq: 1000, t: 1.5 },
    { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, t: 1.55 },
    { from: 'c', flags: ACK, seq: 1001, ack: 5001, t: 1.6 },
    { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, len: 100, t: 1.7 },
  ];
  const file = await expectSigns(retries, { 3: SYN_AGAIN, 5: SYN_AGAIN });
  await expectSigns(retries, { 3: SYN_AGAIN, 5: SYN_AGAIN }, true);
  // the connections stay apart (each refusal is told by its reset), the retries are counted on them
  const a = await analyzeCapture(file);
  assert.equal(a.handshakes.refused, 2);
  assert.equal(a.handshakes.completed, 1);
  assert.equal(a.loss.retransmissions, 2);
  assert.equal(a.loss.syn_retransmits, 2);
  // another ISN is another connection: no retransmission
  await expectSigns(
    [
      { from: 'c', flags: SYN, seq: 1000, t: 0 },
      { from: 's', flags: RST | ACK, seq: 0, ack: 1001, win: 0, t: 0.05 },
      { from: 'c', flags: SYN, seq: 77000, t: 0.5 },
    ],
    {},
  );
});

test("a client's RST carrying the seq of a stray ACK far ahead: the retried connection's data is not retransmitted", async () => {
  await expectSigns(
    [
      { from: 'c', flags: SYN, seq: 1000, t: 0 },
      { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, t: 0.01 },
      { from: 'c', flags: ACK, seq: 1001, ack: 5001, t: 0.02 },
      { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, len: 100, t: 0.1 },
      { from: 's', flags: ACK, seq: 5001, ack: 1101, t: 0.11 },
      // a stray ACK from far ahead, and the client's RST with its seq
      { from: 'c', flags: ACK, seq: 900000, ack: 5001, t: 0.5 },
      { from: 'c', flags: RST, seq: 900000, win: 502, t: 0.6 },
      // the client retries with the same ISN: the SYN and the SYN-ACK are sent again, the data is new
      { from: 'c', flags: SYN, seq: 1000, t: 1 },
      { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, t: 1.01 },
      { from: 'c', flags: ACK, seq: 1001, ack: 5001, t: 1.02 },
      { from: 'c', flags: PSH | ACK, seq: 1101, ack: 5001, len: 100, t: 1.1 },
      { from: 'c', flags: PSH | ACK, seq: 1201, ack: 5001, len: 100, t: 1.2 },
      { from: 'c', flags: FIN | ACK, seq: 1301, ack: 5001, t: 1.3 },
    ],
    { 8: SYN_AGAIN, 9: SYN_AGAIN },
  );
});

test('header-only frames whose IP length claims a payload the frame does not hold: no retransmissions, duplicate ACKs as tshark reads them', async () => {
  const hs: Seg[] = [
    { from: 'c', flags: SYN, seq: 1000, t: 0 },
    { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, t: 0.01 },
    { from: 'c', flags: ACK, seq: 1001, ack: 5001, t: 0.02 },
  ];
  const file = await expectSigns(
    [
      ...hs,
      { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, stripped: 100, t: 0.1 },
      { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, stripped: 100, t: 0.2 },
      { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, stripped: 100, t: 0.3 },
      { from: 's', flags: ACK, seq: 5001, ack: 1001, t: 0.31 },
    ],
    { 4: ['dup ack'], 5: ['dup ack'], 6: ['dup ack'], 7: ['dup ack'] },
  );
  // the byte counts still follow the IP lengths (what the sender sent)
  const bytes: number[] = [];
  const a = await analyzeCapture(file, { onConn: (c) => bytes.push(c.bytes.client) });
  assert.deepEqual(bytes, [300]);
  assert.equal(a.loss.retransmissions, 0);
  assert.equal(a.loss.dup_acks, 4);
});

test('analyze --json --loss-frames lists every frame with a loss sign; without it the first 5 per sender; it needs --json', () => {
  const segs: Seg[] = [
    { from: 'c', flags: SYN, seq: 1000, t: 0 },
    { from: 's', flags: SYN | ACK, seq: 5000, ack: 1001, t: 0.01 },
    { from: 'c', flags: ACK, seq: 1001, ack: 5001, t: 0.02 },
    { from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, len: 100, t: 0.1 },
  ];
  // the same segment sent 8 times more, a second apart: frames 5 to 12
  for (let i = 1; i <= 8; i++) segs.push({ from: 'c', flags: PSH | ACK, seq: 1001, ack: 5001, len: 100, t: 0.1 + i });
  const file = write(segs);
  const bin = path.join(packageRoot, 'bin', 'tcpwhy');
  const lines = (args: string[]) => {
    const r = spawnSync(bin, ['analyze', file, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  const conn = (ls: Array<Record<string, unknown>>) => ls.find((l) => l.type === 'connection') as { loss_frames: { client: number[]; server: number[] } };
  const all = lines(['--json', '--loss-frames']);
  assert.deepEqual(conn(all).loss_frames.client, [5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal((all.at(-1) as { loss_frames_omitted?: number }).loss_frames_omitted, 0);
  assert.ok(!('loss_frames_omitted' in conn(all)), 'no counter on a connection that lost none');
  const first = lines(['--json']);
  assert.deepEqual(conn(first).loss_frames.client, [5, 6, 7, 8, 9]);
  assert.ok(!('loss_frames_omitted' in (first.at(-1) as object)), 'the default summary is unchanged');
  const text = spawnSync(bin, ['analyze', file, '--loss-frames'], { encoding: 'utf8' });
  assert.equal(text.status, 2);
  assert.match(text.stderr, /--loss-frames .*--json/);
});
