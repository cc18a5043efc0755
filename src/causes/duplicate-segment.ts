import { DROP_DOC, dropEvidence, droppedFor, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

const DUP = new Set(['TCP_OLD_DATA', 'TCP_OFOMERGE']);
const OLD_SEQUENCE = new Set(['TCP_OLD_SEQUENCE']);

export const duplicateSegment: Cause = {
  id: 'duplicate-segment',
  title: 'Segment dropped: its data had already arrived',
  group: 'drop',
  map: [],
  happened:
    'The segment carried only data the receiver already had: the sender retransmitted something that had arrived (a spurious retransmission: its timer was too short for the path, or the ACK was lost or late), or the network duplicated it. Nothing is lost; the retransmission wasted time and bandwidth.',
  why: 'tcp_data_queue() drops a segment entirely below rcv_nxt (TCP_OLD_DATA, counted as TCPDSACKRecv at the sender when it sends D-SACK); tcp_data_queue_ofo() drops an out-of-order segment already covered by the queue (TCP_OFOMERGE).',
  evidence: { ...DROP_DOC },
  recognized:
    'a drop with reason TCP_OLD_DATA or TCP_OFOMERGE, or TCP_OLD_SEQUENCE of a segment with data (wholly below the window, on kernels that name it) (high).',
  fix: "Usually none. Many of them: the sender's retransmission timer fires too early (delay spikes on the path, a tiny tcp_rto_min), or ACKs are lost on the way back; look at the sender's RetransSegs and the receiver's TCPDSACKOldSent.",
  loss(f) {
    // TCP_OLD_SEQUENCE: a segment wholly below the window; with data, data already received
    const oldData = droppedFor(f, OLD_SEQUENCE) && (f.e.segment?.len ?? 0) > 0 && !f.e.window_probe;
    if (!droppedFor(f, DUP) && !oldData) return null;
    return { confidence: 'high', summary: `${segmentText(f)} repeated data the receiver already had (${f.e.reason})`, evidence: dropEvidence(f) };
  },
};
