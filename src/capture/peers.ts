// The other ends of a flood, counted: exactly up to PEERS_EXACT, then
// estimated by linear counting over a bitmap of PEER_BITS (a flood from
// random sources would otherwise keep a string per source). Shared by the
// storm findings of resets (storms.ts) and of unanswered SYNs (unanswered.ts).
import { addrText, endpoint } from '../net/addr.js';

/** Peers counted exactly; beyond, estimated by linear counting over PEER_BITS. */
const PEERS_EXACT = 128;
const PEER_BITS = 4096;
/** Peers a finding names as examples. */
const SAMPLES = 5;

export interface PeerCount {
  /** distinct address:port ends (an estimate beyond PEERS_EXACT; a lower bound when saturated) */
  count: number;
  exact: boolean;
  saturated: boolean;
  /** the first few */
  sample: string[];
}

function hash(s: string, port: number): number {
  let h = 0x811c9dc5 ^ port;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

export class PeerCounter {
  private set: Set<string> | null = new Set();
  private readonly bits = new Uint32Array(PEER_BITS / 32);
  private readonly sample: string[] = [];

  /** a peer (address key, port) */
  add(addr: string, port: number): void {
    const h = hash(addr, port);
    this.bits[(h >>> 5) & (PEER_BITS / 32 - 1)]! |= 1 << (h & 31);
    if (this.set) {
      const pk = `${addr}|${port}`;
      if (!this.set.has(pk)) {
        this.set.add(pk);
        if (this.sample.length < SAMPLES) this.sample.push(endpoint(addrText(addr), port));
        if (this.set.size > PEERS_EXACT) this.set = null;
      }
    }
  }

  count(): PeerCount {
    if (this.set) return { count: this.set.size, exact: true, saturated: false, sample: this.sample };
    let zero = 0;
    for (const word of this.bits) for (let x = ~word; x !== 0; x &= x - 1) zero++;
    // linear counting: n ≈ -m ln(zero / m); with no zero bit left the estimate is only a floor
    const est = zero === 0 ? Math.round(PEER_BITS * Math.log(PEER_BITS)) : Math.round(-PEER_BITS * Math.log(zero / PEER_BITS));
    return { count: Math.max(PEERS_EXACT + 1, est), exact: false, saturated: zero === 0, sample: this.sample };
  }
}
