// What the terminal report keeps of connections while a capture streams by:
// the packets of the connections --conn picked (bounded: it may pick a flood's
// worth), and the connections with the most loss signs.
import { lossTotal, type ConnReport, type LadderRow } from './report.js';

/** Connections --conn shows at most, and packets shown per connection (its last ones). */
const MAX_CONNS = 50;
const MAX_CONN_ROWS = 500;

export interface ConnLadder {
  id: number;
  client: string;
  server: string;
  /** its last packets, at most MAX_CONN_ROWS */
  rows: LadderRow[];
  /** earlier packets not kept */
  dropped: number;
}

export class ConnLadders {
  private readonly conns = new Map<number, ConnLadder>();
  /** matching connections beyond MAX_CONNS: counted, not kept */
  notShown = 0;
  private lastNotShown = -1;

  /** A packet of a connection --conn picked (AnalyzeOptions.onConnPacket). */
  add({ id, row, client, server }: { id: number; row: LadderRow; client: string; server: string }): void {
    let e = this.conns.get(id);
    if (!e) {
      if (this.conns.size >= MAX_CONNS) {
        // connection numbers grow as connections open: a higher one is a new one
        if (id > this.lastNotShown) {
          this.notShown++;
          this.lastNotShown = id;
        }
        return;
      }
      this.conns.set(id, (e = { id, client, server, rows: [], dropped: 0 }));
    }
    e.rows.push(row);
    // trimmed in steps, not a shift() per packet of a long connection
    trim(e, 2 * MAX_CONN_ROWS - 1);
  }

  /** The connections shown, in the order they opened, each with its last packets. */
  shown(): ConnLadder[] {
    const out = [...this.conns.values()];
    for (const e of out) trim(e, MAX_CONN_ROWS);
    return out;
  }
}

/** keeps a connection's last MAX_CONN_ROWS rows once it has more than `above` */
function trim(e: ConnLadder, above: number): void {
  if (e.rows.length <= above) return;
  e.dropped += e.rows.length - MAX_CONN_ROWS;
  e.rows.splice(0, e.rows.length - MAX_CONN_ROWS);
}

const lossOfConn = (c: ConnReport) => lossTotal(c.loss.client) + lossTotal(c.loss.server);

/** The connections with the most loss signs (the first to end on a tie), at most `keep`. */
export class LossiestConns {
  private readonly kept: ConnReport[] = [];

  constructor(private readonly keep = 10) {}

  add(c: ConnReport): void {
    if (!lossOfConn(c)) return;
    this.kept.push(c);
    this.kept.sort((x, y) => lossOfConn(y) - lossOfConn(x) || x.id - y.id);
    if (this.kept.length > this.keep) this.kept.pop();
  }

  list(): ConnReport[] {
    return this.kept;
  }
}
