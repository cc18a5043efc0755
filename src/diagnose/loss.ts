// The live diagnosis of loss events (drops, retransmissions, errors the
// application saw): each gets a verdict from the loss rules of the cause
// registry, and joins the story of its connection, which the verdicts of
// later events of the connection read (a retransmission after a drop seen on
// this host carries the drop's cause; a timeout names what ate its segments).
// A connection is one story whichever end or namespace an event comes from:
// its key is the unordered pair of endpoints.
import type { LossEvent } from '../events/loss-event.js';
import type { Verdict } from '../events/verdict.js';
import type { HostSnapshot } from '../host/types.js';
import type { ConnStory, LossFacts, SeenDrop } from '../causes/loss-facts.js';
import { LOSS_CAUSES, causeById } from '../causes/index.js';
import type { Cause } from '../causes/types.js';
import { boundedTable } from '../memory/budget.js';
import type { BoundedMap } from '../memory/bounded.js';
import { connText } from '../causes/loss-helpers.js';

/** The verdict of a retransmission nothing else explains. */
const CATCH_ALL_RETRANSMIT = 'loss-beyond-host';

/** Drops kept per story (their count is kept in full). */
export const STORY_DROPS = 16;
/** A retransmission carries the cause of a drop of its connection seen at most this long before. */
const DROP_EXPLAINS_NS = 10e9;

interface Story extends ConnStory {
  drops: SeenDrop[];
  retrans: Record<string, number>;
}

type LossCause = Cause & Required<Pick<Cause, 'loss'>>;

/** The connection's key: both endpoints, in an order that does not depend on the side. */
export function storyKey(e: LossEvent): string | null {
  const t = e.packet ?? e.socket;
  if (!t) return null;
  const a = `${plain(t.laddr)}|${t.lport}`;
  const b = `${plain(t.raddr)}|${t.rport}`;
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

const plain = (a: string) => (a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a);

export class LossDiagnoser {
  private readonly stories: BoundedMap<string, Story>;
  private readonly causes: readonly LossCause[];

  constructor(opts: { warn?: (msg: string) => void; causes?: readonly Cause[] } = {}) {
    this.stories = boundedTable('lossStories', opts.warn);
    this.causes = (opts.causes ?? LOSS_CAUSES).filter((c): c is LossCause => c.loss !== undefined);
  }

  get storyCount(): number {
    return this.stories.size;
  }

  /**
   * A segment of this connection that another namespace than `netns` dropped
   * with NETFILTER_DROP at most a second before `atNs`: what a firewall
   * REJECT does before its RST reaches the sender.
   */
  peerDrop(netns: number, t: { laddr: string; lport: number; raddr: string; rport: number }, atNs: number): SeenDrop | null {
    const a = `${plain(t.laddr)}|${t.lport}`;
    const b = `${plain(t.raddr)}|${t.rport}`;
    const story = this.stories.get(a < b ? `${a}|${b}` : `${b}|${a}`);
    const d = story?.drops.at(-1);
    return d && d.netns !== netns && d.reason === 'NETFILTER_DROP' && atNs - d.mono_ns >= 0 && atNs - d.mono_ns < 1e9 ? d : null;
  }

  /** The verdict of a loss event; the event then joins its connection's story. */
  diagnose(e: LossEvent, host?: HostSnapshot): Verdict {
    const key = storyKey(e);
    const story: Story = (key !== null ? this.stories.get(key) : undefined) ?? { drops: [], dropped: 0, retrans: {}, first_ns: e.mono_ns };
    const f: LossFacts = { e, host, story };
    // a retransmission: what the event itself shows first (a listener's full
    // accept queue); else a drop of the connection seen here; else the catch-all
    let verdict = this.match(f);
    if (e.type === 'retransmit' && verdict.id === CATCH_ALL_RETRANSMIT) verdict = this.afterDrop(f) ?? verdict;
    e.cause = verdict;
    if (key !== null) this.record(key, story, e, verdict);
    return verdict;
  }

  private match(f: LossFacts): Verdict {
    for (const c of this.causes) {
      const m = c.loss(f);
      if (m) return { id: c.id, title: c.title, confidence: m.confidence, summary: m.summary, evidence: m.evidence, fix: c.fix };
    }
    // the registry's loss order ends with a catch-all for each type
    throw new Error(`no cause matched a ${f.e.type}: the registry lacks a catch-all`);
  }

  /** A retransmission whose segment (or one of its connection) was dropped on this host just before: the drop's cause. */
  private afterDrop(f: LossFacts): Verdict | null {
    const d = f.story.drops.at(-1);
    if (!d || f.e.mono_ns - d.mono_ns > DROP_EXPLAINS_NS) return null;
    const c = causeById(d.cause);
    if (!c) return null;
    const t = f.e.tcp;
    return {
      id: c.id,
      title: c.title,
      confidence: 'high',
      summary: `${connText(f)}: sent again (${f.e.reason}${t ? `, retry ${t.retransmits}` : ''}) after ${d.syn ? 'its SYN was' : 'a segment was'} dropped in netns ${d.netns}: ${d.detail ?? d.reason}`,
      evidence: {
        kind: f.e.reason,
        retransmits: t?.retransmits ?? null,
        total_retrans: t?.total_retrans ?? null,
        reason: d.reason,
        drop_netns: d.netns,
        drop_detail: d.detail,
        drops_seen: f.story.dropped,
      },
      fix: c.fix,
    };
  }

  private record(key: string, story: Story, e: LossEvent, v: Verdict): void {
    if (e.type === 'error') {
      // the connection is over: its story ends with the verdict that told it
      this.stories.delete(key);
      return;
    }
    if (e.type === 'drop') {
      const rule = v.evidence['rule'];
      story.drops.push({
        mono_ns: e.mono_ns,
        netns: e.netns,
        reason: e.reason,
        cause: v.id,
        detail: typeof rule === 'string' ? `rule "${rule}"` : null,
        rule: typeof rule === 'string' ? rule : null,
        syn: (e.segment?.flags ?? '').includes('SYN'),
      });
      story.dropped++;
      if (story.drops.length > STORY_DROPS) story.drops.shift();
    } else {
      story.retrans[e.reason] = (story.retrans[e.reason] ?? 0) + 1;
    }
    this.stories.set(key, story);
  }
}
