// What the wire rules of the causes read about one RST of a capture: the
// facts the capture analysis (src/capture/wire.ts) fills in at the RST, and
// the packets they point at. Here, beside the rules, so that the rules depend
// on these shapes and the capture side implements them: the cause registry
// never imports the analysis that reads it.

/** How far a connection's handshake got, as the capture shows it. */
export type Handshake = 'none' | 'syn' | 'syn-ack' | 'established' | 'refused' | 'midstream';

/** One packet of the ring as an object, for what outlives the ring's next turn (ladders, verdicts). */
export interface WirePacket {
  frame: number;
  time: number;
  side: number;
  flags: number;
  seq: number;
  ack: number;
  len: number;
  win: number;
  ttl: number;
  ipId: number;
  ts: boolean;
  loss: number;
}

/** The parts of a direction's state the rules read, frozen at the RST. */
export interface SideFacts {
  packets: number;
  bytes: number;
  /** seq of its FIN, -1 if it sent none; the frame */
  finSeq: number;
  finFrame: number;
  finTime: number;
  /** frame of its last RST before this one (0: none) */
  rstFrame: number;
  /** its FIN was acknowledged by the other side */
  finAcked: boolean;
  lastDataFrame: number;
  lastDataTime: number;
  lastFrame: number;
  lastTime: number;
  /** next sequence number after everything it sent (snd_nxt as seen on the wire) */
  nextSeq: number;
  /** last ACK it sent, -1 if none */
  lastAck: number;
  ttl: number;
  ttlVaries: boolean;
  usesTs: boolean;
  synRetrans: number;
  /** seq of its SYN (or SYN-ACK), -1 if it sent none */
  synSeq: number;
  /** option order (TcpSegment.optOrder) and window of its first SYN or SYN-ACK; -1 when the capture has none */
  synOrder: number;
  synWin: number;
}

/**
 * Which TCP stack the packets of a reset's sender look like
 * (src/capture/sender.ts): the construction rules of
 * ../shared/docs/kernel-rst-map.md, and the advice about sysctls and kernel
 * paths, hold only for Linux.
 */
export interface SenderStack {
  /** 'linux', 'windows', 'bsd' (macOS, FreeBSD, OpenBSD), 'ttl255' (Solaris, network devices, load balancers) or 'unknown' */
  name: 'linux' | 'windows' | 'bsd' | 'ttl255' | 'unknown';
  /** Linux may have sent it: nothing in the packets rules Linux out */
  mayBeLinux: boolean;
  /** how sure the name is: high when two independent signs agree */
  confidence: 'high' | 'medium' | 'low';
  /** the signs it read, in words */
  signs: string[];
}

export type Kind = 'active' | 'passive' | 'unknown';

/** Which of the construction rules of "Reading a capture" decided the kind. */
export type KindRule = 'no-ack' | 'no-ack-unmatched' | 'seq0-reply' | 'seq0-unmatched' | 'snd-nxt' | 'in-window' | 'unchecked' | 'neither';

/** The construction rule behind w.kind, in words (built only for reports: there may be millions of resets). */
export function kindText(w: WireFacts): string {
  const f = w.answered?.frame;
  switch (w.kindRule) {
    case 'no-ack':
      return `RST without ACK, seq = the ack of frame ${f}`;
    case 'no-ack-unmatched':
      return 'RST without ACK (the segment it answers is not in the capture)';
    case 'seq0-reply':
      return `RST+ACK with seq 0, ack = frame ${f}'s seq + length: the reply to a segment without ACK`;
    case 'seq0-unmatched':
      return 'RST+ACK with seq 0 (the segment it answers is not in the capture)';
    case 'snd-nxt':
      return "RST+ACK with seq = the sender's next sequence number";
    case 'in-window':
      return "RST+ACK with seq inside the sender's window";
    case 'unchecked':
      return 'RST+ACK with a non-zero seq (the sender sent nothing else in the capture to check it against)';
    case 'neither':
      return "RST+ACK whose seq fits neither a reply (0) nor the sender's sequence";
  }
}

export interface WireFacts {
  /**
   * The connection's number; the facts keep no reference to its object, which
   * the tracker reuses for later connections once it is finished
   */
  connId: number;
  /** the side reports call the client (the SYN's sender, else the higher port), and whether the SYN was seen */
  clientSide: number;
  rolesKnown: boolean;
  family: 4 | 6;
  /** side that sent the RST, and its role in the connection */
  side: number;
  role: 'client' | 'server' | null;
  /** the connection's endpoints as [sender, receiver] text-free keys (address key, port) */
  from: { addr: string; port: number };
  to: { addr: string; port: number };
  rst: WirePacket;
  /** payload bytes of the RST (offset in the frame buffer is gone after the callback: copied) */
  payload: Buffer | null;
  kind: Kind;
  /** the construction rule that decided the kind (kindText() says it in words) */
  kindRule: KindRule;
  /** the segment the RST answers (passive), when it is in the capture */
  answered: WirePacket | null;
  /** where `answered` is filled in, so that a reused WireFacts allocates nothing */
  answeredSpace: WirePacket;
  /** ways the RST is not built the way Linux builds a reset of its kind */
  unlikeLinux: string[];
  /** the stack that sent the RST, as its packets tell */
  stack: SenderStack;
  /** the reason of an MPTCP MP_TCPRST option on the RST (RFC 8684 3.6), -1 when absent; its transient flag */
  mptcpReason: number;
  mptcpTransient: boolean;
  /** header fields unlike the sender's other packets: signs of an injected RST */
  injected: string[];
  handshake: Handshake;
  establishedFrame: number;
  synAckAfterAck: number;
  sender: SideFacts;
  peer: SideFacts;
  /** SYN-ACKs the sender's endpoint sent on earlier connections (a listener was there) */
  acceptedBefore: { count: number; lastFrame: number } | null;
  /** keepalive probes the sender sent since the peer's last packet */
  probesUnanswered: number;
  /** earlier RSTs on this connection */
  earlierResets: number;
  /** other ports of the sender's address that the receiver's endpoint exchanged packets with, in flows whose start the capture missed (a NATed port leaking out); set when the verdict is made, for passive resets by the server of an established connection (the NAT rule's case) */
  leakedPorts: number[];
  /** the last packets before the RST (oldest first), when asked to keep them */
  ladder: WirePacket[] | null;
  /** active RSTs from the same endpoint within BURST_SECONDS (this one included); set when the verdict is made */
  burst: number;
}
