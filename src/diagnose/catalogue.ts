// The catalogue of RST causes, as data. Each entry says what happened, why the
// kernel did it, the evidence a verdict carries, the fix, and the rule that
// recognizes it. The CLI text, the JSON `cause` and docs/causes.md all come
// from here. Rows refer to ../shared/docs/kernel-rst-map.md (A1..A11, P1..P6).
//
// Rules are tried in order and the first match wins, so specific entries come
// before general ones; each group ends with a catch-all that says what was
// seen instead of guessing.
import { endpoint, escapeText } from '../events/text.js';
import type { Cause, Facts, Match } from './types.js';
import { closedBefore, listenerAccepts, listeningAt } from './history.js';

// ---- helpers shared by the rules ----

const s = (ns: number) => `${(ns / 1e9).toFixed(ns < 1e10 ? 1 : 0)} s`;

/** "pid 4121 (nginx)", or what is known instead. */
export function whoOwns(f: Facts): string {
  const o = f.e.owner;
  return o ? `pid ${o.pid} (${o.comm})` : 'a process tcpwhy did not see open the socket';
}

// Evidence that many entries share: each helper below fills the names its
// *_DOC documents, so an entry spreads both and they cannot drift apart.
const OWNER_DOC = { pid: 'process that owned the socket', comm: 'its name' };
const TUPLE_DOC = { local: 'local endpoint', remote: 'remote endpoint' };
const LISTENER_DOC = { listener_pid: 'process owning the listener', listener_comm: 'its name', queue_len: 'connections waiting for accept() at the RST', backlog: 'the accept queue limit (listen() backlog capped by net.core.somaxconn)' };

function ownerEvidence(f: Facts) {
  return { pid: f.e.owner?.pid ?? null, comm: f.e.owner?.comm ?? null };
}

function listenerEvidence(f: Facts) {
  return { listener_pid: f.e.owner?.pid ?? null, listener_comm: f.e.owner?.comm ?? null, queue_len: f.e.accept_queue?.len ?? null, backlog: f.e.accept_queue?.max ?? null };
}

function tupleText(f: Facts): string {
  const t = f.tuple;
  return t ? `${endpoint(t.laddr, t.lport)} <- ${endpoint(t.raddr, t.rport)}` : '-';
}

function base(f: Facts) {
  return { local: f.tuple ? endpoint(f.tuple.laddr, f.tuple.lport) : null, remote: f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : null };
}

const activeSent = (f: Facts) => f.e.direction === 'sent' && f.e.kind === 'active';
const passiveSent = (f: Facts) => f.e.direction === 'sent' && f.e.kind === 'passive';
const received = (f: Facts) => f.e.direction === 'received';
/** a reason, or none on this kernel: rules then fall back to state and stack */
const noReason = (f: Facts) => f.reason === null;
const sysctl = (f: Facts, k: string): string | null => f.host?.sysctls[k] ?? null;
const counter = (f: Facts, k: string): number | null => f.host?.counters[k] ?? null;
const ms = (ns: number) => Math.round(ns / 1e6);

function segText(f: Facts): string {
  const g = f.e.segment;
  return g ? `${g.flags}${g.len ? ` with ${g.len} bytes` : ''}` : 'a segment';
}

/** Evidence strength: the kernel's reason makes a verdict certain; its absence (older kernels) lowers it. */
const byReason = (f: Facts) => (f.reason ? 'high' : 'medium') as 'high' | 'medium';

/**
 * The kernel found no socket for the segment: its reason says NO_SOCKET, or
 * (kernels without reasons, whose fallback hooks see these RSTs) the RST was
 * sent without a socket from tcp_v4_rcv / tcp_v6_rcv, which do that only when
 * the lookup failed (TIME_WAIT and request sockets are passed to the sender).
 */
/** The RST came from tcp_v4_do_rcv()/tcp_v6_do_rcv(): tcp_rcv_state_process() refused the segment for a full socket. */
const doRcv = (f: Facts) => f.stackHas('tcp_v4_do_rcv') || f.stackHas('tcp_v6_do_rcv');

const noSocketPath = (f: Facts) =>
  f.reason === 'NO_SOCKET' || (noReason(f) && !f.e.socket && f.hasStack && (f.stackHas('tcp_v4_rcv') || f.stackHas('tcp_v6_rcv')));

/** Listeners on the event's local port: from the history, else the host snapshot. */
function listenerNow(f: Facts): { pid: number | null; comm: string | null; from: 'history' | 'host' } | null {
  const t = f.tuple;
  if (!t) return null;
  const ep = listeningAt(f.listener, f.e.mono_ns, t.laddr);
  if (ep) return { pid: ep.owner?.pid ?? null, comm: ep.owner?.comm ?? null, from: 'history' };
  // the history knows this port: it says nobody listens now
  if (f.listener.episodes.length) return null;
  const l = f.host?.listeners.find((x) => x.lport === t.lport && hostListenerAccepts(x.laddr, t.laddr));
  // names from `ss` are untrusted text, like the events' (which the decoder escapes)
  if (l) return { pid: l.processes[0]?.pid ?? null, comm: l.processes[0] ? escapeText(l.processes[0].comm) : null, from: 'host' };
  return null;
}

/** ss's view: `::` is IPv6-only there (a dual-stack socket shows as `*`). */
function hostListenerAccepts(bound: string, dst: string): boolean {
  return bound === '::' ? dst.includes(':') && !dst.startsWith('::ffff:') : listenerAccepts(bound, dst);
}

/** Listeners on the port that do not accept the segment's address (bound elsewhere), for the verdict's text. */
function listenersElsewhere(f: Facts): string[] {
  const t = f.tuple;
  if (!t) return [];
  const fromHistory = f.listener.episodes.filter((ep) => ep.closed_ns === null && !listenerAccepts(ep.laddr, t.laddr)).map((ep) => ep.laddr);
  const fromHost = (f.host?.listeners ?? []).filter((l) => l.lport === t.lport && !hostListenerAccepts(l.laddr, t.laddr)).map((l) => l.laddr);
  return [...new Set([...fromHistory, ...fromHost])].map((a) => endpoint(a, t.lport));
}

/** Whether the host snapshot could read what a rule relies on. */
function hostRead(f: Facts, section: RegExp): boolean {
  return f.host !== undefined && !f.host.errors.some((e) => section.test(e));
}

/** NAT rules whose match covers the local port of the event (before translation). */
function natRulesFor(f: Facts, port: number) {
  return (f.host?.rules ?? [])
    .filter((r) => (r.action === 'redirect' || r.action === 'dnat') && (!r.proto || r.proto === 'tcp') && (!r.dport || (port >= r.dport[0] && port <= r.dport[1])))
    .map(safeRule);
}

/** A rule with its text made safe to print (rule comments are anyone's text). */
function safeRule<R extends { text: string }>(r: R): R {
  return { ...r, text: escapeText(r.text) };
}

/**
 * The state the socket left for CLOSE just before this RST, when the history
 * saw that change (the kernel sets TCP_CLOSE, then sends the RST, in the same
 * call): kernels without reasons leave it the only sign of the path taken.
 */
function closedFrom(f: Facts): string | null {
  const st = f.conn.states;
  for (let i = st.length - 1; i >= 0; i--) {
    const x = st[i]!;
    if (x.mono_ns > f.e.mono_ns) continue;
    return x.new === 'CLOSE' && f.e.mono_ns - x.mono_ns < 1e9 ? x.old : null;
  }
  return null;
}

/** The connection's last socket on this host, and how it ended, if the history saw it end. */
function endedHere(f: Facts): { at: number; how: string; pid: number; comm: string } | null {
  const st = f.conn.states;
  for (let i = st.length - 1; i >= 0; i--) {
    const x = st[i]!;
    if (x.mono_ns > f.e.mono_ns) continue;
    if (x.new === 'CLOSE' || x.new === 'TIME_WAIT') {
      return { at: x.mono_ns, how: `${x.old} -> ${x.new}`, pid: x.pid, comm: x.comm };
    }
  }
  for (let i = f.conn.resets.length - 1; i >= 0; i--) {
    const r = f.conn.resets[i]!;
    if (r.mono_ns < f.e.mono_ns && r.direction === 'sent' && r.kind === 'active') {
      return { at: r.mono_ns, how: `reset by this host (${r.cause ?? 'unknown cause'})`, pid: 0, comm: '' };
    }
  }
  return null;
}

// ---- the catalogue ----

export const CAUSES: Cause[] = [
  // ===== active: the host aborted one of its own connections =====
  {
    id: 'close-with-unread-data',
    title: 'closed with unread data',
    group: 'active',
    map: ['A1'],
    happened: 'The application closed its socket while received data was still waiting to be read. The kernel does not pretend the data was delivered: it aborts the connection with an RST instead of a FIN.',
    why: 'RFC 2525 section 2.17 and RFC 9293 ask a host that closes with unread data to send an RST, so the peer learns the data was lost. Kernel path: __tcp_close() counts the unread bytes, sets TCP_CLOSE and calls tcp_send_active_reset() (reason TCP_ABORT_ON_CLOSE on 6.12+, counter TCPAbortOnClose).',
    evidence: { ...OWNER_DOC, unread_bytes: 'bytes received and never read', state: 'socket state at the RST', ...TUPLE_DOC },
    recognized: 'reason TCP_ABORT_ON_CLOSE; without a reason (older kernels): an active RST with unread bytes in the receive queue and __tcp_close on the stack, which checks unread data before any other way it resets (high; medium without a stack).',
    fix: 'Read (or drain) what the peer sent before close(), or make the protocol say when the peer may stop sending (e.g. wait for its FIN, use shutdown(SHUT_WR) then read to EOF). If the early close is intended, the RST is harmless but the peer sees ECONNRESET.',
    match(f) {
      if (!activeSent(f)) return null;
      if (f.stackHas('inet_csk_listen_stop')) return null; // a child the listener never handed out
      const unread = f.e.queues?.rcv_unread ?? null;
      const byR = f.reason === 'TCP_ABORT_ON_CLOSE';
      const byFacts = noReason(f) && (unread ?? 0) > 0 && (!f.hasStack || f.stackHas('__tcp_close')) && !(f.e.linger?.on && f.e.linger.seconds === 0 && f.stackHas('tcp_disconnect'));
      if (!byR && !byFacts) return null;
      // __tcp_close() checks unread data before every other way it resets: with it on the stack, certain
      return {
        confidence: byR || f.stackHas('__tcp_close') ? 'high' : 'medium',
        summary: `${whoOwns(f)} closed the socket with ${unread ?? 'unread'} bytes unread, so the kernel reset the connection (${tupleText(f)})`,
        evidence: { ...ownerEvidence(f), unread_bytes: unread, state: f.e.state, ...base(f) },
      };
    },
  },
  {
    id: 'linger-zero-close',
    title: 'close() with SO_LINGER {on, 0}',
    group: 'active',
    map: ['A2'],
    happened: 'The application set SO_LINGER with l_onoff=1 and l_linger=0, then closed the socket: that asks the kernel to drop the connection at once with an RST instead of the FIN handshake.',
    why: 'A zero linger time is the documented way to abort (RFC 9293 "ABORT"). Kernel path: __tcp_close() -> tcp_disconnect() -> tcp_send_active_reset() (reason TCP_STATE; the kernel counts it as TCPAbortOnData).',
    evidence: { ...OWNER_DOC, linger_seconds: 'the SO_LINGER time (0)', state: 'socket state at the RST', ...TUPLE_DOC },
    recognized: 'an active RST from a socket with SO_LINGER on and 0 s, with tcp_disconnect called from __tcp_close on the stack (or, without a stack, reason TCP_STATE / none).',
    fix: 'Usually deliberate (load balancers, proxies and test tools do it to skip TIME_WAIT). If the peer must get all data, do not set a zero linger time; to avoid TIME_WAIT build-up, let the client side close first or reuse connections.',
    match(f) {
      if (!activeSent(f) || !f.e.linger?.on || f.e.linger.seconds !== 0 || f.stackHas('inet_csk_listen_stop')) return null;
      if (f.reason && f.reason !== 'TCP_STATE') return null;
      if (f.hasStack && !(f.stackHas('tcp_disconnect') && (f.stackHas('__tcp_close') || f.stackHas('tcp_close')))) return null;
      return {
        confidence: f.hasStack ? 'high' : 'medium',
        summary: `${whoOwns(f)} closed the socket with SO_LINGER {on, 0}: an abort by design (${tupleText(f)})`,
        evidence: { ...ownerEvidence(f), linger_seconds: 0, state: f.e.state, ...base(f) },
      };
    },
  },
  {
    id: 'fin-wait2-linger-negative',
    title: 'closed with TCP_LINGER2 < 0',
    group: 'active',
    map: ['A3'],
    happened: 'The socket was closed while in FIN_WAIT2 with TCP_LINGER2 set to a negative value, which tells the kernel not to wait for the peer\'s FIN.',
    why: '__tcp_close() sends an RST for FIN_WAIT2 sockets whose linger2 is negative (reason TCP_ABORT_ON_LINGER, counter TCPAbortOnLinger).',
    evidence: { ...OWNER_DOC, state: 'socket state at the RST', closed_from: 'the state the socket left for CLOSE just before the RST (history)', ...TUPLE_DOC },
    recognized: 'reason TCP_ABORT_ON_LINGER; without a reason (older kernels): an active RST from __tcp_close (not tcp_disconnect) right after the socket went FIN_WAIT2 -> CLOSE, nothing unread (medium: the orphan or memory limit takes the same path, TcpExt.TCPAbortOnLinger tells them apart).',
    fix: 'Remove the negative TCP_LINGER2 setsockopt if the peer should see a clean close; to bound FIN_WAIT2 time use a positive TCP_LINGER2 or net.ipv4.tcp_fin_timeout.',
    match(f) {
      if (!activeSent(f)) return null;
      const from = closedFrom(f);
      const byR = f.reason === 'TCP_ABORT_ON_LINGER';
      const byHistory =
        noReason(f) && from === 'FIN_WAIT2' && !(f.e.queues?.rcv_unread ?? 0) && (!f.hasStack || (f.stackHas('__tcp_close') && !f.stackHas('tcp_disconnect')));
      if (!byR && !byHistory) return null;
      return {
        confidence: byR ? 'high' : 'medium',
        summary: `${whoOwns(f)} closed a FIN_WAIT2 socket with TCP_LINGER2 < 0 (${tupleText(f)})${byR ? '' : '; without a reason from this kernel, the orphan or memory limit would look the same (TcpExt.TCPAbortOnLinger counts this cause)'}`,
        evidence: { ...ownerEvidence(f), state: f.e.state, closed_from: from, ...base(f) },
      };
    },
  },
  {
    id: 'orphan-or-memory-limit',
    title: 'too many orphans or TCP memory exhausted',
    group: 'active',
    map: ['A4', 'A8'],
    happened: 'The kernel killed a connection because the host had too many orphaned sockets (closed by their application but not finished) or TCP memory was above net.ipv4.tcp_mem[2].',
    why: 'tcp_check_oom() from __tcp_close() (at close) or tcp_out_of_resources() (from the retransmit or probe timer of an orphan) resets instead of keeping the socket (reason TCP_ABORT_ON_MEMORY, counter TCPAbortOnMemory; dmesg: "too many orphaned sockets" or "out of memory -- consider tuning tcp_mem").',
    evidence: { path: '"close" (__tcp_close) or "timer" (tcp_out_of_resources) or "unknown"', tcp_max_orphans: 'net.ipv4.tcp_max_orphans (host-wide)', tcp_mem: 'net.ipv4.tcp_mem (host-wide, pages)', abort_on_memory: 'TcpExt.TCPAbortOnMemory of the namespace', ...OWNER_DOC, ...TUPLE_DOC },
    recognized: 'reason TCP_ABORT_ON_MEMORY; the stack tells the close path from the timer path.',
    fix: 'Find what leaves orphans (ss -tan state fin-wait-1 / last-ack, peers that never ACK), lower net.ipv4.tcp_orphan_retries and tcp_fin_timeout, or raise net.ipv4.tcp_max_orphans / tcp_mem if the memory is there.',
    match(f) {
      if (!activeSent(f) || f.reason !== 'TCP_ABORT_ON_MEMORY') return null;
      const path = f.stackHas('tcp_out_of_resources') ? 'timer' : f.stackHas('__tcp_close') ? 'close' : 'unknown';
      return {
        confidence: 'high',
        summary: `the kernel aborted ${whoOwns(f)}'s connection: too many orphaned sockets or TCP memory above tcp_mem (${path === 'timer' ? 'from the retransmit timer' : path === 'close' ? 'at close()' : 'path unknown'})`,
        evidence: { path, tcp_max_orphans: sysctl(f, 'net.ipv4.tcp_max_orphans'), tcp_mem: sysctl(f, 'net.ipv4.tcp_mem'), abort_on_memory: counter(f, 'TcpExt.TCPAbortOnMemory'), ...ownerEvidence(f), ...base(f) },
      };
    },
  },
  {
    id: 'listener-closed-with-pending',
    title: 'listener closed with connections not yet accepted',
    group: 'active',
    map: ['A5'],
    happened: 'A listening socket was closed (often because its process exited) while connections waited in its accept queue; the kernel resets each of them.',
    why: 'inet_csk_listen_stop() disconnects every child not yet accepted: tcp_disconnect() -> tcp_send_active_reset() (reason TCP_STATE).',
    evidence: { pid: 'process that owned the listener', comm: 'its name', ...TUPLE_DOC },
    recognized: 'an active RST with inet_csk_listen_stop on the stack.',
    fix: 'Stop accepting gracefully: stop listening, accept and finish what is queued, then exit; check why the server exited.',
    match(f) {
      if (!activeSent(f) || !f.stackHas('inet_csk_listen_stop')) return null;
      return { confidence: 'high', summary: `the listener of ${whoOwns(f)} closed while this connection waited in its accept queue (${tupleText(f)})`, evidence: { ...ownerEvidence(f), ...base(f) } };
    },
  },
  {
    id: 'socket-destroyed',
    title: 'socket destroyed from outside (ss -K / SOCK_DESTROY)',
    group: 'active',
    map: ['A7'],
    happened: 'Something outside the application destroyed the socket: `ss -K`, a SOCK_DESTROY netlink request, or a BPF program calling bpf_sock_destroy().',
    why: 'tcp_abort() sends an RST (reason TCP_STATE) and reports ECONNABORTED to the application.',
    evidence: { destroyer_pid: 'task that asked for the destruction (the running task)', destroyer_comm: 'its name', ...OWNER_DOC, ...TUPLE_DOC },
    recognized: 'an active RST with tcp_abort on the stack.',
    fix: 'Find who runs `ss -K` or socket-destroy programs (network managers, Cilium/kube-proxy socket cleanup on service changes, VPN clients).',
    match(f) {
      if (!activeSent(f) || !f.stackHas('tcp_abort')) return null;
      return {
        confidence: 'high',
        summary: `pid ${f.e.process.pid} (${f.e.process.comm}) destroyed the socket of ${whoOwns(f)} from outside (${tupleText(f)})`,
        evidence: { destroyer_pid: f.e.process.pid, destroyer_comm: f.e.process.comm, ...ownerEvidence(f), ...base(f) },
      };
    },
  },
  {
    id: 'disconnect-with-unsent-data',
    title: 'disconnected with data not yet sent',
    group: 'active',
    map: ['A6'],
    happened: 'The socket was disconnected in CLOSING or LAST_ACK while written data had not been sent.',
    why: 'tcp_disconnect() resets instead of losing the data silently (reason TCP_DISCONNECT_WITH_DATA).',
    evidence: { ...OWNER_DOC, unsent_bytes: 'bytes written but not sent', ...TUPLE_DOC },
    recognized: 'reason TCP_DISCONNECT_WITH_DATA.',
    fix: 'Let writes drain before disconnecting (wait for the socket to become writable / SIOCOUTQ to reach 0).',
    match(f) {
      if (!activeSent(f) || f.reason !== 'TCP_DISCONNECT_WITH_DATA') return null;
      return { confidence: 'high', summary: `${whoOwns(f)} disconnected with ${f.e.queues?.snd_unsent ?? '?'} bytes not yet sent`, evidence: { ...ownerEvidence(f), unsent_bytes: f.e.queues?.snd_unsent ?? null, ...base(f) } };
    },
  },
  {
    id: 'disconnect-abort',
    title: 'connection disconnected by the application',
    group: 'active',
    map: ['A5'],
    happened: 'The application disconnected a live connection without closing the socket, typically connect() with AF_UNSPEC; the kernel aborts it with an RST.',
    why: 'tcp_disconnect() sends an RST when the old state was ESTABLISHED, CLOSE_WAIT, FIN_WAIT1/2 or SYN_RECV (reason TCP_STATE).',
    evidence: { ...OWNER_DOC, ...TUPLE_DOC },
    recognized: 'an active RST with tcp_disconnect on the stack and neither __tcp_close nor inet_csk_listen_stop.',
    fix: 'Check why the application disconnects (connect(AF_UNSPEC) to reuse a socket); close() normally if the peer should see a FIN.',
    match(f) {
      if (!activeSent(f) || !f.stackHas('tcp_disconnect') || f.stackHas('__tcp_close') || f.stackHas('inet_csk_listen_stop')) return null;
      return { confidence: 'high', summary: `${whoOwns(f)} disconnected the connection (connect(AF_UNSPEC) or similar) (${tupleText(f)})`, evidence: { ...ownerEvidence(f), ...base(f) } };
    },
  },
  {
    id: 'keepalive-timeout',
    title: 'keepalive or user timeout: the peer stopped answering',
    group: 'active',
    map: ['A10'],
    happened: 'The connection was idle, keepalive probes went unanswered (or TCP_USER_TIMEOUT passed with probes out), so the kernel declared the peer dead and reset the connection.',
    why: 'tcp_keepalive_timer() sends an RST once tcp_keepalive_probes probes (or TCP_USER_TIMEOUT) went unanswered and reports ETIMEDOUT (reason TCP_KEEPALIVE_TIMEOUT, counter TCPAbortOnTimeout). RFC 1122 4.2.3.6.',
    evidence: { ...OWNER_DOC, keepalive_time: 'net.ipv4.tcp_keepalive_time of the namespace (s; sockets may override)', keepalive_intvl: 'net.ipv4.tcp_keepalive_intvl (s)', keepalive_probes: 'net.ipv4.tcp_keepalive_probes', ...TUPLE_DOC },
    recognized: 'reason TCP_KEEPALIVE_TIMEOUT; without a reason: an active RST from tcp_keepalive_timer on a socket that is not an orphan in FIN_WAIT2 (the timer\'s only other reset; high).',
    fix: 'The peer (or the path to it) vanished: check that host, and firewalls or NAT that drop idle flows (their timeouts should exceed the keepalive time). Tune keepalive (TCP_KEEPIDLE/INTVL/CNT) to detect it sooner or later as needed.',
    match(f) {
      if (!activeSent(f)) return null;
      const byR = f.reason === 'TCP_KEEPALIVE_TIMEOUT';
      const byStack = noReason(f) && f.stackHas('tcp_keepalive_timer') && f.e.state !== 'FIN_WAIT2';
      if (!byR && !byStack) return null;
      // tcp_keepalive_timer() resets in two places only: an orphan in FIN_WAIT2 (excluded above) and probes run out
      return {
        confidence: 'high',
        summary: `the peer ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : ''} stopped answering keepalive probes: the kernel gave up on ${whoOwns(f)}'s connection`,
        evidence: {
          ...ownerEvidence(f),
          keepalive_time: sysctl(f, 'net.ipv4.tcp_keepalive_time'),
          keepalive_intvl: sysctl(f, 'net.ipv4.tcp_keepalive_intvl'),
          keepalive_probes: sysctl(f, 'net.ipv4.tcp_keepalive_probes'),
          ...base(f),
        },
      };
    },
  },
  {
    id: 'orphan-fin-wait2-timeout',
    title: 'orphaned FIN_WAIT2 timed out',
    group: 'active',
    map: ['A9'],
    happened: 'The application had closed the socket; the peer acknowledged the FIN but never closed its side, and the FIN_WAIT2 timer ran out.',
    why: 'tcp_keepalive_timer() resets an orphaned FIN_WAIT2 socket after net.ipv4.tcp_fin_timeout (reason TCP_STATE).',
    evidence: { tcp_fin_timeout: 'net.ipv4.tcp_fin_timeout of the namespace (s)', ...TUPLE_DOC },
    recognized: 'an active RST from tcp_keepalive_timer in state FIN_WAIT2.',
    fix: 'The peer application does not close its side: fix it to close on EOF; tcp_fin_timeout bounds how long this host waits.',
    match(f) {
      if (!activeSent(f) || !f.stackHas('tcp_keepalive_timer') || f.e.state !== 'FIN_WAIT2') return null;
      if (f.reason && f.reason !== 'TCP_STATE') return null;
      return { confidence: 'high', summary: `the peer never closed its side; the orphaned FIN_WAIT2 socket timed out after tcp_fin_timeout (${sysctl(f, 'net.ipv4.tcp_fin_timeout') ?? '?'} s)`, evidence: { tcp_fin_timeout: sysctl(f, 'net.ipv4.tcp_fin_timeout'), ...base(f) } };
    },
  },
  {
    id: 'mptcp-subflow-reset',
    title: 'MPTCP subflow reset',
    group: 'active',
    map: ['A11'],
    happened: 'MPTCP reset one of its subflows.',
    why: 'MPTCP subflow error paths send resets with MPTCP_* reasons (RFC 8684 MP_TCPRST).',
    evidence: { reason: 'the MPTCP reason', ...TUPLE_DOC },
    recognized: 'a reason starting with MPTCP_.',
    fix: 'See the reason and the MPTCP MIB counters (nstat | grep MPTcp).',
    match(f) {
      if (f.e.direction !== 'sent' || !f.reason?.startsWith('MPTCP')) return null;
      return { confidence: 'high', summary: `MPTCP reset a subflow (${f.reason})`, evidence: { reason: f.reason, ...base(f) } };
    },
  },

  // ===== passive: the stack answered a segment it could not accept =====
  // (first: its fingerprint, a segment handed to another connection's socket, overrides the reason)
  {
    id: 'early-demux-nat-port-clash',
    title: 'early demux + DNAT port clash (kernel bug)',
    group: 'race',
    map: ['races: early demux'],
    happened: 'Two flows from one client address and port went to two ports that NAT redirects to one local port; the second flow\'s packets were handed to the first flow\'s socket, which rejected them.',
    why: 'Early demux looked up the socket before NAT had resolved the port clash (fixed in 6.7, "netfilter: nf_nat: undo erroneous tcp edemux lookup after port clash"; an earlier variant in 5.12).',
    evidence: { packet_tuple: 'the segment\'s tuple', socket_tuple: 'the tuple of the socket that got it', rule: 'the NAT rule', kernel: 'running kernel version', ...TUPLE_DOC },
    recognized: 'a passive RST from a full, non-listening socket whose tuple differs from the segment\'s, in a namespace with REDIRECT/DNAT rules; high confidence on kernels before 6.7.',
    fix: 'Upgrade to 6.7+ (or a stable kernel with the fix); meanwhile avoid redirecting two ports to one, or make clients use distinct source ports.',
    match(f) {
      const e = f.e;
      if (!passiveSent(f) || !e.packet || !e.socket || e.state === 'LISTEN' || !e.queues) return null;
      const p = e.packet;
      const k = e.socket;
      const same = p.lport === k.lport && p.rport === k.rport && p.raddr.replace('::ffff:', '') === k.raddr.replace('::ffff:', '');
      if (same) return null;
      const rules = natRulesFor(f, p.lport).concat(natRulesFor(f, k.lport));
      if (!rules.length) return null;
      const old = f.kernel.version[0] < 6 || (f.kernel.version[0] === 6 && f.kernel.version[1] < 7);
      return {
        confidence: old ? 'high' : 'medium',
        summary: `a segment for ${endpoint(p.laddr, p.lport)} <- ${endpoint(p.raddr, p.rport)} was handed to the socket ${endpoint(k.laddr, k.lport)} <- ${endpoint(k.raddr, k.rport)} under NAT: the early-demux port clash${old ? '' : ' (fixed in 6.7: this kernel should not do it; check for a similar NAT bug)'}`,
        evidence: { packet_tuple: `${endpoint(p.laddr, p.lport)} <- ${endpoint(p.raddr, p.rport)}`, socket_tuple: `${endpoint(k.laddr, k.lport)} <- ${endpoint(k.raddr, k.rport)}`, rule: rules[0]!.text, kernel: f.kernel.version.join('.'), ...base(f) },
      };
    },
  },
  {
    id: 'accept-queue-overflow-abort',
    title: 'accept queue full, tcp_abort_on_overflow=1',
    group: 'passive',
    map: ['P6'],
    happened: 'The handshake completed while the listener\'s accept queue was full. With net.ipv4.tcp_abort_on_overflow=1 the kernel answers the final ACK with an RST instead of dropping it.',
    why: 'tcp_check_req(): the child socket cannot be queued (sk_acceptq_is_full), and with tcp_abort_on_overflow set it sends a reset (reason INVALID_SYN; counters ListenOverflows and ListenDrops).',
    evidence: { ...LISTENER_DOC, abort_on_overflow: 'net.ipv4.tcp_abort_on_overflow of the namespace', listen_overflows: 'TcpExt.ListenOverflows of the namespace', local: 'listening endpoint', remote: 'client endpoint' },
    recognized: 'a passive RST from a LISTEN socket whose accept queue is full (len > max, as sk_acceptq_is_full counts), reason INVALID_SYN (or none), segment without SYN, tcp_abort_on_overflow not known to be 0 (without a reason: high when tcp_check_req is on the stack and the sysctl reads 1).',
    fix: 'The application does not accept() fast enough: find why (blocked event loop, too few workers), raise the listen() backlog and net.core.somaxconn. tcp_abort_on_overflow=0 turns these RSTs into silent drops and retries.',
    match(f) {
      const q = f.e.accept_queue;
      // full means len > max (sk_acceptq_is_full)
      if (!passiveSent(f) || f.e.state !== 'LISTEN' || !q || q.len <= q.max || f.seg?.syn) return null;
      if (f.reason && f.reason !== 'INVALID_SYN') return null;
      if (sysctl(f, 'net.ipv4.tcp_abort_on_overflow') === '0') return null;
      // without a reason: the handshake's last ACK refused in tcp_check_req() with the queue full and the sysctl on
      const byPath = f.stackHas('tcp_check_req') && sysctl(f, 'net.ipv4.tcp_abort_on_overflow') === '1';
      return {
        confidence: f.reason || byPath ? 'high' : 'medium',
        summary: `the accept queue of ${whoOwns(f)} on :${f.tuple?.lport} was full (${q.len}/${q.max}); with tcp_abort_on_overflow=${sysctl(f, 'net.ipv4.tcp_abort_on_overflow') ?? '?'} the kernel refused ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : 'the client'}`,
        evidence: {
          ...listenerEvidence(f),
          abort_on_overflow: sysctl(f, 'net.ipv4.tcp_abort_on_overflow'),
          listen_overflows: counter(f, 'TcpExt.ListenOverflows'),
          ...base(f),
        },
      };
    },
  },
  {
    id: 'accept-queue-overflow-silent',
    title: 'accept queue overflowed silently, then the handshake expired',
    group: 'passive',
    map: ['P3a', 'P6'],
    happened: 'The listener\'s accept queue was full when the client\'s handshake completed. With tcp_abort_on_overflow=0 the kernel dropped the final ACK (no RST): the client believed it was connected and sent data that nobody answered. When the half-open request expired, the client\'s next segment reached the listener as a stray ACK and drew this RST.',
    why: 'tcp_check_req() drops the ACK on overflow (ListenOverflows, ListenDrops) and keeps the request until tcp_synack_retries runs out; then tcp_rcv_state_process() in LISTEN answers any ACK with an RST (reason TCP_FLAGS).',
    evidence: { ...LISTENER_DOC, abort_on_overflow: 'net.ipv4.tcp_abort_on_overflow (0)', listen_overflows: 'TcpExt.ListenOverflows of the namespace', synack_retries: 'net.ipv4.tcp_synack_retries', local: 'listening endpoint', remote: 'client endpoint' },
    recognized: 'a passive RST from a LISTEN socket to a segment with ACK (reason TCP_FLAGS or none), while the listener\'s accept queue is full and the namespace counted listen overflows.',
    fix: 'The application does not accept() fast enough: find why, raise the backlog and net.core.somaxconn. The client sees a connect() that succeeds, then silence (retransmissions), then ECONNRESET; clients should use timeouts.',
    match(f) {
      const q = f.e.accept_queue;
      if (!passiveSent(f) || f.e.state !== 'LISTEN' || !q || !f.seg?.ack || f.seg.syn) return null;
      if (f.reason && f.reason !== 'TCP_FLAGS') return null;
      const overflows = counter(f, 'TcpExt.ListenOverflows');
      if (q.len <= q.max || !overflows || sysctl(f, 'net.ipv4.tcp_abort_on_overflow') === '1') return null;
      // TCP_FLAGS says no more than the stack does: tcp_v4/v6_do_rcv() resetting because a LISTEN
      // socket's tcp_rcv_state_process() refused an ACK (not a request sock's tcp_check_req())
      return {
        confidence: f.reason || (doRcv(f) && !f.stackHas('tcp_check_req')) ? 'high' : 'medium',
        summary: `the accept queue of ${whoOwns(f)} on :${f.tuple?.lport} is full (${q.len}/${q.max}, ${overflows} listen overflows); the client's handshake was dropped silently and expired, so its next segment got an RST`,
        evidence: {
          ...listenerEvidence(f),
          abort_on_overflow: sysctl(f, 'net.ipv4.tcp_abort_on_overflow'),
          listen_overflows: overflows,
          synack_retries: sysctl(f, 'net.ipv4.tcp_synack_retries'),
          ...base(f),
        },
      };
    },
  },
  {
    id: 'in-window-syn-to-request',
    title: 'SYN inside the window of a pending handshake',
    group: 'passive',
    map: ['P6'],
    happened: 'A new SYN arrived for a handshake in progress, with a sequence number inside its window (a client restarting a connection with the same ports, or a duplicate).',
    why: 'tcp_check_req() resets an in-window SYN to a request socket (RFC 9293 3.10.7.4; reason INVALID_SYN).',
    evidence: { segment: 'flags of the triggering segment', ...TUPLE_DOC },
    recognized: 'reason INVALID_SYN to a segment with SYN.',
    fix: 'Usually a client reusing a port too fast, or duplicated packets; check the client\'s port allocation and the path for duplication.',
    match(f) {
      if (!passiveSent(f) || f.reason !== 'INVALID_SYN' || !f.seg?.syn) return null;
      return { confidence: 'high', summary: `a SYN from ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : '?'} fell inside a pending handshake's window`, evidence: { segment: f.e.segment?.flags ?? null, ...base(f) } };
    },
  },
  {
    id: 'data-after-close',
    title: 'data arrived after the application closed',
    group: 'passive',
    map: ['P3e', 'P3f'],
    happened: 'The application had closed (or shut down reading) its socket; the peer kept sending data, which nobody would ever read, so the kernel reset the connection.',
    why: 'tcp_rcv_state_process() in FIN_WAIT1/FIN_WAIT2 (or with RCV_SHUTDOWN) resets on new data: RFC 9293 says data for a closed receiver is an error (reason TCP_ABORT_ON_DATA, counter TCPAbortOnData).',
    evidence: { closed_by_pid: 'process that closed the socket (from the history)', closed_by_comm: 'its name', closed_ago_ms: 'how long before the RST the socket was closed', data_bytes: 'payload of the segment that drew the RST', ...OWNER_DOC, ...TUPLE_DOC },
    recognized: 'reason TCP_ABORT_ON_DATA; without a reason: a passive RST from a socket in FIN_WAIT1/FIN_WAIT2/CLOSE answering a segment with payload (high when tcp_v4_do_rcv/tcp_v6_do_rcv sent it, medium without a stack).',
    fix: 'The protocol lets one side close while the other still sends: make the closer read until the peer\'s FIN (or shutdown(SHUT_WR) first), or make the sender stop when told to.',
    match(f) {
      if (!passiveSent(f)) return null;
      const byR = f.reason === 'TCP_ABORT_ON_DATA';
      const byFacts = noReason(f) && ['FIN_WAIT1', 'FIN_WAIT2', 'CLOSE'].includes(f.e.state ?? '') && (f.seg?.len ?? 0) > 0;
      if (!byR && !byFacts) return null;
      // the application's close (the kernel's own abort sets CLOSE again just before the RST)
      const closed = [...f.conn.states].reverse().find((x) => x.mono_ns <= f.e.mono_ns && (x.new === 'FIN_WAIT1' || x.new === 'LAST_ACK'));
      // without a reason: tcp_v4/v6_do_rcv() resets a closing socket's segment with data only
      // when tcp_rcv_state_process() aborted it for that data (TCPAbortOnData)
      return {
        confidence: byR || doRcv(f) ? 'high' : 'medium',
        summary: `${closed ? `pid ${closed.pid} (${closed.comm}) closed the socket ${ms(f.e.mono_ns - closed.mono_ns)} ms earlier` : `${whoOwns(f)} had closed the socket`}, then ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : 'the peer'} sent ${f.seg?.len ?? '?'} more bytes: the kernel reset the connection`,
        evidence: {
          closed_by_pid: closed?.pid ?? null,
          closed_by_comm: closed?.comm ?? null,
          closed_ago_ms: closed ? ms(f.e.mono_ns - closed.mono_ns) : null,
          data_bytes: f.seg?.len ?? null,
          ...ownerEvidence(f),
          ...base(f),
        },
      };
    },
  },
  {
    id: 'time-wait-reject',
    title: 'segment rejected by a TIME_WAIT socket',
    group: 'passive',
    map: ['P2'],
    happened: 'A segment reached a connection in TIME_WAIT that it does not fit: new data, a FIN out of place, or a SYN that cannot reuse the connection.',
    why: 'tcp_timewait_state_process() returns TCP_TW_RST (reason TCP_TIMEWAIT_SOCKET).',
    evidence: { segment: 'flags of the triggering segment', ...TUPLE_DOC },
    recognized: 'reason TCP_TIMEWAIT_SOCKET, or a passive RST from a TIME_WAIT socket.',
    fix: 'The peer keeps talking on a connection this host finished: check the peer\'s close handling, or port reuse by the client (timestamps help the kernel accept a new SYN).',
    match(f) {
      if (!passiveSent(f) || (f.reason !== 'TCP_TIMEWAIT_SOCKET' && f.e.state !== 'TIME_WAIT')) return null;
      return { confidence: f.reason ? 'high' : 'medium', summary: `${segText(f)} from ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : '?'} hit a connection in TIME_WAIT`, evidence: { segment: f.e.segment?.flags ?? null, ...base(f) } };
    },
  },
  {
    id: 'syn-sent-bad-ack',
    title: 'bad ACK to a connecting socket',
    group: 'passive',
    map: ['P3b'],
    happened: 'While this host was connecting (SYN_SENT), a segment acknowledged something it never sent: a stale connection of the peer with the same ports, or a middlebox.',
    why: 'tcp_rcv_synsent_state_process(): an ACK outside (snd_una, snd_nxt] gets an RST (RFC 9293 3.10.7.3; reason TCP_INVALID_ACK_SEQUENCE).',
    evidence: { segment: 'flags of the triggering segment', pid: 'process connecting', comm: 'its name', ...TUPLE_DOC },
    recognized: 'reason TCP_INVALID_ACK_SEQUENCE, or a passive RST from a SYN_SENT socket.',
    fix: 'Usually the peer still has an old connection with these ports (it answers the SYN with an ACK for the old one); the RST clears it and the retry works. If it persists, look for NAT reusing ports.',
    match(f) {
      if (!passiveSent(f) || (f.reason !== 'TCP_INVALID_ACK_SEQUENCE' && !(noReason(f) && f.e.state === 'SYN_SENT'))) return null;
      return { confidence: byReason(f), summary: `${whoOwns(f)} was connecting and got an ACK for something it never sent`, evidence: { segment: f.e.segment?.flags ?? null, ...ownerEvidence(f), ...base(f) } };
    },
  },
  {
    id: 'syn-sent-paws',
    title: 'PAWS check failed while connecting',
    group: 'passive',
    map: ['P3c'],
    happened: 'The SYN-ACK carried a timestamp echo that does not match what this host sent.',
    why: 'tcp_rcv_synsent_state_process() rejects a bad TSecr (RFC 7323; reason TCP_RFC7323_PAWS).',
    evidence: { local: 'local endpoint', remote: 'remote endpoint' },
    recognized: 'reason TCP_RFC7323_PAWS.',
    fix: 'Look for a middlebox rewriting TCP timestamps, or a peer with broken timestamps.',
    match(f) {
      if (!passiveSent(f) || f.reason !== 'TCP_RFC7323_PAWS') return null;
      return { confidence: 'high', summary: 'the SYN-ACK echoed a timestamp this host never sent (PAWS)', evidence: base(f) };
    },
  },
  {
    id: 'syn-recv-bad-ack',
    title: 'unacceptable ACK during the handshake',
    group: 'passive',
    map: ['P3d'],
    happened: 'In SYN_RECV (Fast Open child or simultaneous open) a segment acknowledged data that is too old or was never sent.',
    why: 'tcp_rcv_state_process()/tcp_ack() reject the ACK (reasons TCP_OLD_ACK, TCP_TOO_OLD_ACK, TCP_ACK_UNSENT_DATA).',
    evidence: { reason: 'the kernel reason', ...TUPLE_DOC },
    recognized: 'reason TCP_OLD_ACK, TCP_TOO_OLD_ACK or TCP_ACK_UNSENT_DATA.',
    fix: 'A confused peer or middlebox; capture the handshake (tcpdump) to see which side is wrong.',
    match(f) {
      if (!passiveSent(f) || !['TCP_OLD_ACK', 'TCP_TOO_OLD_ACK', 'TCP_ACK_UNSENT_DATA'].includes(f.reason ?? '')) return null;
      return { confidence: 'high', summary: `the peer acknowledged data that is too old or was never sent (${f.reason})`, evidence: { reason: f.reason, ...base(f) } };
    },
  },

  // ===== NAT and conntrack =====
  {
    id: 'nat-not-applied',
    title: 'NAT was not applied: the segment reached the original port',
    group: 'nat',
    map: ['P1', 'netfilter: conntrack INVALID'],
    happened: 'A NAT rule (REDIRECT or DNAT) sends this port elsewhere, and this connection lives at the translated port, but this segment was not translated: conntrack no longer had the connection (entry deleted, expired, or the table was full) and, with nf_conntrack_tcp_loose=0, marked the mid-stream segment INVALID, which NAT skips. The segment reached the original port, where no socket matches, and drew an RST.',
    why: 'Conntrack only picks up a connection in the middle when nf_conntrack_tcp_loose=1; INVALID packets are not NATed, so tcp_v4_rcv() finds no socket for the original tuple (reason NO_SOCKET).',
    evidence: { packet_tuple: 'the segment\'s tuple, as it arrived (not translated)', nat_tuple: 'the tuple the NAT rule would have made', original_port: 'the port the client uses', redirected_port: 'the port NAT translates it to', rule: 'the NAT rule', socket_seen: 'whether a socket for the translated tuple was seen (history or listeners)', tcp_loose: 'net.netfilter.nf_conntrack_tcp_loose', conntrack_invalid: 'conntrack -S invalid, summed', ...TUPLE_DOC },
    recognized: 'a NO_SOCKET RST (or no socket) to a non-SYN segment whose local port a REDIRECT/DNAT rule translates, while the history knows a connection on the translated tuple (high) or a listener on the translated port (medium).',
    fix: 'Find why conntrack lost the entry: `conntrack -S` (early_drop, insert_failed, drop), nf_conntrack_count vs nf_conntrack_max, tools running `conntrack -D/-F`, timeouts shorter than idle periods. Setting net.netfilter.nf_conntrack_tcp_loose=1 lets conntrack pick the flow up again (then NAT is redone).',
    match(f) {
      const t = f.e.packet;
      if (!passiveSent(f) || !t || f.seg?.syn || f.e.socket) return null;
      if (f.reason && f.reason !== 'NO_SOCKET') return null;
      for (const r of natRulesFor(f, t.lport)) {
        if (!r.toPort) continue;
        const to = r.toPort[0] + (r.toPort[0] !== r.toPort[1] && r.dport ? t.lport - r.dport[0] : 0);
        const toAddr = r.action === 'redirect' || !r.toAddr ? t.laddr : r.toAddr;
        const nat = { laddr: toAddr, lport: to, raddr: t.raddr, rport: t.rport };
        const known = f.historyOf(nat);
        const live = known.states.length > 0 && !known.states.some((x) => x.new === 'CLOSE' && x.mono_ns < f.e.mono_ns);
        const listening = f.host?.listeners.some((l) => l.lport === to) ?? false;
        if (!live && !listening) continue;
        return {
          confidence: live ? 'high' : 'medium',
          summary: `NAT did not translate this segment: ${endpoint(t.raddr, t.rport)} talks to :${t.lport}, which "${r.text}" sends to :${to}${live ? ', where its connection lives' : ''}; conntrack had lost the flow, so the segment reached :${t.lport} and got an RST`,
          evidence: {
            packet_tuple: `${endpoint(t.laddr, t.lport)} <- ${endpoint(t.raddr, t.rport)}`,
            nat_tuple: `${endpoint(toAddr, to)} <- ${endpoint(t.raddr, t.rport)}`,
            original_port: t.lport,
            redirected_port: to,
            rule: r.text,
            socket_seen: live ? 'connection in history' : 'listener on the translated port',
            tcp_loose: sysctl(f, 'net.netfilter.nf_conntrack_tcp_loose'),
            conntrack_invalid: f.host?.conntrack?.stats['invalid'] ?? null,
            ...base(f),
          },
        };
      }
      return null;
    },
  },
  {
    id: 'ehash-lookup-race',
    title: 'handshake lookup race (kernel bug)',
    group: 'race',
    map: ['races: ehash lookup'],
    happened: 'The segment arrived in the microseconds in which the kernel was replacing the half-open request by the new connection in its hash table; the lookup on another CPU found neither and the segment drew an RST although the connection exists.',
    why: 'inet_ehash_insert() removed the request socket before adding the full socket; fixed in 6.19 ("inet: Avoid ehash lookup race in inet_ehash_insert()") and stable backports.',
    evidence: { established_gap_us: 'microseconds between the RST and the connection becoming ESTABLISHED on this host', segment: 'flags of the triggering segment', kernel: 'running kernel version', ...TUPLE_DOC },
    recognized: 'an RST to a non-SYN segment (NO_SOCKET, or TCP_FLAGS from the listener) for a tuple whose socket became ESTABLISHED on this host within 2 ms of it, before or after, and was not closed before it.',
    fix: 'Upgrade to a kernel with the fix (6.19, or a stable release carrying it). Clients retry; rare unless connection rates are very high.',
    match(f) {
      const t = f.e.packet;
      if (!passiveSent(f) || !t || !f.seg || f.seg.syn || (f.e.socket && f.e.state !== 'LISTEN')) return null;
      const est = f.conn.states.find((x) => x.new === 'ESTABLISHED' && x.old === 'SYN_RECV' && Math.abs(x.mono_ns - f.e.mono_ns) < 2e6);
      if (!est) return null;
      const closedBetween = f.conn.states.some((x) => x.new === 'CLOSE' && x.mono_ns > est.mono_ns && x.mono_ns < f.e.mono_ns);
      if (closedBetween) return null;
      const fixed = f.kernel.version[0] > 6 || (f.kernel.version[0] === 6 && f.kernel.version[1] >= 19);
      return {
        confidence: fixed ? 'medium' : 'high',
        summary: `the connection ${tupleText(f)} became ESTABLISHED ${Math.round(Math.abs(est.mono_ns - f.e.mono_ns) / 1e3)} us ${est.mono_ns <= f.e.mono_ns ? 'before' : 'after'} this RST: the ehash lookup race`,
        evidence: { established_gap_us: Math.round((f.e.mono_ns - est.mono_ns) / 1e3), segment: f.e.segment?.flags ?? null, kernel: f.kernel.version.join('.'), ...base(f) },
      };
    },
  },
  {
    id: 'timewait-transition-race',
    title: 'TIME_WAIT transition race (kernel bug)',
    group: 'race',
    map: ['races: TIME_WAIT twin'],
    happened: 'A FIN or ACK arrived while the kernel was replacing the closing socket by its TIME_WAIT socket; the lookup found neither and the segment drew an RST.',
    why: 'inet_twsk_hashdance_schedule() had the same gap as the handshake insert; fixed in the same series (6.19).',
    evidence: { gap_us: 'microseconds between the RST and the socket\'s move to TIME_WAIT', segment: 'flags of the triggering segment', kernel: 'running kernel version', ...TUPLE_DOC },
    recognized: 'a NO_SOCKET RST to a FIN for a tuple whose socket moved to TIME_WAIT (-> CLOSE from FIN_WAIT2/CLOSING, or TIME_WAIT) within 2 ms, with no RST of this host closing it.',
    fix: 'Upgrade to a kernel with the fix; harmless in most protocols (the connection was ending).',
    match(f) {
      const t = f.e.packet;
      if (!passiveSent(f) || !t || !f.seg || f.seg.syn || f.e.socket) return null;
      if (f.reason && f.reason !== 'NO_SOCKET') return null;
      if (!f.seg.fin) return null;
      const tw = f.conn.states.find((x) => (x.new === 'TIME_WAIT' || (x.new === 'CLOSE' && (x.old === 'FIN_WAIT2' || x.old === 'CLOSING'))) && Math.abs(x.mono_ns - f.e.mono_ns) < 2e6);
      if (!tw) return null;
      // a close by a reset (A3, A9, data after close) is no TIME_WAIT transition
      if (f.conn.resets.some((r) => r.direction === 'sent' && Math.abs(r.mono_ns - tw.mono_ns) < 2e6)) return null;
      const fixed = f.kernel.version[0] > 6 || (f.kernel.version[0] === 6 && f.kernel.version[1] >= 19);
      return {
        confidence: fixed ? 'medium' : 'high',
        summary: `the connection ${tupleText(f)} moved to TIME_WAIT ${Math.round(Math.abs(tw.mono_ns - f.e.mono_ns) / 1e3)} us from this RST: the TIME_WAIT hash race`,
        evidence: { gap_us: Math.round((f.e.mono_ns - tw.mono_ns) / 1e3), segment: f.e.segment?.flags ?? null, kernel: f.kernel.version.join('.'), ...base(f) },
      };
    },
  },
  {
    id: 'nat-backend-changed',
    title: 'conntrack lost the flow and NAT picked another backend',
    group: 'nat',
    map: ['netfilter: lost conntrack entry'],
    happened: 'This host NATs the port and conntrack lost the flow (table full, early drop, deletion, timeout). With nf_conntrack_tcp_loose=1 the next segment was NATed anew, possibly to another backend that does not know the connection.',
    why: 'A new conntrack entry re-runs NAT; the backend answers an unknown mid-stream segment with an RST (NO_SOCKET or TCP_FLAGS).',
    evidence: { rule: 'the NAT rule', tcp_loose: 'net.netfilter.nf_conntrack_tcp_loose', conntrack_count: 'nf_conntrack_count', conntrack_max: 'nf_conntrack_max', early_drop: 'conntrack -S early_drop', insert_failed: 'conntrack -S insert_failed', drop: 'conntrack -S drop', ...TUPLE_DOC },
    recognized: 'an RST to a non-SYN segment in a namespace with REDIRECT/DNAT rules for the port, nf_conntrack_tcp_loose=1, and conntrack drop counters above 0 (low: the backend may be another host).',
    fix: 'Size the conntrack table (nf_conntrack_max, buckets), find who deletes entries, keep idle timeouts above the applications\' idle periods.',
    match(f) {
      const t = f.e.packet;
      if (!passiveSent(f) || !t || f.seg?.syn || (f.e.socket && f.e.state !== 'LISTEN')) return null;
      const rules = natRulesFor(f, t.lport);
      const st = f.host?.conntrack?.stats ?? {};
      if (!rules.length || sysctl(f, 'net.netfilter.nf_conntrack_tcp_loose') !== '1' || !((st['early_drop'] ?? 0) + (st['insert_failed'] ?? 0) + (st['drop'] ?? 0))) return null;
      return {
        confidence: 'low',
        summary: `conntrack may have lost this flow (drops counted) and NAT re-mapped it ("${rules[0]!.text}")`,
        evidence: { rule: rules[0]!.text, tcp_loose: '1', conntrack_count: f.host?.conntrack?.count ?? null, conntrack_max: f.host?.conntrack?.max ?? null, early_drop: st['early_drop'] ?? null, insert_failed: st['insert_failed'] ?? null, drop: st['drop'] ?? null, ...base(f) },
      };
    },
  },

  // ===== passive, no socket for the segment =====
  {
    id: 'listener-gone',
    title: 'the listener on this port exited',
    group: 'passive',
    map: ['P1'],
    happened: 'A process listened on this port, but it has stopped listening (exited, crashed or closed its socket); the SYN found nobody.',
    why: 'tcp_v4_rcv()/tcp_v6_rcv() find no socket and answer with an RST (RFC 9293 3.10.7.1; reason NO_SOCKET).',
    evidence: { port: 'the port asked for', listener_pid: 'process that listened', listener_comm: 'its name', closed_ago_s: 'seconds between the listener\'s close and the RST', closed_by_pid: 'task that closed the listener (the exiting process)', ...TUPLE_DOC },
    recognized: 'an RST with no socket (NO_SOCKET, or none given) to a SYN, and a listener on the port in the history that closed before it and was not replaced (high with NO_SOCKET or, without reasons, a socketless send from tcp_v4_rcv/tcp_v6_rcv on the stack).',
    fix: 'Restart the service and find why it stopped (exit status, OOM killer, crash logs: journalctl, dmesg). Clients should retry with backoff during restarts.',
    match(f) {
      const t = f.tuple;
      if (!passiveSent(f) || f.e.socket || !t || (f.reason && f.reason !== 'NO_SOCKET')) return null;
      if (f.seg && !f.seg.syn) return null;
      if (listeningAt(f.listener, f.e.mono_ns, t.laddr)) return null;
      const ep = closedBefore(f.listener, f.e.mono_ns, t.laddr);
      if (!ep || ep.closed_ns === null) return null;
      const who = ep.owner ?? ep.closer;
      return {
        confidence: noSocketPath(f) ? 'high' : 'medium',
        summary: `nothing listens on :${t.lport} any more: the listener${who ? `, pid ${who.pid} (${who.comm}),` : ''} closed ${s(f.e.mono_ns - ep.closed_ns)} ago; ${endpoint(t.raddr, t.rport)} was refused`,
        evidence: { port: t.lport, listener_pid: who?.pid ?? null, listener_comm: who?.comm ?? null, closed_ago_s: Math.round((f.e.mono_ns - ep.closed_ns) / 1e8) / 10, closed_by_pid: ep.closer?.pid ?? null, ...base(f) },
      };
    },
  },
  {
    id: 'no-listener',
    title: 'nothing listens on the port',
    group: 'passive',
    map: ['P1'],
    happened: 'A client tried to connect to a port where no process listens (and none did while tcpwhy watched). The kernel refuses the connection with an RST; the client sees ECONNREFUSED.',
    why: 'tcp_v4_rcv()/tcp_v6_rcv() find no socket for the SYN and answer per RFC 9293 3.10.7.1 (reason NO_SOCKET): seq 0, ACK of the SYN.',
    evidence: { port: 'the port asked for', listeners_checked: 'where the absence of a listener comes from (history, host listeners)', bound_elsewhere: 'listeners on this port bound to another address (e.g. 127.0.0.1 only), if any' },
    recognized: 'an RST with no socket (NO_SOCKET, or none given by older kernels) to a SYN, with no listener on the port in the history nor in the namespace\'s listening sockets (high when the host listeners were read and the kernel said NO_SOCKET or, without reasons, sent it without a socket from tcp_v4_rcv/tcp_v6_rcv).',
    fix: 'Start the service, or point the client at the right host and port; check that the service listens on this address (ss -tlnp) and in this network namespace. A client probing ports (scanner, health check on a wrong port) shows many of these.',
    sameForShape: true,
    match(f) {
      const t = f.tuple;
      if (!passiveSent(f) || f.e.socket || !t || (f.reason && f.reason !== 'NO_SOCKET')) return null;
      if (f.seg && !f.seg.syn) return null;
      if (listenerNow(f)) return null;
      const known = hostRead(f, /^ss|listen/i);
      const elsewhere = listenersElsewhere(f);
      // the same for every SYN to this port (the diagnosis reuses it in floods): the event has the client's address
      return {
        confidence: noSocketPath(f) && known ? 'high' : 'medium',
        summary: `nothing listens on ${endpoint(t.laddr, t.lport)} in this namespace${elsewhere.length ? ` (a listener on ${elsewhere.join(', ')} does not accept this address)` : ''}: the connection was refused (ECONNREFUSED)`,
        evidence: {
          port: t.lport,
          listeners_checked: known ? 'history and host listeners' : 'history only (host listeners unavailable)',
          bound_elsewhere: elsewhere.length ? elsewhere.join(', ') : null,
        },
      };
    },
  },
  {
    id: 'connection-forgotten',
    title: 'this host no longer knows the connection',
    group: 'passive',
    map: ['P1', 'P3a'],
    happened: 'A segment of an established connection arrived, but this host has no socket for it any more: the connection was closed or reset here (the history says how, when it saw it), or the process or host restarted. A listener answered (or nobody did) with an RST; for the peer the connection is reset.',
    why: 'Without a socket, tcp_v4_rcv() answers non-SYN segments with an RST (NO_SOCKET); if a listener owns the port, tcp_rcv_state_process() in LISTEN rejects the ACK (reason TCP_FLAGS). RFC 9293 3.10.7.1.',
    evidence: { ended: 'how and when this host ended the connection (from the history), if seen', ended_ago_ms: 'milliseconds since then', old_pid: 'process that owned the old connection, if known', listener_pid: 'process listening on the port now, if any', listener_comm: 'its name', segment: 'flags of the triggering segment', ...TUPLE_DOC },
    recognized: 'an RST to a non-SYN segment with no connection socket: NO_SOCKET (high when the history saw the connection end here or the listener restart, medium otherwise), or TCP_FLAGS from a LISTEN socket when the history saw the connection end or the listener restart.',
    fix: 'The peer is talking to a connection this side dropped: find why it was dropped (the history names it; restarts, crashes, SOCK_DESTROY). The peer should reconnect on ECONNRESET. If it happens right after restarts, drain connections before stopping the service.',
    match(f) {
      const t = f.tuple;
      if (!passiveSent(f) || !t || !f.seg || f.seg.syn) return null;
      const viaListener = f.e.state === 'LISTEN' && (!f.reason || f.reason === 'TCP_FLAGS');
      const noSock = !f.e.socket && (!f.reason || f.reason === 'NO_SOCKET');
      if (!viaListener && !noSock) return null;
      const ended = endedHere(f);
      const restartedHere = f.listener.episodes.some((ep) => ep.closed_ns !== null && ep.closed_ns < f.e.mono_ns) && listeningAt(f.listener, f.e.mono_ns, f.tuple?.laddr);
      // from a listener without history, a stray ACK has other explanations (expired handshake, bad syncookie)
      if (viaListener && !ended && !restartedHere) return null;
      const l = viaListener ? { pid: f.e.owner?.pid ?? null, comm: f.e.owner?.comm ?? null } : listenerNow(f);
      const restarted = f.listener.episodes.some((ep) => ep.closed_ns !== null && ep.closed_ns < f.e.mono_ns) && listeningAt(f.listener, f.e.mono_ns);
      const oldOwner = [...f.conn.states].reverse().find((x) => x.owner)?.owner ?? null;
      const why = ended
        ? `its socket here ended ${ms(f.e.mono_ns - ended.at)} ms earlier (${ended.how}${ended.pid ? ` by pid ${ended.pid} (${ended.comm})` : ''})`
        : restarted
          ? 'the listener on this port was restarted since'
          : 'this host has no socket for it (closed, reset or restarted before tcpwhy watched)';
      const answered = viaListener ? `the listener${l?.pid ? ` (pid ${l.pid} ${l.comm})` : ''} answered with an RST` : l ? `no socket matched it (a listener, pid ${l.pid ?? '?'}, exists on the port)` : 'no listener either';
      return {
        confidence: ended || restarted ? 'high' : 'medium',
        summary: `${endpoint(t.raddr, t.rport)} sent ${segText(f)} on a connection to :${t.lport} that this host no longer knows: ${why}; ${answered}`,
        evidence: {
          ended: ended ? ended.how : null,
          ended_ago_ms: ended ? ms(f.e.mono_ns - ended.at) : null,
          old_pid: oldOwner?.pid ?? null,
          listener_pid: l?.pid ?? null,
          listener_comm: l?.comm ?? null,
          segment: f.e.segment?.flags ?? null,
          ...base(f),
        },
      };
    },
  },
  {
    id: 'stray-ack-to-listener',
    title: 'a listener got an ACK it cannot place',
    group: 'passive',
    map: ['P3a'],
    happened: 'A listening socket received a segment with ACK that matches no pending handshake: an expired or dropped half-open connection, an invalid SYN cookie, or a connection this host forgot.',
    why: 'tcp_rcv_state_process() in LISTEN answers any ACK with an RST (reason TCP_FLAGS).',
    evidence: { ...LISTENER_DOC, segment: 'flags of the segment', ...TUPLE_DOC },
    recognized: 'a passive RST from a LISTEN socket not explained by the entries above.',
    fix: 'Check ListenOverflows/ListenDrops (nstat), SYN cookies (TcpExt.SyncookiesFailed) and restarts of the service.',
    match(f) {
      if (!passiveSent(f) || f.e.state !== 'LISTEN') return null;
      return {
        confidence: 'medium',
        summary: `the listener of ${whoOwns(f)} on :${f.tuple?.lport} got ${segText(f)} that matches no handshake`,
        evidence: { ...listenerEvidence(f), segment: f.e.segment?.flags ?? null, ...base(f) },
      };
    },
  },

  // ===== received RSTs =====
  {
    id: 'own-reset-echo',
    title: 'this host\'s own reset, reported on its socket',
    group: 'received',
    map: ['received', 'P3e'],
    happened: 'No RST arrived: this host reset the connection itself (it sent an RST in the same instant) and its TCP stack also ended its own socket through tcp_reset(), which fires the receive-reset tracepoint. See the sent RST for the cause.',
    why: 'Some abort paths (data after close in FIN_WAIT1/FIN_WAIT2) call tcp_reset() on the local socket and then send an RST to the peer; tcp:tcp_receive_reset fires for the first.',
    evidence: { sent_cause: 'the cause of the RST this host sent', ...OWNER_DOC, state: 'socket state' },
    recognized: 'a received-RST event on a socket for whose connection the same namespace sent an RST within 1 ms.',
    fix: 'Nothing to fix here: follow the sent RST\'s verdict.',
    match(f) {
      if (!received(f) || !f.sentHere) return null;
      return {
        confidence: 'high',
        summary: `not an RST from the peer: this host reset the connection itself (${f.sentHere.cause}) and its stack reported it on the socket`,
        evidence: { sent_cause: f.sentHere.cause, ...ownerEvidence(f), state: f.e.state },
      };
    },
  },
  {
    id: 'netfilter-reject',
    title: 'RST made by a firewall REJECT rule',
    group: 'netfilter',
    map: ['netfilter REJECT'],
    happened: 'A firewall rule on this host rejects this traffic with a TCP reset: the RST did not come from the peer\'s TCP stack.',
    why: 'iptables REJECT --reject-with tcp-reset and nftables "reject with tcp reset" build the RST in nf_send_reset() (nf_reject_ipv4.c/nf_reject_ipv6.c), like a passive reset, without the TCP tracepoints: tcpwhy sees it arrive.',
    evidence: { rule: 'the rule that rejects with a reset', ...OWNER_DOC, state: 'socket state', ...TUPLE_DOC },
    recognized: 'a received RST, not sent by a namespace of this host that tcpwhy saw, in a namespace whose output chain has a REJECT-with-tcp-reset rule covering the remote port and address (medium: the rule may not be the one that matched).',
    fix: 'Check the rule (and its counters: nft list ruleset / iptables -L -v); allow the traffic if it is wanted.',
    match(f) {
      if (!received(f) || !f.tuple) return null;
      const port = f.tuple.rport;
      // the peer's own stack sent it (seen on this host): not a firewall
      if (f.sentByPeer) return null;
      const daddr = f.tuple.raddr;
      const found = (f.host?.rules ?? []).find(
        (x) =>
          x.action === 'reject' &&
          (x.rejectWith ?? '').includes('reset') &&
          /output/i.test(x.chain) &&
          (!x.dport || (port >= x.dport[0] && port <= x.dport[1])) &&
          (!x.daddr || x.daddr === daddr || x.daddr.startsWith(`${daddr}/`)),
      );
      if (!found) return null;
      const r = safeRule(found);
      return { confidence: 'medium', summary: `a firewall rule on this host rejects the traffic of ${whoOwns(f)} with a reset: "${r.text}"`, evidence: { rule: r.text, ...ownerEvidence(f), state: f.e.state, ...base(f) } };
    },
  },
  {
    id: 'connection-refused',
    title: 'connection refused by the peer',
    group: 'received',
    map: ['received'],
    happened: 'This host tried to connect and the peer answered the SYN with an RST: nothing listens there (or a firewall rejects). The application gets ECONNREFUSED.',
    why: 'tcp_rcv_synsent_state_process() accepts an RST that acknowledges the SYN and reports ECONNREFUSED (tcp_reset()).',
    evidence: { pid: 'process that was connecting', comm: 'its name', peer_cause: 'the cause the peer\'s side was diagnosed with, when the peer is on this host', ...TUPLE_DOC },
    recognized: 'a received RST on a socket in SYN_SENT.',
    fix: 'Check that the service runs and listens on the address and port the client uses (ss -tlnp there), and firewalls on the way.',
    match(f) {
      if (!received(f) || f.e.state !== 'SYN_SENT') return null;
      const peer = f.sentByPeer;
      return {
        confidence: 'high',
        summary: `${whoOwns(f)} was refused by ${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : 'the peer'} (ECONNREFUSED)${peer ? `; on the peer: ${peer.summary}` : ''}`,
        evidence: { ...ownerEvidence(f), peer_cause: peer?.cause ?? null, ...base(f) },
      };
    },
  },
  {
    id: 'reset-by-peer',
    title: 'connection reset by the peer',
    group: 'received',
    map: ['received'],
    happened: 'The peer (or something on the path) reset this connection. The local application that owned the socket gets ECONNRESET on its next read or write (EPIPE on a write after that).',
    why: 'tcp_validate_incoming() accepted an in-window RST and tcp_reset() ended the socket. The cause lies on the sender\'s side: when the sender is on this host, tcpwhy names its diagnosis.',
    evidence: { ...OWNER_DOC, state: 'socket state when the RST arrived', unread_bytes: 'bytes this side had not read yet', peer_cause: 'the cause the peer\'s side was diagnosed with, when the peer is on this host', ...TUPLE_DOC },
    recognized: 'a received RST on a synchronized connection.',
    fix: 'Look at the peer: run tcpwhy there (or read its verdict here when it is local) — the RST is its decision. On this side, handle ECONNRESET (retry idempotent requests on a new connection).',
    match(f) {
      if (!received(f)) return null;
      const peer = f.sentByPeer;
      return {
        confidence: 'high',
        summary: `${f.tuple ? endpoint(f.tuple.raddr, f.tuple.rport) : 'the peer'} reset the connection of ${whoOwns(f)} (state ${f.e.state ?? '?'}; it will see ECONNRESET)${peer ? `; on the peer: ${peer.summary}` : ''}`,
        evidence: { ...ownerEvidence(f), state: f.e.state, unread_bytes: f.e.queues?.rcv_unread ?? null, peer_cause: peer?.cause ?? null, ...base(f) },
      };
    },
  },
  {
    id: 'middlebox-reset',
    title: 'RST injected by a middlebox',
    group: 'netfilter',
    map: ['middlebox'],
    happened: 'An RST that the peer\'s TCP stack did not send: a firewall, IDS or load balancer on the path injected it.',
    why: 'Injected RSTs are built by other code than the peer\'s TCP stack: their TTL, IP ID, window or options differ from the peer\'s other packets.',
    evidence: { differs: 'which header fields differ from the sender\'s other packets' },
    recognized: 'only in captures (tcpwhy analyze): header fields unlike the sender\'s other packets. Live events cannot see the wire headers.',
    fix: 'Find the device on the path (traceroute to where the TTL says it came from); check its idle timeouts and policies.',
    match: () => null,
  },

  // ===== when no rule fits =====
  {
    id: 'unclassified-active',
    title: 'active reset, no rule matched',
    group: 'fallback',
    map: [],
    happened: 'This host aborted a connection for a reason the catalogue does not recognize from these facts.',
    why: 'tcp_send_active_reset() was called; the reason and the stack say from where.',
    evidence: { reason: 'the kernel reason', state: 'socket state', stack_top: 'the first kernel frames', pid: 'process that owned the socket', comm: 'its name' },
    recognized: 'any active RST that no entry above matched.',
    fix: 'Read the reason and the stack (tcpwhy watch --stacks) and see docs/causes.md; please report it so the catalogue can learn it.',
    match(f) {
      if (!activeSent(f)) return null;
      return { confidence: 'low', summary: `the host aborted ${whoOwns(f)}'s connection (reason ${f.e.reason ?? 'none'}, state ${f.e.state ?? '?'}): no rule recognized it`, evidence: { reason: f.e.reason, state: f.e.state, stack_top: (f.e.stack ?? []).slice(0, 3).join(' < ') || null, ...ownerEvidence(f) } };
    },
  },
  {
    id: 'unclassified-passive',
    title: 'passive reset, no rule matched',
    group: 'fallback',
    map: [],
    happened: 'The stack rejected a segment for a reason the catalogue does not recognize from these facts.',
    why: 'tcp_v4_send_reset()/tcp_v6_send_reset() was called; the reason and the stack say from where.',
    evidence: { reason: 'the kernel reason', state: 'socket state', segment: 'the segment flags', stack_top: 'the first kernel frames' },
    recognized: 'any sent RST that no entry above matched.',
    fix: 'Read the reason and the stack (tcpwhy watch --stacks) and see docs/causes.md; please report it so the catalogue can learn it.',
    match(f) {
      if (f.e.direction !== 'sent') return null;
      return { confidence: 'low', summary: `the kernel rejected a ${f.e.segment?.flags ?? ''} segment (reason ${f.e.reason ?? 'none'}, state ${f.e.state ?? 'no socket'}): no rule recognized it`, evidence: { reason: f.e.reason, state: f.e.state, segment: f.e.segment?.flags ?? null, stack_top: (f.e.stack ?? []).slice(0, 3).join(' < ') || null } };
    },
  },
];

/** The entry with this id. */
export function causeById(id: string): Cause | undefined {
  return CAUSES.find((c) => c.id === id);
}

export type { Match };
