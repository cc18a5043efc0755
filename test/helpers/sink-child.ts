// A process that writes lines to its stdout through a LineSink as `watch`
// does, every millisecond, until SIGTERM; it then says on stderr, as JSON,
// how many lines it pushed and dropped and how much memory it held. The
// robustness tests give it a reader that stalls.
//
// With a third argument `burst:N`, it instead pushes N lines at once as the
// storm records of a watch go out (waiting for room every 512 lines), closes
// the sink and reports the same way; `burst-blind:N` pushes them without
// waiting.
import { LineSink } from '../../src/cli/sink.js';

const maxPendingBytes = Number(process.argv[2] ?? 1 << 20);
const sink = new LineSink(process.stdout, { maxPendingBytes });
let pushed = 0;
let maxRss = 0;
const line = () => `line ${pushed++} ${'x'.repeat(200)}`;
const report = () => {
  process.stderr.write(`${JSON.stringify({ pushed, dropped: sink.dropped, abandoned: sink.abandoned, maxRss })}\n`);
  // stdout may hold abandoned output: do not wait for it
  process.exit(0);
};

const burst = /^(burst|burst-blind):(\d+)$/.exec(process.argv[3] ?? '');
if (burst) {
  const n = Number(burst[2]);
  const patient = burst[1] === 'burst';
  void (async () => {
    for (let i = 0; i < n; i++) {
      if (patient && i > 0 && i % 512 === 0) await sink.room(5000);
      sink.push(line());
    }
    maxRss = process.memoryUsage.rss();
    await sink.close(5000);
    report();
  })();
} else {
  const timer = setInterval(() => {
    for (let i = 0; i < 500; i++) sink.push(line());
    sink.flush();
    maxRss = Math.max(maxRss, process.memoryUsage.rss());
  }, 1);
  process.once('SIGTERM', () => {
    clearInterval(timer);
    void sink.close(500).then(report);
  });
}
