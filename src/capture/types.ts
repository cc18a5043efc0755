// The shapes the capture reader hands out. Objects are reused from frame to
// frame (2 M frames/s leave no room for an allocation each): a consumer copies
// what it keeps.

/** One captured frame, as stored in the file. */
export interface Frame {
  /** 1-based position in the file, as tshark's frame.number */
  index: number;
  /** capture time: whole seconds since the epoch, and nanoseconds within the second */
  sec: number;
  nsec: number;
  /** pcapng interface id (0 for pcap) */
  iface: number;
  /** LINKTYPE_* of the frame's interface */
  linktype: number;
  /** bytes stored, and the frame's length on the wire */
  caplen: number;
  origlen: number;
  /** the stored bytes are buf[off, off + caplen) */
  buf: Buffer;
  off: number;
  /** byte offset of the frame's record in the (decompressed) stream */
  fileOffset: number;
}

/** A capture that cannot be read further: where, and why. */
export class CaptureError extends Error {
  constructor(
    message: string,
    /** byte offset in the (decompressed) stream where reading stopped */
    readonly offset: number,
  ) {
    super(`${message} (at byte offset ${offset})`);
    this.name = 'CaptureError';
  }
}

export interface CaptureInterface {
  linktype: number;
  snaplen: number;
  name: string | null;
  /** timestamp units per second (1e6 for µs, 1e9 for ns) */
  tsPerSec: number;
}

export interface ReadSummary {
  format: 'pcap' | 'pcapng';
  gzip: boolean;
  /** 'little' | 'big' of the (first) section */
  byteOrder: 'little' | 'big';
  /** the first LISTED_INTERFACES interfaces declared (reader.ts) */
  interfaces: CaptureInterface[];
  /** interfaces declared beyond those listed (absent: none) */
  interfacesUnlisted?: number;
  frames: number;
  /** bytes consumed from the (decompressed) stream */
  bytes: number;
  /** set when the capture is cut short or corrupt; everything before it was delivered */
  error: CaptureError | null;
}

/** What the decoder makes of a frame that carries TCP. Reused: copy what you keep. */
export interface TcpSegment {
  family: 4 | 6;
  /**
   * Addresses as compact keys: IPv4 is 2 chars (16-bit halves), IPv6 8 chars
   * (16-bit groups), so a connection key is a short string concatenation.
   * addrText() in net/addr.ts turns a key into the usual text.
   */
  srcKey: string;
  dstKey: string;
  /** IPv4 addresses as unsigned 32-bit numbers (0 for IPv6): keys without building strings */
  src4: number;
  dst4: number;
  /**
   * IPv6 addresses as four big-endian 32-bit words each, as int32s (a the
   * first); left as they were for IPv4: keys without building strings
   */
  src6a: number;
  src6b: number;
  src6c: number;
  src6d: number;
  dst6a: number;
  dst6b: number;
  dst6c: number;
  dst6d: number;
  sport: number;
  dport: number;
  /** IPv4 TTL or IPv6 hop limit */
  ttl: number;
  /** IPv4 identification (-1 for IPv6) */
  ipId: number;
  /** IPv4 DF bit */
  df: boolean;
  /** IPv4 header options length in bytes, IPv6 extension header bytes */
  ipExtra: number;
  seq: number;
  ack: number;
  /** TCP flag byte: FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80 */
  flags: number;
  /** raw window field (unscaled) */
  win: number;
  /** TCP payload length from the IP lengths (not the captured bytes) */
  len: number;
  /** payload bytes present in the capture: buf[payloadOff, payloadOff + captured) */
  payloadOff: number;
  captured: number;
  /** TCP options: -1 where absent */
  mss: number;
  wscale: number;
  sackPermitted: boolean;
  tsVal: number;
  tsEcr: number;
  hasTs: boolean;
  /** number of SACK blocks in the options */
  sackBlocks: number;
  /** raw TCP option bytes length (header length - 20) */
  optLen: number;
  /** the header's three reserved bits (byte 12, mask 0x0e): no stack sets them */
  reserved: number;
  /**
   * The kinds of the TCP options in order, one hex digit each (kinds above 14
   * read as 15, at most 12), with a leading 1: the order tells stacks apart
   * (a Linux SYN 0x124813, a Windows one 0x1213114). 0 when there are no options, and on
   * segments without SYN (only a SYN's order is read).
   */
  optOrder: number;
  /** MPTCP MP_TCPRST (RFC 8684 3.6): reason | flags << 8; -1 when absent */
  mptcpRst: number;
}

/**
 * An ICMP destination unreachable (or ICMPv6 packet too big) that quotes a TCP
 * segment: what the decoder makes of it. Reused: copy what you keep.
 */
export interface IcmpQuote {
  /** the last frame decoded was such an error (everything below is valid only then) */
  found: boolean;
  family: 4 | 6;
  /** ICMP (type 3) or ICMPv6 (1, or 2: packet too big) type and code */
  type: number;
  code: number;
  /** next-hop MTU of "fragmentation needed" or "packet too big"; 0 otherwise or when the router left it out */
  mtu: number;
  /** the ICMP's sender (a router, or the destination host), as an address key */
  fromKey: string;
  /** the quoted segment: its IPv4 addresses as numbers (0 for IPv6), IPv6 ones as words (TcpSegment.src6a), address keys, ports, seq */
  src4: number;
  dst4: number;
  src6a: number;
  src6b: number;
  src6c: number;
  src6d: number;
  dst6a: number;
  dst6b: number;
  dst6c: number;
  dst6d: number;
  srcKey: string;
  dstKey: string;
  sport: number;
  dport: number;
  seq: number;
  /** its TCP flags, -1 when the quote stops before them */
  flags: number;
  /** its IP length (header and payload) as the quote states it */
  quotedLen: number;
}

/**
 * Why a frame gave no TCP segment (counted, never silent). 'encapsulation': a
 * tunnel or encapsulation whose inside is not decoded (which one: skipNote in encap.ts).
 */
export type SkipReason = 'not-ip' | 'not-tcp' | 'fragment' | 'truncated' | 'bad-header' | 'unknown-linktype' | 'encapsulation';
