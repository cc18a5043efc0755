// nginx in a lab's server namespace and wrk in its client namespace: the HTTP
// loads of the live benchmarks.
import { execFileSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Lab } from '../src/lab/netns.js';
import { BenchError } from './common.js';
import { type Proc, start, waitExit, waitFor } from './procs.js';

/** a small static response, as a health check or an API's short answer */
export const INDEX_HTML = 'ok: tcpwhy live-load benchmark\n';

/**
 * Writes DIR/nginx.conf serving DIR/www on ADDR:PORT: index.html, plus a file of
 * zeros of each size in `files` (name → bytes; sparse: read from the page cache).
 */
export function nginxConfig(dir: string, addr: string, port: number, files: Record<string, number> = {}): string {
  mkdirSync(join(dir, 'www'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  writeFileSync(join(dir, 'www', 'index.html'), INDEX_HTML);
  for (const [name, size] of Object.entries(files)) {
    const f = join(dir, 'www', name);
    writeFileSync(f, '');
    truncateSync(f, size);
  }
  const conf = join(dir, 'nginx.conf');
  const t = (n: string) => join(dir, 'tmp', n);
  writeFileSync(
    conf,
    `# written by a tcpwhy benchmark (bench/lab-nginx.ts); nginx runs inside the lab's server namespace,
# as one process (master_process off): a worker would outlive a SIGKILLed master
daemon off;
master_process off;
user root;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path ${t('body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server {
    listen ${addr}:${port} backlog=4096;
    root ${join(dir, 'www')};
  }
}
`,
  );
  return conf;
}

export function listening(ns: string, port: number): boolean {
  try {
    return execFileSync('ip', ['netns', 'exec', ns, 'ss', '-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
}

/**
 * `taskset -c CPUS` before a command when `cpus` is given: a load whose rate depends on
 * whether its two ends share a CPU is only comparable between phases when the
 * scheduler cannot move them.
 */
export function pinned(cpus: string | undefined): string[] {
  return cpus === undefined ? [] : ['taskset', '-c', cpus];
}

/** Starts nginx in the lab's server namespace (config in `dir`, on `cpus` if given, on `addr`: the server's IPv4 address unless given, an IPv6 one in brackets) and waits until it listens. */
export async function startNginx(lab: Lab, dir: string, port: number, files: Record<string, number> = {}, cpus?: string, addr = lab.server.v4): Promise<Proc> {
  const conf = nginxConfig(dir, addr, port, files);
  const nginx = start('ip', ['netns', 'exec', lab.server.ns, ...pinned(cpus), 'nginx', '-c', conf, '-p', dir]);
  await waitFor('nginx listening', () => listening(lab.server.ns, port), 10_000, nginx);
  return nginx;
}

/**
 * A load generator's usual settings, in the lab's namespaces only: the client
 * may use every port and reuse one in TIME_WAIT, and neither side keeps many
 * TIME_WAIT sockets. Without them a churning client runs out of ports:
 * requests/s fell from 20k to 1.5k within a minute.
 */
export function loadGeneratorSysctls(lab: Lab): void {
  lab.sysctl(lab.client, 'net.ipv4.ip_local_port_range', '1024 65535');
  lab.sysctl(lab.client, 'net.ipv4.tcp_tw_reuse', 1);
  for (const host of [lab.client, lab.server]) lab.sysctl(host, 'net.ipv4.tcp_max_tw_buckets', 4096);
}

export interface WrkResult {
  /** requests/s as wrk reports it */
  rate: number;
  /** wall-clock seconds from start to exit */
  seconds: number;
  stdout: string;
  note?: string;
}

/** Runs `wrk ARGS` (lasting about `seconds`, on `cpus` if given) in namespace `ns`; fails unless it reports requests/s. */
export async function runWrk(ns: string, args: string[], seconds: number, cpus?: string): Promise<WrkResult> {
  const t0 = performance.now();
  const w = start('ip', ['netns', 'exec', ns, ...pinned(cpus), 'wrk', ...args], 'pipe');
  const res = await waitExit(w, 'wrk', seconds * 1000 + 30_000);
  const secs = (performance.now() - t0) / 1000;
  const out = w.stdout();
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (res.code !== 0 || !m) throw new BenchError(`wrk failed (${res.code ?? res.signal}):\n${out.slice(-2000)}\n${w.stderr().slice(-2000)}`);
  const notes = [/Socket errors:.*/.exec(out)?.[0], /Non-2xx or 3xx responses:.*/.exec(out)?.[0]].filter(Boolean);
  return { rate: Number(m[1]), seconds: secs, stdout: out, ...(notes.length ? { note: notes.join('; ') } : {}) };
}
