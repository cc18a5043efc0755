#!/usr/bin/env node
// The peers of bench/live-load.ts's reset workloads, each run inside a network
// namespace with `ip netns exec NS node dist/bench/reset-peers.js ROLE ...`:
//
//   server ADDR PORT CONNS
//     accepts connections; once CONNS are open (or no new one came for 200 ms)
//     closes them all at once with SO_LINGER 0 (socket.resetAndDestroy), so the
//     kernel sends a RST on each and the peer receives a storm of resets on
//     established connections. Prints "listening" when ready; at SIGINT/SIGTERM
//     prints {"resets":N} and exits.
//   client ADDR PORT CONNS SECONDS MAX_CYCLES
//     opens CONNS connections to the server, waits until the server reset them
//     all, and starts again, for at most SECONDS and MAX_CYCLES cycles; prints
//     {"cycles":..,"connected":..,"resets":..,"errors":..,"timeouts":..,"seconds":..}.
//   probe ADDR PORT RATE SECONDS
//     RATE connection attempts per second to a closed port (each refused with a
//     RST), for SECONDS; prints {"attempts":..,"refused":..,"errors":..}.
//
// Every loop is bounded in count and time.
import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const QUIET_MS = 200; // the server resets a partial batch after this long without a new connection
const CYCLE_TIMEOUT_MS = 10_000; // a client cycle whose connections are not all reset by then is given up

function num(text: string | undefined, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`reset-peers: ${name} wants a whole number from ${min} to ${max}, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}

function server(addr: string, port: number, conns: number): void {
  let batch: Socket[] = [];
  let lastAccept = 0;
  let resets = 0;
  const resetAll = () => {
    for (const s of batch) s.resetAndDestroy();
    resets += batch.length;
    batch = [];
  };
  const srv = createServer((s) => {
    s.on('error', () => undefined); // the reset is ours
    batch.push(s);
    lastAccept = performance.now();
    if (batch.length >= conns) resetAll();
  });
  srv.on('error', (e) => {
    process.stderr.write(`reset-peers server: ${e.message}\n`);
    process.exit(1);
  });
  srv.listen({ host: addr, port, backlog: 4096 }, () => process.stdout.write('listening\n'));
  const quiet = setInterval(() => {
    if (batch.length > 0 && performance.now() - lastAccept > QUIET_MS) resetAll();
  }, 50);
  const stop = () => {
    clearInterval(quiet);
    srv.close();
    resetAll();
    process.stdout.write(`${JSON.stringify({ resets })}\n`, () => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function client(addr: string, port: number, conns: number, seconds: number, maxCycles: number): Promise<void> {
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const st = { cycles: 0, connected: 0, resets: 0, errors: 0, timeouts: 0, seconds: 0 };
  let stopping = false;
  process.once('SIGINT', () => (stopping = true));
  process.once('SIGTERM', () => (stopping = true));
  while (!stopping && st.cycles < maxCycles && performance.now() < deadline) {
    const socks: Socket[] = [];
    let closed = 0;
    const allClosed = new Promise<void>((resolve) => {
      for (let i = 0; i < conns; i++) {
        const s = connect({ host: addr, port });
        s.on('connect', () => st.connected++);
        s.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'ECONNRESET') st.resets++;
          else st.errors++;
        });
        s.on('close', () => {
          if (++closed === conns) resolve();
        });
        socks.push(s);
      }
    });
    const ok = await Promise.race([allClosed.then(() => true), sleep(CYCLE_TIMEOUT_MS, false, { ref: false })]);
    if (!ok) {
      st.timeouts++;
      for (const s of socks) s.destroy();
      await Promise.race([allClosed, sleep(1000, undefined, { ref: false })]);
    }
    st.cycles++;
  }
  st.seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${JSON.stringify(st)}\n`);
}

async function probe(addr: string, port: number, rate: number, seconds: number): Promise<void> {
  const st = { attempts: 0, refused: 0, errors: 0 };
  const total = rate * seconds;
  const perTick = Math.max(1, Math.round(rate / 10));
  const t0 = performance.now();
  let stopping = false;
  process.once('SIGINT', () => (stopping = true));
  process.once('SIGTERM', () => (stopping = true));
  let pending = 0;
  for (let tick = 0; !stopping && st.attempts < total && tick < seconds * 10 + 10; tick++) {
    for (let i = 0; i < perTick && st.attempts < total; i++) {
      st.attempts++;
      pending++;
      const s = connect({ host: addr, port });
      s.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNREFUSED') st.refused++;
        else st.errors++;
      });
      s.on('connect', () => s.destroy()); // something listens after all: counted as neither
      s.on('close', () => pending--);
    }
    // paced on the clock, not on the ticks: a slow tick does not lower the rate
    const next = t0 + (tick + 1) * 100;
    await sleep(Math.max(0, next - performance.now()));
  }
  for (let i = 0; pending > 0 && i < 100; i++) await sleep(20);
  process.stdout.write(`${JSON.stringify(st)}\n`);
}

const [role, addr, ...rest] = process.argv.slice(2);
if (role === 'server' && addr && rest.length === 2) {
  server(addr, num(rest[0], 'PORT', 1, 65535), num(rest[1], 'CONNS', 1, 10_000));
} else if (role === 'client' && addr && rest.length === 4) {
  await client(
    addr,
    num(rest[0], 'PORT', 1, 65535),
    num(rest[1], 'CONNS', 1, 10_000),
    num(rest[2], 'SECONDS', 1, 3600),
    num(rest[3], 'MAX_CYCLES', 1, 1_000_000),
  );
} else if (role === 'probe' && addr && rest.length === 3) {
  await probe(addr, num(rest[0], 'PORT', 1, 65535), num(rest[1], 'RATE', 1, 100_000), num(rest[2], 'SECONDS', 1, 86_400));
} else {
  process.stderr.write('usage: reset-peers.js server ADDR PORT CONNS | client ADDR PORT CONNS SECONDS MAX_CYCLES | probe ADDR PORT RATE SECONDS\n');
  process.exit(2);
}
