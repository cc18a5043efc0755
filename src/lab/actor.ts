// A process that plays one side of a lab scenario. It runs inside a lab
// namespace (`ip netns exec NS node actor.js ROLE '{"host":..}'`), reports what
// happens as JSON lines on stdout and takes commands as lines on stdin, so the
// scenario decides when each step happens instead of sleeping.
import net from 'node:net';
import { createInterface } from 'node:readline';

type Args = {
  host: string;
  port: number;
  bytes?: number;
  /** connect: keep the socket writable after the peer's FIN */
  allowHalfOpen?: boolean;
};

function report(event: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, pid: process.pid, ...extra })}\n`);
}

function commands(handlers: Record<string, () => void>): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => handlers[line.trim()]?.());
  rl.on('close', () => process.exit(0));
}

function watchSocket(sock: net.Socket): void {
  sock.on('error', (e: NodeJS.ErrnoException) => report('error', { code: e.code }));
  sock.on('close', () => report('closed'));
  sock.on('data', (d) => report('data', { bytes: d.length }));
}

const roles: Record<string, (a: Args) => void> = {
  /** Accepts and never reads; `close` closes the connection with the bytes still unread. */
  'listen-unread': (a) => {
    let conn: net.Socket | undefined;
    const server = net.createServer({ pauseOnConnect: true }, (s) => {
      conn = s;
      s.on('error', (e: NodeJS.ErrnoException) => report('error', { code: e.code }));
      report('accepted', { remotePort: s.remotePort });
    });
    server.listen(a.port, a.host, () => report('listening'));
    commands({ close: () => conn?.destroy() });
  },
  /**
   * Accepts and reads; reports errors such as ECONNRESET. `close` closes the
   * last accepted connection (a FIN: nothing is unread), `reset` closes it with
   * SO_LINGER {on, 0}, `exit` ends the process (closing the listener).
   */
  'listen-read': (a) => {
    let conn: net.Socket | undefined;
    const server = net.createServer((s) => {
      conn = s;
      watchSocket(s);
      report('accepted', { remotePort: s.remotePort });
    });
    server.listen(a.port, a.host, () => report('listening'));
    commands({ close: () => conn?.destroy(), reset: () => conn?.resetAndDestroy(), exit: () => process.exit(0) });
  },
  /** Accepts every connection and reads everything, counting; reports each connection's bytes when it ends. */
  sink: (a) => {
    const server = net.createServer((s) => {
      let bytes = 0;
      s.on('data', (d) => (bytes += d.length));
      s.on('error', (e: NodeJS.ErrnoException) => report('error', { code: e.code }));
      s.on('close', () => report('drained', { bytes, remotePort: s.remotePort }));
    });
    server.listen(a.port, a.host, () => report('listening'));
    commands({ exit: () => process.exit(0) });
  },
  /** Connects, sends `bytes` bytes as fast as the connection takes them, then closes (FIN); reports 'done' with the time it took. */
  bulk: (a) => {
    const total = a.bytes ?? 0;
    const chunk = Buffer.alloc(Math.min(total, 1 << 20), 0x63);
    const s = net.connect({ host: a.host, port: a.port });
    s.on('error', (e: NodeJS.ErrnoException) => report('error', { code: e.code }));
    s.on('connect', () => {
      report('connected', { localPort: s.localPort });
      const t0 = process.hrtime.bigint();
      let left = total;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
        }
        s.end(() => report('done', { bytes: total, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      };
      pump();
    });
    s.on('close', () => report('closed'));
    commands({});
  },
  /** Connects and sends `bytes` bytes; reports the outcome. */
  connect: (a) => {
    const s = net.connect({ host: a.host, port: a.port, allowHalfOpen: a.allowHalfOpen ?? false });
    watchSocket(s);
    s.on('end', () => report('ended'));
    s.on('connect', () => {
      report('connected', { localPort: s.localPort });
      if (a.bytes) s.write(Buffer.alloc(a.bytes, 0x61), () => report('sent', { bytes: a.bytes }));
    });
    let sends = 0;
    commands({
      // `reset`: close with SO_LINGER {on, 0}, which sends an RST instead of a FIN.
      reset: () => s.resetAndDestroy(),
      close: () => s.end(),
      // `send`: 5 more bytes (reported as sent-1, sent-2, ... once the kernel took them; a failure is an `error`)
      send: () => {
        const n = ++sends;
        s.write(Buffer.alloc(5, 0x62), (err) => err || report(`sent-${n}`, { bytes: 5 }));
      },
    });
  },
};

const [role, json] = process.argv.slice(2);
const run = role ? roles[role] : undefined;
if (!run || !json) {
  process.stderr.write(`usage: actor.js ${Object.keys(roles).join('|')} '{"host":..,"port":..}'\n`);
  process.exit(2);
}
run(JSON.parse(json) as Args);
