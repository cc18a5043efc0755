// Host context of a network namespace: what the diagnosis engine needs besides
// the event itself (listeners and their queues, sysctls, counters, NAT and
// reject rules, conntrack). Read off the event path, in the event's namespace.

export interface ListenerInfo {
  /**
   * Local address as ss prints it, without brackets: '0.0.0.0' (any IPv4), '::' (any IPv6,
   * IPV6_V6ONLY), '*' (any IPv4 or IPv6: a dual-stack socket on ::), '::ffff:127.0.0.1'
   * (IPv4-mapped), '127.0.0.1', '2001:db8::2'.
   */
  laddr: string;
  lport: number;
  /** Accept queue now: connections completed and not yet accepted (ss Recv-Q). */
  queue: number;
  /** Accept queue limit: min(listen() backlog, net.core.somaxconn) (ss Send-Q). */
  backlog: number;
  /** Every process holding the socket (forked children share it). comm is raw, untrusted text. */
  processes: Array<{ pid: number; comm: string }>;
  /** The device the socket is bound to (SO_BINDTODEVICE), from 'addr%dev'. */
  dev?: string;
}

export type NatAction = 'redirect' | 'dnat' | 'snat' | 'masquerade' | 'reject' | 'drop';

export interface NatRule {
  source: 'iptables' | 'ip6tables' | 'nftables';
  family: 'ipv4' | 'ipv6' | 'inet';
  table: string;
  chain: string;
  action: NatAction;
  /**
   * 'tcp' when the rule matches tcp, 'icmp' when it matches ICMP or ICMPv6 (drop and reject rules
   * only: they may eat the errors about TCP flows); undefined: any protocol. Rules for other
   * protocols only are left out.
   */
  proto?: string;
  /**
   * Matched destination port range (single port: [p, p]); undefined = any. A rule matching
   * a set or list of ports (nft `{ 80, 443 }`, iptables multiport) appears once per element,
   * each with the same text.
   */
  dport?: [number, number];
  /** Matched destination (address or CIDR), if any. */
  daddr?: string;
  /** Matched source (address or CIDR), if any. */
  saddr?: string;
  /** Translation target (redirect/dnat/snat). Redirect has only toPort. */
  toAddr?: string;
  toPort?: [number, number];
  /** 'tcp-reset' for REJECT --reject-with tcp-reset and nft `reject with tcp reset`; else the ICMP type. */
  rejectWith?: string;
  /** Conntrack states matched (-m conntrack --ctstate / -m state / nft `ct state`), lower case. */
  ctState?: string[];
  /**
   * Conditions of the rule that the fields above do not express (a negated port, an
   * interface, a mark, an iptables-nft target whose parameters nft cannot show ...): the
   * rule matches less, or differently, than the fields alone say.
   */
  extraMatches?: string[];
  /** iptables rules read with iptables-legacy-save (x_tables, not nf_tables). */
  legacy?: true;
  /** The rule as the tool printed it (iptables-save line, or nft's own listing without '# handle'). */
  text: string;
}

export interface ConntrackInfo {
  /** net.netfilter.nf_conntrack_count of the namespace (null when unreadable). */
  count: number | null;
  /** net.netfilter.nf_conntrack_max (read-only outside the root namespace; null when unreadable). */
  max: number | null;
  /** `conntrack -S` summed over CPUs: found, invalid, insert, insert_failed, drop, early_drop, error, search_restart, clash_resolve, chaintoolong */
  stats: Record<string, number>;
  /** Why conntrack is considered active: 'entries: 3', 'nat chains', 'ct state match in ip filter INPUT', ... */
  usedBy: string[];
}

export interface HostSnapshot {
  /** Namespace inode. */
  netns: number;
  /** Date.now() when taken. */
  takenAtMs: number;
  /** TCP listeners (ss -Htlnp). */
  listeners: ListenerInfo[];
  /**
   * Keys like 'net.ipv4.tcp_abort_on_overflow'; absent when unreadable (and then in errors).
   * net.ipv4.tcp_max_orphans and net.ipv4.tcp_mem exist only in the root namespace (they are
   * global): they are read from this process's own /proc/sys, whatever namespace the
   * snapshot is of (see GLOBAL_SYSCTLS).
   */
  sysctls: Record<string, string>;
  /** Every counter of /proc/net/netstat and /proc/net/snmp of the namespace: 'TcpExt.ListenOverflows', 'Tcp.OutRsts', ... */
  counters: Record<string, number>;
  /**
   * NAT rules, REJECT rules and DROP rules (that can match TCP) of iptables, ip6tables and
   * nftables: iptables-save, iptables-legacy-save, ip6tables-save, ip6tables-legacy-save,
   * then the nft tables that iptables-save did not show; each in listing order.
   */
  rules: NatRule[];
  /** null: conntrack is not active in this namespace (module absent, or no entries, no statistics and no rule using it). */
  conntrack: ConntrackInfo | null;
  /** What could not be read and why (missing tool, no such netns ...) — never silently empty. */
  errors: string[];
  /**
   * Set when this snapshot stands in for a newer one that could not be had in
   * time (src/host/context.ts): why. Its age at an event is the event's time
   * minus takenAtMs; takenAtMs is 0 when nothing was read at all (then every
   * source is in errors as not read).
   */
  stale?: string;
}
