// `analyze --loss-frames` keeps every loss frame of the connections still
// open within a bound (LOSS_FRAMES_MAX): beyond it a direction counts what it
// could not list, and a finished connection's frames no longer count.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newSegment } from '../../src/capture/decode.js';
import { type Conn, Tracker } from '../../src/capture/track.js';
import { ACK, PSH, SYN } from '../helpers/capture-build.js';

/** A tracker listing every loss frame within `max`, and the connections it finished. */
function tracker(max: number) {
  // by the client's port and the connection's generation ("port/gen": frames listed, frames omitted)
  const done: Record<string, [number, number]> = {};
  const t = new Tracker(
    {
      onReset() {},
      onConnDone(c: Conn) {
        const listed = (c.d0.lossFrames?.length ?? 0) + (c.d1.lossFrames?.length ?? 0);
        done[`${c.portOf(c.client)}/${c.gen}`] = [listed, c.d0.lossOmitted + c.d1.lossOmitted];
      },
    },
    { allLossFrames: true, lossFramesMax: max },
  );
  return { t, done };
}

let frame = 0;
/** One segment from 10.0.0.1:port to 10.0.0.2:80 at `time`. */
function send(t: Tracker, port: number, flags: number, seq: number, len: number, time: number): void {
  const s = newSegment();
  s.family = 4;
  s.src4 = 0x0a000001;
  s.dst4 = 0x0a000002;
  s.sport = port;
  s.dport = 80;
  s.seq = seq;
  s.ack = flags & ACK ? 5001 : 0;
  s.flags = flags;
  s.win = 502;
  s.len = len;
  t.now = time;
  t.segment(s, ++frame);
}

/** A connection whose client sends one segment and then `again` copies of it, a second apart: `again` retransmissions. */
function lossy(t: Tracker, port: number, again: number): void {
  send(t, port, SYN, 1000, 0, 0);
  send(t, port, PSH | ACK, 1001, 100, 0.1);
  for (let i = 1; i <= again; i++) send(t, port, PSH | ACK, 1001, 100, 0.1 + i);
}

test('every loss frame is listed up to the bound; beyond it they are counted; a finished connection gives its share back', () => {
  const { t, done } = tracker(10);
  lossy(t, 40000, 6);
  lossy(t, 40001, 6);
  t.end();
  assert.deepEqual(done, { '40000/1': [6, 0], '40001/1': [4, 2] });

  // the first connection ends (a new SYN on its tuple) before the second fills the bound
  const b = tracker(10);
  lossy(b.t, 40000, 8);
  send(b.t, 40000, SYN, 777000, 0, 20);
  lossy(b.t, 40001, 8);
  b.t.end();
  assert.deepEqual(b.done, { '40000/1': [8, 0], '40000/2': [0, 0], '40001/1': [8, 0] });
});
