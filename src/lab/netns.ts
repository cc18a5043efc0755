// A two-host lab: a client and a server network namespace joined by a veth
// pair, with documentation addresses (192.0.2.0/24, 2001:db8::/64). Everything
// it creates is deleted by destroy(), and by an exit hook if the process dies
// first, so a failed test leaves nothing behind.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { netnsInodeByName } from '../kernel/netns.js';

export type Family = 4 | 6;

export interface LabHost {
  ns: string;
  netns: number;
  v4: string;
  v6: string;
}

const live = new Set<string>();
let exitHookInstalled = false;

export function deleteNamespaces(names: Iterable<string>): void {
  for (const ns of names) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    live.delete(ns);
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => deleteNamespaces([...live]));
}

/** Creates a namespace (loopback up) that destroy() or the exit hook deletes. */
export function addNamespace(ns: string): void {
  installExitHook();
  ip('netns', 'add', ns);
  live.add(ns);
  ip('-n', ns, 'link', 'set', 'lo', 'up');
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command inside a namespace and returns its stdout. */
export function inNs(ns: string, cmd: string, args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export class Lab {
  private destroyed = false;

  private constructor(
    readonly client: LabHost,
    readonly server: LabHost,
  ) {}

  /** `tag` names the namespaces (tcpwhy-TAG-RANDOM-c / -s) so leftovers are recognizable. */
  static create(tag = 'lab'): Lab {
    const id = `tcpwhy-${tag}-${randomBytes(3).toString('hex')}`;
    const c = `${id}-c`;
    const s = `${id}-s`;
    try {
      for (const ns of [c, s]) addNamespace(ns);
      ip('-n', c, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', s);
      const hosts: Array<[string, string, string, string]> = [
        [c, 'veth0', '192.0.2.1', '2001:db8::1'],
        [s, 'veth1', '192.0.2.2', '2001:db8::2'],
      ];
      // Links up before the addresses: an IPv6 address added to a link that is
      // still down does not answer neighbor solicitations at first, so the first
      // IPv6 connection in a fresh lab waited a 1 s solicitation retransmit.
      for (const [ns, dev] of hosts) ip('-n', ns, 'link', 'set', dev, 'up');
      for (const [ns, dev, v4, v6] of hosts) {
        ip('-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev);
        ip('-n', ns, '-6', 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad');
      }
      return new Lab(
        { ns: c, netns: netnsInodeByName(c), v4: '192.0.2.1', v6: '2001:db8::1' },
        { ns: s, netns: netnsInodeByName(s), v4: '192.0.2.2', v6: '2001:db8::2' },
      );
    } catch (e) {
      deleteNamespaces([c, s]);
      throw e;
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    deleteNamespaces([this.client.ns, this.server.ns]);
  }

  /** `TcpExt`/`Tcp` counters of a namespace's /proc/net/snmp, e.g. snmp(ns).Tcp.OutRsts */
  snmp(host: LabHost): Record<string, Record<string, number>> {
    return parseSnmp(inNs(host.ns, 'cat', ['/proc/net/snmp']));
  }

  /**
   * Sets a sysctl inside a host's namespace (never the root namespace's): it
   * goes away with the namespace. Throws if the key is not per-namespace.
   */
  sysctl(host: LabHost, key: string, value: string | number): void {
    sysctlIn(host, key, value);
  }

  /** Loads an nft script (`nft -f -`) into a host's namespace; its tables go away with the namespace. */
  nft(host: LabHost, script: string): string {
    return nftIn(host, script);
  }

  /** Starts a process inside a host's namespace. */
  spawn(host: LabHost, cmd: string, args: string[]): ChildProcess {
    return spawnIn(host, cmd, args);
  }
}

export function sysctlIn(host: LabHost, key: string, value: string | number): void {
  inNs(host.ns, 'sysctl', ['-q', '-w', `${key}=${value}`]);
}

export function nftIn(host: LabHost, script: string): string {
  return execFileSync('ip', ['netns', 'exec', host.ns, 'nft', '-f', '-'], {
    input: script,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export function spawnIn(host: LabHost, cmd: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', host.ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

/** /proc/net/snmp: pairs of header and value lines per protocol. */
export function parseSnmp(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const lines = text.trim().split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [proto, ...keys] = lines[i]!.split(/\s+/);
    const [, ...vals] = lines[i + 1]!.split(/\s+/);
    const name = proto!.replace(/:$/, '');
    out[name] = {};
    keys.forEach((k, j) => {
      out[name]![k] = Number(vals[j]);
    });
  }
  return out;
}

/** The client's and the server's address in one family. */
export function labAddrs(lab: Lab, family: Family): { client: string; server: string } {
  return family === 4 ? { client: lab.client.v4, server: lab.server.v4 } : { client: lab.client.v6, server: lab.server.v6 };
}
