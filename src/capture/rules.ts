// The catalogue's causes as a capture shows them. Each wire rule names a cause
// id of src/diagnose/catalogue.ts (a test checks they exist); the title and the
// fix come from the catalogue entry, the rule adds what the packets prove and
// the causes the packets cannot tell apart (`alternatives`). Rules are tried
// in order; the first whose `test` answers wins. docs/causes.md shows each
// rule's `recognized` text under its cause.
//
// `test` is cheap and gives the confidence; `explain` builds the words and is
// only called for resets that are reported (a capture may hold millions).
import type { Confidence, EvidenceValue } from '../diagnose/types.js';
import { endpoint } from '../events/text.js';
import { addrText } from './decode.js';
import { ACK, SYN } from './track.js';
import { flagText, kindText, type WireFacts, type WirePacket } from './wire.js';

export interface WireExplanation {
  summary: string;
  evidence: Record<string, EvidenceValue>;
  /** frames that show it (besides the RST) */
  proof: number[];
}

export interface WireRule {
  id: string;
  /** how the rule recognizes the cause in a capture, for docs/causes.md */
  recognized: string;
  /** causes that look the same on the wire: the capture cannot rule them out */
  alike: string[];
  /** the confidence when the rule recognizes the reset, else null */
  test(w: WireFacts): Confidence | null;
  explain(w: WireFacts): WireExplanation;
}

/** An orphaned FIN_WAIT2 socket lives net.ipv4.tcp_fin_timeout (60 s by default): a reset this long after the FIN was acked is that timer. */
const FIN_TIMEOUT_S = 50;
/** Active resets from one endpoint this close together come from one event (a listener closing). */
export const BURST_SECONDS = 0.01;

const ep = (x: { addr: string; port: number }) => endpoint(addrText(x.addr), x.port);
const who = (w: WireFacts) => `${w.role ?? 'the endpoint'} ${ep(w.from)}`;
const peerWho = (w: WireFacts) => `${w.role === 'client' ? 'server' : w.role === 'server' ? 'client' : 'peer'} ${ep(w.to)}`;
export const segText = (p: WirePacket) => `${flagText(p.flags)}${p.len ? ` with ${p.len} bytes` : ''} (frame ${p.frame})`;
const answersSyn = (w: WireFacts) => w.answered !== null && (w.answered.flags & (SYN | ACK)) === SYN;
const passive = (w: WireFacts) => w.kind === 'passive';
const active = (w: WireFacts) => w.kind === 'active';
const secs = (s: number) => (s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(1)} s`);
const FORGOTTEN_ALIKE = ['stray-ack-to-listener', 'nat-not-applied', 'nat-backend-changed', 'ehash-lookup-race'];

function base(w: WireFacts): Record<string, EvidenceValue> {
  return { sender: ep(w.from), receiver: ep(w.to), role: w.role, kind: w.kind, answers: w.answered ? w.answered.frame : null };
}

/** Whether a verdict needs packets that come after the reset (bursts, a leaked NAT port): it then waits a little. */
export function needsLookahead(w: WireFacts): boolean {
  return w.kind === 'active' || (w.kind === 'passive' && w.role === 'server' && w.handshake === 'established');
}

export const WIRE_RULES: WireRule[] = [
  {
    id: 'middlebox-reset',
    recognized: "the RST's TTL (hop limit) differs from every other packet of its claimed sender, or its seq fits neither a reply nor the sender's sequence, together with a construction unlike Linux's.",
    alike: [],
    test: (w) => (!w.injected.length ? null : w.injected.length > 1 ? 'high' : 'medium'),
    explain: (w) => ({
      summary: `an RST claiming to come from ${who(w)} unlike its other packets (${w.injected.join('; ')}): injected on the path`,
      evidence: { ...base(w), differs: w.injected.join('; ') },
      proof: [w.sender.lastFrame].filter((x) => x > 0),
    }),
  },
  {
    id: 'time-wait-reject',
    recognized: 'a passive RST from the side that closed first, after both FINs were exchanged and acknowledged, answering new data or a FIN (a socket in TIME_WAIT).',
    alike: [],
    test(w) {
      if (!passive(w) || w.sender.finSeq < 0 || w.peer.finSeq < 0 || !w.sender.finAcked || !w.peer.finAcked) return null;
      return w.sender.finFrame > w.peer.finFrame ? null : 'medium';
    },
    explain: (w) => ({
      summary: `${who(w)} had closed first and both FINs were acknowledged (TIME_WAIT); it answered ${w.answered ? segText(w.answered) : 'a later segment'} with a reset`,
      evidence: { ...base(w), fin_frame: w.sender.finFrame, peer_fin_frame: w.peer.finFrame },
      proof: [w.sender.finFrame, w.peer.finFrame, ...(w.answered ? [w.answered.frame] : [])],
    }),
  },
  {
    id: 'data-after-close',
    recognized: 'a passive RST from a side that had sent its FIN, answering data the peer sent after that FIN.',
    alike: [],
    test(w) {
      if (!passive(w) || w.sender.finSeq < 0) return null;
      const a = w.answered;
      if (a ? a.len === 0 || a.frame < w.sender.finFrame : w.peer.lastDataFrame < w.sender.finFrame) return null;
      return 'high';
    },
    explain: (w) => ({
      summary: `${who(w)} had closed (FIN, frame ${w.sender.finFrame}); the ${peerWho(w)} kept sending (${w.answered ? segText(w.answered) : 'data'}) and got a reset`,
      evidence: { ...base(w), fin_frame: w.sender.finFrame, data_bytes: w.answered?.len ?? null },
      proof: [w.sender.finFrame, ...(w.answered ? [w.answered.frame] : [])],
    }),
  },
  {
    id: 'accept-queue-overflow-silent',
    recognized: "the server sent its SYN-ACK again after the client's final handshake ACK (it dropped that ACK: accept queue full, tcp_abort_on_overflow=0), and later reset the connection.",
    alike: [],
    test: (w) => (w.role === 'server' && w.synAckAfterAck > 0 ? 'medium' : null),
    explain: (w) => ({
      summary: `${who(w)} ignored the handshake's final ACK (frame ${w.establishedFrame}) and sent its SYN-ACK again ${w.synAckAfterAck} time(s): its accept queue was full; the client's data went unanswered until this reset`,
      evidence: { ...base(w), handshake_ack: w.establishedFrame, synack_resent: w.synAckAfterAck },
      proof: [w.establishedFrame],
    }),
  },
  {
    id: 'accept-queue-overflow-abort',
    recognized: "a passive RST from the server answering the handshake's final ACK (tcp_abort_on_overflow=1 with a full accept queue).",
    alike: ['stray-ack-to-listener', 'syn-recv-bad-ack'],
    test: (w) => (w.role === 'server' && passive(w) && w.answered !== null && w.answered.frame === w.establishedFrame ? 'medium' : null),
    explain: (w) => ({
      summary: `${who(w)} answered the handshake's final ACK (frame ${w.answered!.frame}) with a reset: its accept queue was full and net.ipv4.tcp_abort_on_overflow=1`,
      evidence: { ...base(w), handshake_ack: w.answered!.frame },
      proof: [w.answered!.frame],
    }),
  },
  {
    id: 'keepalive-timeout',
    recognized: 'an active RST after keepalive probes (segments at snd_una - 1) the peer never answered.',
    alike: [],
    test: (w) => (!active(w) || w.probesUnanswered < 1 ? null : w.probesUnanswered >= 2 ? 'high' : 'medium'),
    explain: (w) => ({
      summary: `${who(w)} sent ${w.probesUnanswered} keepalive probe(s) that the ${peerWho(w)} never answered, then gave up (${secs(w.rst.time - w.peer.lastTime)} after the peer's last packet)`,
      evidence: { ...base(w), probes: w.probesUnanswered, silent_s: Math.round((w.rst.time - w.peer.lastTime) * 10) / 10 },
      proof: [w.peer.lastFrame],
    }),
  },
  {
    id: 'orphan-fin-wait2-timeout',
    recognized: `an active RST from a side whose FIN was acknowledged, with no FIN from the peer, at least ${FIN_TIMEOUT_S} s later (the orphaned FIN_WAIT2 timer).`,
    alike: ['fin-wait2-linger-negative'],
    test(w) {
      if (!active(w) || w.sender.finSeq < 0 || !w.sender.finAcked || w.peer.finSeq >= 0) return null;
      return w.rst.time - w.sender.lastTime < FIN_TIMEOUT_S && w.rst.time - w.peer.lastTime < FIN_TIMEOUT_S ? null : 'medium';
    },
    explain: (w) => ({
      summary: `${who(w)} closed (FIN frame ${w.sender.finFrame}), the peer never closed its side, and ${secs(w.rst.time - w.peer.lastTime)} later the FIN_WAIT2 timer reset the connection`,
      evidence: { ...base(w), fin_frame: w.sender.finFrame },
      proof: [w.sender.finFrame],
    }),
  },
  {
    id: 'fin-wait2-linger-negative',
    recognized: 'an active RST from a side whose FIN the peer acknowledged, before the peer closed its side, soon after (close() in FIN_WAIT2 with TCP_LINGER2 < 0).',
    alike: ['orphan-fin-wait2-timeout'],
    test: (w) => (active(w) && w.sender.finSeq >= 0 && w.sender.finAcked && w.peer.finSeq < 0 ? 'medium' : null),
    explain: (w) => ({
      summary: `${who(w)} had sent its FIN (frame ${w.sender.finFrame}), the peer acknowledged it without closing, and ${secs(w.rst.time - w.sender.finTime)} later the sender reset instead of waiting in FIN_WAIT2`,
      evidence: { ...base(w), fin_frame: w.sender.finFrame },
      proof: [w.sender.finFrame],
    }),
  },
  {
    id: 'listener-closed-with-pending',
    recognized: 'active RSTs from one server endpoint within 10 ms on several connections that carried no data either way (a listener closed with connections not yet accepted).',
    alike: ['linger-zero-close'],
    test: (w) => (active(w) && w.role === 'server' && w.sender.bytes === 0 && w.peer.bytes === 0 && w.burst >= 2 ? 'medium' : null),
    explain: (w) => ({
      summary: `${who(w)} reset ${w.burst} connections at once, none of which it ever sent data on: its listener closed with connections not yet accepted`,
      evidence: { ...base(w), connections: w.burst },
      proof: [w.establishedFrame].filter((x) => x > 0),
    }),
  },
  {
    id: 'close-with-unread-data',
    recognized: 'an active RST from a side that received data after its own last data (the data it had not answered, very likely unread when the application closed).',
    alike: ['linger-zero-close', 'socket-destroyed', 'listener-closed-with-pending'],
    test: (w) => (active(w) && w.peer.lastDataFrame > 0 && w.peer.lastDataFrame >= w.sender.lastDataFrame ? 'medium' : null),
    explain(w) {
      const unacked = w.peer.nextSeq !== w.sender.lastAck;
      return {
        summary: `${who(w)} reset the connection after the ${peerWho(w)} sent it data it never answered (frame ${w.peer.lastDataFrame}${unacked ? ', not even acknowledged' : ''}): closed with unread data`,
        evidence: { ...base(w), peer_data_frame: w.peer.lastDataFrame, peer_bytes: w.peer.bytes },
        proof: [w.peer.lastDataFrame],
      };
    },
  },
  {
    id: 'linger-zero-close',
    recognized: 'an active RST explained by nothing above: no unanswered data, probes or FIN (close() with SO_LINGER 0; `ss -K` and connect(AF_UNSPEC) look the same on the wire).',
    alike: ['socket-destroyed', 'disconnect-abort', 'listener-closed-with-pending'],
    test: (w) => (active(w) ? 'low' : null),
    explain: (w) => ({
      summary: `${who(w)} aborted the connection with nothing pending on the wire: close() with SO_LINGER 0, or the socket was destroyed (ss -K)`,
      evidence: base(w),
      proof: [],
    }),
  },
  {
    id: 'listener-gone',
    recognized: 'a passive RST answering a SYN, from an endpoint that answered earlier SYNs with SYN-ACK in the same capture.',
    alike: ['netfilter-reject'],
    test: (w) => (passive(w) && answersSyn(w) && w.acceptedBefore ? 'medium' : null),
    explain: (w) => ({
      summary: `${ep(w.from)} refused a SYN (frame ${w.answered!.frame}) though it accepted ${w.acceptedBefore!.count} connection(s) earlier in the capture (last SYN-ACK frame ${w.acceptedBefore!.lastFrame}): its listener went away`,
      evidence: { ...base(w), accepted_before: w.acceptedBefore!.count, last_synack_frame: w.acceptedBefore!.lastFrame },
      proof: [w.answered!.frame, w.acceptedBefore!.lastFrame],
    }),
  },
  {
    id: 'no-listener',
    recognized: 'a passive RST+ACK answering a SYN (seq 0, ack = SYN + 1): nothing listened on the port.',
    alike: ['listener-gone', 'netfilter-reject'],
    test: (w) => (passive(w) && answersSyn(w) ? 'medium' : null),
    explain: (w) => ({
      summary: `${ep(w.from)} refused the SYN of ${ep(w.to)} (frame ${w.answered!.frame}): nothing listens on port ${w.from.port}`,
      evidence: base(w),
      // a listener that went away before the capture began looks the same
      proof: [w.answered!.frame],
    }),
  },
  {
    id: 'nat-not-applied',
    recognized: "a passive RST from the server's port of an established connection while the same client endpoint also exchanges packets with another port of the server that it never opened (the translated port leaking out: REDIRECT/DNAT no longer applied).",
    alike: ['nat-backend-changed'],
    test: (w) => (passive(w) && w.role === 'server' && w.handshake === 'established' && w.leakedPorts.length > 0 ? 'medium' : null),
    explain: (w) => ({
      summary: `${who(w)} answered ${w.answered ? segText(w.answered) : 'a segment'} with a reset, and packets between the client and port ${w.leakedPorts.join(', ')} of the server show the translated port: the segment reached ${w.from.port} without its NAT (conntrack entry lost)`,
      evidence: { ...base(w), translated_port: w.leakedPorts.join(','), segment: w.answered ? flagText(w.answered.flags) : null },
      proof: w.answered ? [w.answered.frame] : [],
    }),
  },
  {
    id: 'connection-forgotten',
    recognized: 'a passive RST answering a non-SYN segment from a side that had not closed or reset the connection: it has no socket for it (restarted, reply that missed NAT, lost state).',
    alike: FORGOTTEN_ALIKE,
    test(w) {
      if (!passive(w) || w.sender.finSeq >= 0 || answersSyn(w)) return null;
      return w.handshake === 'established' || w.sender.packets > 0 ? 'medium' : 'low';
    },
    explain(w) {
      const a = w.answered;
      const seen = w.handshake === 'established' || w.sender.packets > 0;
      const what = a ? segText(a) : 'a segment';
      const summary =
        w.sender.rstFrame > 0
          ? `${who(w)} had reset the connection itself (frame ${w.sender.rstFrame}); ${what} crossed that reset and was answered with another`
          : seen
            ? `${who(w)} answered ${what} of a connection it never closed with a reset: it no longer knew the connection`
            : `${ep(w.from)} answered ${what} for a connection it has no trace of in the capture with a reset`;
      return {
        summary,
        evidence: { ...base(w), segment: a ? flagText(a.flags) : null, own_reset_frame: w.sender.rstFrame || null },
        proof: [...(a ? [a.frame] : []), ...(w.sender.rstFrame ? [w.sender.rstFrame] : [])],
      };
    },
  },
  {
    id: 'unclassified-passive',
    recognized: 'any other passive RST.',
    alike: [],
    test: (w) => (passive(w) ? 'low' : null),
    explain: (w) => ({ summary: `${ep(w.from)} rejected a segment (${kindText(w)}); no rule recognized it`, evidence: { ...base(w), shape: kindText(w) }, proof: [] }),
  },
  {
    id: 'unclassified-active',
    recognized: 'any other RST.',
    alike: [],
    test: () => 'low',
    explain: (w) => ({ summary: `${ep(w.from)} reset the connection (${kindText(w)}); no rule recognized it`, evidence: { ...base(w), shape: kindText(w) }, proof: [] }),
  },
];
