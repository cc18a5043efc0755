// `tcpwhy demo`: the whole catalogue at work. Every lab case runs in its own
// pair of namespaces; each shows the events tcpwhy caught, the verdict with
// its evidence and fix, the kernel stack of the case's RST, and under each
// sent RST's live verdict what the run's packet capture says of it.
import { runWholeLab } from './lab.js';

export async function demo(opts: { signal?: AbortSignal } = {}): Promise<number> {
  process.stdout.write(
    'tcpwhy demo: each step below builds two network namespaces (client 192.0.2.1 / 2001:db8::1, server\n' +
      '192.0.2.2 / 2001:db8::2) joined by a veth pair, starts real processes, provokes one kind of TCP reset\n' +
      'and shows what tcpwhy saw and concluded; then the loss cases make segments vanish (a firewall, a full\n' +
      'accept queue, a lossy link, a closed window, an MTU black hole) and show the drops, retransmissions and\n' +
      'timeouts tcpwhy explains. Each run is also recorded with tcpdump: under the live verdict\n' +
      'of each RST sent, "=> capture #FRAME" is what `tcpwhy analyze` makes of that RST from the packets alone.\n' +
      'Nothing outside those namespaces is touched.\n\n',
  );
  const ok = await runWholeLab({ verbose: true, signal: opts.signal });
  process.stdout.write('\nTry it on your own traffic: tcpwhy watch (--explain, --json, --stacks); tcpwhy explain lists every cause.\n');
  return ok ? 0 : 1;
}
