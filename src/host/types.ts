// Host context: what the diagnosis reads about the namespace of an event.
export interface ListenerInfo {
  laddr: string;
  lport: number;
  /** accept queue now (ss Recv-Q) */
  queue: number;
  /** ss Send-Q: the backlog limit */
  backlog: number;
  processes: Array<{ pid: number; comm: string }>;
}
export type NatAction = 'redirect' | 'dnat' | 'snat' | 'masquerade' | 'reject' | 'drop';
export interface NatRule {
  source: 'iptables' | 'ip6tables' | 'nftables';
  family: 'ipv4' | 'ipv6' | 'inet';
  table: string;
  chain: string;
  action: NatAction;
  proto?: string;
  dport?: [number, number];
  daddr?: string;
  toAddr?: string;
  toPort?: [number, number];
  rejectWith?: string;
  text: string;
}
export interface HostSnapshot {
  netns: number;
  takenAtMs: number;
  listeners: ListenerInfo[];
  sysctls: Record<string, string>;
  counters: Record<string, number>;
  rules: NatRule[];
  conntrack: { count: number | null; max: number | null; stats: Record<string, number> } | null;
  errors: string[];
}
export interface ConntrackEntry {
  proto: 'tcp';
  state: string;
  orig: { src: string; dst: string; sport: number; dport: number };
  reply: { src: string; dst: string; sport: number; dport: number };
  text: string;
}
