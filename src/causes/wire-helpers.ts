// Helpers the wire rules share (the `wire` part of a cause module): how they
// name endpoints and packets, and the evidence every capture verdict carries.
import { addrText } from '../net/addr.js';
import { ACK, SYN } from '../net/flags.js';
import { tcpdumpFlags as flagText } from '../net/flags.js';
import type { WireFacts, WirePacket } from './wire-facts.js';
import { endpoint } from '../net/addr.js';
import type { EvidenceDocs } from './types.js';
import type { EvidenceValue } from '../events/verdict.js';

/** Active resets from one endpoint this close together come from one event (a listener closing). */
export const BURST_SECONDS = 0.01;

export const ep = (x: { addr: string; port: number }) => endpoint(addrText(x.addr), x.port);
export const who = (w: WireFacts) => `${w.role ?? 'the endpoint'} ${ep(w.from)}`;
export const peerWho = (w: WireFacts) => `${w.role === 'client' ? 'server' : w.role === 'server' ? 'client' : 'peer'} ${ep(w.to)}`;
export const packetText = (p: WirePacket) => `${flagText(p.flags)}${p.len ? ` with ${p.len} bytes` : ''} (frame ${p.frame})`;
export const answersSyn = (w: WireFacts) => w.answered !== null && (w.answered.flags & (SYN | ACK)) === SYN;
export const passive = (w: WireFacts) => w.kind === 'passive';
export const active = (w: WireFacts) => w.kind === 'active';
export const secs = (s: number) => (s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(1)} s`);

// wireBase() fills exactly the names WIRE_BASE_DOC documents: a rule spreads
// both, so they cannot drift apart.
export const WIRE_BASE_DOC: EvidenceDocs = {
  sender: 'the endpoint that sent the RST (address:port)',
  receiver: 'the endpoint it was sent to',
  role: '"client" (it sent the SYN) or "server"; null when the capture missed the handshake',
  kind: '"active" (the sender aborted the connection) or "passive" (it answered a segment it could not accept), from how the RST is built; "unknown" when neither fits',
  answers: 'frame of the segment the RST answers, null when it answers none in the capture',
};

export function wireBase(w: WireFacts): Record<string, EvidenceValue> {
  return { sender: ep(w.from), receiver: ep(w.to), role: w.role, kind: w.kind, answers: w.answered ? w.answered.frame : null };
}

/** Evidence names several wire rules use, with one meaning. */
export const WIRE_DOC = {
  fin_frame: "frame of the sender's FIN",
  handshake_ack: "frame of the client's final handshake ACK",
  segment: 'flags of the segment the RST answers, in tcpdump notation (S F R P U E W, "." for ACK); null when the capture lacks it',
  shape: 'how the RST is built, in words (what decided its kind)',
};

/** Whether a verdict needs packets that come after the reset (bursts, a leaked NAT port): it then waits a little. */
export function needsLookahead(w: WireFacts): boolean {
  return w.kind === 'active' || (w.kind === 'passive' && w.role === 'server' && w.handshake === 'established');
}

export const STACK_DOC =
  'the stack the sender looks like (linux, windows, bsd, ttl255: Solaris or a network device, unknown), and the signs that tell it (initial TTL, SYN options, how the RST is built)';

/** The sender's stack in words, for evidence. */
export const stackText = (w: WireFacts) => (w.stack.signs.length ? `${w.stack.name}: ${w.stack.signs.join('; ')}` : w.stack.name);
