// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwhy kernel side: one event per TCP RST the host sends or receives.
 *
 * Hooks (the loader picks one set by feature probing, src/kernel/plan.ts):
 *  - tp_btf/tcp_send_reset, tp_btf/tcp_receive_reset: typed sk/skb (preferred);
 *  - tracepoint/tcp/...: the same through the tracepoint's record;
 *  - fentry or kprobe on tcp_v{4,6}_send_reset and tcp_send_active_reset: for
 *    kernels before 6.10 whose tracepoint misses no-socket and TIME_WAIT RSTs.
 * tp_btf/inet_sock_set_state remembers which process owns a socket, so RSTs
 * handled in softirq context can still name it, and keeps the history the
 * diagnosis reads in the kernel: each connection's last state changes (the
 * conns map, looked up by user space for an RST that needs them). Only
 * listeners opening and closing are reported as events (they are rare).
 *
 * Every RST is counted under its storm key (struct tcpwhy_storm_key) in the
 * table of the current interval; only the first cfg.full_per_key RSTs of a key
 * per interval are sent in full. So a storm costs a hash lookup and an add per
 * RST, and user space prints it as counts with the verdict of the ones shown.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpwhy.h"

#define AF_INET 2
#define AF_INET6 10
/* bits of the TCP header's flags byte */
#define TCPWHY_TH_FIN 0x01
#define TCPWHY_TH_SYN 0x02
#define TCPWHY_TH_RST 0x04
#define TCPWHY_TH_PSH 0x08
#define TCPWHY_TH_ACK 0x10

char LICENSE[] SEC("license") = "GPL";

const volatile struct tcpwhy_config cfg = {};
extern unsigned int CONFIG_HZ __kconfig __weak;

/* Puts the contract's types into BTF, which only holds what the program
 * uses: user space generates its bindings from them (scripts/gen-contract.mjs). */
struct tcpwhy_contract {
	/* values, not pointers: BTF keeps only the name of a type behind a pointer */
	struct tcpwhy_event event;
	struct tcpwhy_config config;
	enum tcpwhy_event_type event_type;
	enum tcpwhy_direction direction;
	enum tcpwhy_kind kind;
	enum tcpwhy_hook hook;
	enum tcpwhy_flag flag;
	enum tcpwhy_tcp_state tcp_state;
	enum tcpwhy_counter counter;
	enum tcpwhy_limit limit;
	enum tcpwhy_retrans retrans;
	struct tcpwhy_storm_key storm_key;
	struct tcpwhy_storm_val storm_val;
	struct tcpwhy_conn_key conn_key;
	struct tcpwhy_conn conn;
	struct tcpwhy_conn_change conn_change;
};
_Static_assert(sizeof(struct tcpwhy_storm_key) == TCPWHY_STORM_KEY_LEN, "storm key size");
const struct tcpwhy_contract *tcpwhy_contract_btf __attribute__((unused));

/* tcpwhy.h's TCP states are the kernel's */
_Static_assert(TCPWHY_TCP_ESTABLISHED == TCP_ESTABLISHED && TCPWHY_TCP_SYN_SENT == TCP_SYN_SENT &&
		       TCPWHY_TCP_SYN_RECV == TCP_SYN_RECV && TCPWHY_TCP_FIN_WAIT1 == TCP_FIN_WAIT1 &&
		       TCPWHY_TCP_FIN_WAIT2 == TCP_FIN_WAIT2 && TCPWHY_TCP_TIME_WAIT == TCP_TIME_WAIT &&
		       TCPWHY_TCP_CLOSE == TCP_CLOSE && TCPWHY_TCP_CLOSE_WAIT == TCP_CLOSE_WAIT &&
		       TCPWHY_TCP_LAST_ACK == TCP_LAST_ACK && TCPWHY_TCP_LISTEN == TCP_LISTEN &&
		       TCPWHY_TCP_CLOSING == TCP_CLOSING && TCPWHY_TCP_NEW_SYN_RECV == TCP_NEW_SYN_RECV,
	       "TCP state numbers");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, TCPWHY_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPWHY_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpwhy_stack_budget);
} stack_budget SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpwhy_stack_budget);
} full_budget SEC(".maps");

/* The same budget for drops, retransmissions and errors: a storm of them
 * (the ECONNREFUSED of every refused connect) must not take the RSTs' share. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpwhy_stack_budget);
} loss_budget SEC(".maps");

/* The storm tables: the programs count into the one in slot 0 of storm_now;
 * user space puts the other there each interval (the kernel waits for running
 * programs before that update returns), then reads and empties the old one.
 * No count can fall between two intervals. */
struct storm_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	/* keys per interval: a scan of more ports is counted, not itemized
	 * (fixed: libbpf cannot resize the outer map's template of the tables) */
	__uint(max_entries, TCPWHY_STORM_KEYS);
	__type(key, struct tcpwhy_storm_key);
	__type(value, struct tcpwhy_storm_val);
} storm_a SEC(".maps"), storm_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct storm_table);
} storm_now SEC(".maps") = {
	.values = {[0] = &storm_a},
};

/* RSTs counted without a storm key, per namespace and direction
 * ((netns << 8) | direction): the per-namespace totals stay exact through a
 * scan of many ports (read once, at the end) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} unkeyed SEC(".maps");

/* connection -> its last state changes: the history the rules read */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* resized by the loader from its memory budget */
	__type(key, struct tcpwhy_conn_key);
	__type(value, struct tcpwhy_conn);
} conns SEC(".maps");

/* Initial values for map entries (update takes a value pointer; the stack is
 * too small for these next to an event). */
struct tcpwhy_storm_val storm_zero = {};
struct tcpwhy_conn conn_zero = {};

/* socket address -> owning process, learned where the owner is current */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tcpwhy_owner);
} owners SEC(".maps");

/* listening port -> owner, handed down to the connections it accepts */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct tcpwhy_listen_key);
	__type(value, struct tcpwhy_owner);
} listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPWHY_MAX_FILTER);
	__type(key, __u16);
	__type(value, __u8);
} filter_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPWHY_MAX_FILTER);
	__type(key, struct tcpwhy_addr_key);
	__type(value, __u8);
} filter_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPWHY_MAX_FILTER);
	__type(key, __u32);
	__type(value, __u8);
} filter_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPWHY_MAX_FILTER);
	__type(key, __u32);
	__type(value, __u8);
} filter_netns SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	/* per-CPU, but a program may interrupt another on the same CPU */
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline bool full_sock(__u8 state)
{
	return state != TCP_TIME_WAIT && state != TCP_NEW_SYN_RECV;
}

static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Addresses and ports of a socket (request and TIME_WAIT socks included:
 * these fields live in the common part). */
static __always_inline void read_sk_tuple(struct tcpwhy_event *e, const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	e->sk_family = family;
	/* A full socket forgets its local port number (skc_num) when it moves
	 * to CLOSE, as active resets usually do first; inet_sport stays. */
	if (full_sock(BPF_CORE_READ(sk, __sk_common.skc_state)))
		e->sk_lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	else
		e->sk_lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->sk_rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->sk_laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->sk_raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->sk_laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->sk_raddr, sk, __sk_common.skc_daddr);
	}
}

/* The socket's identity: what the filters and the storm key need. */
static __always_inline void read_sk_id(struct tcpwhy_event *e, const struct sock *sk)
{
	e->flags |= TCPWHY_F_HAS_SK;
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->netns = sk_netns(sk);
	read_sk_tuple(e, sk);
}

/* The rest, read only for an event shown in full. */
static __always_inline void read_sk_facts(struct tcpwhy_event *e, const struct sock *sk)
{
	if (!full_sock(e->state))
		return;

	/* A full socket: queue, linger, backlog and cgroup facts are valid. */
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u32 rcv_nxt = BPF_CORE_READ(tp, rcv_nxt);
	__u32 copied = BPF_CORE_READ(tp, copied_seq);
	__u32 snd_una = BPF_CORE_READ(tp, snd_una);
	__u32 snd_nxt = BPF_CORE_READ(tp, snd_nxt);
	__u32 write_seq = BPF_CORE_READ(tp, write_seq);
	unsigned long sk_flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	__u32 unread = rcv_nxt - copied;

	/* A received FIN takes one sequence number but is no byte to read. */
	if (unread && (sk_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		unread--;
	e->flags |= TCPWHY_F_FULL_SK;
	e->rcv_unread = unread;
	e->snd_unacked = snd_nxt - snd_una;
	e->snd_unsent = write_seq - snd_nxt;
	if (sk_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_LINGER)))
		e->flags |= TCPWHY_F_LINGER;
	e->linger_jiffies = BPF_CORE_READ(sk, sk_lingertime);
	e->ack_backlog = BPF_CORE_READ(sk, sk_ack_backlog);
	e->max_ack_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
		e->cgroup_id = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
}

/* The segment a passive RST answers: its source is the remote side.
 * `typed`: skb is a BTF pointer (tp_btf, fentry), so its fields are plain
 * loads; elsewhere each costs a helper call. The packet bytes are read at
 * once: the IP header and, in the usual case of no IP options or IPv6
 * extension headers, the TCP header right behind it. */
static __always_inline void read_skb(struct tcpwhy_event *e, const struct sk_buff *skb, bool typed)
{
	unsigned char *head;
	__u16 nh, th;
	__u8 pkt[56];
	__u8 tcp[16];
	__u32 ip_payload, ip_len;

	if (typed) {
		head = skb->head;
		nh = skb->network_header;
		th = skb->transport_header;
	} else {
		head = BPF_CORE_READ(skb, head);
		nh = BPF_CORE_READ(skb, network_header);
		th = BPF_CORE_READ(skb, transport_header);
	}
	if (bpf_probe_read_kernel(pkt, sizeof(pkt), head + nh))
		return;
	if ((pkt[0] >> 4) == 4) {
		struct iphdr *ip = (struct iphdr *)pkt;

		e->family = AF_INET;
		__builtin_memcpy(e->pkt_raddr, &ip->saddr, 4);
		__builtin_memcpy(e->pkt_laddr, &ip->daddr, 4);
		ip_len = bpf_ntohs(ip->tot_len);
	} else if ((pkt[0] >> 4) == 6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)pkt;

		e->family = AF_INET6;
		__builtin_memcpy(e->pkt_raddr, &ip6->saddr, 16);
		__builtin_memcpy(e->pkt_laddr, &ip6->daddr, 16);
		ip_len = bpf_ntohs(ip6->payload_len) + 40;
	} else {
		return;
	}
	/* extension headers or IP options sit between nh and th */
	ip_payload = ip_len - (__u32)(th - nh);
	if (th - nh == 20 || th - nh == 40) {
		__builtin_memcpy(tcp, &pkt[th - nh == 20 ? 20 : 40], sizeof(tcp));
	} else if (bpf_probe_read_kernel(tcp, sizeof(tcp), head + th)) {
		return;
	}
	e->flags |= TCPWHY_F_HAS_PKT;
	e->pkt_rport = ((__u16)tcp[0] << 8) | tcp[1];
	e->pkt_lport = ((__u16)tcp[2] << 8) | tcp[3];
	e->seg_seq = bpf_ntohl(*(__u32 *)&tcp[4]);
	e->seg_ack = bpf_ntohl(*(__u32 *)&tcp[8]);
	e->seg_flags = tcp[13];
	__u32 doff = (tcp[12] >> 4) * 4;
	e->seg_len = ip_payload > doff ? ip_payload - doff : 0;
	if (!e->netns)
		e->netns = typed ? skb->dev->nd_net.net->ns.inum : BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
}

static __always_inline bool addr_match(const __u8 *addr, __u16 family)
{
	struct tcpwhy_addr_key k = {};

	if (family == AF_INET6) {
		__builtin_memcpy(k.addr, addr, 16);
	} else {
		k.addr[10] = 0xff;
		k.addr[11] = 0xff;
		__builtin_memcpy(&k.addr[12], addr, 4);
	}
	return bpf_map_lookup_elem(&filter_addrs, &k) != NULL;
}

/* Whether v is in an inline filter set; the loop unrolls and the verifier
 * knows n (read-only data), so only n compares remain. */
/* clang-format off: it cannot lay out a _Pragma inside a macro */
#define IN_INLINE_SET(set, n, v)                                                                \
	({                                                                                      \
		bool __hit = false;                                                             \
		_Pragma("unroll") for (int __i = 0; __i < TCPWHY_INLINE_FILTER;                 \
				       __i++) if (__i < (n) && (set)[__i] == (v)) __hit = true; \
		__hit;                                                                          \
	})
/* clang-format on */

static __always_inline bool port_match(__u16 port)
{
	if (!port)
		return false;
	if (cfg.ports_n)
		return IN_INLINE_SET(cfg.ports, cfg.ports_n, port);
	return bpf_map_lookup_elem(&filter_ports, &port) != NULL;
}

static __always_inline bool netns_match(__u32 netns)
{
	if (cfg.netns_n)
		return IN_INLINE_SET(cfg.netns, cfg.netns_n, netns);
	return bpf_map_lookup_elem(&filter_netns, &netns) != NULL;
}

static __always_inline bool pid_match(__u32 pid)
{
	if (cfg.pids_n)
		return IN_INLINE_SET(cfg.pids, cfg.pids_n, pid);
	return bpf_map_lookup_elem(&filter_pids, &pid) != NULL;
}

/* At most `per_window` uses per CPU per TCPWHY_STACK_WINDOW_NS (0: no limit). */
static __always_inline bool window_allows(void *budget, __u32 per_window, __u64 now)
{
	__u32 zero = 0;
	struct tcpwhy_stack_budget *b;

	if (!per_window)
		return true;
	b = bpf_map_lookup_elem(budget, &zero);
	if (!b)
		return false;
	if (now - b->window_start_ns >= TCPWHY_STACK_WINDOW_NS) {
		b->window_start_ns = now;
		b->used = 0;
	}
	if (b->used >= per_window)
		return false;
	__sync_fetch_and_add(&b->used, 1);
	return true;
}

/* In-kernel filters; every filter in use must match. */
static __always_inline bool wanted(const struct tcpwhy_event *e)
{
	if (cfg.filter_family && e->family != cfg.filter_family)
		return false;
	if (cfg.filter_netns && !netns_match(e->netns))
		return false;
	/* The socket's owner when known; the running task only otherwise (in
	 * softirq context it may be any process). */
	if (cfg.filter_pids && !pid_match((e->flags & TCPWHY_F_HAS_OWNER) ? e->owner_pid : e->pid))
		return false;
	if (cfg.filter_ports && !port_match(e->pkt_lport) && !port_match(e->pkt_rport) && !port_match(e->sk_lport) &&
	    !port_match(e->sk_rport))
		return false;
	if (cfg.filter_addrs) {
		bool pkt = e->flags & TCPWHY_F_HAS_PKT, sk = e->flags & TCPWHY_F_HAS_SK;

		if (!(pkt && (addr_match(e->pkt_laddr, e->family) || addr_match(e->pkt_raddr, e->family))) &&
		    !(sk && (addr_match(e->sk_laddr, e->sk_family) || addr_match(e->sk_raddr, e->sk_family))))
			return false;
	}
	return true;
}

/* Wakes the reader only when this event makes the waiting data cross
 * cfg.wakeup_bytes. Waking on every event while the reader is behind raises an
 * interrupt per event on this CPU (costly in VMs); the reader also polls on a
 * timer, so no event waits long. */
static __always_inline bool output(struct tcpwhy_event *e)
{
	__u64 wake = 0;

	if (cfg.wakeup_bytes) {
		__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

		wake = avail < cfg.wakeup_bytes && avail + sizeof(*e) + 8 >= cfg.wakeup_bytes ? BPF_RB_FORCE_WAKEUP
											      : BPF_RB_NO_WAKEUP;
	}
	if (bpf_ringbuf_output(&events, e, sizeof(*e), wake)) {
		count(TCPWHY_CNT_RINGBUF_FULL);
		return false;
	}
	return true;
}

static __always_inline void read_owner(struct tcpwhy_event *e, const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tcpwhy_owner *o = bpf_map_lookup_elem(&owners, &key);

	/* An entry learned by an untyped hook holds the cookie the socket had
	 * then, often none yet (0): the socket may get one later (sock_diag,
	 * ss, gives each socket it lists one), so 0 matches a full socket. A
	 * reused socket address is no risk there: a new TCP socket connects,
	 * listens or is accepted, and each of these rewrites or deletes the
	 * entry. TIME_WAIT and request socks (other slabs) need the cookie. */
	if (o && (o->cookie == e->sock_cookie || (!o->cookie && (e->flags & TCPWHY_F_FULL_SK)))) {
		e->owner_pid = o->pid;
		__builtin_memcpy(e->owner_comm, o->comm, sizeof(e->owner_comm));
		e->flags |= TCPWHY_F_HAS_OWNER;
	}
}

static __always_inline __u64 cookie_of(const struct sock *sk, bool typed)
{
	/* the helper assigns a cookie if the socket has none yet; elsewhere
	 * read what it has (0: none, which then matches any socket here) */
	return typed ? bpf_get_socket_cookie((void *)sk) : BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

/* The socket's cookie, then its owner (an owner entry is believed for its cookie only). */
static __always_inline void read_sk_owner(struct tcpwhy_event *e, const struct sock *sk, bool typed)
{
	e->sock_cookie = cookie_of(sk, typed);
	read_owner(e, sk);
}

/*
 * Clocks. Reading the exact monotonic clock was a third of what a flood's RST
 * and drop programs cost in a VM (read_tsc under ktime_get_mono_fast_ns), and
 * an event that is only counted needs no more than a tick: its storm key's
 * first and last times and the rate windows. The coarse clock helper is
 * refused to tracing programs, so such an event reads jiffies, brought onto
 * the monotonic clock by the offset between the two that every exact read
 * sets (jiffies follow the monotonic clock tick by tick: the offset holds
 * within a tick). Until one exact read was made, or without CONFIG_HZ, the
 * exact clock is read.
 */
/* mono ns - jiffies * jiffy_ns() (modulo 2^64: jiffies start 300 s below
 * the wrap of 32 bits); 0 until an exact read set it */
static __u64 jiffies_offset;

/* Nanoseconds per jiffy, 0 without CONFIG_HZ. CONFIG_HZ is read from a
 * frozen map, so the verifier keeps one arm: the usual rates cost no
 * division per event. */
static __always_inline __u64 jiffy_ns(void)
{
	switch (CONFIG_HZ) {
	case 100:
		return 10000000;
	case 250:
		return 4000000;
	case 1000:
		return 1000000;
	default:
		return CONFIG_HZ ? 1000000000ULL / CONFIG_HZ : 0;
	}
}

static __always_inline __u64 exact_now(void)
{
	__u64 now = bpf_ktime_get_ns(), tick = jiffy_ns();

	if (tick) {
		__u64 off = (now - bpf_jiffies64() * tick) | 1; /* (never 0: 0 is "not set") */
		__s64 moved = (__s64)(off - jiffies_offset);

		/* written only when it moved by more than a tick: every CPU
		 * writing one shared line at each connection's state change
		 * would bounce it between them */
		if (!jiffies_offset || moved > (__s64)tick || moved < -(__s64)tick)
			jiffies_offset = off;
	}
	return now;
}

/* The time of an event that may only be counted. */
static __always_inline __u64 count_time(void)
{
	__u64 off = jiffies_offset, tick = jiffy_ns();

	if (!off || !tick)
		return exact_now();
	return bpf_jiffies64() * tick + off;
}

/* An event to be shown in full: its exact time. */
static __always_inline void exact_time(struct tcpwhy_event *e)
{
	e->mono_ns = exact_now();
}

/* What every event starts with: when (count_time()), which task, which hook. */
static __always_inline void init_event(struct tcpwhy_event *e, __u8 type, __u8 hook, __s32 reason)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->mono_ns = count_time();
	e->type = type;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->hook = hook;
	e->reason = reason;
	e->stack_id = -1;
	e->hz = CONFIG_HZ;
}

/* The task's facts, read only for events that passed the filters. */
static __always_inline void read_task(struct tcpwhy_event *e)
{
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (!e->cgroup_id)
		e->cgroup_id = bpf_get_current_cgroup_id();
}

/*
 * Whether the storm key's port is the remote one: the port of the service,
 * so that a storm stays one key however many ports its other side uses.
 * An RST without a socket answers a segment to the local port the peer aimed
 * at. With a socket, the lower port is the service's: ephemeral ports are the
 * high ones by default, and a client's connections stay one key. A loss
 * event without a socket says by its flags which side serves: a SYN goes to
 * the service, a SYN-ACK comes from it, and an RST from the port its sender
 * keys it on (a reset to no socket, above: the port the peer aimed at), so
 * both ends of a reset storm key it alike (a closed port's answers to a SYN
 * or ACK flood reach the flooder at as many ports as it used, whatever their
 * values); any other segment takes the lower port.
 */
static __always_inline bool service_is_remote(const struct tcpwhy_event *e, __u16 lport, __u16 rport)
{
	/* pkt_l* is this side: a received segment's source is the remote one */
	bool from_remote = e->direction == TCPWHY_DIR_RECEIVED;
	__u8 f = e->seg_flags;

	if (!(e->flags & TCPWHY_F_HAS_SK)) {
		if (e->type == TCPWHY_EV_RESET)
			return false;
		if ((f & (TCPWHY_TH_SYN | TCPWHY_TH_ACK)) == TCPWHY_TH_SYN)
			return !from_remote;
		if ((f & (TCPWHY_TH_SYN | TCPWHY_TH_ACK)) == (TCPWHY_TH_SYN | TCPWHY_TH_ACK) || (f & TCPWHY_TH_RST))
			return from_remote;
	}
	return rport && rport < lport;
}

/* The RST's storm key, in the event (user space pairs events and counts by it). */
static __always_inline void fill_storm_key(struct tcpwhy_event *e)
{
	struct tcpwhy_storm_key *k = (struct tcpwhy_storm_key *)e->storm_key;

	__u16 lport, rport;

	k->netns = e->netns;
	k->reason = e->reason;
	k->family = e->family;
	k->direction = e->direction;
	k->kind = e->kind;
	k->state = e->state;
	k->type = e->type;
	if (e->flags & TCPWHY_F_HAS_PKT) {
		__builtin_memcpy(k->laddr, e->pkt_laddr, TCPWHY_ADDR_LEN);
		lport = e->pkt_lport;
		rport = e->pkt_rport;
		k->seg_flags = (e->seg_flags & (TCPWHY_TH_FIN | TCPWHY_TH_SYN | TCPWHY_TH_RST | TCPWHY_TH_ACK)) |
			       (e->seg_len ? TCPWHY_TH_PSH : 0);
	} else {
		__builtin_memcpy(k->laddr, e->sk_laddr, TCPWHY_ADDR_LEN);
		lport = e->sk_lport;
		rport = e->sk_rport;
	}
	if (service_is_remote(e, lport, rport)) {
		k->port = rport;
		k->remote_port = 1;
	} else {
		k->port = lport;
	}
}

/*
 * Counts the RST under its key in the current storm table, and says whether
 * it may be shown in full: the first cfg.full_per_key of its key in this
 * interval, within the per-CPU budget of full events. NULL when the table has
 * no room for the key (counted as unkeyed, not shown).
 */
static __always_inline struct tcpwhy_storm_val *storm_count(struct tcpwhy_event *e, bool *show)
{
	struct tcpwhy_storm_key *k = (struct tcpwhy_storm_key *)e->storm_key;
	bool pkt = e->flags & TCPWHY_F_HAS_PKT;
	const __u8 *raddr = pkt ? e->pkt_raddr : e->sk_raddr;
	__u16 rport = pkt ? e->pkt_rport : e->sk_rport;
	__u16 lport = pkt ? e->pkt_lport : e->sk_lport;
	struct tcpwhy_storm_val *v;
	__u32 zero = 0, h, w[4];
	void *table;

	*show = false;
	table = bpf_map_lookup_elem(&storm_now, &zero);
	if (!table)
		goto unkeyed;
	v = bpf_map_lookup_elem(table, k);
	if (!v) {
		/* another CPU may add the key first: then this update fails and
		 * the lookup finds its entry */
		bpf_map_update_elem(table, k, &storm_zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(table, k);
		if (!v)
			goto unkeyed;
	}
	__sync_fetch_and_add(&v->count, 1);
	if (!v->first_ns) {
		v->first_ns = e->mono_ns;
		__builtin_memcpy(v->raddr, raddr, TCPWHY_ADDR_LEN);
		v->rport = rport;
	}
	v->last_ns = e->mono_ns;
	/* one bit per connection (remote endpoint and local port), by a
	 * multiplicative hash (the address is copied: it is not 4-byte
	 * aligned in the event) */
	__builtin_memcpy(w, raddr, sizeof(w));
	h = (w[0] ^ w[1] ^ w[2] ^ w[3] ^ rport ^ ((__u32)lport << 16)) * 2654435761u;
	h >>= 23;
	v->peers[(h >> 6) & (TCPWHY_PEER_WORDS - 1)] |= 1ULL << (h & 63);
	if (cfg.full_per_key && v->count > cfg.full_per_key)
		return v;
	if (!window_allows(e->type == TCPWHY_EV_RESET ? (void *)&full_budget : (void *)&loss_budget,
			   cfg.full_per_window, e->mono_ns)) {
		count(TCPWHY_CNT_OVER_BUDGET);
		return v;
	}
	*show = true;
	return v;
unkeyed:
	if (e->type != TCPWHY_EV_RESET)
		count(TCPWHY_CNT_UNKEYED_LOSS);
	else
		count(e->direction == TCPWHY_DIR_SENT ? TCPWHY_CNT_UNKEYED_SENT : TCPWHY_CNT_UNKEYED_RECEIVED);
	{
		/* the low byte: the direction of an RST; of loss events, their
		 * type times 16 plus their direction */
		__u64 uk = ((__u64)e->netns << 8) |
			   (e->type == TCPWHY_EV_RESET ? e->direction : e->type * 16 + e->direction),
		      one = 1, *c = bpf_map_lookup_elem(&unkeyed, &uk);

		if (c)
			__sync_fetch_and_add(c, 1);
		else if (bpf_map_update_elem(&unkeyed, &uk, &one, BPF_NOEXIST))
			/* added by another CPU meanwhile, or the map is full (then
			 * only the total above has it) */
			if ((c = bpf_map_lookup_elem(&unkeyed, &uk)))
				__sync_fetch_and_add(c, 1);
	}
	return NULL;
}

/* `typed`: sk is a BTF pointer (tp_btf, fentry), so the cookie helper may be
 * used; it assigns a cookie if the socket has none yet. `fn_call`: the hook is
 * on the function that builds the reset, which may decline to send one.
 * What every RST costs is the reads its storm key and the filters need, and
 * the count; the rest only for those shown in full. */
static __always_inline void submit(void *ctx, const struct sock *sk, const struct sk_buff *skb, __u8 direction,
				   __u8 hook, __s32 reason, bool typed, bool fn_call)
{
	struct tcpwhy_event e = {};
	struct tcpwhy_storm_val *v;
	bool show, owner_read = false;

	init_event(&e, TCPWHY_EV_RESET, hook, reason);
	e.direction = direction;
	if (reason >= 0)
		e.flags |= TCPWHY_F_HAS_REASON;
	if (direction == TCPWHY_DIR_SENT)
		e.kind = skb ? TCPWHY_KIND_PASSIVE : TCPWHY_KIND_ACTIVE;
	if (sk)
		read_sk_id(&e, sk);
	if (skb)
		read_skb(&e, skb, typed);
	/* tcp_v4/v6_send_reset() return without sending when the segment is
	 * itself an RST (a reset never answers a reset): hooks on the function
	 * (fn_call) see that call, the tracepoint only what is sent. */
	if (fn_call && (e.flags & TCPWHY_F_HAS_PKT) && (e.seg_flags & TCPWHY_TH_RST))
		return;
	if (!e.family)
		e.family = e.sk_family;
	/* the pid filter is on the owner; otherwise the cookie (the helper may
	 * assign one) and the owner are read only for an RST shown in full */
	if (sk && cfg.filter_pids) {
		read_sk_owner(&e, sk, typed);
		owner_read = true;
	}
	if (!wanted(&e))
		return;
	fill_storm_key(&e);
	v = storm_count(&e, &show);
	if (!v || !show)
		return;
	exact_time(&e);
	if (sk) {
		read_sk_facts(&e, sk);
		if (!owner_read)
			read_sk_owner(&e, sk, typed);
	}
	read_task(&e);
	if (window_allows(&stack_budget, cfg.stacks_per_window, e.mono_ns)) {
		long sid = bpf_get_stackid(ctx, &stacks, 0);

		if (sid >= 0) {
			e.stack_id = sid;
		} else {
			e.flags |= TCPWHY_F_STACK_LOST;
			count(TCPWHY_CNT_STACK_LOST);
		}
	} else {
		e.flags |= TCPWHY_F_STACK_SKIPPED;
		count(TCPWHY_CNT_STACK_SKIPPED);
	}
	if (output(&e))
		__sync_fetch_and_add(&v->shown, 1);
	else
		__sync_fetch_and_add(&v->lost, 1);
}

/* ---- sent RSTs ---- */

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tp_btf_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	/* The reason argument exists from 6.10 on; reading ctx[2] on an older
	 * kernel would be refused, so the loader says whether it is there. */
	__s32 reason = cfg.send_tp_has_reason ? (__s32)ctx[2] : -1;

	submit(ctx, sk, skb, TCPWHY_DIR_SENT, TCPWHY_HOOK_TP_BTF_SEND_RESET, reason, true, false);
	return 0;
}

/* Older kernels named the record after the shared event class. */
struct trace_event_raw_tcp_event_sk_skb___old {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

SEC("tracepoint/tcp/tcp_send_reset")
int tp_send_reset(void *ctx)
{
	const struct sock *sk;
	const struct sk_buff *skb;
	__s32 reason = -1;

	if (bpf_core_type_exists(struct trace_event_raw_tcp_send_reset)) {
		struct trace_event_raw_tcp_send_reset *r = ctx;

		sk = BPF_CORE_READ(r, skaddr);
		skb = BPF_CORE_READ(r, skbaddr);
		if (bpf_core_field_exists(r->reason))
			reason = BPF_CORE_READ(r, reason);
	} else {
		struct trace_event_raw_tcp_event_sk_skb___old *r = ctx;

		sk = BPF_CORE_READ(r, skaddr);
		skb = BPF_CORE_READ(r, skbaddr);
	}
	submit(ctx, sk, skb, TCPWHY_DIR_SENT, TCPWHY_HOOK_TP_SEND_RESET, reason, false, false);
	return 0;
}

/* Fallbacks for kernels before 6.10 (no reason there, so none is read). */
SEC("fentry/tcp_v4_send_reset")
int BPF_PROG(fentry_v4_send_reset, const struct sock *sk, struct sk_buff *skb)
{
	submit(ctx, sk, skb, TCPWHY_DIR_SENT, TCPWHY_HOOK_FENTRY_V4_SEND_RESET, -1, true, true);
	return 0;
}

SEC("fentry/tcp_v6_send_reset")
int BPF_PROG(fentry_v6_send_reset, const struct sock *sk, struct sk_buff *skb)
{
	submit(ctx, sk, skb, TCPWHY_DIR_SENT, TCPWHY_HOOK_FENTRY_V6_SEND_RESET, -1, true, true);
	return 0;
}

SEC("fentry/tcp_send_active_reset")
int BPF_PROG(fentry_active_reset, struct sock *sk)
{
	submit(ctx, sk, NULL, TCPWHY_DIR_SENT, TCPWHY_HOOK_FENTRY_ACTIVE_RESET, -1, true, false);
	return 0;
}

SEC("kprobe/tcp_v4_send_reset")
int BPF_KPROBE(kprobe_v4_send_reset, const struct sock *sk, struct sk_buff *skb)
{
	submit(ctx, sk, skb, TCPWHY_DIR_SENT, TCPWHY_HOOK_KPROBE_V4_SEND_RESET, -1, false, true);
	return 0;
}

SEC("kprobe/tcp_v6_send_reset")
int BPF_KPROBE(kprobe_v6_send_reset, const struct sock *sk, struct sk_buff *skb)
{
	submit(ctx, sk, skb, TCPWHY_DIR_SENT, TCPWHY_HOOK_KPROBE_V6_SEND_RESET, -1, false, true);
	return 0;
}

SEC("kprobe/tcp_send_active_reset")
int BPF_KPROBE(kprobe_active_reset, struct sock *sk)
{
	submit(ctx, sk, NULL, TCPWHY_DIR_SENT, TCPWHY_HOOK_KPROBE_ACTIVE_RESET, -1, false, false);
	return 0;
}

/* ---- received RSTs ---- */

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tp_btf_receive_reset, struct sock *sk)
{
	submit(ctx, sk, NULL, TCPWHY_DIR_RECEIVED, TCPWHY_HOOK_TP_BTF_RECEIVE_RESET, -1, true, false);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tp_receive_reset(struct trace_event_raw_tcp_event_sk *ctx)
{
	submit(ctx, BPF_CORE_READ(ctx, skaddr), NULL, TCPWHY_DIR_RECEIVED, TCPWHY_HOOK_TP_RECEIVE_RESET, -1, false,
	       false);
	return 0;
}

/* ---- socket owners ---- */

/*
 * Files a socket's owner. An entry already there (the same socket at its
 * close, or a socket whose memory a closed one used: the slab hands it out
 * again at once under churn) is written in place: an LRU map's update takes
 * a fresh node from the shared free list even for a key it holds, and those
 * pops were a third of what a state change cost at 40,000 connections a
 * second (live-load shape a). A reader on another CPU may see one owner's
 * pid with the other's name for the instant of the copy.
 */
static __always_inline void set_owner(__u64 key, const struct tcpwhy_owner *o)
{
	struct tcpwhy_owner *cur = bpf_map_lookup_elem(&owners, &key);

	if (cur)
		__builtin_memcpy(cur, o, sizeof(*o));
	else
		bpf_map_update_elem(&owners, &key, o, BPF_ANY);
}

static __always_inline void remember_owner(const struct sock *sk, int oldstate, int newstate, bool typed)
{
	struct tcpwhy_owner o = {};
	__u64 key = (__u64)sk;

	/* These transitions run in the owner's own system call: connect(),
	 * listen(), and close() or shutdown() of an open connection. */
	if ((oldstate == TCP_CLOSE && (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN)) ||
	    (oldstate == TCP_ESTABLISHED && newstate == TCP_FIN_WAIT1) ||
	    (oldstate == TCP_CLOSE_WAIT && newstate == TCP_LAST_ACK)) {
		o.cookie = cookie_of(sk, typed);
		o.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(o.comm, sizeof(o.comm));
		set_owner(key, &o);
		if (newstate == TCP_LISTEN) {
			struct tcpwhy_listen_key lk = {
				.netns = sk_netns(sk),
				.port = BPF_CORE_READ(sk, __sk_common.skc_num),
			};
			bpf_map_update_elem(&listeners, &lk, &o, BPF_ANY);
		}
		return;
	}
	/* A child socket born from a listener belongs to the listener's
	 * process until that process shows otherwise. */
	if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV) {
		struct tcpwhy_listen_key lk = {
			.netns = sk_netns(sk),
			.port = BPF_CORE_READ(sk, __sk_common.skc_num),
		};
		struct tcpwhy_owner *lo = bpf_map_lookup_elem(&listeners, &lk);

		if (lo) {
			__builtin_memcpy(&o, lo, sizeof(o));
			/* no cookie yet: the clone still holds its listener's
			 * (6.1 gives the child its own only after this state
			 * change), so the entry matches by address alone */
			o.cookie = 0;
			set_owner(key, &o);
		} else {
			/* listener older than the watcher: forget whatever socket
			 * used this memory before */
			bpf_map_delete_elem(&owners, &key);
		}
	}
}

/* A listener opened or closed, as an event (no stack: the history needs the when and who). */
static __always_inline void report_listener(const struct sock *sk, int oldstate, int newstate, __u8 hook, bool typed)
{
	struct tcpwhy_event e = {};

	init_event(&e, TCPWHY_EV_STATE, hook, -1);
	read_sk_id(&e, sk);
	read_sk_facts(&e, sk);
	/* read_sk_id saw the state before the change (the tracepoint fires first) */
	e.state = newstate;
	e.old_state = oldstate;
	e.family = e.sk_family;
	read_sk_owner(&e, sk, typed);
	if (!wanted(&e))
		return;
	exact_time(&e);
	read_task(&e);
	output(&e);
}

/*
 * The state changes the rules read, into the connection's record: a handshake
 * completing (SYN_RECV -> ESTABLISHED), the application closing (FIN_WAIT1,
 * LAST_ACK), and the end (CLOSE, TIME_WAIT). The others cost nothing more
 * than this test.
 */
static __always_inline void record_change(const struct sock *sk, int oldstate, int newstate)
{
	struct tcpwhy_conn_key k = {};
	struct tcpwhy_conn_change *ch;
	struct tcpwhy_conn *c;
	__u32 n;

	if (newstate != TCP_CLOSE && newstate != TCP_FIN_WAIT1 && newstate != TCP_LAST_ACK &&
	    newstate != TCP_TIME_WAIT && !(newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV))
		return;
	/* a listener closing is a listener's change; a socket that never
	 * connected has no connection */
	if (oldstate == TCP_LISTEN || oldstate == TCP_CLOSE)
		return;
	k.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (!k.rport)
		return;
	/* inet_sport, not skc_num: a socket moving to CLOSE has given its
	 * port back already (as in read_sk_tuple()) */
	k.lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	k.netns = sk_netns(sk);
	if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6) {
		BPF_CORE_READ_INTO(&k.laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&k.raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		k.laddr[10] = k.laddr[11] = k.raddr[10] = k.raddr[11] = 0xff;
		BPF_CORE_READ_INTO((__u32 *)&k.laddr[12], sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)&k.raddr[12], sk, __sk_common.skc_daddr);
	}
	c = bpf_map_lookup_elem(&conns, &k);
	if (!c) {
		bpf_map_update_elem(&conns, &k, &conn_zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&conns, &k);
		if (!c)
			return;
	}
	if (!c->owner_pid) {
		__u64 key = (__u64)sk;
		struct tcpwhy_owner *o = bpf_map_lookup_elem(&owners, &key);

		if (o) {
			c->owner_pid = o->pid;
			__builtin_memcpy(c->owner_comm, o->comm, sizeof(c->owner_comm));
		}
	}
	/* changes of one connection are serialized by its socket lock; a race
	 * between its two sockets of a namespace-local connection can only
	 * overwrite one record */
	n = c->changes;
	c->changes = n + 1;
	ch = &c->change[n & (TCPWHY_CONN_CHANGES - 1)];
	ch->mono_ns = exact_now();
	ch->pid = bpf_get_current_pid_tgid() >> 32;
	ch->old_state = oldstate;
	ch->new_state = newstate;
	bpf_get_current_comm(ch->comm, sizeof(ch->comm));
}

/* The filters that a socket alone decides, before anything else is read: a
 * state change of a socket nobody watches costs nothing more. (The pid filter
 * needs the owners learned for every socket.) */
static __always_inline bool sk_may_matter(const struct sock *sk)
{
	if (cfg.filter_family && BPF_CORE_READ(sk, __sk_common.skc_family) != cfg.filter_family)
		return false;
	if (cfg.filter_netns && !netns_match(sk_netns(sk)))
		return false;
	if (cfg.filter_ports && !port_match(bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport))) &&
	    !port_match(bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport))))
		return false;
	return true;
}

static __always_inline void on_state(const struct sock *sk, int oldstate, int newstate, __u8 hook, bool typed)
{
	if (!sk_may_matter(sk))
		return;
	remember_owner(sk, oldstate, newstate, typed);
	if (newstate == TCP_LISTEN || (oldstate == TCP_LISTEN && newstate == TCP_CLOSE))
		report_listener(sk, oldstate, newstate, hook, typed);
	else
		record_change(sk, oldstate, newstate);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_btf_set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	on_state(sk, oldstate, newstate, TCPWHY_HOOK_TP_BTF_SET_STATE, true);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tp_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	/* each record field read once: the verifier refuses loads through a
	 * ctx pointer the compiler has moved */
	const struct sock *sk = ctx->skaddr;
	int oldstate = ctx->oldstate, newstate = ctx->newstate;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	on_state(sk, oldstate, newstate, TCPWHY_HOOK_TP_SET_STATE, false);
	return 0;
}

/* ==== loss: drops, retransmissions, errors the application saw ==== */

/* One scratch event per kind of loss event and CPU: the drop path needs the
 * packet bytes on the stack beside it. A program of one kind cannot nest in
 * itself on a CPU (the kernel skips a tracing program's recursive run). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct tcpwhy_event);
} scratch SEC(".maps");

static __always_inline struct tcpwhy_event *loss_event(__u8 type, __u8 hook, __s32 reason)
{
	__u32 slot = type - TCPWHY_EV_DROP;
	struct tcpwhy_event *e = bpf_map_lookup_elem(&scratch, &slot);

	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	init_event(e, type, hook, reason);
	return e;
}

/* Counts the event under its storm key and, if it is to be shown, adds the
 * task (and a stack for drops: where the kernel let go of the segment) and
 * sends it. */
static __always_inline void loss_submit(void *ctx, struct tcpwhy_event *e, const struct sock *sk, bool typed,
					bool stack)
{
	struct tcpwhy_storm_val *v;
	bool show;

	if (!e->family)
		e->family = e->sk_family;
	if (sk && cfg.filter_pids)
		read_sk_owner(e, sk, typed);
	if (!wanted(e))
		return;
	fill_storm_key(e);
	v = storm_count(e, &show);
	if (!v || !show)
		return;
	exact_time(e);
	if (sk) {
		read_sk_facts(e, sk);
		if (!cfg.filter_pids)
			read_sk_owner(e, sk, typed);
	}
	read_task(e);
	if (stack && window_allows(&stack_budget, cfg.stacks_per_window, e->mono_ns)) {
		long sid = bpf_get_stackid(ctx, &stacks, 0);

		if (sid >= 0)
			e->stack_id = sid;
		else
			e->flags |= TCPWHY_F_STACK_LOST;
	} else if (stack) {
		e->flags |= TCPWHY_F_STACK_SKIPPED;
	}
	if (output(e))
		__sync_fetch_and_add(&v->shown, 1);
	else
		__sync_fetch_and_add(&v->lost, 1);
}

/* The TCP header's first 14 bytes (ports, sequence numbers, flags) into the
 * event; `ip_payload` is the IP payload length, `doff_ok` whether the data
 * offset byte was read. */
static __always_inline void take_tcp(struct tcpwhy_event *e, const __u8 *tcp, __u32 ip_payload, bool full)
{
	e->flags |= TCPWHY_F_HAS_PKT;
	e->pkt_lport = ((__u16)tcp[0] << 8) | tcp[1];
	e->pkt_rport = ((__u16)tcp[2] << 8) | tcp[3];
	e->seg_seq = ((__u32)tcp[4] << 24) | ((__u32)tcp[5] << 16) | ((__u32)tcp[6] << 8) | tcp[7];
	if (full) {
		__u32 doff = (tcp[12] >> 4) * 4;

		e->seg_ack = ((__u32)tcp[8] << 24) | ((__u32)tcp[9] << 16) | ((__u32)tcp[10] << 8) | tcp[11];
		e->seg_flags = tcp[13];
		e->seg_len = ip_payload > doff ? ip_payload - doff : 0;
	}
}

/* Swaps the packet's sides: pkt_l* were filled as the segment's source. */
static __always_inline void sender_is_remote(struct tcpwhy_event *e)
{
	__u8 a[TCPWHY_ADDR_LEN];
	__u16 p = e->pkt_lport;

	__builtin_memcpy(a, e->pkt_laddr, TCPWHY_ADDR_LEN);
	__builtin_memcpy(e->pkt_laddr, e->pkt_raddr, TCPWHY_ADDR_LEN);
	__builtin_memcpy(e->pkt_raddr, a, TCPWHY_ADDR_LEN);
	e->pkt_lport = e->pkt_rport;
	e->pkt_rport = p;
}

#define TCPWHY_ETH_P_IP 0x0800
#define TCPWHY_ETH_P_IPV6 0x86DD
#define TCPWHY_PROTO_ICMP 1
#define TCPWHY_PROTO_ICMPV6 58

/*
 * Reads a dropped packet: a TCP segment, or an ICMP error quoting one (IPv4
 * without options in the quoted header, IPv6 without extension headers).
 * Fills pkt_* with the segment's source as the local side; false when the
 * packet is neither.
 */
static __always_inline bool read_dropped(struct tcpwhy_event *e, const __u8 *p, const unsigned char *head, __u16 nh,
					 __u16 proto)
{
	__u32 ip_len, hl;

	if ((p[0] >> 4) == 4 && proto == bpf_htons(TCPWHY_ETH_P_IP)) {
		hl = (p[0] & 0xf) * 4;
		ip_len = ((__u32)p[2] << 8) | p[3];
		e->family = AF_INET;
		if (p[9] == IPPROTO_TCP) {
			__u8 tcp[14];

			__builtin_memcpy(e->pkt_laddr, &p[12], 4);
			__builtin_memcpy(e->pkt_raddr, &p[16], 4);
			if (hl == 20)
				__builtin_memcpy(tcp, &p[20], sizeof(tcp));
			else if (hl < 20 || bpf_probe_read_kernel(tcp, sizeof(tcp), head + nh + (hl & 0x3f)))
				return false;
			take_tcp(e, tcp, ip_len > hl ? ip_len - hl : 0, true);
			return true;
		}
		/* ICMP destination unreachable or time exceeded, quoting a TCP
		 * segment's IPv4 header (without options) and 8 bytes of it */
		if (p[9] == TCPWHY_PROTO_ICMP && hl == 20 && (p[20] == 3 || p[20] == 11) && (p[28] >> 4) == 4 &&
		    (p[28] & 0xf) == 5 && p[37] == IPPROTO_TCP) {
			e->flags |= TCPWHY_F_ICMP;
			e->icmp_type = p[20];
			e->icmp_code = p[21];
			if (p[20] == 3 && p[21] == 4)
				e->icmp_mtu = ((__u16)p[26] << 8) | p[27];
			__builtin_memcpy(e->icmp_from, &p[12], 4);
			__builtin_memcpy(e->pkt_laddr, &p[40], 4);
			__builtin_memcpy(e->pkt_raddr, &p[44], 4);
			take_tcp(e, &p[48], 0, false);
			return true;
		}
		return false;
	}
	if ((p[0] >> 4) == 6 && proto == bpf_htons(TCPWHY_ETH_P_IPV6)) {
		ip_len = (((__u32)p[4] << 8) | p[5]);
		e->family = AF_INET6;
		if (p[6] == IPPROTO_TCP) {
			__builtin_memcpy(e->pkt_laddr, &p[8], 16);
			__builtin_memcpy(e->pkt_raddr, &p[24], 16);
			take_tcp(e, &p[40], ip_len, true);
			return true;
		}
		/* ICMPv6 destination unreachable, packet too big, time exceeded */
		if (p[6] == TCPWHY_PROTO_ICMPV6 && p[40] >= 1 && p[40] <= 3 && (p[48] >> 4) == 6 &&
		    p[54] == IPPROTO_TCP) {
			e->flags |= TCPWHY_F_ICMP;
			e->icmp_type = p[40];
			e->icmp_code = p[41];
			if (p[40] == 2)
				e->icmp_mtu = ((__u32)p[46] << 8) | p[47];
			__builtin_memcpy(e->icmp_from, &p[8], 16);
			__builtin_memcpy(e->pkt_laddr, &p[56], 16);
			__builtin_memcpy(e->pkt_raddr, &p[72], 16);
			take_tcp(e, &p[88], 0, false);
			return true;
		}
	}
	return false;
}

/* Drops that another event already tells: an RST received (tcp_receive_reset
 * reports it) and a segment to no socket that was answered with an RST
 * (tcp_send_reset reports it). And consumed packets, which are no drops. */
static __always_inline bool drop_told_elsewhere(__u32 reason, const struct tcpwhy_event *e, bool rx_sk)
{
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_TCP_RESET) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_RESET))
		return true;
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_CONSUMED) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_CONSUMED))
		return true;
	/* the reply is not sent to an RST, nor outside TCP itself (ICMP); and
	 * not for a socket the kernel names (a listener whose syncookie ACK
	 * finds its accept queue full) */
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET) && !rx_sk &&
	    !(e->flags & TCPWHY_F_ICMP) && !(e->seg_flags & TCPWHY_TH_RST))
		return true;
	return false;
}

/* Routine frees that are no loss: a closing socket purging what it still
 * queued (the peer's FIN of every closed connection: a storm on a busy web
 * server; QUEUE_PURGE and SOCKET_CLOSE on new kernels, no reason on 6.1),
 * and segments a TIME_WAIT socket handled (answered or ignored, then freed
 * without a reason). Data the application never read is told by the RST its
 * close sends. */
static __always_inline bool routine_free(__s32 reason, __u8 sk_state)
{
	bool unnamed =
		reason < 0 || (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED) &&
			       reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED));

	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_QUEUE_PURGE) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_QUEUE_PURGE))
		return true;
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_CLOSE) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_CLOSE))
		return true;
	return unnamed && (sk_state == TCP_CLOSE || sk_state == TCP_TIME_WAIT);
}

/* Whether a dropped bare ACK is the peer's probe into this socket's zero
 * receive window (tcp_xmit_probe_skb() sends snd_una - 1, which the
 * receiver drops as old). */
static __always_inline bool window_probe(const struct tcpwhy_event *e, const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u32 rcv_nxt;

	if (e->seg_len || e->seg_flags != TCPWHY_TH_ACK || e->state != TCP_ESTABLISHED)
		return false;
	rcv_nxt = BPF_CORE_READ(tp, rcv_nxt);
	return e->seg_seq == rcv_nxt - 1 && BPF_CORE_READ(tp, rcv_wup) + BPF_CORE_READ(tp, rcv_wnd) == rcv_nxt;
}

static __always_inline void on_drop(void *ctx, const struct sk_buff *skb, __u64 location, __s32 reason,
				    const struct sock *rx_sk, __u8 hook, bool typed)
{
	/* outer IPv6 40 + ICMPv6 8 + quoted IPv6 40 + 8 bytes of TCP */
	__u8 p[96];
	const struct sock *sk = rx_sk;
	struct tcpwhy_event *e;
	unsigned char *head;
	__u16 nh, proto;
	__u32 iif;

	/* most freed packets are not TCP: they cost these reads only */
	if (typed) {
		head = skb->head;
		nh = skb->network_header;
		proto = skb->protocol;
	} else {
		head = BPF_CORE_READ(skb, head);
		nh = BPF_CORE_READ(skb, network_header);
		proto = BPF_CORE_READ(skb, protocol);
	}
	/* 0xffff: no network header set yet (a frame dropped below IP) */
	if (nh == 0xffff || (proto != bpf_htons(TCPWHY_ETH_P_IP) && proto != bpf_htons(TCPWHY_ETH_P_IPV6)))
		return;
	if (bpf_probe_read_kernel(p, sizeof(p), head + nh))
		return;
	if (!((p[0] >> 4 == 4 && (p[9] == IPPROTO_TCP || p[9] == TCPWHY_PROTO_ICMP)) ||
	      (p[0] >> 4 == 6 && (p[6] == IPPROTO_TCP || p[6] == TCPWHY_PROTO_ICMPV6))))
		return;
	/* an RST flood's segments to no socket end here too: told by their
	 * RSTs, they must cost no more than this test (the usual header sizes) */
	if (!rx_sk && bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET) &&
	    ((p[0] == 0x45 && p[9] == IPPROTO_TCP && !(p[33] & TCPWHY_TH_RST)) ||
	     (p[0] >> 4 == 6 && p[6] == IPPROTO_TCP && !(p[53] & TCPWHY_TH_RST))))
		return;
	e = loss_event(TCPWHY_EV_DROP, hook, reason);
	if (!e || !read_dropped(e, p, head, nh, proto))
		return;
	if (drop_told_elsewhere(reason, e, rx_sk != NULL))
		return;
	e->location = location;
	iif = typed ? skb->skb_iif : BPF_CORE_READ(skb, skb_iif);
	if (iif) {
		/* arrived: its destination is this side */
		e->direction = TCPWHY_DIR_RECEIVED;
		if (!(e->flags & TCPWHY_F_ICMP))
			sender_is_remote(e);
	} else {
		e->direction = TCPWHY_DIR_SENT;
	}
	/* the socket the kernel names (6.11+), else the skb's own: its sender's,
	 * or the one early demux or the receive queue tied it to */
	if (!sk) {
		sk = typed ? skb->sk : BPF_CORE_READ(skb, sk);
		if (sk && (BPF_CORE_READ(sk, __sk_common.skc_family) != AF_INET &&
			   BPF_CORE_READ(sk, __sk_common.skc_family) != AF_INET6))
			sk = NULL;
		/* (request and TIME_WAIT socks have no sk_protocol: their state says TCP) */
		else if (sk && full_sock(BPF_CORE_READ(sk, __sk_common.skc_state)) &&
			 BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
			sk = NULL;
	}
	if (sk) {
		read_sk_id(e, sk);
		if (routine_free(reason, e->state))
			return;
		if (window_probe(e, sk))
			e->flags |= TCPWHY_F_WINDOW_PROBE;
	}
	/* the device's namespace; TCP's drops happen after the device was
	 * cleared, then the route's device tells */
	if (!e->netns)
		e->netns = typed ? skb->dev->nd_net.net->ns.inum : BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	if (!e->netns) {
		unsigned long refdst = typed ? skb->_skb_refdst : BPF_CORE_READ(skb, _skb_refdst);
		const struct dst_entry *dst = (const struct dst_entry *)(refdst & ~1UL);

		if (dst)
			e->netns = BPF_CORE_READ(dst, dev, nd_net.net, ns.inum);
	}
	/* neither skb->sk (RCU) nor rx_sk (an argument read as a number) is a
	 * pointer the cookie helper takes: the socket is read untyped */
	loss_submit(ctx, e, sk, false, true);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(tp_btf_kfree_skb, struct sk_buff *skb, void *location)
{
	/* the reason from 5.17, the receiving socket from 6.11: the loader
	 * says which arguments the kernel passes */
	__s32 reason = cfg.drop_tp_params >= 4 ? (__s32)ctx[2] : -1;
	const struct sock *rx_sk = cfg.drop_tp_params >= 5 ? (const struct sock *)ctx[3] : NULL;

	on_drop(ctx, skb, (__u64)location, reason, rx_sk, TCPWHY_HOOK_TP_BTF_KFREE_SKB, true);
	return 0;
}

SEC("tracepoint/skb/kfree_skb")
int tp_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	const struct sk_buff *skb = BPF_CORE_READ(ctx, skbaddr);
	__u64 location = (__u64)BPF_CORE_READ(ctx, location);
	const struct sock *rx_sk = NULL;
	__s32 reason = -1;

	if (bpf_core_field_exists(ctx->reason))
		reason = BPF_CORE_READ(ctx, reason);
	if (bpf_core_field_exists(ctx->rx_sk))
		rx_sk = BPF_CORE_READ(ctx, rx_sk);
	on_drop(ctx, skb, location, reason, rx_sk, TCPWHY_HOOK_TP_KFREE_SKB, false);
	return 0;
}

/* The connection's retransmission facts (a full socket). */
static __always_inline void read_retrans(struct tcpwhy_event *e, const struct sock *sk)
{
	const struct inet_connection_sock *icsk = (const struct inet_connection_sock *)sk;
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	e->flags |= TCPWHY_F_HAS_TCP;
	e->retransmits = BPF_CORE_READ(icsk, icsk_retransmits);
	e->total_retrans = BPF_CORE_READ(tp, total_retrans);
	e->rto_jiffies = BPF_CORE_READ(icsk, icsk_rto);
	e->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
}

/* Why a full socket sends a segment again. */
static __always_inline __s32 retrans_kind(const struct sock *sk, __u8 state)
{
	const struct inet_connection_sock *icsk = (const struct inet_connection_sock *)sk;
	__u8 ca;

	if (state == TCP_SYN_SENT)
		return TCPWHY_RETRANS_SYN;
	if (state == TCP_SYN_RECV)
		return TCPWHY_RETRANS_SYNACK;
	ca = BPF_CORE_READ_BITFIELD_PROBED(icsk, icsk_ca_state);
	if (ca == TCP_CA_Loss)
		return TCPWHY_RETRANS_RTO;
	if (ca == TCP_CA_Recovery)
		return TCPWHY_RETRANS_FAST;
	return TCPWHY_RETRANS_PROBE;
}

static __always_inline void on_retransmit(void *ctx, const struct sock *sk, const struct sk_buff *skb, __u8 hook,
					  bool typed)
{
	struct tcpwhy_event *e = loss_event(TCPWHY_EV_RETRANS, hook, 0);
	const struct tcp_skb_cb *cb;
	__u32 seq, end_seq;

	if (!e || !sk)
		return;
	read_sk_id(e, sk);
	e->reason = retrans_kind(sk, e->state);
	read_retrans(e, sk);
	/* the segment, from the control block TCP keeps in the skb */
	cb = (const struct tcp_skb_cb *)((unsigned long)skb + bpf_core_field_offset(struct sk_buff, cb));
	seq = BPF_CORE_READ(cb, seq);
	end_seq = BPF_CORE_READ(cb, end_seq);
	e->flags |= TCPWHY_F_HAS_PKT;
	e->family = e->sk_family;
	__builtin_memcpy(e->pkt_laddr, e->sk_laddr, TCPWHY_ADDR_LEN);
	__builtin_memcpy(e->pkt_raddr, e->sk_raddr, TCPWHY_ADDR_LEN);
	e->pkt_lport = e->sk_lport;
	e->pkt_rport = e->sk_rport;
	e->seg_seq = seq;
	/* tcp_flags grew from u8 to u16 (6.8): the low byte holds the flags */
	e->seg_flags = BPF_CORE_READ(cb, tcp_flags) & 0xff;
	e->seg_len =
		end_seq - seq - ((e->seg_flags & TCPWHY_TH_SYN) ? 1 : 0) - ((e->seg_flags & TCPWHY_TH_FIN) ? 1 : 0);
	loss_submit(ctx, e, sk, typed, false);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tp_btf_retransmit_skb, const struct sock *sk, const struct sk_buff *skb)
{
	on_retransmit(ctx, sk, skb, TCPWHY_HOOK_TP_BTF_RETRANSMIT_SKB, true);
	return 0;
}

/* The record starts with the two pointers on every kernel. */
struct tcpwhy_tp_two_ptrs {
	__u64 common;
	const void *a;
	const void *b;
};

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tp_retransmit_skb(struct tcpwhy_tp_two_ptrs *ctx)
{
	const struct sk_buff *skb = ctx->a;
	const struct sock *sk = ctx->b;

	on_retransmit(ctx, sk, skb, TCPWHY_HOOK_TP_RETRANSMIT_SKB, false);
	return 0;
}

/* A listener sends a SYN-ACK again: the handshake's last ACK did not come,
 * or came and was dropped (an accept queue full with tcp_abort_on_overflow=0). */
static __always_inline void on_retransmit_synack(void *ctx, const struct sock *listener, const struct request_sock *req,
						 __u8 hook, bool typed)
{
	struct tcpwhy_event *e = loss_event(TCPWHY_EV_RETRANS, hook, TCPWHY_RETRANS_SYNACK);

	if (!e || !req)
		return;
	read_sk_id(e, (const struct sock *)req);
	e->flags |= TCPWHY_F_HAS_TCP | TCPWHY_F_HAS_PKT;
	e->retransmits = BPF_CORE_READ(req, num_retrans);
	e->family = e->sk_family;
	__builtin_memcpy(e->pkt_laddr, e->sk_laddr, TCPWHY_ADDR_LEN);
	__builtin_memcpy(e->pkt_raddr, e->sk_raddr, TCPWHY_ADDR_LEN);
	e->pkt_lport = e->sk_lport;
	e->pkt_rport = e->sk_rport;
	e->seg_flags = TCPWHY_TH_SYN | TCPWHY_TH_ACK;
	/* the listener's accept queue, for the diagnosis of an overflow */
	if (listener) {
		e->ack_backlog = BPF_CORE_READ(listener, sk_ack_backlog);
		e->max_ack_backlog = BPF_CORE_READ(listener, sk_max_ack_backlog);
		e->flags |= TCPWHY_F_FULL_SK;
	}
	/* the request is no full socket: its owner is the listener's */
	loss_submit(ctx, e, listener, typed, false);
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tp_btf_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	on_retransmit_synack(ctx, sk, req, TCPWHY_HOOK_TP_BTF_RETRANSMIT_SYNACK, true);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_synack")
int tp_retransmit_synack(struct tcpwhy_tp_two_ptrs *ctx)
{
	const struct sock *sk = ctx->a;
	const struct request_sock *req = ctx->b;

	on_retransmit_synack(ctx, sk, req, TCPWHY_HOOK_TP_RETRANSMIT_SYNACK, false);
	return 0;
}

SEC("tp_btf/inet_sk_error_report")
int BPF_PROG(tp_btf_sk_error, const struct sock *sk)
{
	struct tcpwhy_event *e;

	int err = BPF_CORE_READ(sk, sk_err);

	/* tcp_disconnect() reports too, with no error: nothing happened */
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || !err)
		return 0;
	e = loss_event(TCPWHY_EV_ERROR, TCPWHY_HOOK_TP_BTF_SK_ERROR, err);
	if (!e)
		return 0;
	read_sk_id(e, sk);
	if (full_sock(e->state))
		read_retrans(e, sk);
	loss_submit(ctx, e, sk, true, false);
	return 0;
}

/* The record has no socket pointer: the tuple and the error only. Its fields
 * are read through CO-RE (probe reads): the verifier refuses loads through a
 * ctx pointer the compiler has moved, as copying the addresses would. */
SEC("tracepoint/sock/inet_sk_error_report")
int tp_sk_error(struct trace_event_raw_inet_sk_error_report *ctx)
{
	int err = BPF_CORE_READ(ctx, error);
	__u16 family = BPF_CORE_READ(ctx, family);
	struct tcpwhy_event *e;

	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP || !err)
		return 0;
	e = loss_event(TCPWHY_EV_ERROR, TCPWHY_HOOK_TP_SK_ERROR, err);
	if (!e)
		return 0;
	e->family = e->sk_family = family;
	e->sk_lport = BPF_CORE_READ(ctx, sport);
	e->sk_rport = BPF_CORE_READ(ctx, dport);
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->sk_laddr, ctx, saddr_v6);
		BPF_CORE_READ_INTO(&e->sk_raddr, ctx, daddr_v6);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->sk_laddr, ctx, saddr);
		BPF_CORE_READ_INTO((__u32 *)e->sk_raddr, ctx, daddr);
	}
	e->flags |= TCPWHY_F_HAS_SK;
	/* the reporting task's namespace: a timeout or an ICMP error may be
	 * handled in softirq context, then this namespace is a guess */
	{
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();

		e->netns = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
	}
	loss_submit(ctx, e, NULL, false, false);
	return 0;
}
