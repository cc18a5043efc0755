import { OWNER_DOC, TUPLE_DOC, activeSent, base, ownerEvidence, tupleText, whoOwns } from './live-helpers.js';
import type { Cause } from './types.js';

export const socketDestroyed: Cause = {
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
};
