// Active resets per sender endpoint, by capture time: a listener closing
// resets its whole queue at once, and the wire rules ask how many came
// together (within `window` seconds of each other).

/** Resets per endpoint a burst counts at most (a listener's queue is far smaller). */
const BURST_KEEP = 4096;

export class Bursts {
  private readonly times = new Map<string, { t: number[]; head: number }>();

  constructor(private readonly window: number) {}

  add(from: { addr: string; port: number }, time: number): void {
    const k = from.addr + String.fromCharCode(from.port);
    let e = this.times.get(k);
    if (!e) {
      if (this.times.size > 65536) this.times.clear();
      this.times.set(k, (e = { t: [], head: 0 }));
    }
    // forget what is too old to matter (the lookahead is shorter than a second)
    while (e.head < e.t.length && time - e.t[e.head]! > 1) e.head++;
    if (e.head > 1024 && e.head * 2 > e.t.length) {
      e.t = e.t.slice(e.head);
      e.head = 0;
    }
    if (e.t.length - e.head >= BURST_KEEP) e.head++;
    e.t.push(time);
  }

  /** resets from this endpoint within `window` seconds of `time` (sorted times: binary search) */
  count(from: { addr: string; port: number }, time: number): number {
    const e = this.times.get(from.addr + String.fromCharCode(from.port));
    if (!e) return 1;
    const lower = (x: number) => {
      let lo = e.head;
      let hi = e.t.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (e.t[mid]! < x) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    return Math.max(1, lower(time + this.window + 1e-9) - lower(time - this.window));
  }
}
