#!/usr/bin/env python3
"""Lab actor for what Node cannot do: a listener that never accept()s (with a
chosen backlog), per-socket keepalive probe counts, TCP_LINGER2 = -1, per-socket
SYN retry counts (TCP_SYNCNT) and TCP_USER_TIMEOUT, a chosen source address.

Same protocol as actor.ts: `actor.py ROLE '{"host":..,"port":..}'`, one JSON
line per thing that happens on stdout, commands as lines on stdin; the process
exits when stdin closes."""
import errno
import json
import os
import select
import socket
import struct
import sys
import time

TCP_FIN_WAIT2 = 5


def report(event, **extra):
    sys.stdout.write(json.dumps({"event": event, "pid": os.getpid(), **extra}) + "\n")
    sys.stdout.flush()


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def tcp_state(s):
    # struct tcp_info starts with __u8 tcpi_state
    return struct.unpack("B", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0]


def loop(conn, handlers):
    """Runs stdin commands through `handlers` and, while `conn` is open, reports
    what arrives on it: data, the peer's FIN ("ended") or an error (its errno
    name, e.g. ETIMEDOUT). Returns when stdin closes."""
    stdin = sys.stdin.fileno()
    buf = b""
    while True:
        watched = [stdin] + ([conn] if conn is not None else [])
        ready, _, _ = select.select(watched, [], [])
        if conn is not None and conn in ready:
            try:
                data = conn.recv(65536)
                if data:
                    report("data", bytes=len(data))
                else:
                    report("ended")
                    conn = None
            except OSError as e:
                report("error", code=errno.errorcode.get(e.errno, str(e.errno)))
                conn = None
        if stdin in ready:
            chunk = os.read(stdin, 4096)
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                handler = handlers.get(line.decode().strip())
                if handler:
                    conn = handler(conn)


def connect(a):
    s = socket.socket(family(a["host"]), socket.SOCK_STREAM)
    s.connect((a["host"], a["port"]))
    return s


def listen_backlog(a):
    """Listens with backlog `backlog` and never accepts. `close` closes the
    listener (with whatever waits in its accept queue)."""
    backlog = a.get("backlog", 1)
    s = socket.socket(family(a["host"]), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a["host"], a["port"]))
    s.listen(backlog)
    report("listening", backlog=backlog)

    def close(_):
        s.close()
        report("closed")

    loop(None, {"close": close})


def connect_keepalive(a):
    """Connects with keepalive: `idle` s idle, then `count` probes `interval` s apart."""
    s = connect(a)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, a.get("idle", 1))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, a.get("interval", 1))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, a.get("count", 2))
    report("connected", localPort=s.getsockname()[1])
    loop(s, {})


def linger2_close(a):
    """Connects with TCP_LINGER2 = -1. `close`: shutdown(SHUT_WR), wait (at most
    2 s) for FIN_WAIT2, i.e. the peer acked our FIN, then close()."""
    s = connect(a)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_LINGER2, -1)
    report("connected", localPort=s.getsockname()[1])

    def close(conn):
        s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 2
        while tcp_state(s) != TCP_FIN_WAIT2 and time.monotonic() < deadline:
            select.select([], [], [], 0.01)
        state = tcp_state(s)
        s.close()
        report("closed", stateBeforeClose=state)
        return None

    loop(s, {"close": close})


def elapsed_ms(t0):
    return round((time.monotonic() - t0) * 1000)


def error_name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def bound_socket(a):
    """A socket bound before connect() (to `bind` or the wildcard, port 0), so its
    port is known and reported ("bound") even when the connect never completes;
    TCP_SYNCNT `syncnt` and TCP_USER_TIMEOUT `userTimeoutMs` bound how long the
    kernel keeps trying, so a lost connection fails in seconds."""
    s = socket.socket(family(a["host"]), socket.SOCK_STREAM)
    if "syncnt" in a:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, a["syncnt"])
    if "userTimeoutMs" in a:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, a["userTimeoutMs"])
    s.bind((a.get("bind", "::" if s.family == socket.AF_INET6 else "0.0.0.0"), 0))
    report("bound", localPort=s.getsockname()[1])
    return s


def connect_bounded(a):
    """Connects (see bound_socket), sends `bytes` bytes if asked, then waits for
    what the connection does: the outcome is one "error" line with the errno
    name, how long after connect() began (`ms`) and the stage ("connect" or
    "send"); or "connected" / "sent" / "ended" while it lives."""
    s = bound_socket(a)
    t0 = time.monotonic()
    try:
        s.connect((a["host"], a["port"]))
    except OSError as e:
        report("error", code=error_name(e), ms=elapsed_ms(t0), stage="connect")
        return
    report("connected", localPort=s.getsockname()[1], ms=elapsed_ms(t0))
    try:
        if a.get("bytes"):
            s.sendall(b"d" * a["bytes"])
            report("sent", bytes=a["bytes"])
    except OSError as e:
        report("error", code=error_name(e), ms=elapsed_ms(t0), stage="send")
        return
    stdin = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([stdin, s], [], [])
        if s in ready:
            try:
                if not s.recv(65536):
                    report("ended")
                    return
            except OSError as e:
                report("error", code=error_name(e), ms=elapsed_ms(t0), stage="send")
                return
        if stdin in ready and not os.read(stdin, 4096):
            return


def fill(a):
    """Connects and writes until the connection takes nothing more for `stallMs`
    (the peer's window is closed and the send buffer full), reports "blocked"
    with the bytes written, then keeps the connection open until stdin closes."""
    s = bound_socket(a)
    s.connect((a["host"], a["port"]))
    report("connected", localPort=s.getsockname()[1])
    s.setblocking(False)
    chunk = b"f" * 65536
    written = 0
    last = time.monotonic()
    while time.monotonic() - last < a.get("stallMs", 1000) / 1000:
        try:
            written += s.send(chunk)
            last = time.monotonic()
        except BlockingIOError:
            select.select([], [s], [], 0.05)
    report("blocked", bytes=written)
    loop(None, {})


ROLES = {
    "connect-bounded": connect_bounded,
    "fill": fill,
    "listen-backlog": listen_backlog,
    "connect-keepalive": connect_keepalive,
    "linger2-close": linger2_close,
}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ROLES:
        sys.stderr.write("usage: actor.py %s '{\"host\":..,\"port\":..}'\n" % "|".join(ROLES))
        sys.exit(2)
    try:
        ROLES[sys.argv[1]](json.loads(sys.argv[2]))
    except OSError as e:  # e.g. connect() refused: reported like the node actor's errors
        report("error", code=errno.errorcode.get(e.errno, str(e.errno)))
        sys.exit(1)
