// A process that writes lines to its stdout through a LineSink as `watch`
// does, every millisecond, until SIGTERM; it then says on stderr, as JSON,
// how many lines it pushed and dropped and how much memory it held. The
// robustness tests give it a reader that stalls.
import { LineSink } from '../../src/cli/sink.js';

const maxPendingBytes = Number(process.argv[2] ?? 1 << 20);
const sink = new LineSink(process.stdout, { maxPendingBytes });
let pushed = 0;
let maxRss = 0;
const timer = setInterval(() => {
  for (let i = 0; i < 500; i++) sink.push(`line ${pushed++} ${'x'.repeat(200)}`);
  sink.flush();
  maxRss = Math.max(maxRss, process.memoryUsage.rss());
}, 1);
process.once('SIGTERM', () => {
  clearInterval(timer);
  void sink.close(500).then(() => {
    process.stderr.write(`${JSON.stringify({ pushed, dropped: sink.dropped, abandoned: sink.abandoned, maxRss })}\n`);
    // stdout may hold abandoned output: do not wait for it
    process.exit(0);
  });
});
