// What the wire loss rules of the causes read (the `wireLoss` part of a cause
// module): one side of a finished connection of a capture, as the capture
// analysis (src/capture/loss-judge.ts) fills it in, or the flow of an ICMP
// error whose packets the capture lacks. Here, beside the rules, so that the
// cause registry never imports the analysis that reads it.
import type { Handshake } from './wire-facts.js';

/** ICMP errors of one kind about the packets one side sent, and what that side did after the first. */
export interface IcmpSeen {
  frame: number;
  time: number;
  /** errors of this kind about the flow, and the last one's frame */
  count: number;
  lastFrame: number;
  family: 4 | 6;
  /** ICMP type 3, or ICMPv6 type 1 or 2 (packet too big), and the code */
  type: number;
  code: number;
  /** the ICMP's sender (address key): the router or host that reported */
  from: string;
  /** next-hop MTU it gave (fragmentation needed, packet too big); 0: none */
  mtu: number;
  /** the quoted segment: seq, flags (-1: the quote stops before them), IP length */
  quotedSeq: number;
  quotedFlags: number;
  quotedLen: number;
  /** packets the side sent after it (for too big: packets with data), SYNs among them, and those larger than the MTU */
  after: number;
  synsAfter: number;
  tooBigAfter: number;
}

/** The longest run of RTO retransmissions of one full-size segment of a side. */
export interface StuckSegment {
  seq: number;
  len: number;
  /** times it was sent again */
  count: number;
  /** the first retransmission and the last */
  frame: number;
  time: number;
  lastFrame: number;
  lastTime: number;
  /** the peer had acknowledged everything before it (smaller segments got through) */
  earlierAcked: boolean;
  /** the peer had acknowledged a segment of this size before (the path carried full size then) */
  fullSizeAcked: boolean;
  /** a smaller segment sent at its seq afterwards, and the peer's ACK past it (0: none) */
  shrunkFrame: number;
  throughFrame: number;
}

/** One side of a connection, as the loss rules read it. */
export interface LossSideFacts {
  /** address key and port */
  addr: string;
  port: number;
  packets: number;
  lastFrame: number;
  lastTime: number;
  retransmissions: number;
  /** SYNs (or SYN-ACKs) with one ISN: how many, the first and the last, and the wait before the last */
  syns: number;
  firstSynFrame: number;
  firstSynTime: number;
  lastSynFrame: number;
  lastSynTime: number;
  synGap: number;
  /** segments advertising a zero window, the first, the longest stall that ended (s), the start of one still open at the end (-1: none), the last reopening (0: none), and the peer's probes */
  zeroWindows: number;
  zwFirstFrame: number;
  zwFirstTime: number;
  zwLongest: number;
  zwOpenSince: number;
  zwReopenFrame: number;
  zwProbes: number;
  /** largest payload it sent */
  maxLen: number;
  stuck: StuckSegment | null;
}

export interface WireLossFacts {
  /** the connection's number; null when the capture has only an ICMP error about the flow */
  connId: number | null;
  family: 4 | 6;
  /** the handshake was seen (roles are known); how far it got (null: no packet of the flow) */
  rolesKnown: boolean;
  handshake: Handshake | null;
  /** the side the rules are asked about, its role (null when unknown), and the other side */
  role: 'client' | 'server' | null;
  me: LossSideFacts;
  peer: LossSideFacts;
  /** the flow's first frame in the capture (the ICMP's, when the capture has no packet of the flow) */
  firstFrame: number;
  /** the connection's last packet */
  lastFrame: number;
  lastTime: number;
  /** capture time when the connection was finished: its last packet, or later when the capture went on without it */
  endTime: number;
  /** ICMP errors about packets `me` sent: destination unreachable, and fragmentation needed / packet too big */
  unreach: IcmpSeen | null;
  tooBig: IcmpSeen | null;
}
