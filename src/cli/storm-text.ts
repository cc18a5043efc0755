// How `watch` prints storm records (src/live/storm.ts) and the session's
// totals: a line of text, or a JSON line of its own type.
import { causeJson } from '../diagnose/json.js';
import { endpoint } from '../net/addr.js';
import type { LossTotals, StormRecord, StormTotals } from '../live/storm.js';

const n = (x: number) => x.toLocaleString('en-US');

/** "storm: 91,200 RST/s sent from 127.0.0.1:9 (answering SYN) to 40,212 peers: <verdict>; 100 shown in full" */
export function stormLine(r: StormRecord): string {
  const peers = r.peers_saturated
    ? `more than ${n(r.peers)} connections`
    : r.peers === 1
      ? endpoint(r.example_peer.addr, r.example_peer.port)
      : `about ${n(r.peers)} connections`;
  const here = r.local.port === null ? r.local.addr : endpoint(r.local.addr, r.local.port);
  const service = r.remote_port === null ? '' : ` on connections to port ${r.remote_port}`;
  const what =
    r.direction === 'received'
      ? `received by ${here}${service} from ${peers}`
      : `sent from ${here}${service}${r.segment ? ` (answering ${r.segment})` : ''} to ${peers}`;
  const verdict = r.cause ? `${r.cause.summary} (${r.cause.id})` : 'none shown in full, so no verdict';
  const lost = r.lost ? `, ${n(r.lost)} lost (ring buffer full)` : '';
  if (r.event !== 'reset') {
    const unit =
      r.event === 'drop'
        ? `drops/s (${r.reason}, ${r.direction === 'in' ? 'arriving' : 'leaving'})`
        : r.event === 'retransmit'
          ? `retransmissions/s (${r.reason})`
          : `errors/s (${r.reason})`;
    const port = r.remote_port === null ? here : `${r.local.addr}, port ${r.remote_port} remote`;
    return `storm: ${n(r.rate_per_s)} ${unit} at ${port}${r.segment ? ` (${r.segment})` : ''} with ${peers}, ${n(r.count)} in ${r.interval_s.toFixed(1)} s: ${verdict}; ${n(r.shown)} shown in full${lost}`;
  }
  return `storm: ${n(r.rate_per_s)} RST/s ${what}, ${n(r.count)} in ${r.interval_s.toFixed(1)} s: ${verdict}; ${n(r.shown)} shown in full${lost}`;
}

export function stormJson(r: StormRecord): string {
  const { cause, ...rest } = r;
  return `${JSON.stringify(rest).slice(0, -1)},"cause":${cause ? causeJson(cause) : 'null'}}`;
}

export function totalsLine(t: StormTotals): string {
  return (
    `${n(t.sent)} RSTs sent and ${n(t.received)} received: ${n(t.shown)} shown in full, ${n(t.counted_only)} counted only` +
    `${t.unkeyed ? ` (${n(t.unkeyed)} without their key)` : ''}, ${n(t.lost)} lost`
  );
}

export function totalsJson(t: StormTotals, loss?: LossTotals, outputDropped = 0): string {
  const { sent, received, ...rest } = t;
  return JSON.stringify({ type: 'summary', rsts: { sent, received }, ...rest, ...(loss ? { loss } : {}), output_dropped: outputDropped });
}

export function lossTotalsLine(t: LossTotals): string {
  return (
    `${n(t.drops)} drops, ${n(t.retransmits)} retransmissions and ${n(t.errors)} errors: ${n(t.shown)} shown in full, ${n(t.counted_only)} counted only` +
    `${t.unkeyed ? ` (${n(t.unkeyed)} without their key)` : ''}, ${n(t.lost)} lost`
  );
}
