// A three-host lab: client — router — server, each in its own network
// namespace, for what needs a hop in between (a link with a smaller MTU than
// both ends). Documentation addresses: the client side is 192.0.2.0/24 and
// 2001:db8:1::/64, the server side 198.51.100.0/24 and 2001:db8:2::/64, the
// router .254 / ::fe on both. Everything goes away with destroy() (or the exit
// hook, as for Lab).
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { netnsInodeByName } from '../kernel/netns.js';
import { addNamespace, deleteNamespaces, type Family, inNs, ip, type LabHost, nftIn, spawnIn, sysctlIn } from './netns.js';

export interface RouterLabHost extends LabHost {
  /** the link towards the other hosts (the router has two: toClient, toServer) */
  dev: string;
}

export class RouterLab {
  private destroyed = false;

  private constructor(
    readonly client: RouterLabHost,
    readonly router: LabHost & { toClient: string; toServer: string },
    readonly server: RouterLabHost,
  ) {}

  static create(tag = 'rt'): RouterLab {
    const id = `tcpwhy-${tag}-${randomBytes(3).toString('hex')}`;
    const [c, r, s] = [`${id}-c`, `${id}-r`, `${id}-s`];
    try {
      for (const ns of [c, r, s]) addNamespace(ns);
      // forwarding before any address: turning it on later reconfigures the
      // router's IPv6 links, and the first IPv6 handshake through it lost its
      // SYN-ACK and took seconds
      inNs(r, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.conf.default.forwarding=1']);
      ip('-n', c, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'rc0', 'netns', r);
      ip('-n', s, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'rs0', 'netns', r);
      const links: Array<[string, string, string, string]> = [
        [c, 'veth0', '192.0.2.1/24', '2001:db8:1::1/64'],
        [r, 'rc0', '192.0.2.254/24', '2001:db8:1::fe/64'],
        [r, 'rs0', '198.51.100.254/24', '2001:db8:2::fe/64'],
        [s, 'veth0', '198.51.100.2/24', '2001:db8:2::2/64'],
      ];
      // links up before addresses: see Lab.create
      for (const [ns, dev] of links) ip('-n', ns, 'link', 'set', dev, 'up');
      for (const [ns, dev, v4, v6] of links) {
        ip('-n', ns, 'addr', 'add', v4, 'dev', dev);
        ip('-n', ns, '-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
      }
      ip('-n', c, 'route', 'add', 'default', 'via', '192.0.2.254');
      ip('-n', c, '-6', 'route', 'add', 'default', 'via', '2001:db8:1::fe');
      ip('-n', s, 'route', 'add', 'default', 'via', '198.51.100.254');
      ip('-n', s, '-6', 'route', 'add', 'default', 'via', '2001:db8:2::fe');
      const router = { ns: r, netns: netnsInodeByName(r), v4: '192.0.2.254', v6: '2001:db8:1::fe', toClient: 'rc0', toServer: 'rs0' };
      const lab = new RouterLab({ ns: c, netns: netnsInodeByName(c), v4: '192.0.2.1', v6: '2001:db8:1::1', dev: 'veth0' }, router, {
        ns: s,
        netns: netnsInodeByName(s),
        v4: '198.51.100.2',
        v6: '2001:db8:2::2',
        dev: 'veth0',
      });
      lab.warmUp(4);
      lab.warmUp(6);
      return lab;
    } catch (e) {
      deleteNamespaces([c, r, s]);
      throw e;
    }
  }

  get hosts(): LabHost[] {
    return [this.client, this.router, this.server];
  }

  /**
   * One refused connection from client to server, so every neighbour on the
   * path is resolved before a scenario starts (and before anyone watches: its
   * RST is not a scenario's). Without it the first IPv6
   * handshake lost a packet to neighbour discovery, and a connection whose SYN
   * was retransmitted starts with a 3 s RTO (no RTT sample from the
   * handshake), which stretched every later timing.
   */
  private warmUp(family: Family): void {
    const { server } = routerAddrs(this, family);
    const script = `import socket\ns = socket.socket(socket.AF_INET${family === 6 ? '6' : ''})\ns.settimeout(5)\ntry:\n    s.connect((${JSON.stringify(server)}, 1))\nexcept OSError:\n    pass`;
    inNs(this.client.ns, 'python3', ['-c', script]);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    deleteNamespaces(this.hosts.map((h) => h.ns));
  }

  sysctl(host: LabHost, key: string, value: string | number): void {
    sysctlIn(host, key, value);
  }

  nft(host: LabHost, script: string): string {
    return nftIn(host, script);
  }

  spawn(host: LabHost, cmd: string, args: string[]): ChildProcess {
    return spawnIn(host, cmd, args);
  }
}

export function routerAddrs(lab: RouterLab, family: Family): { client: string; server: string } {
  return family === 4 ? { client: lab.client.v4, server: lab.server.v4 } : { client: lab.client.v6, server: lab.server.v6 };
}
