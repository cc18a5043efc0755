// Flows the capture first saw mid-connection, by (address, port, peer
// address): the peer's ports, at most PORTS each, for spotting a NATed port
// leaking out (wire rule nat-port-leak reads them through otherPorts).
//
// Every connection seen mid-stream adds two entries; an ACK storm from 65,536
// peer ports makes 65,536 of them. Keyed by strings in a Map, each cost two
// key strings and an array (800 bytes of garbage a connection, a fifth of such
// a capture's time); IPv4 entries are keyed by numbers in a Table4 and their
// ports kept in one typed array, so adding one allocates nothing.
import { Table4 } from './table4.js';

/** ports kept per entry */
const PORTS = 8;
const STRIDE = PORTS + 1;

/** The 32-bit address of an IPv4 address key (two 16-bit char codes, decode.ts). */
const addr4 = (k: string) => (k.charCodeAt(0) << 16) | k.charCodeAt(1) | 0;

export class MidstreamPorts {
  private readonly t4 = new Table4<number>();
  private readonly t6 = new Map<string, number>();
  /** per entry: how many ports, then the ports */
  private readonly ports: Int32Array;
  private used = 0;

  /** entries kept at most: all are forgotten at once beyond it */
  constructor(private readonly max: number) {
    this.ports = new Int32Array(max * STRIDE);
  }

  /** `peer`:`peerPort` exchanged packets with `addr`:`port` in a flow first seen mid-connection. */
  add(addr: string, port: number, peer: string, peerPort: number): void {
    const v4 = addr.length === 2 && peer.length === 2;
    let e = v4 ? (this.t4.get(addr4(addr), addr4(peer), port) ?? -1) : (this.t6.get(addr + String.fromCharCode(port) + peer) ?? -1);
    if (e < 0) {
      if (this.used >= this.max) {
        this.t4.clear();
        this.t6.clear();
        this.used = 0;
      }
      e = this.used++;
      this.ports[e * STRIDE] = 0;
      if (v4) this.t4.set(addr4(addr), addr4(peer), port, e);
      else this.t6.set(addr + String.fromCharCode(port) + peer, e);
    }
    const at = e * STRIDE;
    const n = this.ports[at]!;
    for (let i = 1; i <= n; i++) if (this.ports[at + i] === peerPort) return;
    if (n < PORTS) {
      this.ports[at + 1 + n] = peerPort;
      this.ports[at] = n + 1;
    }
  }

  /** The ports of `peer` other than `except` that exchanged packets with `addr`:`port` in such flows. */
  others(addr: string, port: number, peer: string, except: number): number[] {
    const e = addr.length === 2 && peer.length === 2 ? this.t4.get(addr4(addr), addr4(peer), port) : this.t6.get(addr + String.fromCharCode(port) + peer);
    if (e === undefined) return [];
    const at = e * STRIDE;
    const out: number[] = [];
    for (let i = 1; i <= this.ports[at]!; i++) if (this.ports[at + i] !== except) out.push(this.ports[at + i]!);
    return out;
  }
}
