// JSON lines straight from the kernel's record. Building the nested RstEvent
// first and serializing it costs twice as much, and under an RST flood the
// JSON writer is the whole of tcpwhy's user-space work. For the same reason it
// is written by hand, not generated from EVENT_SCHEMA like the event's type,
// docs and JSON Schema: a writer interpreted from the table would walk it per
// event, and a generated one would need a generator that knows where each
// field comes from in the record, which is toEvent()'s knowledge. The fields
// mean what toEvent() says (both use the helpers in event.ts); a unit test
// (test/unit/json.test.ts) checks that every line parses to exactly toEvent()'s
// object and has exactly the fields of the JSON Schema, and the CLI test checks
// the lines against it too.
import type { RawEvent } from './layout.js';
import {
  F_HAS_OWNER,
  F_HAS_PKT,
  F_HAS_SK,
  F_LINGER,
  directionOf,
  familyOf,
  hasReason,
  hookOf,
  isFullSock,
  isListener,
  kindOf,
  lingerSecondsOf,
  reasonOf,
  stackStatusOf,
  stateOf,
  wallTimeOf,
  type EventContext,
} from './event.js';
import { formatTcpFlags } from '../net/flags.js';
import { FieldText } from './text.js';
import type { BoundedMap } from '../memory/bounded.js';
import { boundedTable } from '../memory/budget.js';

// Strings made by tcpwhy (times, addresses, names of states, reasons, hooks,
// flags) hold nothing JSON must escape; process names and stacks go through
// JSON.stringify.
const str = (s: string | null): string => (s === null ? 'null' : `"${s}"`);

const tuple = (laddr: string, lport: number, raddr: string, rport: number): string =>
  `{"laddr":"${laddr}","lport":${lport},"raddr":"${raddr}","rport":${rport}}`;

export class JsonWriter {
  private readonly stackJson: BoundedMap<number, string>;
  private readonly text: FieldText;

  constructor(
    private readonly ctx: EventContext,
    warn?: (msg: string) => void,
  ) {
    this.stackJson = boundedTable('stackJson', warn);
    this.text = new FieldText({ warn });
  }

  /** Stacks whose JSON text is remembered. */
  get stackTexts(): number {
    return this.stackJson.size;
  }

  /** A stack's JSON text, made once per stack id. */
  stack(id: number): string {
    let sj = this.stackJson.get(id);
    if (sj === undefined) {
      sj = JSON.stringify(this.ctx.stack(id));
      this.stackJson.set(id, sj);
    }
    return sj;
  }

  /** The event's JSON line without its closing brace, so that the diagnosis can add its cause. */
  head(r: RawEvent): string {
    const t = this.text;
    const hasPkt = (r.flags & F_HAS_PKT) !== 0;
    const hasSk = (r.flags & F_HAS_SK) !== 0;
    const full = isFullSock(r);
    return (
      `{"time":"${wallTimeOf(r.mono_ns, this.ctx.wallOffset)}","mono_ns":${r.mono_ns},` +
      `"direction":"${directionOf(r)}","kind":${str(kindOf(r))},` +
      `"reason":${str(reasonOf(r, this.ctx))},"reason_code":${hasReason(r) ? r.reason : 'null'},` +
      `"state":${str(stateOf(r))},"family":"${familyOf(r)}",` +
      `"packet":${hasPkt ? tuple(t.packetLocal(r), r.pkt_lport, t.packetRemote(r), r.pkt_rport) : 'null'},` +
      `"socket":${hasSk ? tuple(t.socketLocal(r), r.sk_lport, t.socketRemote(r), r.sk_rport) : 'null'},` +
      `"segment":${hasPkt ? `{"flags":"${formatTcpFlags(r.seg_flags)}","seq":${r.seg_seq},"ack":${r.seg_ack},"len":${r.seg_len}}` : 'null'},` +
      `"process":{"pid":${r.pid},"tid":${r.tid},"comm":${JSON.stringify(t.comm(r))}},` +
      `"owner":${r.flags & F_HAS_OWNER ? `{"pid":${r.owner_pid},"comm":${JSON.stringify(t.ownerComm(r))}}` : 'null'},` +
      `"netns":${r.netns},"cgroup_id":"${r.cgroup_id}","sock_cookie":${hasSk ? `"${r.sock_cookie}"` : 'null'},` +
      `"queues":${full ? `{"rcv_unread":${r.rcv_unread},"snd_unacked":${r.snd_unacked},"snd_unsent":${r.snd_unsent}}` : 'null'},` +
      `"linger":${full ? `{"on":${(r.flags & F_LINGER) !== 0},"seconds":${lingerSecondsOf(r)}}` : 'null'},` +
      `"accept_queue":${isListener(r) ? `{"len":${r.ack_backlog},"max":${r.max_ack_backlog}}` : 'null'},` +
      `"hook":"${hookOf(r)}","stack_status":"${stackStatusOf(r)}",` +
      `"stack_id":${r.stack_id >= 0 ? r.stack_id : 'null'},"stack":${r.stack_id >= 0 ? this.stack(r.stack_id) : 'null'}`
    );
  }
}
