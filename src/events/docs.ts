// docs/events.md is generated from EVENT_SCHEMA: `make docs` rewrites it and a
// test fails when it is stale, so the JSON documentation cannot drift.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENT_SCHEMA } from './event.js';
import { STORM_SCHEMA, SUMMARY_SCHEMA } from './storm-schema.js';
import { LOSS_SCHEMA } from './loss-event.js';
import { packageRoot } from '../paths.js';

export const eventsDocPath = path.join(packageRoot, 'docs', 'events.md');

const cell = (s: string) => s.replace(/\|/g, '\\|');

const table = (t: ReadonlyArray<{ path: string; type: string; doc: string }>) =>
  t.map((f) => `| \`${f.path}\` | ${cell(f.type)} | ${cell(f.doc)} |`).join('\n');

export function eventsMarkdown(): string {
  const rows = [table(EVENT_SCHEMA)];
  return `# tcpwhy watch --json: event fields

<!-- Generated from EVENT_SCHEMA in src/events/event.ts by \`make docs\`. Do not edit by hand. -->

\`tcpwhy watch --json\` prints one JSON object per line, one line per TCP RST that
this host sent or received. Every object has every field below; a field whose
type includes \`null\` is null when the fact does not apply to that event (the
fields of a null object are then absent). 64-bit integers are decimal strings, so
that no JSON reader rounds them. Text that comes from the traced system
(process names) has control, bidi and other invisible characters escaped as
\`\\xNN\` or \`\\uNNNN\`, and a backslash as \`\\\\\`.

The same fields as a JSON Schema (draft 2020-12), for validators and code
generators: [schemas/watch-event.schema.json](../schemas/watch-event.schema.json).
\`tcpwhy analyze --json\` lines have theirs: [schemas/analyze-line.schema.json](../schemas/analyze-line.schema.json).

| field | type | meaning |
|---|---|---|
${rows.join('\n')}

## Example

A passive RST, recorded on the project's test machine (\`tcpwhy lab closed-port\` under an
unfiltered \`tcpwhy watch --json\`): a SYN to 192.0.2.2:8080, where nothing listens, with its
diagnosis in \`cause\` (docs/causes.md).

\`\`\`json
{"time":"2026-11-25T17:34:08.992774005Z","mono_ns":8394100659061,"direction":"sent","kind":"passive","reason":"NO_SOCKET","reason_code":1,"state":null,"family":"ipv4","packet":{"laddr":"192.0.2.2","lport":8080,"raddr":"192.0.2.1","rport":41768},"socket":null,"segment":{"flags":"SYN","seq":1250648773,"ack":0,"len":0},"process":{"pid":29331,"tid":29331,"comm":"node"},"owner":null,"netns":4026532246,"cgroup_id":"1","sock_cookie":null,"queues":null,"linger":null,"accept_queue":null,"hook":"tp_btf/tcp_send_reset","stack_status":"captured","stack_id":14482,"stack":["tcp_v4_send_reset+0x733","tcp_v4_rcv+0x8ca","ip_protocol_deliver_rcu+0x28","ip_local_deliver_finish+0x81","__netif_receive_skb_one_core+0x8d","process_backlog+0x83","__napi_poll+0x31","net_rx_action+0x16e","handle_softirqs+0xcd","do_softirq.part.0+0x3b","__local_bh_enable_ip+0x64","__neigh_event_send+0xbf","neigh_resolve_output+0x12f","ip_finish_output2+0x192","ip_output+0x5f","__ip_queue_xmit+0x16b","__tcp_transmit_skb+0xa6f","tcp_connect+0xceb","tcp_v4_connect+0x47a","__inet_stream_connect+0x11a","inet_stream_connect+0x38","__sys_connect+0x8f","__x64_sys_connect+0x14","do_syscall_64+0x71","entry_SYSCALL_64_after_hwframe+0x76"],"cause":{"id":"no-listener","title":"nothing listens on the port","confidence":"high","fix":"Start the service, or point the client at the right host and port; check that the service listens on this address (ss -tlnp) and in this network namespace. A client probing ports (scanner, health check on a wrong port) shows many of these.","summary":"nothing listens on 192.0.2.2:8080 in this namespace: the connection was refused (ECONNREFUSED)","evidence":{"port":8080,"listeners_checked":"history and host listeners"}}}
\`\`\`

## Drops, retransmissions and errors

With \`--events\` including drops, retransmits or errors (the default: all), \`watch\`
also shows the segments the kernel dropped (\`skb:kfree_skb\`, with the drop reason named
from the running kernel's BTF; a segment to no socket that the kernel answered with an RST
is shown as that RST, and a received RST as itself), the segments TCP sent again
(\`tcp_retransmit_skb\`, \`tcp_retransmit_synack\`), and the errors sockets reported to
their applications (\`inet_sk_error_report\`: ETIMEDOUT, ECONNREFUSED ...). Each is one
line with \`"type"\` \`"drop"\`, \`"retransmit"\` or \`"error"\` and its verdict from the
same catalogue (docs/causes.md, groups drop and outcome). Events of one connection share a
story: a retransmission after a drop seen on this host carries the drop's cause, and a
timeout names what ate its segments. They are counted in the kernel like RSTs, and storms of
them are printed as storm records. JSON Schema:
[schemas/watch-loss.schema.json](../schemas/watch-loss.schema.json).

| field | type | meaning |
|---|---|---|
${table(LOSS_SCHEMA)}

## Storm records

Under a storm, the kernel counts every RST under its key (namespace, direction, kind,
reason, state, local address and port, the flags of the segment answered: everything
a verdict depends on except the remote endpoint) and sends only the first ones of
each key per second in full (\`--full-per-key\`, default 100). For each key and
second in which some were only counted, \`watch --json\` prints a line with
\`"type": "storm"\` (event lines have no \`type\`); its \`cause\` is the verdict of
the newest RST of the key shown in full. JSON Schema:
[schemas/watch-storm.schema.json](../schemas/watch-storm.schema.json).

| field | type | meaning |
|---|---|---|
${table(STORM_SCHEMA)}

## Summary

The last line of \`watch --json\` has \`"type": "summary"\`: what every RST of the
session came to. JSON Schema: [schemas/watch-summary.schema.json](../schemas/watch-summary.schema.json).

| field | type | meaning |
|---|---|---|
${table(SUMMARY_SCHEMA)}
`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const current = readFileSync(eventsDocPath, 'utf8');
    if (current !== eventsMarkdown()) {
      console.error('docs/events.md is stale: run make docs');
      process.exit(1);
    }
  } else {
    writeFileSync(eventsDocPath, eventsMarkdown());
    console.log(`wrote ${eventsDocPath}`);
  }
}
