import { DROP_DOC, dropEvidence, droppedFor, isDrop, lossWho, segmentText } from './loss-helpers.js';

/** What the kernel calls the drop of a probe below rcv_nxt (6.1 has no TCP_OLD_SEQUENCE). */
const PROBE_REASONS = new Set(['TCP_OLD_SEQUENCE', 'TCP_INVALID_SEQUENCE']);
import type { Cause } from './types.js';
import type { WireLossFacts } from './wire-loss-facts.js';
import { LOSS_BASE_DOC, lossBase, meWho, peerWho } from './wire-loss-helpers.js';
import { secs } from './wire-helpers.js';

/** A stall this long is the application not reading, not a receive buffer briefly full. */
const LONG_STALL_S = 1;

/** The longest stall: one that ended, or the one still open at the connection's end (at least that long). */
const longest = (l: WireLossFacts) => Math.max(l.me.zwLongest, l.me.zwOpenSince >= 0 ? l.lastTime - l.me.zwOpenSince : 0);

export const zeroWindow: Cause = {
  id: 'zero-window',
  title: 'zero window: the receiver stopped taking data',
  group: 'drop',
  map: [],
  happened:
    "The receiver's buffer filled up because its application did not read (or read slower than the data came), so it advertised a window of zero: the sender had to stop and probe until the window opened again. Transfers stall; data that arrives anyway is dropped (reason TCP_ZEROWINDOW).",
  why: "The advertised window is the free space of the receive buffer (RFC 9293 3.8.6; tcp_select_window()). When the application does not call recv(), the buffer (net.ipv4.tcp_rmem, SO_RCVBUF) fills, the window shrinks to zero, and the sender's persist timer (tcp_probe_timer(), RFC 9293 3.8.6.1) sends window probes with backoff. A probe that is never answered for tcp_retries2 (or TCP_USER_TIMEOUT) kills the connection; a segment that arrives when the window is zero is dropped (tcp_data_queue(), counter TCPZeroWindowDrop).",
  evidence: {
    ...DROP_DOC,
    pid: 'process owning the receiving socket',
    comm: 'its name',
    probe: "the dropped segment is the sender's zero-window probe",
    zero_window_adverts: 'TcpExt.TCPToZeroWindowAdv of the namespace',
  },
  recognized: "live: see the drop events (reason TCP_ZEROWINDOW) and the sender's probe retransmissions.",
  fix: 'Look at the receiving application (the endpoint with the zero window): it is blocked, busy or slow to read - a stuck thread, a full downstream, a slow disk. `ss -tmi` there shows Recv-Q full and the rcv_space; a bigger receive buffer (tcp_rmem, SO_RCVBUF) only helps if it reads eventually. If the stall kills connections, TCP_USER_TIMEOUT and keepalive settings decide how long the sender waits.',
  loss(f) {
    const zeroDrop = droppedFor(f, new Set(['TCP_ZEROWINDOW']));
    // the sender's persist probes, which the receiver drops as old: certain
    // where the kernel names the receiving socket; else a bare ACK dropped as
    // out of sequence in a namespace that advertised zero windows
    const probe = isDrop(f) && f.e.window_probe;
    const g = f.e.segment;
    const likelyProbe =
      !probe && droppedFor(f, PROBE_REASONS) && g !== null && g.len === 0 && g.flags === 'ACK' && (f.host?.counters['TcpExt.TCPToZeroWindowAdv'] ?? 0) > 0;
    if (!zeroDrop && !probe && !likelyProbe) return null;
    const who = f.e.owner ? ` ${lossWho(f)}` : '';
    return {
      confidence: likelyProbe ? 'medium' : 'high',
      summary: zeroDrop
        ? `${segmentText(f)} arrived while the receiver${who} advertised a zero window (its application does not read): dropped`
        : `the receiver${who} advertises a zero window (its application does not read): the peer's window probe (${segmentText(f)}) was dropped as old, the sender waits`,
      evidence: {
        ...dropEvidence(f),
        pid: f.e.owner?.pid ?? null,
        comm: f.e.owner?.comm ?? null,
        probe: probe || likelyProbe,
        zero_window_adverts: f.host?.counters['TcpExt.TCPToZeroWindowAdv'] ?? null,
      },
    };
  },
  wireLoss: {
    recognized:
      "segments from a receiver advertising a window of 0 (without SYN, FIN or RST; Wireshark's tcp.analysis.zero_window), with how long the window stayed shut, the sender's window probes (one byte at the next sequence number, or Linux's byte-less probe one below it) and whether it reopened; high when a stall lasts 1 s or more or is still shut at the end with the sender probing, medium for shorter ones (a buffer briefly full).",
    alike: [],
    evidence: {
      ...LOSS_BASE_DOC,
      zero_windows: 'segments advertising a zero window',
      first_frame: 'frame of the first',
      longest_s: "the longest stall in seconds (one still shut at the end counts up to the connection's last packet)",
      probes: "the other side's window probes while the window was zero",
      reopened: 'the window opened again after the last stall',
      reopen_frame: 'frame of the last segment that opened it again, null when it stayed shut',
    },
    test: (l) => (l.me.zeroWindows === 0 ? null : longest(l) >= LONG_STALL_S || (l.me.zwOpenSince >= 0 && l.me.zwProbes > 0) ? 'high' : 'medium'),
    explain: (l) => {
      const m = l.me;
      const reopened = m.zwOpenSince < 0;
      const probes = m.zwProbes ? `; the ${peerWho(l)} probed it ${m.zwProbes} time(s)` : '';
      const end = reopened
        ? `it reopened at frame ${m.zwReopenFrame}`
        : `it was still shut at the connection's last packet (frame ${l.lastFrame}, ${secs(l.lastTime - m.zwOpenSince)} after it shut)`;
      return {
        summary: `${meWho(l)} advertised a zero window ${m.zeroWindows} time(s) from frame ${m.zwFirstFrame}, for ${secs(longest(l))} at the longest: its application stopped reading${probes}; ${end}`,
        evidence: {
          ...lossBase(l),
          zero_windows: m.zeroWindows,
          first_frame: m.zwFirstFrame,
          longest_s: Math.round(longest(l) * 1000) / 1000,
          probes: m.zwProbes,
          reopened,
          reopen_frame: reopened ? m.zwReopenFrame : null,
        },
        proof: reopened ? [m.zwFirstFrame, m.zwReopenFrame] : [m.zwFirstFrame],
      };
    },
  },
};
