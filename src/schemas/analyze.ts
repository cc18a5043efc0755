// The JSON Schema of `tcpwhy analyze --json` lines: a `reset` line per RST
// (one `storm` line for a storm of alike RSTs), a `loss` line per loss cause
// named on a flow, a `connection` line per
// connection with a reset, loss or a failed handshake, and a `summary` line at
// the end. It follows ResetReport, LossReport, ConnReport and the summary of
// src/cli/analyze.ts; test/unit/schemas.test.ts validates real
// output of analyze against it.
import { STORM_GAP_SECONDS, STORM_MIN } from '../capture/storms.js';
import { DRAFT, arrayOf, bool, int, nullable, num, object, oneOfStrings, str, type JsonSchema } from './json-schema.js';

const CONFIDENCE = ['high', 'medium', 'low'];
const FAMILY = oneOfStrings(['ipv4', 'ipv6'], 'Address family.');
const SKIP_REASONS = ['not-ip', 'not-tcp', 'fragment', 'truncated', 'bad-header', 'unknown-linktype', 'encapsulation'];

const lossCounts = (description: string): JsonSchema =>
  object(
    {
      retransmissions: int(),
      fast_retransmissions: int(),
      spurious_retransmissions: int(),
      out_of_order: int(),
      dup_acks: int(),
      zero_windows: int(),
      syn_retransmits: int(),
    },
    description,
  );

const perSide = (s: JsonSchema, description: string): JsonSchema => object({ client: s, server: s }, description);

const ladderRow = object({
  frame: int('Frame number in the capture (1 is the first).'),
  t: num("Seconds since the capture's first frame."),
  from: str('Who sent it: client or server (a or b when the capture missed the handshake).'),
  flags: str('TCP flags.'),
  seq: int(),
  ack: int(),
  len: int('TCP payload bytes.'),
  win: int(),
  notes: arrayOf(str(), 'Loss signs and the like: retransmission, dup-ack, zero-window ...'),
});

const verdict = (what: string): JsonSchema =>
  object(
    {
      id: str('Cause id: its title, description and fix are in the catalogue, `tcpwhy explain --json` (docs/causes.md).'),
      confidence: oneOfStrings(CONFIDENCE),
      summary: str('The verdict in words, for this RST.'),
      evidence: {
        type: 'object',
        description: 'The facts the verdict rests on, by name.',
        additionalProperties: { type: ['string', 'number', 'boolean', 'null'] },
      },
      alternatives: arrayOf(str(), 'Causes the capture cannot tell from this one.'),
    },
    what,
  );

const causeCounts = (what: string): JsonSchema =>
  arrayOf(object({ id: str(), title: str(), count: int(), confidence: object({ high: int(), medium: int(), low: int() }), first_frame: int() }), what);

const resetFields = {
  frame: int('Frame number of the RST.'),
  time: num('Seconds since the epoch (capture clock).'),
  family: FAMILY,
  conn: int('Connection number (the connection lines use it as id).'),
  sender: str('address:port that sent the RST.'),
  receiver: str('address:port it was sent to.'),
  role: nullable(oneOfStrings(['client', 'server'], 'Which side of the connection sent it; null when the capture missed the handshake.')),
  kind: oneOfStrings(['active', 'passive', 'unknown'], 'active: the sender aborted its connection; passive: it answered a segment it could not accept.'),
  kind_why: str('Why the kind was judged so.'),
  flags: str('TCP flags of the RST.'),
  seq: int(),
  ack: int(),
  win: int(),
  ttl: int('IPv4 TTL or IPv6 hop limit.'),
  answers: nullable(object({ frame: int(), flags: str(), seq: int(), ack: int(), len: int() }, 'The segment a passive RST answers; null when none is seen.')),
  cause: verdict('The diagnosis.'),
  proof: arrayOf(int(), 'Frames that show the cause.'),
  payload: nullable(
    object(
      {
        len: int(),
        format: oneOfStrings(['ietf-diagnostic', 'text', 'binary']),
        reason_code: nullable(int()),
        reason_name: nullable(str()),
        pen: nullable(int()),
        text: nullable(str('The description or text, escaped.')),
        hex: nullable(str()),
      },
      'What the RST carried: an IETF diagnostic payload, text or bytes; null without payload.',
    ),
  ),
  ladder: arrayOf(ladderRow, 'With --ladder: the last packets of the connection before the RST.'),
};

const reset = object({ type: { const: 'reset' }, ...resetFields }, 'One RST of the capture (unless it is part of a storm).', ['ladder']);

const byConfidence = object({ high: int(), medium: int(), low: int() });

const { cause: _cause, ...firstFields } = resetFields;

/** The other ends of a finding, counted (src/capture/peers.ts). */
const peerCount = (one: string, many: string, what: string) =>
  object(
    {
      count: int(`Distinct ${one} endpoints (address:port).`),
      exact: bool('false: count is an estimate (linear counting).'),
      saturated: bool(`true: more ${many} than the estimate can tell; count is a lower bound.`),
      sample: arrayOf(str(), `The first few ${many}.`),
    },
    what,
  );

const storm = object(
  {
    type: { const: 'storm' },
    frame: int('Frame number of its first RST.'),
    time: num('Seconds since the epoch of its first RST (capture clock).'),
    last_frame: int('Frame number of its last RST.'),
    last_time: num(),
    family: FAMILY,
    endpoint: str("address:port the RSTs are about: the server's (with no handshake seen, the lower port's)."),
    role: nullable(oneOfStrings(['server'], "The endpoint's role; null when the capture missed the handshakes.")),
    count: int('RSTs in the storm.'),
    sent: int('RSTs the endpoint sent.'),
    received: int('RSTs its peers sent to it.'),
    rate_per_s: nullable(num('RSTs per second from the first to the last; null when all share one time.')),
    kinds: object({ active: int(), passive: int(), unknown: int() }, 'RSTs by kind.'),
    confidence: byConfidence,
    peers: peerCount('peer', 'peers', 'The other ends.'),
    sample_frames: arrayOf(int(), 'Frames of its first few RSTs.'),
    listed: int('Its RSTs that have reset lines of their own (a stream lists the first ones before the storm shows; 0 for a file).'),
    closed: oneOfStrings(['gap', 'end', 'bound'], 'Why the finding closed: a gap with no alike RST, the end of the capture, or too many open at once.'),
    cause: verdict("Its first RST's verdict, which stands for the storm."),
    first: object(firstFields, "Its first RST, as a reset line has it (its cause is the storm's).", ['ladder']),
  },
  `RSTs of one cause about one endpoint, ${STORM_MIN} or more with no gap over ${STORM_GAP_SECONDS} s between them: one finding instead of a reset line each (--all lists each). The RST counts of the summary cover them.`,
);

const loss = object(
  {
    type: { const: 'loss' },
    frame: int("The flow's first frame in the capture (the ICMP error's when the capture has no packet of the flow)."),
    family: FAMILY,
    conn: nullable(int('Connection number (the connection lines use it as id); null when the capture has only an ICMP error about the flow.')),
    endpoint: str('address:port of the side the finding is about: the one whose packets were lost, or whose window was zero.'),
    peer: str('address:port of the other side.'),
    role: nullable(oneOfStrings(['client', 'server'], "The endpoint's role; null when the capture missed the handshake.")),
    cause: verdict('The loss cause (groups drop and outcome of docs/causes.md).'),
    proof: arrayOf(int(), 'Frames that show the cause.'),
  },
  'A loss cause named on one side of a flow (a connect that timed out, a zero window, an ICMP error about the flow, an MTU black hole), when its connection ends.',
);

const unanswered = object(
  {
    type: { const: 'unanswered' },
    frame: int('First frame of its first connection (its first SYN).'),
    time: num('Seconds since the epoch of that SYN (capture clock).'),
    last_frame: int('First frame of its last connection.'),
    last_time: num(),
    family: FAMILY,
    server: str('address:port the SYNs went to.'),
    count: int('Connections in it.'),
    rate_per_s: nullable(num('Connections per second from the first SYN to the last; null when all share one time.')),
    syn_retransmits: int('SYNs sent again within them (loss signs of their connections).'),
    clients: peerCount('client', 'clients', 'The clients.'),
    sample_frames: arrayOf(int(), 'First frames of its first few connections.'),
    closed: oneOfStrings(['gap', 'end', 'bound'], 'Why the finding closed: a gap with no such connection, the end of the capture, or too many open at once.'),
  },
  `Connections whose SYNs nobody answered (only the client's SYNs seen), to one server endpoint, ${STORM_MIN} or more with no gap over ${STORM_GAP_SECONDS} s between their SYNs: one finding instead of a connection line each (--all lists each). The summary's handshakes.unanswered counts them.`,
);

const connection = object(
  {
    type: { const: 'connection' },
    id: int('Connection number.'),
    generation: int("The tuple's connection number: 2 and up when a new SYN reused the ports."),
    family: FAMILY,
    client: str('address:port of the side that sent the SYN (when the capture missed it, the higher port).'),
    server: str('address:port of the other side.'),
    roles_known: bool(),
    first_frame: int(),
    duration_s: num(),
    handshake: str('How the handshake went.'),
    packets: perSide(int(), 'Packets per sender.'),
    bytes: perSide(int(), 'Payload bytes per sender.'),
    resets: int(),
    loss: perSide(lossCounts('Loss signs.'), 'Loss signs per sender.'),
    loss_frames: perSide(arrayOf(int()), 'First frames with a loss sign, per sender: the first 5, or every one with --loss-frames.'),
    loss_frames_omitted: perSide(
      int(),
      'With --loss-frames: frames with a loss sign left out of loss_frames because the bound on listed frames was reached; absent when none.',
    ),
  },
  'A connection with a reset, loss or a failed handshake, when it ends (unless it is one of an unanswered line).',
  ['loss_frames_omitted'],
);

const summary = object(
  {
    type: { const: 'summary' },
    file: str('The capture file as given.'),
    format: oneOfStrings(['pcap', 'pcapng']),
    gzip: bool(),
    byte_order: oneOfStrings(['little', 'big']),
    interfaces: arrayOf(object({ linktype: int(), link: str(), snaplen: int(), name: nullable(str()), ts_per_sec: num() }), 'Capture interfaces.'),
    packets: int(),
    bytes: int(),
    tcp_segments: int(),
    skipped: {
      type: 'object',
      description: 'Frames without a TCP segment, by reason.',
      propertyNames: { enum: SKIP_REASONS },
      additionalProperties: { type: 'integer' },
    },
    skipped_unsupported: {
      type: 'object',
      description:
        'Frames of the reasons encapsulation and unknown-linktype, by what tcpwhy does not decode (e.g. "GRE protocol 0x883e", "link type 147"): TCP may hide there.',
      additionalProperties: { type: 'integer' },
    },
    connections: int(),
    handshakes: object({ completed: int(), refused: int(), unanswered: int(), midstream: int() }),
    resets: int(),
    resets_by_kind: object({ active: int(), passive: int(), unknown: int() }),
    resets_by_cause: causeCounts('RSTs by cause.'),
    storms: nullable(
      object(
        {
          findings: int('Storm lines.'),
          resets: int('RSTs in them.'),
          closed_early: int('Groups of alike RSTs closed early because max_open were open at once (a storm may be split).'),
          min: int('RSTs that make a storm.'),
          gap_s: num('Seconds without an alike RST that end one.'),
          max_open: int(),
        },
        'Storm findings; null with --all.',
      ),
    ),
    unanswered_groups: nullable(
      object(
        {
          findings: int('Unanswered lines.'),
          connections: int('Connections in them.'),
          closed_early: int('Groups closed early because too many were open at once (a finding may be split).'),
        },
        'Findings of unanswered SYNs; null with --all.',
      ),
    ),
    loss: lossCounts('Loss signs of all connections.'),
    lossy_connections: int('Connections with loss signs.'),
    loss_frames_omitted: int(
      "With --loss-frames: frames with a loss sign left out of the connections' loss_frames (the bound was reached); absent without it.",
    ),
    loss_findings: int('Loss causes named (the loss lines).'),
    loss_by_cause: causeCounts("Loss findings by cause; first_frame is the first flow's first frame."),
    first_time: num(),
    last_time: num(),
    complete: bool('false: the capture is cut short or corrupt (exit status 3).'),
    error: nullable(object({ message: str(), offset: int() }, 'Where the capture stops being readable.')),
  },
  'The last line: totals of the capture.',
  ['loss_frames_omitted'],
);

export function analyzeLineSchema(): JsonSchema {
  return {
    $schema: DRAFT,
    title: 'tcpwhy analyze --json: one line',
    description: 'Each line of `tcpwhy analyze --json` is one of these, told apart by `type`.',
    oneOf: [
      { $ref: '#/$defs/reset' },
      { $ref: '#/$defs/storm' },
      { $ref: '#/$defs/loss' },
      { $ref: '#/$defs/unanswered' },
      { $ref: '#/$defs/connection' },
      { $ref: '#/$defs/summary' },
    ],
    $defs: { reset, storm, loss, unanswered, connection, summary },
  };
}
