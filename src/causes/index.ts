// The cause registry: every cause tcpwhy knows, one module each
// (src/causes/<id>.ts, docs/adding-a-cause.md says how to add one). The live
// diagnosis (src/diagnose/engine.ts), the capture analysis
// (src/capture/analyze.ts), docs/causes.md and `tcpwhy explain` all read it.
//
// Order decides: in each engine the first rule that recognizes a reset gives
// the verdict, so specific rules come before general ones, and each list ends
// with catch-alls. The live order and the wire order differ (the packets and
// the host's facts tell causes apart in different ways), so both are written
// out here, and a test checks each names every cause with such a rule once.

import { acceptQueueOverflowAbort } from './accept-queue-overflow-abort.js';
import { acceptQueueOverflowSilent } from './accept-queue-overflow-silent.js';
import { closeWithUnreadData } from './close-with-unread-data.js';
import { connectionForgotten } from './connection-forgotten.js';
import { connectionRefused } from './connection-refused.js';
import { connectTimeout } from './connect-timeout.js';
import { dataAfterClose } from './data-after-close.js';
import { disconnectAbort } from './disconnect-abort.js';
import { disconnectWithUnsentData } from './disconnect-with-unsent-data.js';
import { earlyDemuxNatPortClash } from './early-demux-nat-port-clash.js';
import { ehashLookupRace } from './ehash-lookup-race.js';
import { finWait2LingerNegative } from './fin-wait2-linger-negative.js';
import { handshakeAckRejected } from './handshake-ack-rejected.js';
import { icmpUnreachable } from './icmp-unreachable.js';
import { inWindowSynToRequest } from './in-window-syn-to-request.js';
import { keepaliveTimeout } from './keepalive-timeout.js';
import { lingerZeroClose } from './linger-zero-close.js';
import { listenerClosedWithPending } from './listener-closed-with-pending.js';
import { listenerGone } from './listener-gone.js';
import { middleboxReset } from './middlebox-reset.js';
import { mtuBlackHole } from './mtu-black-hole.js';
import { mptcpSubflowReset } from './mptcp-subflow-reset.js';
import { natBackendChanged } from './nat-backend-changed.js';
import { natNotApplied } from './nat-not-applied.js';
import { netfilterReject } from './netfilter-reject.js';
import { noListener } from './no-listener.js';
import { orphanFinWait2Timeout } from './orphan-fin-wait2-timeout.js';
import { orphanOrMemoryLimit } from './orphan-or-memory-limit.js';
import { ownResetEcho } from './own-reset-echo.js';
import { resetByPeer } from './reset-by-peer.js';
import { socketDestroyed } from './socket-destroyed.js';
import { strayAckToListener } from './stray-ack-to-listener.js';
import { synRecvBadAck } from './syn-recv-bad-ack.js';
import { synSentBadAck } from './syn-sent-bad-ack.js';
import { synSentPaws } from './syn-sent-paws.js';
import { timeWaitReject } from './time-wait-reject.js';
import { timewaitTransitionRace } from './timewait-transition-race.js';
import { unclassifiedActive } from './unclassified-active.js';
import { unclassifiedPassive } from './unclassified-passive.js';
import { acceptQueueFull } from './accept-queue-full.js';
import { checksumError } from './checksum-error.js';
import { conntrackDrop } from './conntrack-drop.js';
import { duplicateSegment } from './duplicate-segment.js';
import { firewallDrop } from './firewall-drop.js';
import { lossBeyondHost } from './loss-beyond-host.js';
import { noRoute } from './no-route.js';
import { outOfWindow } from './out-of-window.js';
import { policyDrop } from './policy-drop.js';
import { qdiscDrop } from './qdisc-drop.js';
import { receiveBufferFull } from './receive-buffer-full.js';
import { resetSeenByApp } from './reset-seen-by-app.js';
import { retransmissionTimeout } from './retransmission-timeout.js';
import { rpFilter } from './rp-filter.js';
import { segmentWithoutSocket } from './segment-without-socket.js';
import { unclassifiedDrop } from './unclassified-drop.js';
import { unclassifiedError } from './unclassified-error.js';
import { zeroWindow } from './zero-window.js';
import type { Cause, WireRule } from './types.js';

/** Every cause, in the order the live rules are tried (docs/causes.md numbers them so). */
export const CAUSES: readonly Cause[] = [
  // ===== active: the host aborted one of its own connections =====
  closeWithUnreadData,
  lingerZeroClose,
  finWait2LingerNegative,
  orphanOrMemoryLimit,
  listenerClosedWithPending,
  socketDestroyed,
  disconnectWithUnsentData,
  disconnectAbort,
  keepaliveTimeout,
  orphanFinWait2Timeout,
  mptcpSubflowReset,

  // ===== passive: the stack answered a segment it could not accept =====
  earlyDemuxNatPortClash,
  acceptQueueOverflowAbort,
  acceptQueueOverflowSilent,
  handshakeAckRejected,
  inWindowSynToRequest,
  dataAfterClose,
  timeWaitReject,
  synSentBadAck,
  synSentPaws,
  synRecvBadAck,

  // ===== NAT and conntrack =====
  natNotApplied,
  ehashLookupRace,
  timewaitTransitionRace,
  natBackendChanged,

  // ===== passive, no socket for the segment =====
  listenerGone,
  noListener,
  connectionForgotten,
  strayAckToListener,

  // ===== received RSTs =====
  ownResetEcho,
  netfilterReject,
  connectionRefused,
  resetByPeer,
  middleboxReset,

  // ===== when no rule fits =====
  unclassifiedActive,
  unclassifiedPassive,
];

/**
 * The causes with a wire rule, in the order `tcpwhy analyze` tries them:
 * what only the packets prove first (an injected RST, closing sequences,
 * handshake trouble), then active and passive resets from the most specific
 * shape to the least; the last rule answers for any RST.
 */
export const WIRE_ORDER: readonly Cause[] = [
  mptcpSubflowReset,
  middleboxReset,
  timeWaitReject,
  dataAfterClose,
  acceptQueueOverflowSilent,
  acceptQueueOverflowAbort,
  handshakeAckRejected,
  keepaliveTimeout,
  orphanFinWait2Timeout,
  finWait2LingerNegative,
  listenerClosedWithPending,
  closeWithUnreadData,
  lingerZeroClose,
  listenerGone,
  noListener,
  natNotApplied,
  connectionForgotten,
  unclassifiedPassive,
  unclassifiedActive,
];

/**
 * The causes of loss events (drops, retransmissions, errors the application
 * saw), in the order their live rules are tried: the specific drop reasons,
 * the drop catch-all, retransmissions (one after a drop this host saw takes
 * that drop's cause: src/diagnose/loss.ts), then the outcomes and their
 * catch-all. Each type has a catch-all, so every loss event gets a verdict.
 */
export const LOSS_CAUSES: readonly Cause[] = [
  // ===== drops =====
  acceptQueueFull,
  // a dropped ICMP error is a netfilter drop too: what it was about first
  mtuBlackHole,
  icmpUnreachable,
  conntrackDrop,
  firewallDrop,
  rpFilter,
  noRoute,
  qdiscDrop,
  policyDrop,
  checksumError,
  // a zero-window probe, or old data, is dropped as out of sequence: before out-of-window
  zeroWindow,
  duplicateSegment,
  outOfWindow,
  receiveBufferFull,
  segmentWithoutSocket,
  unclassifiedDrop,

  // ===== retransmissions with no drop seen on this host =====
  lossBeyondHost,

  // ===== what the application saw =====
  connectTimeout,
  retransmissionTimeout,
  resetSeenByApp,
  unclassifiedError,
];

/** Every cause of the catalogue: resets, then loss. */
export const CATALOGUE: readonly Cause[] = [...CAUSES, ...LOSS_CAUSES];

/** A wire rule with the id of its cause, as the capture analysis tries them. */
export interface WireEntry extends WireRule {
  id: string;
}

export const WIRE_RULES: readonly WireEntry[] = WIRE_ORDER.map((c) => ({ id: c.id, ...c.wire! }));

const byId = new Map(CATALOGUE.map((c) => [c.id, c]));

/** The cause with this id. */
export function causeById(id: string): Cause | undefined {
  return byId.get(id);
}

/**
 * The causes `tcpwhy analyze` names as loss findings (their `wireLoss` rule),
 * in the order a connection's findings are listed: how it ended (a connect
 * that timed out), what the packets name (ICMP errors), then what their shape
 * shows. Unlike the reset rules, every rule that recognizes a side of a
 * connection gives a finding of its own.
 */
export const WIRE_LOSS_ORDER: readonly Cause[] = [connectTimeout, icmpUnreachable, mtuBlackHole, zeroWindow];
