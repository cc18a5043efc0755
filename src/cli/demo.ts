// `tcpwhy demo`: a private lab, the watcher, and three real RSTs, each shown
// with the facts and kernel stack tcpwhy captured for it.
import { Lab } from '../lab/netns.js';
import { SCENARIOS } from '../lab/scenarios.js';
import { Collector } from './collect.js';
import { detailLines, stackLines, tableHeader, tableRow } from './output.js';

export async function demo(opts: { signal?: AbortSignal } = {}): Promise<number> {
  const out = process.stdout;
  const lab = Lab.create('demo');
  let collector: Collector | undefined;
  try {
    out.write(
      `tcpwhy demo: a client namespace (${lab.client.ns}, ${lab.client.v4} / ${lab.client.v6}) and a server namespace (${lab.server.ns}, ${lab.server.v4} / ${lab.server.v6}) joined by a veth pair.\n` +
        'The watcher follows both namespaces; each step below makes the kernel send one real RST.\n\n',
    );
    collector = await Collector.start({ netns: [lab.client.netns, lab.server.netns] });
    let port = 8080;
    for (const [i, s] of SCENARIOS.entries()) {
      if (opts.signal?.aborted) break;
      const run = await s.run(lab, 4, port++);
      // the RST and its reception: both in the ring buffer by now
      await collector.waitFor(2, 2000);
      const events = collector.take();
      out.write(`${i + 1}. ${s.title}\n   ${run.story}.\n   The application saw: ${run.clientSaw}.\n\n`);
      out.write(`   ${tableHeader()}\n`);
      for (const e of events) out.write(`   ${tableRow(e)}\n`);
      for (const e of events) {
        out.write('\n');
        out.write(`${detailLines(e, '   ').join('\n')}\n`);
        out.write(`   kernel stack:\n${stackLines(e, '     ').join('\n')}\n`);
      }
      out.write('\n');
    }
    const summary = await collector.stop();
    collector = undefined;
    out.write(
      `${summary.events} events captured via ${summary.programs.join(', ')}; ${summary.counters.ringbufFull + summary.counters.recursionMisses} lost.\n` +
        'Try it on your own traffic: tcpwhy watch --stacks (or --json, --count).\n',
    );
    return 0;
  } finally {
    await collector?.stop();
    lab.destroy();
  }
}
