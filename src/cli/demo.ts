// `tcpwhy demo`: a private lab, the watcher, and three real RSTs, each shown
// with the facts and kernel stack tcpwhy captured for it.
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import type { RstEvent } from '../events/event.js';
import { Lab } from '../lab/netns.js';
import { SCENARIOS } from '../lab/scenarios.js';
import { watch } from './watch.js';
import { detailLines, stackLines, tableHeader, tableRow } from './output.js';

export async function demo(opts: { signal?: AbortSignal } = {}): Promise<number> {
  const out = process.stdout;
  const lab = Lab.create('demo');
  const stopWatch = new AbortController();
  let events: RstEvent[] = [];
  let ready!: () => void;
  const attached = new Promise<void>((r) => (ready = r));
  try {
    out.write(
      `tcpwhy demo: a client namespace (${lab.client.ns}, ${lab.client.v4} / ${lab.client.v6}) and a server namespace (${lab.server.ns}, ${lab.server.v4} / ${lab.server.v6}) joined by a veth pair.\n` +
        'The watcher follows both namespaces; each step below makes the kernel send one real RST.\n\n',
    );
    const watching = watch({
      netns: [lab.client.netns, lab.server.netns],
      quiet: true,
      json: true,
      // the demo prints events its own way, per step
      out: new Writable({ write: (_chunk, _enc, cb) => cb() }),
      signal: stopWatch.signal,
      onEvent: (e) => events.push(e),
      onReady: () => ready(),
    });
    await Promise.race([attached, watching]);
    let port = 8080;
    for (const [i, s] of SCENARIOS.entries()) {
      if (opts.signal?.aborted) break;
      events = [];
      const run = await s.run(lab, 4, port++);
      // The RST and its reception are in the ring buffer by now; give the
      // reader thread one batch interval to hand them over.
      const deadline = Date.now() + 2000;
      while (events.length < 2 && Date.now() < deadline) await sleep(25);
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
    stopWatch.abort();
    const summary = await watching;
    out.write(
      `${summary.events} events captured via ${summary.programs.join(', ')}; ${summary.counters.ringbufFull + summary.counters.recursionMisses} lost.\n` +
        'Try it on your own traffic: tcpwhy watch --stacks (or --json, --count).\n',
    );
    return 0;
  } finally {
    stopWatch.abort();
    lab.destroy();
  }
}
