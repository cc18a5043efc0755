import { DROP_DOC, dropEvidence, droppedFor, segmentText } from './loss-helpers.js';
import type { Cause } from './types.js';

const CSUM = new Set(['TCP_CSUM', 'IP_CSUM', 'SKB_CSUM', 'ICMP_CSUM', 'IP_INHDR', 'PKT_TOO_SMALL', 'HDR_TRUNC']);

export const checksumError: Cause = {
  id: 'checksum-error',
  title: 'Segment dropped: bad checksum or malformed header',
  group: 'drop',
  map: [],
  happened:
    'The segment arrived corrupted: its TCP or IP checksum is wrong, or its headers are truncated or invalid. Something on the path (a NIC, a driver with broken offload, a middlebox rewriting packets) damaged it.',
  why: 'tcp_v4_rcv() / tcp_v6_rcv() check the checksum (tcp_checksum_complete) and drop with TCP_CSUM (TcpInCsumErrors); ip_rcv_core() drops IP_CSUM / IP_INHDR.',
  evidence: { ...DROP_DOC },
  recognized: 'a drop with reason TCP_CSUM, IP_CSUM, SKB_CSUM, IP_INHDR, PKT_TOO_SMALL or HDR_TRUNC (high).',
  fix: 'Look for the corrupting hop: TcpInCsumErrors and interface errors (ip -s link); try disabling checksum offload on the receiving NIC (ethtool -K <dev> rx off) to test a driver bug; check cables and middleboxes.',
  loss(f) {
    if (!droppedFor(f, CSUM)) return null;
    return { confidence: 'high', summary: `${segmentText(f)} arrived corrupted and was dropped (${f.e.reason})`, evidence: dropEvidence(f) };
  },
};
