// The members of `watch --json`'s storm records and summary (src/live/storm.ts
// makes them), described once: the JSON Schemas (src/schemas/watch.ts) and
// docs/events.md are made from these tables, and the kernel tests check every
// line `watch --json` prints against the schemas.
export const STORM_SCHEMA: Array<{ path: string; type: string; doc: string }> = [
  {
    path: 'type',
    type: '"storm"',
    doc: 'This record type: the events (RSTs, or drops, retransmissions, errors) of one storm key over one interval, when not all of them were shown in full.',
  },
  { path: 'event', type: '"reset" | "drop" | "retransmit" | "error"', doc: 'What was counted: RSTs, or one kind of loss event.' },
  {
    path: 'time',
    type: 'string',
    doc: 'Wall-clock time of the last event of the key in the interval (ISO 8601, UTC, nanoseconds), to within a kernel tick (1 to 10 ms): counted events read the tick clock, not the exact one.',
  },
  { path: 'interval_s', type: 'number', doc: 'Length of the interval in seconds (about 1).' },
  { path: 'netns', type: 'number', doc: 'Network namespace inode.' },
  {
    path: 'direction',
    type: '"sent" | "received" | "in" | "out" | null',
    doc: 'RSTs: whether this host sent or received them. Drops: in (arrived) or out (made here). null for retransmissions and errors.',
  },
  {
    path: 'kind',
    type: '"active" | "passive" | null',
    doc: 'As in the events: active (the host aborted) or passive (it answered a segment); null for received RSTs.',
  },
  {
    path: 'reason',
    type: 'string | null',
    doc: "RSTs: the kernel's reset reason, null when it gave none. Loss events: as their `reason` (drop reason, kind of retransmission, errno).",
  },
  { path: 'state', type: 'string | null', doc: 'TCP state of the socket involved, null when there was no socket.' },
  { path: 'family', type: '"ipv4" | "ipv6"', doc: 'Address family.' },
  { path: 'local', type: 'object', doc: 'The local endpoint: the key has no remote endpoint, so a flood from random sources stays one record.' },
  { path: 'local.addr', type: 'string', doc: 'Local address.' },
  {
    path: 'local.port',
    type: 'number | null',
    doc: "Local port; null when the service's port is the remote one (remote_port): RSTs on a client's connections, whose own ports differ.",
  },
  {
    path: 'remote_port',
    type: 'number | null',
    doc: "The service's port when it is the remote one: of an event involving a socket, the lower of its two ports is taken as the service's; of a dropped segment without a socket, a SYN's destination, a SYN-ACK's or an RST's source (so the RSTs a closed port sends a flood are one key at the flooder too), else the lower port.",
  },
  {
    path: 'segment',
    type: 'string | null',
    doc: 'FIN, SYN, RST and ACK flags of the segments answered; PSH means they carried payload. Null without a segment.',
  },
  { path: 'count', type: 'number', doc: 'RSTs of this key in the interval, shown in full or not: exact (counted in the kernel).' },
  { path: 'rate_per_s', type: 'number', doc: 'count / interval_s, rounded.' },
  { path: 'shown', type: 'number', doc: 'Of them, sent in full as events (the first ones of the key in the interval, up to --full-per-key).' },
  { path: 'lost', type: 'number', doc: 'Of them, meant to be shown but refused by the full ring buffer (counted, not shown).' },
  { path: 'peers', type: 'number', doc: 'Distinct connections (remote endpoint and local port), estimated (linear counting over 512 bits).' },
  { path: 'peers_saturated', type: 'boolean', doc: 'More than the estimate can tell: peers is a lower bound.' },
  { path: 'example_peer', type: 'object', doc: 'The first remote endpoint of the interval.' },
  { path: 'example_peer.addr', type: 'string', doc: 'Its address.' },
  { path: 'example_peer.port', type: 'number', doc: 'Its port.' },
  {
    path: 'cause',
    type: 'object | null',
    doc: "The verdict of the newest RST of this key shown in full (the same object as an event's cause); null when none was shown.",
  },
];

export const SUMMARY_SCHEMA: Array<{ path: string; type: string; doc: string }> = [
  { path: 'type', type: '"summary"', doc: 'This record type: the last line of `watch --json`, what every RST of the session came to.' },
  { path: 'rsts', type: 'object', doc: 'RSTs the kernel counted while tcpwhy watched (with its filters), shown in full or not.' },
  { path: 'rsts.sent', type: 'number', doc: "Sent by this host; in a namespace of its own, equal to the kernel's Tcp OutRsts." },
  { path: 'rsts.received', type: 'number', doc: 'Received by this host.' },
  { path: 'shown', type: 'number', doc: 'Sent to user space in full (each one an event line, unless lost later).' },
  { path: 'counted_only', type: 'number', doc: 'Counted under their key and reported in storm records, not shown one by one.' },
  { path: 'lost', type: 'number', doc: 'Meant to be shown, but the ring buffer was full: still counted.' },
  { path: 'unkeyed', type: 'number', doc: 'Counted without their key: the kernel table of one interval was full (more than 8192 keys in one second).' },
  { path: 'by_netns', type: 'object', doc: 'sent and received per network namespace inode ("other" beyond 4096 namespaces).' },
  { path: 'loss', type: 'object', doc: 'Drops, retransmissions and errors the kernel counted (present when any of them was watched).' },
  { path: 'loss.drops', type: 'number', doc: 'Dropped TCP segments (and ICMP errors about TCP flows), shown or not.' },
  { path: 'loss.retransmits', type: 'number', doc: 'Segments sent again.' },
  { path: 'loss.errors', type: 'number', doc: 'Errors sockets reported to their applications.' },
  { path: 'loss.shown', type: 'number', doc: 'Of all three, sent to user space in full.' },
  { path: 'loss.counted_only', type: 'number', doc: 'Counted under their key and reported in storm records only.' },
  { path: 'loss.lost', type: 'number', doc: 'Meant to be shown, but the ring buffer was full.' },
  { path: 'loss.unkeyed', type: 'number', doc: 'Counted without their key (the key table was full).' },
  {
    path: 'output_dropped',
    type: 'number',
    doc: 'Output lines dropped before this one because the reader of the output was behind (live output never waits for it); 0 when every line went out. Lines abandoned after this one, at exit, are told on stderr.',
  },
];
