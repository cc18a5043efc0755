// Parsers of src/host on output recorded from the real tools on Debian 12
// (iproute2 6.1, iptables 1.8.9 nf_tables, nftables 1.0.6, conntrack-tools 1.4.7,
// Linux 6.18), in a test namespace set up with: python3/node listeners with nasty
// process names (quotes, commas, parentheses, a newline, UTF-8; shared by a forked
// child; IPv4, IPv6 v6only, dual-stack, IPv4-mapped, bound to a device), REDIRECT /
// DNAT / SNAT / MASQUERADE / REJECT --reject-with tcp-reset / DROP rules with iptables,
// ip6tables and native nft, and connections through an OUTPUT REDIRECT.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  iptablesSaveTables,
  parseConntrackStats,
  parseIptablesSave,
  parseNetstat,
  parseNftJson,
  parseNftText,
  parseProcConntrackStat,
  parseSs,
} from '../../src/host/snapshot.js';
import { conntrackUsersOfIptables, conntrackUsersOfNft, splitIptablesArgs } from '../../src/host/rules.js';
import { splitEndpoint } from '../../src/host/parse.js';
import { splitSections } from '../../src/host/run.js';
import { netnsMounts } from '../../src/host/netns-path.js';
import { HostContext } from '../../src/host/context.js';
import type { HostSnapshot, NatRule } from '../../src/host/types.js';

// ss -Htlnp. Process names as set through /proc/self/comm: 'a b"c,(d)' (ss cuts names at
// the first ')'), 'x),("y",pid=1' (likewise: 'x'), 'nl\nLISTEN 0 1 *' (a newline: the
// record goes on over two lines), "it's ünï"; 'child' is a forked python3 sharing sockets.
const SS = `LISTEN 0      128               0.0.0.0:9093 0.0.0.0:* users:(("it's ünï",pid=10852,fd=3))                      
LISTEN 0      8            127.0.0.1%lo:9096 0.0.0.0:* users:(("child",pid=11097,fd=5),("python3",pid=11048,fd=5))
LISTEN 2      7               127.0.0.1:9090 0.0.0.0:* users:(("a b"c,(d",pid=10849,fd=3))                        
LISTEN 0      4                    [::]:9094    [::]:* users:(("child",pid=11097,fd=3),("python3",pid=11048,fd=3))
LISTEN 0      3                       *:9092       *:* users:(("nl
LISTEN 0 1 *",pid=10851,fd=3))                 
LISTEN 0      11                      *:9097       *:* users:(("node",pid=11049,fd=19))                           
LISTEN 0      6      [::ffff:127.0.0.1]:9095       *:* users:(("child",pid=11097,fd=4),("python3",pid=11048,fd=4))
LISTEN 0      2                [::1]%lo:9098    [::]:* users:(("v6dev",pid=13239,fd=3))                           
LISTEN 1      5                   [::1]:9091    [::]:* users:(("x",pid=10850,fd=3))                               
`;

// cat /proc/net/netstat /proc/net/snmp after 12 connects to the backlog-7 listener that never accepts
const NETSTAT = `TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab BeyondWindow TSEcrRejected PAWSOldAck PAWSTimewait DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows ListenDrops TCPHPHits TCPPureAcks TCPHPAcks TCPRenoRecovery TCPSackRecovery TCPSACKReneging TCPSACKReorder TCPRenoReorder TCPTSReorder TCPFullUndo TCPPartialUndo TCPDSACKUndo TCPLossUndo TCPLostRetransmit TCPRenoFailures TCPSackFailures TCPLossFailures TCPFastRetrans TCPSlowStartRetrans TCPTimeouts TCPLossProbes TCPLossProbeRecovery TCPRenoRecoveryFail TCPSackRecoveryFail TCPRcvCollapsed TCPBacklogCoalesce TCPDSACKOldSent TCPDSACKOfoSent TCPDSACKRecv TCPDSACKOfoRecv TCPAbortOnData TCPAbortOnClose TCPAbortOnMemory TCPAbortOnTimeout TCPAbortOnLinger TCPAbortFailed TCPMemoryPressures TCPMemoryPressuresChrono TCPSACKDiscard TCPDSACKIgnoredOld TCPDSACKIgnoredNoUndo TCPSpuriousRTOs TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure TCPSackShifted TCPSackMerged TCPSackShiftFallback TCPBacklogDrop PFMemallocDrop TCPMinTTLDrop TCPDeferAcceptDrop IPReversePathFilter TCPTimeWaitOverflow TCPReqQFullDoCookies TCPReqQFullDrop TCPRetransFail TCPRcvCoalesce TCPOFOQueue TCPOFODrop TCPOFOMerge TCPChallengeACK TCPSYNChallenge TCPFastOpenActive TCPFastOpenActiveFail TCPFastOpenPassive TCPFastOpenPassiveFail TCPFastOpenListenOverflow TCPFastOpenCookieReqd TCPFastOpenBlackhole TCPSpuriousRtxHostQueues BusyPollRxPackets TCPAutoCorking TCPFromZeroWindowAdv TCPToZeroWindowAdv TCPWantZeroWindowAdv TCPSynRetrans TCPOrigDataSent TCPHystartTrainDetect TCPHystartTrainCwnd TCPHystartDelayDetect TCPHystartDelayCwnd TCPACKSkippedSynRecv TCPACKSkippedPAWS TCPACKSkippedSeq TCPACKSkippedFinWait2 TCPACKSkippedTimeWait TCPACKSkippedChallenge TCPWinProbe TCPKeepAlive TCPMTUPFail TCPMTUPSuccess TCPDelivered TCPDeliveredCE TCPAckCompressed TCPZeroWindowDrop TCPRcvQDrop TCPWqueueTooBig TCPFastOpenPassiveAltKey TcpTimeoutRehash TcpDuplicateDataRehash TCPDSACKRecvSegs TCPDSACKIgnoredDubious TCPMigrateReqSuccess TCPMigrateReqFailure TCPPLBRehash TCPAORequired TCPAOBad TCPAOKeyNotFound TCPAOGood TCPAODroppedIcmps
TcpExt: 0 0 0 0 0 0 0 0 0 0 6 0 0 0 0 0 0 0 0 6 0 0 12 12 0 15 0 0 0 0 0 0 0 0 0 0 0 4 0 0 0 0 0 23 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 23 6 0 0 0 0 0 0 0 0 0 0 0 0 0 0 15 0 0 0 0 0 0 23 0 0 0 0 0 0 0 0 0 0 0
IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets InCsumErrors InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts ReasmOverlaps
IpExt: 0 0 0 0 0 0 4740 4740 0 0 0 0 0 83 0 0 0 0
MPTcpExt: MPCapableSYNRX MPCapableSYNTX MPCapableSYNACKRX MPCapableACKRX MPCapableFallbackACK MPCapableFallbackSYNACK MPCapableSYNTXDrop MPCapableSYNTXDisabled MPCapableEndpAttempt MPFallbackTokenInit MPTCPRetrans MPJoinNoTokenFound MPJoinSynRx MPJoinSynBackupRx MPJoinSynAckRx MPJoinSynAckBackupRx MPJoinSynAckHMacFailure MPJoinAckRx MPJoinAckHMacFailure MPJoinRejected MPJoinSynTx MPJoinSynTxCreatSkErr MPJoinSynTxBindErr MPJoinSynTxConnectErr DSSNotMatching DSSCorruptionFallback DSSCorruptionReset InfiniteMapTx InfiniteMapRx DSSNoMatchTCP DataCsumErr OFOQueueTail OFOQueue OFOMerge NoDSSInWindow DuplicateData AddAddr AddAddrTx AddAddrTxDrop EchoAdd EchoAddTx EchoAddTxDrop PortAdd AddAddrDrop MPJoinPortSynRx MPJoinPortSynAckRx MPJoinPortAckRx MismatchPortSynRx MismatchPortAckRx RmAddr RmAddrDrop RmAddrTx RmAddrTxDrop RmSubflow MPPrioTx MPPrioRx MPFailTx MPFailRx MPFastcloseTx MPFastcloseRx MPRstTx MPRstRx SubflowStale SubflowRecover SndWndShared RcvWndShared RcvWndConflictUpdate RcvWndConflict MPCurrEstab Blackhole MPCapableDataFallback MD5SigFallback DssFallback SimultConnectFallback FallbackFailed WinProbe
MPTcpExt: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
`;
const SNMP = `Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits
Ip: 2 64 83 0 0 0 0 0 50 80 0 0 0 0 0 0 0 0 0 83
Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps
Icmp: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 29 9 1 0 12 53 60 23 0 1 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 0 0 0 0 0 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
`;

const IPTABLES_SAVE = String.raw`# Generated by iptables-save v1.8.9 (nf_tables) on Wed Nov 25 17:09:59 2026
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 7000 -j REJECT --reject-with tcp-reset
-A INPUT -p tcp -m multiport --dports 7001,7002:7005 -j REJECT --reject-with icmp-port-unreachable
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p tcp -m tcp ! --dport 22 -j DROP
-A INPUT -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
COMMIT
# Completed on Wed Nov 25 17:09:59 2026
# Generated by iptables-save v1.8.9 (nf_tables) on Wed Nov 25 17:09:59 2026
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:TW-SVC - [0:0]
-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 9090
-A PREROUTING -d 192.0.2.10/32 -p tcp -m tcp --dport 80:88 -j DNAT --to-destination 192.0.2.20:8000-8010
-A PREROUTING -p tcp -j TW-SVC
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 9090
-A POSTROUTING -o veth0 -j MASQUERADE
-A POSTROUTING -s 10.9.0.0/16 -j SNAT --to-source 192.0.2.1
-A TW-SVC -p tcp -m tcp --dport 3000 -m comment --comment "svc \"web\", (x)" -j REDIRECT --to-ports 3001
COMMIT
# Completed on Wed Nov 25 17:09:59 2026
`;
const IP6TABLES_SAVE = `# Generated by ip6tables-save v1.8.9 (nf_tables) on Wed Nov 25 17:09:59 2026
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 7000 -j REJECT --reject-with tcp-reset
COMMIT
# Completed on Wed Nov 25 17:09:59 2026
# Generated by ip6tables-save v1.8.9 (nf_tables) on Wed Nov 25 17:09:59 2026
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 9091
-A PREROUTING -d 2001:db8::10/128 -p tcp -m tcp --dport 443 -j DNAT --to-destination [2001:db8::20]:8443
COMMIT
# Completed on Wed Nov 25 17:09:59 2026
`;
// iptables-save in a namespace whose 'ip nat' table was made by nft (a set, a non-builtin chain)
const IPTABLES_SAVE_INCOMPATIBLE = "# Table `nat' is incompatible, use 'nft' tool.\n";
// iptables-legacy-save (x_tables) of: iptables-legacy -A INPUT -p tcp --dport 7 -j REJECT --reject-with tcp-reset
const IPTABLES_LEGACY_SAVE = `# Generated by iptables-save v1.8.9 on Wed Nov 25 17:09:46 2026
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 7 -j REJECT --reject-with tcp-reset
COMMIT
# Completed on Wed Nov 25 17:09:46 2026
`;

// nft -j list ruleset and nft -a list ruleset of the same namespace: the iptables-nft tables
// (ip nat, ip filter, ip6 nat, ip6 filter) and a native 'inet tw' and 'ip tw4'
const NFT_JSON = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip", "name": "nat", "handle": 1}}, {"chain": {"family": "ip", "table": "nat", "name": "PREROUTING", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"chain": {"family": "ip", "table": "nat", "name": "OUTPUT", "handle": 3, "type": "nat", "hook": "output", "prio": -100, "policy": "accept"}}, {"chain": {"family": "ip", "table": "nat", "name": "POSTROUTING", "handle": 6, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"chain": {"family": "ip", "table": "nat", "name": "TW-SVC", "handle": 9}}, {"rule": {"family": "ip", "table": "nat", "chain": "PREROUTING", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "REDIRECT"}}]}}, {"rule": {"family": "ip", "table": "nat", "chain": "PREROUTING", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.10"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"range": [80, 88]}}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "DNAT"}}]}}, {"rule": {"family": "ip", "table": "nat", "chain": "PREROUTING", "handle": 10, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"counter": {"packets": 0, "bytes": 0}}, {"jump": {"target": "TW-SVC"}}]}}, {"rule": {"family": "ip", "table": "nat", "chain": "OUTPUT", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "127.0.0.1"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"counter": {"packets": 3, "bytes": 180}}, {"xt": {"type": "target", "name": "REDIRECT"}}]}}, {"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING", "handle": 7, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "veth0"}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "MASQUERADE"}}]}}, {"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.9.0.0", "len": 16}}}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "SNAT"}}]}}, {"rule": {"family": "ip", "table": "nat", "chain": "TW-SVC", "handle": 11, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 3000}}, {"xt": {"type": "match", "name": "comment"}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "REDIRECT"}}]}}, {"table": {"family": "ip", "name": "filter", "handle": 2}}, {"chain": {"family": "ip", "table": "filter", "name": "INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 7000}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "REJECT"}}]}}, {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 3, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"xt": {"type": "match", "name": "multiport"}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "REJECT"}}]}}, {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 4, "expr": [{"xt": {"type": "match", "name": "conntrack"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}, {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 7, "expr": [{"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}, {"rule": {"family": "ip", "table": "filter", "chain": "INPUT", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "REJECT"}}]}}, {"table": {"family": "ip6", "name": "nat", "handle": 3}}, {"chain": {"family": "ip6", "table": "nat", "name": "PREROUTING", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "nat", "chain": "PREROUTING", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "REDIRECT"}}]}}, {"rule": {"family": "ip6", "table": "nat", "chain": "PREROUTING", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "2001:db8::10"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "DNAT"}}]}}, {"table": {"family": "ip6", "name": "filter", "handle": 4}}, {"chain": {"family": "ip6", "table": "filter", "name": "INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "filter", "chain": "INPUT", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 7000}}, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "REJECT"}}]}}, {"table": {"family": "inet", "name": "tw", "handle": 5}}, {"chain": {"family": "inet", "table": "tw", "name": "pre", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"chain": {"family": "inet", "table": "tw", "name": "in", "handle": 2, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"chain": {"family": "inet", "table": "tw", "name": "post", "handle": 3, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "inet", "table": "tw", "chain": "pre", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8081}}, {"redirect": {"port": 9090}}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "pre", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.30"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 81}}, {"dnat": {"family": "ip", "addr": "192.0.2.40", "port": 8080}}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "pre", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "2001:db8::30"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 81}}, {"dnat": {"family": "ip6", "addr": "2001:db8::40", "port": 8080}}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "pre", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [{"range": [82, 85]}]}}}, {"redirect": {"port": 9091}}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "pre", "handle": 9, "comment": "a (quoted), comment", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "192.0.2.0", "len": 24}}}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"counter": {"packets": 0, "bytes": 0}}, {"redirect": {"port": 9093}}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "in", "handle": 10, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 7100}}, {"reject": {"type": "tcp reset"}}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "in", "handle": 11, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "invalid"}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "in", "handle": 12, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 7101}}, {"reject": {"type": "icmpx", "expr": "port-unreachable"}}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "in", "handle": 13, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"range": [7102, 7104]}}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "in", "handle": 14, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"reject": {"type": "icmpx", "expr": "port-unreachable"}}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "post", "handle": 15, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "veth0"}}, {"masquerade": null}]}}, {"rule": {"family": "inet", "table": "tw", "chain": "post", "handle": 16, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.8.0.0", "len": 16}}}}, {"snat": {"family": "ip", "addr": "192.0.2.1"}}]}}, {"table": {"family": "ip", "name": "tw4", "handle": 6}}, {"chain": {"family": "ip", "table": "tw4", "name": "out", "handle": 1, "type": "nat", "hook": "output", "prio": -100, "policy": "accept"}}, {"rule": {"family": "ip", "table": "tw4", "chain": "out", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "127.0.0.1"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8082}}, {"redirect": {"port": 9092}}]}}, {"rule": {"family": "ip", "table": "tw4", "chain": "out", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8083}}, {"dnat": {"addr": "127.0.0.1", "port": {"range": [9093, 9095]}}}]}}]}
`;
const NFT_TEXT = `table ip nat { # handle 1
	chain PREROUTING { # handle 1
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 8080 counter packets 0 bytes 0 redirect to :9090 # handle 2
		ip daddr 192.0.2.10 tcp dport 80-88 counter packets 0 bytes 0 dnat to 192.0.2.20:8000-8010 # handle 5
		meta l4proto tcp counter packets 0 bytes 0 jump TW-SVC # handle 10
	}

	chain OUTPUT { # handle 3
		type nat hook output priority -100; policy accept;
		ip daddr 127.0.0.1 tcp dport 8080 counter packets 3 bytes 180 redirect to :9090 # handle 4
	}

	chain POSTROUTING { # handle 6
		type nat hook postrouting priority srcnat; policy accept;
		oifname "veth0" counter packets 0 bytes 0 masquerade # handle 7
		ip saddr 10.9.0.0/16 counter packets 0 bytes 0 snat to 192.0.2.1 # handle 8
	}

	chain TW-SVC { # handle 9
		tcp dport 3000  counter packets 0 bytes 0 redirect to :3001 # handle 11
	}
}
table ip filter { # handle 2
	chain INPUT { # handle 1
		type filter hook input priority filter; policy accept;
		tcp dport 7000 counter packets 0 bytes 0 reject with tcp reset # handle 2
		meta l4proto tcp tcp dport { 7001, 7002-7005 } counter packets 0 bytes 0 reject # handle 3
		ct state invalid counter packets 0 bytes 0 drop # handle 4
		tcp dport != 22 counter packets 0 bytes 0 drop # handle 7
		udp dport 53 counter packets 0 bytes 0 reject # handle 6
	}
}
table ip6 nat { # handle 3
	chain PREROUTING { # handle 1
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 8080 counter packets 0 bytes 0  # handle 2
		ip6 daddr 2001:db8::10 tcp dport 443 counter packets 0 bytes 0  # handle 3
	}
}
table ip6 filter { # handle 4
	chain INPUT { # handle 1
		type filter hook input priority filter; policy accept;
		tcp dport 7000 counter packets 0 bytes 0 reject with tcp reset # handle 2
	}
}
table inet tw { # handle 5
	chain pre { # handle 1
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 8081 redirect to :9090 # handle 4
		ip daddr 192.0.2.30 tcp dport 81 dnat ip to 192.0.2.40:8080 # handle 5
		ip6 daddr 2001:db8::30 tcp dport 81 dnat ip6 to [2001:db8::40]:8080 # handle 6
		tcp dport { 82-85 } redirect to :9091 # handle 8
		ip daddr 192.0.2.0/24 tcp dport != 22 counter packets 0 bytes 0 redirect to :9093 comment "a (quoted), comment" # handle 9
	}

	chain in { # handle 2
		type filter hook input priority filter; policy accept;
		tcp dport 7100 reject with tcp reset # handle 10
		ct state invalid drop # handle 11
		tcp dport 7101 reject # handle 12
		tcp dport 7102-7104 drop # handle 13
		udp dport 53 reject # handle 14
	}

	chain post { # handle 3
		type nat hook postrouting priority srcnat; policy accept;
		oifname "veth0" masquerade # handle 15
		ip saddr 10.8.0.0/16 snat ip to 192.0.2.1 # handle 16
	}
}
table ip tw4 { # handle 6
	chain out { # handle 1
		type nat hook output priority -100; policy accept;
		ip daddr 127.0.0.1 tcp dport 8082 redirect to :9092 # handle 2
		tcp dport 8083 dnat to 127.0.0.1:9093-9095 # handle 3
	}
}
`;

const CONNTRACK_S = `cpu=0   	found=0 invalid=0 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 search_restart=0 clash_resolve=0 chaintoolong=0 
cpu=1   	found=0 invalid=6 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 search_restart=0 clash_resolve=0 chaintoolong=0 
`;
const PROC_CONNTRACK_STAT = `entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
0000001b  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000
0000001b  00000000 00000000 00000000 00000006 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000
`;

const MOUNTINFO = `44 43 0:4 net:[4026532177] /run/netns/tcpwhy-host-rec rw shared:2 - nsfs nsfs rw
120 43 0:4 net:[4026532254] /run/netns/tcpwhy-bench-847d1495 rw shared:3 - nsfs nsfs rw
`;

const pick = (r: NatRule) => {
  const { text: _t, source: _s, family: _f, ...rest } = r;
  return rest;
};

describe('parseSs', () => {
  const errors: string[] = [];
  const ls = parseSs(SS, errors);
  const byPort = (p: number) => ls.find((l) => l.lport === p);

  test('every listener, none forged by a process name holding a newline', () => {
    assert.deepEqual(errors, []);
    assert.deepEqual(
      ls.map((l) => l.lport),
      [9093, 9096, 9090, 9094, 9092, 9097, 9095, 9098, 9091],
    );
  });

  test('queue (Recv-Q) and backlog (Send-Q), pid and raw process names', () => {
    assert.deepEqual(byPort(9090), {
      laddr: '127.0.0.1',
      lport: 9090,
      queue: 2,
      backlog: 7,
      processes: [{ pid: 10849, comm: 'a b"c,(d' }],
    });
    assert.deepEqual(byPort(9092)?.processes, [{ pid: 10851, comm: 'nl\nLISTEN 0 1 *' }]);
    assert.deepEqual(byPort(9091)?.processes, [{ pid: 10850, comm: 'x' }], "ss cuts a name at ')'");
    assert.equal(byPort(9091)?.queue, 1);
    assert.deepEqual(byPort(9093)?.processes, [{ pid: 10852, comm: "it's ünï" }]);
  });

  test('a socket shared by a forked child lists both processes', () => {
    assert.deepEqual(byPort(9094)?.processes, [
      { pid: 11097, comm: 'child' },
      { pid: 11048, comm: 'python3' },
    ]);
  });

  test('addresses: IPv4 any, IPv6 v6only any, dual-stack *, IPv4-mapped, bound to a device', () => {
    assert.equal(byPort(9093)?.laddr, '0.0.0.0');
    assert.equal(byPort(9094)?.laddr, '::');
    assert.equal(byPort(9092)?.laddr, '*');
    assert.equal(byPort(9097)?.laddr, '*', 'node listening on ::');
    assert.equal(byPort(9095)?.laddr, '::ffff:127.0.0.1');
    assert.deepEqual([byPort(9096)?.laddr, byPort(9096)?.dev], ['127.0.0.1', 'lo']);
    assert.deepEqual([byPort(9098)?.laddr, byPort(9098)?.dev], ['::1', 'lo']);
    assert.equal(byPort(9091)?.dev, undefined);
  });

  test('(made up) a listener without process information; a line that is not a listener', () => {
    const errs: string[] = [];
    const r = parseSs('LISTEN 0      4096         127.0.0.1:5000      0.0.0.0:*          \nESTAB 0 0 1.2.3.4:5 6.7.8.9:10\n', errs);
    assert.deepEqual(r, [{ laddr: '127.0.0.1', lport: 5000, queue: 0, backlog: 4096, processes: [] }]);
    assert.equal(errs.length, 1);
    assert.match(errs[0]!, /ESTAB/);
  });

  test('splitEndpoint', () => {
    assert.deepEqual(splitEndpoint('[2001:db8::2]:443'), { addr: '2001:db8::2', port: 443 });
    assert.equal(splitEndpoint('1.2.3.4:99999'), null);
    assert.equal(splitEndpoint('bogus:1'), null);
  });
});

describe('parseNetstat', () => {
  const errors: string[] = [];
  const c = parseNetstat(NETSTAT + SNMP, errors);
  test('every group of both files, keys Group.Name', () => {
    assert.deepEqual(errors, []);
    // (IcmpMsg lines appear only once an ICMP type was counted)
    for (const g of ['TcpExt', 'IpExt', 'MPTcpExt', 'Ip', 'Icmp', 'Tcp', 'Udp', 'UdpLite']) {
      assert.ok(
        Object.keys(c).some((k) => k.startsWith(`${g}.`)),
        g,
      );
    }
  });
  test('the counters the rules use', () => {
    assert.equal(c['TcpExt.ListenOverflows'], 12);
    assert.equal(c['TcpExt.ListenDrops'], 12);
    for (const k of ['TCPAbortOnClose', 'TCPAbortOnData', 'TCPAbortOnLinger', 'TCPAbortOnMemory', 'TCPAbortOnTimeout']) {
      assert.equal(c[`TcpExt.${k}`], 0, k);
    }
    assert.equal(c['Tcp.OutRsts'], 1);
    assert.equal(c['Tcp.EstabResets'], 0);
    assert.equal(c['Tcp.MaxConn'], -1);
    assert.equal(c['Tcp.ActiveOpens'], 29);
  });
  test('a header line without its value line is reported', () => {
    const errs: string[] = [];
    parseNetstat('Tcp: A B\n', errs);
    assert.equal(errs.length, 1);
  });
});

describe('parseIptablesSave', () => {
  test('splitIptablesArgs: quoted comment with escaped quotes', () => {
    assert.deepEqual(splitIptablesArgs('-A X -m comment --comment "svc \\"web\\", (x)" -j REDIRECT'), [
      '-A',
      'X',
      '-m',
      'comment',
      '--comment',
      'svc "web", (x)',
      '-j',
      'REDIRECT',
    ]);
  });

  const errors: string[] = [];
  const v4 = parseIptablesSave(IPTABLES_SAVE, 'iptables', { errors });
  test('IPv4: REJECT tcp-reset, multiport (one rule per element), ct state DROP, negated port, REDIRECT, DNAT, MASQUERADE, SNAT, custom chain; udp left out', () => {
    assert.deepEqual(errors, []);
    assert.deepEqual(
      v4.map((r) => [r.table, r.chain, pick(r)]),
      [
        ['filter', 'INPUT', { table: 'filter', chain: 'INPUT', action: 'reject', proto: 'tcp', dport: [7000, 7000], rejectWith: 'tcp-reset' }],
        ['filter', 'INPUT', { table: 'filter', chain: 'INPUT', action: 'reject', proto: 'tcp', dport: [7001, 7001], rejectWith: 'icmp-port-unreachable' }],
        ['filter', 'INPUT', { table: 'filter', chain: 'INPUT', action: 'reject', proto: 'tcp', dport: [7002, 7005], rejectWith: 'icmp-port-unreachable' }],
        ['filter', 'INPUT', { table: 'filter', chain: 'INPUT', action: 'drop', ctState: ['invalid'] }],
        ['filter', 'INPUT', { table: 'filter', chain: 'INPUT', action: 'drop', proto: 'tcp', extraMatches: ['! --dport 22'] }],
        ['nat', 'PREROUTING', { table: 'nat', chain: 'PREROUTING', action: 'redirect', proto: 'tcp', dport: [8080, 8080], toPort: [9090, 9090] }],
        [
          'nat',
          'PREROUTING',
          { table: 'nat', chain: 'PREROUTING', action: 'dnat', proto: 'tcp', dport: [80, 88], daddr: '192.0.2.10', toAddr: '192.0.2.20', toPort: [8000, 8010] },
        ],
        ['nat', 'OUTPUT', { table: 'nat', chain: 'OUTPUT', action: 'redirect', proto: 'tcp', dport: [8080, 8080], daddr: '127.0.0.1', toPort: [9090, 9090] }],
        ['nat', 'POSTROUTING', { table: 'nat', chain: 'POSTROUTING', action: 'masquerade', extraMatches: ['-o veth0'] }],
        ['nat', 'POSTROUTING', { table: 'nat', chain: 'POSTROUTING', action: 'snat', saddr: '10.9.0.0/16', toAddr: '192.0.2.1' }],
        ['nat', 'TW-SVC', { table: 'nat', chain: 'TW-SVC', action: 'redirect', proto: 'tcp', dport: [3000, 3000], toPort: [3001, 3001] }],
      ],
    );
    assert.ok(v4.every((r) => r.source === 'iptables' && r.family === 'ipv4' && !r.legacy));
    assert.equal(v4[0]!.text, '-A INPUT -p tcp -m tcp --dport 7000 -j REJECT --reject-with tcp-reset');
    assert.equal(v4[10]!.text, String.raw`-A TW-SVC -p tcp -m tcp --dport 3000 -m comment --comment "svc \"web\", (x)" -j REDIRECT --to-ports 3001`);
  });

  test('IPv6: REDIRECT, DNAT to [addr]:port, REJECT tcp-reset', () => {
    const v6 = parseIptablesSave(IP6TABLES_SAVE, 'ip6tables');
    assert.deepEqual(v6.map(pick), [
      { table: 'filter', chain: 'INPUT', action: 'reject', proto: 'tcp', dport: [7000, 7000], rejectWith: 'tcp-reset' },
      { table: 'nat', chain: 'PREROUTING', action: 'redirect', proto: 'tcp', dport: [8080, 8080], toPort: [9091, 9091] },
      {
        table: 'nat',
        chain: 'PREROUTING',
        action: 'dnat',
        proto: 'tcp',
        dport: [443, 443],
        daddr: '2001:db8::10',
        toAddr: '2001:db8::20',
        toPort: [8443, 8443],
      },
    ]);
    assert.ok(v6.every((r) => r.source === 'ip6tables' && r.family === 'ipv6'));
  });

  test('legacy x_tables rules are marked', () => {
    const r = parseIptablesSave(IPTABLES_LEGACY_SAVE, 'iptables', { legacy: true });
    assert.equal(r.length, 1);
    assert.equal(r[0]!.legacy, true);
    assert.equal(r[0]!.rejectWith, 'tcp-reset');
  });

  test('iptablesSaveTables: shown tables, and the ones iptables-nft calls incompatible', () => {
    assert.deepEqual(iptablesSaveTables(IPTABLES_SAVE), { tables: ['filter', 'nat'], incompatible: [] });
    assert.deepEqual(iptablesSaveTables(IPTABLES_SAVE_INCOMPATIBLE), { tables: [], incompatible: ['nat'] });
  });
});

describe('parseNftJson', () => {
  const texts = parseNftText(NFT_TEXT);
  test('parseNftText: rule text by family, table, chain and handle, without the handle', () => {
    assert.equal(texts.get('inet tw pre 4'), 'tcp dport 8081 redirect to :9090');
    assert.equal(texts.get('ip nat PREROUTING 2'), 'tcp dport 8080 counter packets 0 bytes 0 redirect to :9090');
    // nft cannot name the target of an ip6tables-nft rule: the text lacks it
    assert.equal(texts.get('ip6 nat PREROUTING 2'), 'tcp dport 8080 counter packets 0 bytes 0');
  });

  test('native nft rules: redirect, dnat ip/ip6, merged set, negation, reject tcp reset, ct state, reject default, drop range, masquerade, snat; udp left out', () => {
    const errors: string[] = [];
    const skip = new Set(['ip nat', 'ip filter', 'ip6 nat', 'ip6 filter']);
    const r = parseNftJson(NFT_JSON, { texts, skipTables: skip, errors });
    assert.deepEqual(errors, []);
    assert.ok(r.every((x) => x.source === 'nftables'));
    assert.deepEqual(
      r.map((x) => [x.family, x.table, x.chain, pick(x), x.text]),
      [
        [
          'inet',
          'tw',
          'pre',
          { table: 'tw', chain: 'pre', action: 'redirect', proto: 'tcp', dport: [8081, 8081], toPort: [9090, 9090] },
          'tcp dport 8081 redirect to :9090',
        ],
        [
          'inet',
          'tw',
          'pre',
          { table: 'tw', chain: 'pre', action: 'dnat', proto: 'tcp', dport: [81, 81], daddr: '192.0.2.30', toAddr: '192.0.2.40', toPort: [8080, 8080] },
          'ip daddr 192.0.2.30 tcp dport 81 dnat ip to 192.0.2.40:8080',
        ],
        [
          'inet',
          'tw',
          'pre',
          { table: 'tw', chain: 'pre', action: 'dnat', proto: 'tcp', dport: [81, 81], daddr: '2001:db8::30', toAddr: '2001:db8::40', toPort: [8080, 8080] },
          'ip6 daddr 2001:db8::30 tcp dport 81 dnat ip6 to [2001:db8::40]:8080',
        ],
        // written as { 82, 83-85 }: nft merged it into one range
        [
          'inet',
          'tw',
          'pre',
          { table: 'tw', chain: 'pre', action: 'redirect', proto: 'tcp', dport: [82, 85], toPort: [9091, 9091] },
          'tcp dport { 82-85 } redirect to :9091',
        ],
        [
          'inet',
          'tw',
          'pre',
          { table: 'tw', chain: 'pre', action: 'redirect', proto: 'tcp', daddr: '192.0.2.0/24', toPort: [9093, 9093], extraMatches: ['tcp dport != 22'] },
          'ip daddr 192.0.2.0/24 tcp dport != 22 counter packets 0 bytes 0 redirect to :9093 comment "a (quoted), comment"',
        ],
        [
          'inet',
          'tw',
          'in',
          { table: 'tw', chain: 'in', action: 'reject', proto: 'tcp', dport: [7100, 7100], rejectWith: 'tcp-reset' },
          'tcp dport 7100 reject with tcp reset',
        ],
        ['inet', 'tw', 'in', { table: 'tw', chain: 'in', action: 'drop', ctState: ['invalid'] }, 'ct state invalid drop'],
        [
          'inet',
          'tw',
          'in',
          { table: 'tw', chain: 'in', action: 'reject', proto: 'tcp', dport: [7101, 7101], rejectWith: 'icmpx-port-unreachable' },
          'tcp dport 7101 reject',
        ],
        ['inet', 'tw', 'in', { table: 'tw', chain: 'in', action: 'drop', proto: 'tcp', dport: [7102, 7104] }, 'tcp dport 7102-7104 drop'],
        ['inet', 'tw', 'post', { table: 'tw', chain: 'post', action: 'masquerade', extraMatches: ['meta oifname == "veth0"'] }, 'oifname "veth0" masquerade'],
        [
          'inet',
          'tw',
          'post',
          { table: 'tw', chain: 'post', action: 'snat', saddr: '10.8.0.0/16', toAddr: '192.0.2.1' },
          'ip saddr 10.8.0.0/16 snat ip to 192.0.2.1',
        ],
        [
          'ipv4',
          'tw4',
          'out',
          { table: 'tw4', chain: 'out', action: 'redirect', proto: 'tcp', dport: [8082, 8082], daddr: '127.0.0.1', toPort: [9092, 9092] },
          'ip daddr 127.0.0.1 tcp dport 8082 redirect to :9092',
        ],
        [
          'ipv4',
          'tw4',
          'out',
          { table: 'tw4', chain: 'out', action: 'dnat', proto: 'tcp', dport: [8083, 8083], toAddr: '127.0.0.1', toPort: [9093, 9095] },
          'tcp dport 8083 dnat to 127.0.0.1:9093-9095',
        ],
      ],
    );
  });

  test('iptables-nft rules as nft -j shows them: bare xt targets, no ports or addresses', () => {
    const r = parseNftJson(NFT_JSON, { texts });
    const redirect = r.find((x) => x.table === 'nat' && x.family === 'ipv4' && x.chain === 'PREROUTING' && x.action === 'redirect');
    assert.ok(redirect);
    assert.deepEqual(redirect.dport, [8080, 8080]);
    assert.equal(redirect.toPort, undefined);
    assert.deepEqual(redirect.extraMatches, ['xt target REDIRECT (iptables-nft; nft does not show its parameters)']);
    const v6dnat = r.find((x) => x.family === 'ipv6' && x.action === 'dnat');
    assert.equal(v6dnat?.text, 'ip6 daddr 2001:db8::10 tcp dport 443 counter packets 0 bytes 0');
    const multiport = r.find((x) => x.family === 'ipv4' && x.table === 'filter' && x.action === 'reject' && x.extraMatches?.includes('xt match multiport'));
    assert.ok(multiport, 'a multiport match stays an unknown condition');
  });

  test('without the text listing, a short JSON form; bad JSON is an error', () => {
    const r = parseNftJson(NFT_JSON, { skipTables: new Set(['ip nat', 'ip filter', 'ip6 nat', 'ip6 filter']) });
    assert.match(r[0]!.text, /^inet tw pre 4: \[/);
    const errors: string[] = [];
    assert.deepEqual(parseNftJson('nft: oops', { errors }), []);
    assert.equal(errors.length, 1);
  });

  test('empty ruleset', () => {
    const empty = '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}]}';
    assert.deepEqual(parseNftJson(empty), []);
  });
});

describe('what makes conntrack active', () => {
  test('iptables: nat rules, conntrack match', () => {
    assert.deepEqual(conntrackUsersOfIptables(IPTABLES_SAVE, 'iptables'), ['iptables conntrack match or target in filter INPUT', 'iptables nat rules']);
    assert.deepEqual(conntrackUsersOfIptables(IPTABLES_LEGACY_SAVE, 'iptables'), []);
  });
  test('nft: nat chains and ct expressions, iptables-nft tables skipped', () => {
    const skip = new Set(['ip nat', 'ip filter', 'ip6 nat', 'ip6 filter']);
    assert.deepEqual(conntrackUsersOfNft(NFT_JSON, skip), [
      'nft nat chain inet tw pre',
      'nft nat chain inet tw post',
      'nft ct expression in inet tw in',
      'nft nat chain ip tw4 out',
    ]);
  });
});

describe('conntrack', () => {
  test('parseConntrackStats sums the CPUs', () => {
    const errors: string[] = [];
    const s = parseConntrackStats(CONNTRACK_S, errors);
    assert.deepEqual(errors, []);
    assert.deepEqual(s, {
      found: 0,
      invalid: 6,
      insert: 0,
      insert_failed: 0,
      drop: 0,
      early_drop: 0,
      error: 0,
      search_restart: 0,
      clash_resolve: 0,
      chaintoolong: 0,
    });
  });

  test('parseProcConntrackStat: same numbers, same names where they exist', () => {
    const s = parseProcConntrackStat(PROC_CONNTRACK_STAT);
    assert.equal(s.invalid, 6);
    assert.equal(s.clash_resolve, 0);
    assert.equal(s.chaintoolong, 0);
    assert.equal(s.error, 0);
    assert.equal(s.entries, undefined);
  });
});

describe('splitSections', () => {
  const T = '@tcpwhy-0123456789abcdef';
  test('stdout exactly, exit status, stderr; a section cut short is left out', () => {
    const out =
      `${T} begin a\nline 1\nline 2\n\n${T} end a 0\n` +
      `${T} begin b\nno newline\n${T} end b 2\n${T} stderr b\nb: failed\nreally\n` +
      `${T} begin c\n\n${T} end c 0\n` +
      `${T} begin d\npartial`;
    const s = splitSections(out, T);
    assert.deepEqual([...s.keys()], ['a', 'b', 'c']);
    assert.deepEqual(s.get('a'), { out: 'line 1\nline 2\n', rc: 0, stderr: '' });
    assert.deepEqual(s.get('b'), { out: 'no newline', rc: 2, stderr: 'b: failed\nreally' });
    assert.deepEqual(s.get('c'), { out: '', rc: 0, stderr: '' });
  });
  test('a marker without the token is plain output', () => {
    const s = splitSections(`${T} begin a\n@tcpwhy-x end a 0\n\n${T} end a 0\n`, T);
    assert.equal(s.get('a')?.out, '@tcpwhy-x end a 0\n');
  });
});

test('netnsMounts: nsfs mounts by inode', () => {
  const m = netnsMounts(`${MOUNTINFO}45 43 0:4 net:[4026532300] /run/docker/netns/with\\040space rw - nsfs nsfs rw\n`);
  assert.equal(m.get(4026532177), '/run/netns/tcpwhy-host-rec');
  assert.equal(m.get(4026532300), '/run/docker/netns/with space');
});

describe('HostContext (injected snapshots)', () => {
  const snap = (netns: number, takenAtMs: number, counters: Record<string, number>): HostSnapshot => ({
    netns,
    takenAtMs,
    listeners: [],
    sysctls: {},
    counters,
    rules: [],
    conntrack: null,
    errors: [],
  });

  test('one refresh for concurrent calls, sync while fresh, a new one when stale', async () => {
    let calls = 0;
    let overflows = 0;
    const ctx = new HostContext({
      maxAgeMs: 50,
      take: async (n) => {
        calls++;
        await new Promise((r) => setTimeout(r, 10));
        return snap(n, Date.now(), { 'TcpExt.ListenOverflows': (overflows += 3) });
      },
    });
    assert.equal(ctx.latest(7), undefined);
    const a = ctx.fresh(7);
    const b = ctx.fresh(7);
    assert.ok(a instanceof Promise);
    assert.equal(a, b, 'the same refresh is joined');
    const s1 = await a;
    assert.equal(calls, 1);
    assert.equal(ctx.fresh(7), s1, 'fresh: returned synchronously');
    assert.equal(ctx.latest(7), s1);
    await new Promise((r) => setTimeout(r, 60));
    const s2 = ctx.fresh(7);
    assert.ok(s2 instanceof Promise, 'stale: refreshed');
    await s2;
    assert.equal(calls, 2);
  });

  test('a failed take is not cached: the next call refreshes again', async () => {
    let n = 0;
    const ctx = new HostContext({
      maxAgeMs: -1, // always stale
      take: async (ns) => {
        n++;
        if (n === 2) throw new Error('boom');
        return snap(ns, Date.now(), { 'Tcp.OutRsts': n * 10 });
      },
    });
    const first = await ctx.fresh(1);
    await assert.rejects(Promise.resolve(ctx.fresh(1)), /boom/);
    assert.equal(ctx.latest(1), first, 'the old snapshot stays after a failure');
    const third = await ctx.fresh(1);
    assert.equal(third.counters['Tcp.OutRsts'], 30);
    assert.equal(ctx.latest(1), third);
  });

  test('namespaces beyond maxNetns: the least recently used is forgotten', async () => {
    const ctx = new HostContext({ maxNetns: 2, take: async (ns) => snap(ns, Date.now(), {}) });
    await ctx.fresh(1);
    await ctx.fresh(2);
    ctx.fresh(1);
    await ctx.fresh(3);
    assert.ok(ctx.latest(1));
    assert.equal(ctx.latest(2), undefined);
    assert.ok(ctx.latest(3));
  });
});
