// What a capture tells about one RST, read at the moment it appears: who sent
// it, whether the kernel built it as an active or a passive reset (the
// construction rules of ../shared/docs/kernel-rst-map.md, "Reading a
// capture"), the segment it answers, and how it compares with the sender's
// other packets. The wire rules of the causes (src/causes/) turn these facts
// into a cause.
import { ACK, FIN, RST, SYN } from '../net/flags.js';
import type { Kind, KindRule, SenderStack, SideFacts, WireFacts, WirePacket } from '../causes/wire-facts.js';
import { LOSS_KEEPALIVE, seqLe, type Conn } from './track.js';
import { newPacket, packetAt, ringAck, ringFlags, ringFrame, ringLoss, ringPayload, ringSeq, ringSide } from './ring.js';
import { senderStack } from './sender.js';
import type { TcpSegment } from './types.js';

/** A frozen copy of a direction, for a verdict made after more packets went by. */
export function snapshot(d: SideFacts): SideFacts {
  return {
    packets: d.packets,
    bytes: d.bytes,
    finSeq: d.finSeq,
    finFrame: d.finFrame,
    finTime: d.finTime,
    rstFrame: d.rstFrame,
    finAcked: d.finAcked,
    lastDataFrame: d.lastDataFrame,
    lastDataTime: d.lastDataTime,
    lastFrame: d.lastFrame,
    lastTime: d.lastTime,
    nextSeq: d.nextSeq,
    lastAck: d.lastAck,
    ttl: d.ttl,
    ttlVaries: d.ttlVaries,
    usesTs: d.usesTs,
    synRetrans: d.synRetrans,
    synSeq: d.synSeq,
    synOrder: d.synOrder,
    synWin: d.synWin,
  };
}

/**
 * The segment a passive RST answers, from the other side; filled into `into`
 * when given. The newest that fits, except that the first RST after segments
 * that all fit (data, then a FIN, with the same ack) answers the first of
 * them that carries data or a FIN: the receiver rejected them in order, and
 * a further RST answers the next.
 */
function findAnswered(c: Conn, side: number, seg: TcpSegment, into?: WirePacket): WirePacket | null {
  const sinceRst = c.dir(side).rstFrame;
  const acked = c.dir(side).lastAck;
  const finFrame = c.dir(side).finFrame;
  let first = -1;
  for (let i = 0; i < c.ringLen; i++) {
    const at = c.ringAt(i);
    const flags = ringFlags(c, at);
    if (ringSide(c, at) === side || flags & RST) continue;
    if (seg.flags & ACK) {
      // RST+ACK: answers a segment without ACK; ack = its seq + length (+SYN/FIN)
      if (flags & ACK) continue;
      const end = (ringSeq(c, at) + ringPayload(c, at) + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0)) >>> 0;
      if (end === seg.ack) return packetAt(c, at, into);
    } else if (flags & ACK && ringAck(c, at) === seg.seq) {
      if (ringFrame(c, at) <= sinceRst) break;
      // what the sender acknowledged it had accepted: not what it rejects
      const end = (ringSeq(c, at) + ringPayload(c, at) + (flags & FIN ? 1 : 0)) >>> 0;
      if (acked >= 0 && end !== ringSeq(c, at) && seqLe(end, acked)) continue;
      // what the capture shows arriving after the sender's FIN goes before what came earlier
      if (first >= 0 && finFrame > 0 && ringFrame(c, first) > finFrame && ringFrame(c, at) < finFrame) break;
      if (ringPayload(c, at) > 0 || flags & FIN) first = at;
      else if (first < 0) return packetAt(c, at, into);
    } else if (first >= 0) break;
  }
  if (first >= 0) return packetAt(c, first, into);
  if (seg.flags & ACK) return null;
  // every fitting segment came before the sender's previous RST: the newest
  for (let i = 0; i < c.ringLen; i++) {
    const at = c.ringAt(i);
    const flags = ringFlags(c, at);
    if (ringSide(c, at) !== side && !(flags & RST) && flags & ACK && ringAck(c, at) === seg.seq) return packetAt(c, at, into);
  }
  return null;
}

/** Keepalive probes the sender sent since the other side's last packet. */
function probesSince(c: Conn, side: number): number {
  let probes = 0;
  for (let i = 0; i < c.ringLen; i++) {
    const at = c.ringAt(i);
    if (ringSide(c, at) !== side) break;
    if (ringLoss(c, at) & LOSS_KEEPALIVE) probes++;
  }
  return probes;
}

const NONE: string[] = [];

/**
 * A WireFacts to fill again and again (wireFacts(..., into)): a capture may
 * hold millions of resets, most decided at once, and an object graph per
 * reset was a large part of the analysis's garbage. What a verdict keeps
 * beyond the call (a deferred one) is copied with freeze().
 */
export function newWireFacts(): WireFacts {
  return {
    connId: 0,
    clientSide: 0,
    rolesKnown: false,
    family: 4,
    side: 0,
    role: null,
    from: { addr: '', port: 0 },
    to: { addr: '', port: 0 },
    rst: newPacket(),
    payload: null,
    kind: 'unknown',
    kindRule: 'neither',
    answered: null,
    answeredSpace: newPacket(),
    unlikeLinux: NONE,
    stack: null as unknown as SenderStack,
    mptcpReason: -1,
    mptcpTransient: false,
    injected: NONE,
    handshake: 'none',
    establishedFrame: 0,
    synAckAfterAck: 0,
    sender: null as unknown as SideFacts,
    peer: null as unknown as SideFacts,
    acceptedBefore: null,
    probesUnanswered: 0,
    earlierResets: 0,
    leakedPorts: NONE as unknown as number[],
    ladder: null,
    burst: 1,
  };
}

/** A copy that owns all it refers to: the directions frozen (snapshot), the packets copied. */
export function freeze(w: WireFacts): WireFacts {
  return {
    ...w,
    from: { ...w.from },
    to: { ...w.to },
    rst: { ...w.rst },
    answered: w.answered ? { ...w.answered } : null,
    answeredSpace: newPacket(),
    sender: snapshot(w.sender),
    peer: snapshot(w.peer),
    leakedPorts: [...w.leakedPorts],
  };
}

export function wireFacts(
  c: Conn,
  side: number,
  seg: TcpSegment,
  frame: number,
  time: number,
  keepLadder: boolean,
  payload: Buffer | null,
  /** filled in and returned (newWireFacts() makes one) */
  into: WireFacts,
): WireFacts {
  const d = c.dir(side);
  const o = c.dir(1 - side);
  const rst = into.rst;
  rst.frame = frame;
  rst.time = time;
  rst.side = side;
  rst.flags = seg.flags;
  rst.seq = seg.seq;
  rst.ack = seg.ack;
  rst.len = seg.len;
  rst.win = seg.win;
  rst.ttl = seg.ttl;
  rst.ipId = seg.ipId;
  rst.ts = seg.hasTs;
  rst.loss = 0;
  const box = into.answeredSpace;
  let kind: Kind;
  let kindRule: KindRule;
  let answered: WirePacket | null = null;
  if (!(seg.flags & ACK)) {
    kind = 'passive';
    answered = findAnswered(c, side, seg, box);
    kindRule = answered ? 'no-ack' : 'no-ack-unmatched';
  } else if (seg.seq === 0 && (answered = findAnswered(c, side, seg, box))) {
    kind = 'passive';
    kindRule = 'seq0-reply';
  } else if (
    d.seen &&
    (seg.seq === d.nextSeq || (o.lastAck >= 0 && seqLe(o.lastAck, seg.seq) && seqLe(seg.seq, (d.nextSeq + 0x40000000) >>> 0) && seg.win !== 0))
  ) {
    kind = 'active';
    kindRule = seg.seq === d.nextSeq ? 'snd-nxt' : 'in-window';
  } else if (!d.seen && seg.seq !== 0) {
    kind = 'active';
    kindRule = 'unchecked';
  } else if (seg.seq === 0) {
    kind = 'passive';
    kindRule = 'seq0-unmatched';
  } else {
    kind = 'unknown';
    kindRule = 'neither';
  }
  // most resets are built the Linux way and come from their sender: no arrays for them
  let unlikeLinux = NONE;
  if (kind === 'passive' ? seg.win !== 0 || seg.hasTs : kind === 'active' && (seg.win === 0 || (d.usesTs && !seg.hasTs))) unlikeLinux = [];
  if (kind === 'passive') {
    if (seg.win !== 0) unlikeLinux.push(`window ${seg.win} (Linux sends 0 in a passive reset)`);
    if (seg.hasTs) unlikeLinux.push('timestamps (Linux sends none in a passive reset)');
  } else if (kind === 'active') {
    if (seg.win === 0) unlikeLinux.push('window 0 (Linux advertises its window in an active reset)');
    if (d.usesTs && !seg.hasTs) unlikeLinux.push("no timestamps though the sender's other packets carry them");
  }
  // a reset to a SYN that does not acknowledge it: the client's stack ignores it (RFC 9293
  // 3.10.7.3), and no stack builds its answer to a SYN that way
  const client = c.client >= 0 ? c.dir(c.client) : null;
  const badSynAck = c.handshake === 'syn' && side !== c.client && client !== null && client.synSeq >= 0 && seg.ack !== (client.synSeq + 1) >>> 0;
  let injected = NONE;
  if ((d.ttl >= 0 && !d.ttlVaries && seg.ttl !== d.ttl) || (kind === 'unknown' && d.seen) || seg.reserved !== 0 || badSynAck) injected = [];
  if (d.ttl >= 0 && !d.ttlVaries && seg.ttl !== d.ttl) injected.push(`${c.family === 4 ? 'TTL' : 'hop limit'} ${seg.ttl}, the sender's other packets ${d.ttl}`);
  if (kind === 'unknown' && d.seen) injected.push("seq outside the sender's sequence");
  if (seg.reserved !== 0) injected.push(`reserved header bits set (0x${seg.reserved.toString(16)}): no TCP stack sets them`);
  if (badSynAck)
    injected.push(
      seg.flags & ACK
        ? `ack ${seg.ack} does not acknowledge the SYN (seq ${client!.synSeq}): no stack answers a SYN so, and the client ignores it`
        : 'no ACK in a reset answering a SYN: the client ignores it',
    );
  if (injected.length && unlikeLinux.length) injected.push(...unlikeLinux);

  let ladder: WirePacket[] | null = null;
  if (keepLadder) {
    ladder = c.ringOrder().map((at) => packetAt(c, at));
    ladder.push({ ...rst });
  }
  const w = into;
  w.connId = c.id;
  w.clientSide = c.clientSide();
  w.rolesKnown = c.client >= 0;
  w.family = c.family;
  w.side = side;
  w.role = c.client < 0 ? null : side === c.client ? 'client' : 'server';
  w.from.addr = c.addrOf(side);
  w.from.port = c.portOf(side);
  w.to.addr = c.addrOf(1 - side);
  w.to.port = c.portOf(1 - side);
  w.payload = payload;
  w.kind = kind;
  w.kindRule = kindRule;
  w.answered = answered;
  w.unlikeLinux = unlikeLinux;
  w.stack = senderStack(d, seg.ttl, c.family, unlikeLinux);
  w.mptcpReason = seg.mptcpRst < 0 ? -1 : seg.mptcpRst & 255;
  w.mptcpTransient = seg.mptcpRst >= 0 && (seg.mptcpRst & 0x100) !== 0;
  w.injected = injected;
  w.handshake = c.handshake;
  w.establishedFrame = c.establishedFrame;
  w.synAckAfterAck = c.synAckAfterAck;
  // live views: freeze() them before the connection moves on
  w.sender = d;
  w.peer = o;
  w.acceptedBefore = null;
  w.probesUnanswered = kind === 'active' ? probesSince(c, side) : 0;
  w.earlierResets = c.resets;
  w.ladder = ladder;
  w.leakedPorts = NONE as unknown as number[];
  w.burst = 1;
  return w;
}
