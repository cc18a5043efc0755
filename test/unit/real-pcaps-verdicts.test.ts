// Verdicts on real captures from other projects' test suites
// (../shared/real-pcaps, beside the clone; never copied into the repository):
// the resets checked by hand against the packets, and the share of resets no
// rule recognizes, which must not grow back.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { analyzeCapture, type ResetReport } from '../../src/capture/analyze.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const dir = path.resolve(root, '../shared/real-pcaps');

/** Figures reached on the gate files (docs/capture.md, "Verdicts on real captures"): they may only go down. */
const MAX_UNCLASSIFIED = 0;
const MAX_LOW = 6;

function gateFiles(): string[] {
  const manifest = path.join(dir, 'MANIFEST.tsv');
  assert.ok(existsSync(manifest), `${manifest} is missing: the real captures must be in ../shared/real-pcaps beside the clone`);
  const rows = readFileSync(manifest, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'));
  return rows.filter((r) => r[6] === 'gate').map((r) => r[0]!);
}

const cache = new Map<string, Promise<{ resets: ResetReport[]; refused: number }>>();
function verdicts(file: string): Promise<{ resets: ResetReport[]; refused: number }> {
  let p = cache.get(file);
  if (!p) {
    assert.ok(existsSync(path.join(dir, file)), `${path.join(dir, file)} is missing: the real captures must be in ../shared/real-pcaps beside the clone`);
    p = (async () => {
      const resets: ResetReport[] = [];
      const a = await analyzeCapture(path.join(dir, file), { onReset: (r) => resets.push(r) });
      return { resets, refused: a.handshakes.refused };
    })();
    cache.set(file, p);
  }
  return p;
}

async function at(file: string, frame: number): Promise<ResetReport> {
  const r = (await verdicts(file)).resets.find((x) => x.frame === frame);
  assert.ok(r, `${file} #${frame}: no reset`);
  return r;
}

/** [file, frame, cause, confidence, frame the RST answers (undefined: not checked)], each read with tshark */
const HAND_CHECKED: Array<[string, number, string, string, number?]> = [
  // the server's FIN (#17), then the client's close_notify (#20) and FIN (#21): the first RST answers the data
  ['zeek-tls-dhe.pcap', 22, 'data-after-close', 'high', 20],
  ['zeek-tls-dhe.pcap', 23, 'connection-forgotten', 'high'],
  ['zeek-tls-dhe.pcap', 24, 'connection-forgotten', 'high'],
  // reserved bits set, ack = the SYN's seq (not + 1), TTL 46 where the server's packets have 49
  ['zeek-tcp-rst-inject-rae.pcap', 2, 'middlebox-reset', 'high'],
  // TTL 232 (initial 255), window 8201 in a passive RST: not Linux; the client's ACK+FIN has seq = the SYN's
  ['zeek-tcp-fin_retransmission.pcap', 5, 'handshake-ack-rejected', 'medium', 4],
  ['tcpdump-mptcp-tcprst.pcap', 1, 'mptcp-subflow-reset', 'high'],
  ['tcpdump-mptcp-tcprst.pcap', 2, 'mptcp-subflow-reset', 'high'],
  // the client closed (#6, again #8); the server's response (#9) drew the RST, its FIN and ACK the follow-ups
  ['zeek-tcp-qi_internet_SYNACK_curl_jsonip.pcap', 12, 'connection-forgotten', 'high', 11],
  ['zeek-tcp-qi_internet_SYNACK_curl_jsonip.pcap', 14, 'connection-forgotten', 'high', 13],
  // the client's FIN #77, the server's data #78 after it: data-after-close, then follow-ups
  ['zeek-ssh-ssh_version_199.pcap', 79, 'data-after-close', 'high', 78],
  ['zeek-ssh-ssh_version_199.pcap', 81, 'connection-forgotten', 'high', 80],
  ['zeek-ssh-ssh_version_199.pcap', 90, 'connection-forgotten', 'high'],
  ['zeek-tls-irc-starttls.pcap', 20, 'connection-forgotten', 'high', 19],
  ['zeek-ftp-ipv6-violation.pcap', 17, 'connection-forgotten', 'high', 16],
  ['zeek-ftp-ipv6-violation.pcap', 19, 'connection-forgotten', 'high', 18],
  ['zeek-tls-tls-13draft19-early-data.pcap', 19, 'connection-forgotten', 'high', 18],
  ['zeek-tls-tls-13draft19-early-data.pcap', 21, 'connection-forgotten', 'high', 20],
  // the client's FIN #46, then the server's data #47 and FIN #48
  ['zeek-tls-tls-13draft19-early-data.pcap', 49, 'data-after-close', 'high', 47],
  ['zeek-tls-tls-13draft19-early-data.pcap', 50, 'connection-forgotten', 'high', 48],
  // the server's FIN #1041 before the client's unacknowledged data #1024 reached it (captured at the client)
  ['pcapplusplus-example2.pcap', 1042, 'data-after-close', 'medium', 1024],
  ['pcapplusplus-example2.pcap', 1043, 'connection-forgotten', 'high', 1025],
  ['pcapplusplus-example2.pcap', 1142, 'data-after-close', 'medium', 1127],
  ['pcapplusplus-example2.pcap', 1144, 'connection-forgotten', 'high', 1128],
  // the server's FIN #4229, then the client's data #4231 and FIN #4232
  ['pcapplusplus-example2.pcap', 4235, 'data-after-close', 'high', 4231],
  ['pcapplusplus-example2.pcap', 4236, 'connection-forgotten', 'high', 4232],
  // the server's FIN was acknowledged (#11), and the client's FIN finds no state
  ['zeek-tcp-ctu-64702-888.pcap', 15, 'connection-forgotten', 'low', 13],
  ['zeek-redis-almost-resp.pcap', 12, 'connection-forgotten', 'high', 11],
  ['zeek-http-get-to-ssh-server.pcap', 9, 'connection-forgotten', 'high', 8],
  // nmap connect scan: SYN, SYN-ACK, ACK, RST+ACK, no data
  ['zeek-nmap-vsn.pcap', 116, 'linger-zero-close', 'medium'],
  ['zeek-nmap-vsn.pcap', 492, 'linger-zero-close', 'medium'],
  // Windows servers (TTL 128/125, Windows option order) acknowledge the client's FIN and abort
  ['zeek-krb-kerberos_tso.pcapng', 15, 'linger-zero-close', 'medium'],
  ['zeek-rdp-rdp-proprietary-encryption.pcap', 8, 'linger-zero-close', 'medium'],
];

test('hand-checked verdicts on real captures', async () => {
  for (const [file, frame, id, confidence, answers] of HAND_CHECKED) {
    const r = await at(file, frame);
    assert.equal(r.cause.id, id, `${file} #${frame}: ${r.cause.summary}`);
    assert.equal(r.cause.confidence, confidence, `${file} #${frame}`);
    if (answers !== undefined) assert.equal(r.answers?.frame, answers, `${file} #${frame} answers`);
  }
});

test('an injected reset to a SYN does not refuse the connection', async () => {
  assert.equal((await verdicts('zeek-tcp-rst-inject-rae.pcap')).refused, 0);
  assert.match((await at('zeek-tcp-rst-inject-rae.pcap', 2)).cause.summary, /reserved header bits.*does not acknowledge the SYN/);
});

test('Linux sysctl advice goes only to senders that may be Linux', async () => {
  const r = await at('zeek-tcp-fin_retransmission.pcap', 5);
  assert.doesNotMatch(r.cause.summary + r.cause.fix, /tcp_abort_on_overflow|sysctl/);
  assert.match(String(r.cause.evidence.stack), /^ttl255: TTL 232 \(initial 255\)/);
});

test('the MPTCP reset reason is decoded', async () => {
  assert.match((await at('tcpdump-mptcp-tcprst.pcap', 1)).cause.summary, /MP_TCPRST reason 0 \(unspecified error\)/);
  const r = await at('tcpdump-mptcp-tcprst.pcap', 2);
  assert.match(r.cause.summary, /reason 1 \(MPTCP-specific error\), transient/);
  assert.equal(r.cause.evidence.mptcp_reason, 1);
});

test('the share of unclassified and low-confidence verdicts on the gate files does not grow', async () => {
  let all = 0;
  let unclassified = 0;
  let low = 0;
  for (const f of gateFiles()) {
    for (const r of (await verdicts(f)).resets) {
      all++;
      if (r.cause.id.startsWith('unclassified')) unclassified++;
      if (r.cause.confidence === 'low') low++;
    }
  }
  assert.ok(all >= 93, `only ${all} resets on the gate files`);
  assert.ok(unclassified <= MAX_UNCLASSIFIED, `${unclassified} of ${all} resets unclassified (at most ${MAX_UNCLASSIFIED})`);
  assert.ok(low <= MAX_LOW, `${low} of ${all} resets with low confidence (at most ${MAX_LOW})`);
});
