/* SPDX-License-Identifier: MIT */
/*
 * The one definition of what tcpwhy's kernel side hands to user space.
 *
 * TypeScript copies nothing of it by hand: scripts/gen-contract.mjs reads the
 * BTF of the compiled BPF object and writes src/events/generated/contract.ts
 * (struct layouts, every tcpwhy_* enum, the hooks' sections). Constants that
 * user space needs are therefore enum values, not #defines: only types reach
 * BTF. Keep struct members to plain fixed-size integers and byte arrays so
 * that the generated decoder can read every one of them.
 */
#ifndef TCPWHY_H
#define TCPWHY_H

/* Sizes and limits shared with user space. */
enum tcpwhy_limit {
	TCPWHY_COMM_LEN = 16,
	TCPWHY_ADDR_LEN = 16,
	/* Deep enough for every RST path seen on 6.x (about 30 frames from the
	 * syscall or softirq entry); deeper stacks are cut at the bottom. */
	TCPWHY_STACK_DEPTH = 48,
	/* Filter sets up to this size are compared inline (struct tcpwhy_config). */
	TCPWHY_INLINE_FILTER = 8,
	/* Entries of each filter map: the most values a filter option takes. */
	TCPWHY_MAX_FILTER = 64,
	/* The window of the stack rate limit (cfg.stacks_per_window) and of
	 * the full-event budget (cfg.full_per_window). */
	TCPWHY_STACK_WINDOW_NS = 100000000,
	/* Bytes of struct tcpwhy_storm_key (copied into each event). */
	TCPWHY_STORM_KEY_LEN = 36,
	/* 64-bit words of a storm key's sketch of remote endpoints (512 bits). */
	TCPWHY_PEER_WORDS = 8,
	/* Storm keys per interval (the storm tables' size). */
	TCPWHY_STORM_KEYS = 8192,
	/* State changes remembered per connection (a power of two). */
	TCPWHY_CONN_CHANGES = 8,
};

/* What an event reports. */
enum tcpwhy_event_type {
	TCPWHY_EV_RESET = 1, /* an RST sent or received */
	/* A listener opened or closed (the history of listening ports). Other
	 * state changes stay in the kernel (the conns map). */
	TCPWHY_EV_STATE = 2,
	/* A TCP segment the kernel dropped (skb:kfree_skb), or an ICMP error
	 * about a TCP flow that it dropped. `reason` is enum skb_drop_reason. */
	TCPWHY_EV_DROP = 3,
	/* A segment sent again (tcp_retransmit_skb, tcp_retransmit_synack);
	 * `reason` is enum tcpwhy_retrans. */
	TCPWHY_EV_RETRANS = 4,
	/* A socket reported an error to its application
	 * (inet_sk_error_report); `reason` is the errno. */
	TCPWHY_EV_ERROR = 5,
};

/* Why a segment was sent again (the `reason` of a retransmission). */
enum tcpwhy_retrans {
	TCPWHY_RETRANS_RTO = 1,    /* the retransmission timer fired (loss state) */
	TCPWHY_RETRANS_FAST = 2,   /* duplicate ACKs or SACK (recovery state) */
	TCPWHY_RETRANS_PROBE = 3,  /* neither: a tail loss probe or another resend */
	TCPWHY_RETRANS_SYN = 4,    /* a connect()'s SYN */
	TCPWHY_RETRANS_SYNACK = 5, /* a listener's SYN-ACK */
};

/* Which way the RST went, seen from this host (0 for state changes). For a
 * drop: SENT when the segment was made in this namespace (skb_iif 0),
 * RECEIVED when it came in from a device. */
enum tcpwhy_direction {
	TCPWHY_DIR_SENT = 1,
	TCPWHY_DIR_RECEIVED = 2,
};

/* Active: the host aborts one of its own sockets (no triggering segment).
 * Passive: the stack answers a segment it could not accept. */
enum tcpwhy_kind {
	TCPWHY_KIND_NONE = 0, /* received RSTs */
	TCPWHY_KIND_ACTIVE = 1,
	TCPWHY_KIND_PASSIVE = 2,
};

/* The kernel hook that produced the event (several per kind of event, picked
 * by feature probing at start). Each is named after the BPF program that
 * reports it (TCPWHY_HOOK_<PROGRAM NAME>): the generator finds the program's
 * section, which is what user space shows (tp_btf/tcp_send_reset ...). */
enum tcpwhy_hook {
	TCPWHY_HOOK_TP_BTF_SEND_RESET = 1,
	TCPWHY_HOOK_TP_SEND_RESET = 2,
	TCPWHY_HOOK_TP_BTF_RECEIVE_RESET = 3,
	TCPWHY_HOOK_TP_RECEIVE_RESET = 4,
	TCPWHY_HOOK_FENTRY_V4_SEND_RESET = 5,
	TCPWHY_HOOK_FENTRY_V6_SEND_RESET = 6,
	TCPWHY_HOOK_FENTRY_ACTIVE_RESET = 7,
	TCPWHY_HOOK_KPROBE_V4_SEND_RESET = 8,
	TCPWHY_HOOK_KPROBE_V6_SEND_RESET = 9,
	TCPWHY_HOOK_KPROBE_ACTIVE_RESET = 10,
	TCPWHY_HOOK_TP_BTF_SET_STATE = 11,
	TCPWHY_HOOK_TP_SET_STATE = 12,
	TCPWHY_HOOK_TP_BTF_KFREE_SKB = 13,
	TCPWHY_HOOK_TP_KFREE_SKB = 14,
	TCPWHY_HOOK_TP_BTF_RETRANSMIT_SKB = 15,
	TCPWHY_HOOK_TP_RETRANSMIT_SKB = 16,
	TCPWHY_HOOK_TP_BTF_RETRANSMIT_SYNACK = 17,
	TCPWHY_HOOK_TP_RETRANSMIT_SYNACK = 18,
	TCPWHY_HOOK_TP_BTF_SK_ERROR = 19,
	TCPWHY_HOOK_TP_SK_ERROR = 20,
};

/* Bits of tcpwhy_event.flags. */
enum tcpwhy_flag {
	TCPWHY_F_HAS_PKT = 1 << 0,       /* pkt_* and seg_* come from a segment */
	TCPWHY_F_HAS_SK = 1 << 1,        /* sk_* and state come from a socket */
	TCPWHY_F_FULL_SK = 1 << 2,       /* a full socket: queue and linger facts valid */
	TCPWHY_F_HAS_REASON = 1 << 3,    /* the kernel passed a reset reason */
	TCPWHY_F_HAS_OWNER = 1 << 4,     /* owner_* names the socket's process */
	TCPWHY_F_LINGER = 1 << 5,        /* SO_LINGER is on */
	TCPWHY_F_STACK_LOST = 1 << 6,    /* the stack could not be stored */
	TCPWHY_F_STACK_SKIPPED = 1 << 7, /* over the stack rate limit: not walked */
	/* drops: the packet is an ICMP error; pkt_* and seg_* are of the TCP
	 * segment it quotes (pkt_l* its sender), icmp_* of the error */
	TCPWHY_F_ICMP = 1 << 8,
	TCPWHY_F_HAS_TCP = 1 << 9, /* retransmits, total_retrans, rto and srtt are valid */
	/* drops: a bare ACK one below rcv_nxt into a zero receive window: the
	 * peer's zero-window probe (the kernel drops each, as old) */
	TCPWHY_F_WINDOW_PROBE = 1 << 10,
};

/* TCP states as the kernel numbers them (a stable ABI: /proc/net/tcp and
 * sock_diag show the same numbers); tcpwhy.bpf.c asserts they equal the
 * kernel's. 0 is no socket. */
enum tcpwhy_tcp_state {
	TCPWHY_NO_STATE = 0,
	TCPWHY_TCP_ESTABLISHED = 1,
	TCPWHY_TCP_SYN_SENT = 2,
	TCPWHY_TCP_SYN_RECV = 3,
	TCPWHY_TCP_FIN_WAIT1 = 4,
	TCPWHY_TCP_FIN_WAIT2 = 5,
	TCPWHY_TCP_TIME_WAIT = 6,
	TCPWHY_TCP_CLOSE = 7,
	TCPWHY_TCP_CLOSE_WAIT = 8,
	TCPWHY_TCP_LAST_ACK = 9,
	TCPWHY_TCP_LISTEN = 10,
	TCPWHY_TCP_CLOSING = 11,
	TCPWHY_TCP_NEW_SYN_RECV = 12,
	TCPWHY_TCP_BOUND_INACTIVE = 13,
};

/* Indexes of the per-CPU counters map. */
enum tcpwhy_counter {
	TCPWHY_CNT_RINGBUF_FULL = 0,  /* events dropped: ring buffer full */
	TCPWHY_CNT_STACK_LOST = 1,    /* events sent without their stack */
	TCPWHY_CNT_STACK_SKIPPED = 2, /* stacks not walked: over the rate limit */
	/* RSTs counted outside any storm key: the key table of the interval
	 * was full (a scan of many ports). Counted, never shown. */
	TCPWHY_CNT_UNKEYED_SENT = 3,
	TCPWHY_CNT_UNKEYED_RECEIVED = 4,
	/* RSTs counted under their key but not shown: over the global budget */
	TCPWHY_CNT_OVER_BUDGET = 5,
	/* drops, retransmissions and errors counted outside any storm key */
	TCPWHY_CNT_UNKEYED_LOSS = 6,
	TCPWHY_CNT_MAX = 7,
};

/*
 * What a storm is counted under: everything a verdict depends on except the
 * remote endpoint, so that a flood from random sources stays one key. Each
 * RST event carries its key (tcpwhy_event.storm_key), which is how user space
 * pairs the events shown in full with the counts.
 */
struct tcpwhy_storm_key {
	__u32 netns;
	__s32 reason;                /* -1: none */
	__u8 laddr[TCPWHY_ADDR_LEN]; /* the local address (the packet's, else the socket's) */
	/* The service's port: the local one, unless the RST involves a socket
	 * whose remote port is the lower (a client's connection: its own
	 * ephemeral port would make a key per connection); then the remote one. */
	__u16 port;
	__u8 family;
	__u8 remote_port; /* 1: `port` is the remote endpoint's */
	__u8 direction;
	__u8 kind;
	__u8 state;
	/* FIN, SYN, RST and ACK of the segment the RST answers (or that was
	 * dropped or sent again); PSH stands for "it carried payload" (whatever
	 * its own PSH bit said). */
	__u8 seg_flags;
	__u8 type; /* enum tcpwhy_event_type */
	__u8 pad[3];
};

/* The counts of one storm key over one interval (user space swaps the table). */
struct tcpwhy_storm_val {
	__u64 count; /* RSTs under this key */
	__u64 shown; /* sent to user space in full */
	__u64 lost;  /* to be shown, but the ring buffer was full */
	__u64 first_ns;
	__u64 last_ns;
	/* Bitmap of hashed remote endpoints: how many distinct peers, estimated
	 * by linear counting in user space. */
	__u64 peers[TCPWHY_PEER_WORDS];
	__u8 raddr[TCPWHY_ADDR_LEN]; /* the first remote endpoint */
	__u16 rport;
	__u16 pad0;
	__u32 pad1;
};

/* Keys of the conns map: a connection in a namespace, IPv4 as ::ffff:a.b.c.d. */
struct tcpwhy_conn_key {
	__u32 netns;
	__u16 lport;
	__u16 rport;
	__u8 laddr[TCPWHY_ADDR_LEN];
	__u8 raddr[TCPWHY_ADDR_LEN];
};

/* One state change of a connection, and the task that was running. */
struct tcpwhy_conn_change {
	__u64 mono_ns;
	__u32 pid;
	__u8 old_state;
	__u8 new_state;
	__u16 pad0;
	char comm[TCPWHY_COMM_LEN];
};

/* What the kernel remembers of a connection for the diagnosis: its last
 * state changes that the rules read (see record_change()), and its owner. */
struct tcpwhy_conn {
	__u32 changes; /* recorded so far; the newest is change[(changes - 1) % N] */
	__u32 owner_pid;
	char owner_comm[TCPWHY_COMM_LEN];
	struct tcpwhy_conn_change change[TCPWHY_CONN_CHANGES];
};

struct tcpwhy_event {
	__u64 mono_ns;                        /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 sock_cookie;                    /* 0 when there is no socket */
	__u64 cgroup_id;                      /* the socket's cgroup, else the current task's */
	__u64 location;                       /* drops: the kernel address that dropped it */
	__u8 storm_key[TCPWHY_STORM_KEY_LEN]; /* struct tcpwhy_storm_key (RSTs only) */
	__u32 netns;                          /* network namespace inode */
	__u32 pid;                            /* current task (tgid): for softirq work, whoever ran */
	__u32 tid;
	__u32 owner_pid; /* process owning the socket, if known */
	__s32 reason;    /* enum sk_rst_reason value; -1: kernel has none */
	__s32 stack_id;  /* key into the stacks map; -1: none */
	__u32 seg_seq;   /* triggering segment (passive RSTs) */
	__u32 seg_ack;
	__u32 seg_len;     /* its TCP payload length */
	__u32 rcv_unread;  /* bytes received and not yet read by the app */
	__u32 snd_unacked; /* bytes sent and not yet acked (snd_nxt - snd_una) */
	__u32 snd_unsent;  /* bytes written and not yet sent (write_seq - snd_nxt) */
	__u32 linger_jiffies;
	__u32 ack_backlog; /* accept queue length (listeners) */
	__u32 max_ack_backlog;
	/* retransmissions and errors: the connection's counts and timers */
	__u32 retransmits;   /* consecutive, unanswered (icsk_retransmits; a request's num_retrans) */
	__u32 total_retrans; /* all of the connection's */
	__u32 rto_jiffies;
	__u32 srtt_us;
	__u16 icmp_mtu; /* drops of ICMP errors: the next-hop MTU ("fragmentation needed", "packet too big") */
	__u8 icmp_type;
	__u8 icmp_code;
	__u16 hz;        /* CONFIG_HZ, to turn linger_jiffies into seconds */
	__u16 family;    /* of the segment if there is one, else of the socket */
	__u16 sk_family; /* of the socket: AF_INET6 for an IPv4-mapped one */
	__u16 pkt_lport; /* from the segment: our side (its destination) */
	__u16 pkt_rport;
	__u16 sk_lport; /* from the socket */
	__u16 sk_rport;
	__u16 flags;                     /* TCPWHY_F_* */
	__u8 direction;                  /* enum tcpwhy_direction */
	__u8 kind;                       /* enum tcpwhy_kind */
	__u8 state;                      /* TCP state of the socket, TCPWHY_NO_STATE if none */
	__u8 seg_flags;                  /* TCP flags byte of the triggering segment */
	__u8 hook;                       /* enum tcpwhy_hook */
	__u8 type;                       /* enum tcpwhy_event_type */
	__u8 old_state;                  /* state changes: the state before (`state` is the new one) */
	__u8 icmp_from[TCPWHY_ADDR_LEN]; /* drops of ICMP errors: who sent the error */
	__u8 pkt_laddr[TCPWHY_ADDR_LEN]; /* IPv4 in the first 4 bytes */
	__u8 pkt_raddr[TCPWHY_ADDR_LEN];
	__u8 sk_laddr[TCPWHY_ADDR_LEN];
	__u8 sk_raddr[TCPWHY_ADDR_LEN];
	char comm[TCPWHY_COMM_LEN];
	char owner_comm[TCPWHY_COMM_LEN];
};

/* Set by the loader before the object is loaded (read-only to BPF, so the
 * verifier drops the branches a configuration does not use). */
struct tcpwhy_config {
	__u8 send_tp_has_reason; /* tp_btf tcp_send_reset passes a reason */
	__u8 filter_family;      /* 0 = both, else AF_INET / AF_INET6 */
	__u8 filter_ports;       /* the filter maps below are in use */
	__u8 filter_addrs;
	__u8 filter_pids;
	__u8 filter_netns;
	/* Kernel stack walks per CPU per TCPWHY_STACK_WINDOW_NS (0: no
	 * limit). Walking a stack costs microseconds, more than everything
	 * else together; under an RST flood the limit keeps the kernel's own
	 * work from slowing down. */
	__u32 stacks_per_window;
	/* Wake the reader when this much data waits in the ring buffer (0: the
	 * kernel's default, a wakeup whenever the reader has caught up); the
	 * reader also polls on a short timer. */
	__u32 wakeup_bytes;
	/* RSTs shown in full per storm key per interval (the rest are counted
	 * under the key); 0: no limit. */
	__u32 full_per_key;
	/* RSTs shown in full per CPU per TCPWHY_STACK_WINDOW_NS, over all keys
	 * (a scan of many ports); 0: no limit. */
	__u32 full_per_window;
	/* Parameters of tp_btf/kfree_skb, ctx included: 4 with the reason
	 * (5.17+), 5 with the receiving socket (6.11+). */
	__u32 drop_tp_params;
	/* Small filter sets are compared here, inline: a hash map lookup per
	 * event costs about 2 % of the kernel's RST rate in a flood. Larger
	 * sets use the filter maps (*_n == 0 with the filter on). */
	__u32 netns_n;
	__u32 netns[TCPWHY_INLINE_FILTER];
	__u32 pids_n;
	__u32 pids[TCPWHY_INLINE_FILTER];
	__u32 ports_n;
	__u16 ports[TCPWHY_INLINE_FILTER];
};

/* Per-CPU state of a rate limit (stack walks, full events). */
struct tcpwhy_stack_budget {
	__u64 window_start_ns;
	__u32 used;
	__u32 pad0;
};

/* What the owners map remembers of a socket's process. */
struct tcpwhy_owner {
	/* The socket's cookie when the owner was learned: socket memory is
	 * reused, and an entry is only believed for the same cookie (or for
	 * any, when the socket had none yet: see read_owner()). */
	__u64 cookie;
	__u32 pid;
	char comm[TCPWHY_COMM_LEN];
};

/* Keys of the listeners map: a listening port in a namespace. */
struct tcpwhy_listen_key {
	__u32 netns;
	__u16 port;
	__u16 pad0;
};

/* Keys of the address filter: IPv4 as ::ffff:a.b.c.d. */
struct tcpwhy_addr_key {
	__u8 addr[TCPWHY_ADDR_LEN];
};

#endif /* TCPWHY_H */
