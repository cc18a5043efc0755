// Groups of alike events with no gap over `gap` seconds of capture time
// between them, at most `maxOpen` open at once: the bookkeeping that storm
// findings of resets (storms.ts) and findings of unanswered SYNs
// (unanswered.ts) share. A gap, not a fixed window: a flood of an hour stays
// one group, and the same thing after a quiet spell is another. Events may
// come a little out of time order: a group spans its earliest to its latest.

/** What a group keeps for the bookkeeping: its key and the span of its events' times. */
export interface Spanned {
  readonly key: string;
  firstTime: number;
  lastTime: number;
}

export type CloseReason = 'gap' | 'end' | 'bound';

export class GapGroups<G extends Spanned> {
  /** groups closed early because maxOpen were open */
  closedEarly = 0;
  // insertion order is recency: the first entry is the least recently active group
  private readonly open = new Map<string, G>();
  /** the group of the last event: a flood's next one is found without building its key */
  last: G | null = null;

  constructor(
    private readonly onClose: (g: G, why: CloseReason) => void,
    private readonly gap: number,
    private readonly maxOpen: number,
  ) {}

  /**
   * The open group of an event at time `t`: `last` when the caller saw it is
   * the one (`same`; `key` is then not read), else the one filed under `key`.
   * null when there is none, or it closed because `t` is a gap away from it:
   * the caller then makes one and add()s it.
   */
  find(same: boolean, key: string, t: number): G | null {
    const g = same ? this.last : (this.open.get(key) ?? null);
    if (g === null) return null;
    if (t - g.lastTime > this.gap || g.firstTime - t > this.gap) {
      this.close(g, 'gap');
      return null;
    }
    if (!same) {
      this.open.delete(key);
      this.open.set(key, g);
    }
    this.last = g;
    return g;
  }

  /** A new group (find() gave none); the least recently active closes first when maxOpen are open. */
  add(g: G): G {
    if (this.open.size >= this.maxOpen) {
      this.closedEarly++;
      this.close(this.open.values().next().value!, 'bound');
    }
    this.open.set(g.key, g);
    this.last = g;
    return g;
  }

  /** The capture reached `time`: groups quiet for longer than the gap close. */
  advance(time: number): void {
    for (const g of this.open.values()) {
      if (time - g.lastTime <= this.gap) break;
      this.close(g, 'gap');
    }
  }

  /** The capture ended: every group closes. */
  finish(): void {
    for (const g of this.open.values()) this.close(g, 'end');
  }

  private close(g: G, why: CloseReason): void {
    this.open.delete(g.key);
    if (this.last === g) this.last = null;
    this.onClose(g, why);
  }
}
