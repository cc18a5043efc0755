// The kernel's history of connections (the conns map of bpf/tcpwhy.bpf.c),
// read for an RST that needs it. The kernel keeps each connection's last state
// changes there, so a busy host's state changes never cross to user space;
// a rule that asks "how did this connection end here?" costs one map lookup.
import { CONN_CHANGE_LAYOUT, CONN_KEY_LAYOUT, CONN_LAYOUT, CONN_CHANGES } from '../events/generated/contract.js';
import { stateName } from '../events/event.js';
import { cString } from '../events/text.js';
import { addrFilterKey } from '../net/addr.js';
import type { Tuple } from '../events/event.js';
import type { StateRecord } from '../causes/live-facts.js';

const K = CONN_KEY_LAYOUT.fields;
const C = CONN_LAYOUT.fields;
const CH = CONN_CHANGE_LAYOUT.fields;

/** The conns map's key of a connection (struct tcpwhy_conn_key); null when an address is no address. */
export function connKey(netns: number, t: Tuple): Buffer | null {
  const key = Buffer.alloc(CONN_KEY_LAYOUT.size);
  try {
    addrFilterKey(t.laddr).copy(key, K.laddr.offset);
    addrFilterKey(t.raddr).copy(key, K.raddr.offset);
  } catch {
    return null;
  }
  key.writeUInt32LE(netns >>> 0, K.netns.offset);
  key.writeUInt16LE(t.lport, K.lport.offset);
  key.writeUInt16LE(t.rport, K.rport.offset);
  return key;
}

/** A struct tcpwhy_conn as the history's records, oldest first. */
export function decodeConn(buf: ArrayBuffer): StateRecord[] {
  const v = new DataView(buf);
  const bytes = new Uint8Array(buf);
  const changes = v.getUint32(C.changes.offset, true);
  const ownerPid = v.getUint32(C.owner_pid.offset, true);
  const owner = ownerPid ? { pid: ownerPid, comm: cString(bytes.subarray(C.owner_comm.offset, C.owner_comm.offset + 16)) } : null;
  const n = Math.min(changes, CONN_CHANGES);
  const out: StateRecord[] = [];
  for (let i = changes - n; i < changes; i++) {
    const at = C.change.offset + (i % CONN_CHANGES) * CONN_CHANGE_LAYOUT.size;
    out.push({
      mono_ns: v.getUint32(at + CH.mono_ns.offset + 4, true) * 4294967296 + v.getUint32(at + CH.mono_ns.offset, true),
      old: stateName(v.getUint8(at + CH.old_state.offset)) ?? 'NONE',
      new: stateName(v.getUint8(at + CH.new_state.offset)) ?? 'NONE',
      pid: v.getUint32(at + CH.pid.offset, true),
      comm: cString(bytes.subarray(at + CH.comm.offset, at + CH.comm.offset + 16)),
      owner,
    });
  }
  // two sockets of a connection inside one namespace may interleave: keep time order
  return out.sort((a, b) => a.mono_ns - b.mono_ns);
}

/** The history lookup of a live session: the kernel record of a connection, as records. */
export function kernelConnLookup(read: (key: Buffer) => ArrayBuffer | null): (netns: number, t: Tuple) => StateRecord[] {
  return (netns, t) => {
    const key = connKey(netns, t);
    const buf = key && read(key);
    return buf ? decodeConn(buf) : [];
  };
}
