"""A hostile client for test_slow_clients.py, run as its own process so that
its work never shares an interpreter lock with the test's own probes.

    python3 slow_client.py PORT COUNT INTERVAL_S SOURCE_ADDR

Opens COUNT connections to 127.0.0.1:PORT from SOURCE_ADDR (any of
127.0.0.0/8 is loopback) and keeps each alive by sending one more header
byte every INTERVAL_S seconds, never finishing the headers. Prints
`live N` (connections the server has not closed) after the connections are
opened and after every round; stops when its stdin closes.

Standard library only.
"""

import resource
import select
import socket
import sys

REQUEST_START = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def _raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else min(need, hard),
                                                     hard))


def _open(port, source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        s.sendall(REQUEST_START)
        s.setblocking(False)
        return s
    except OSError:
        s.close()
        return None


def _still_open(s):
    """False once the server has closed or reset the connection."""
    try:
        return s.recv(1) != b""  # the server sent something: it answered or closed
    except BlockingIOError:
        return True
    except OSError:
        return False


def main():
    port, count, interval, source = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    _raise_fd_limit(count + 64)
    socks = [s for s in (_open(port, source) for _ in range(count)) if s is not None]
    while True:
        live = []
        for s in socks:
            if _still_open(s):
                try:
                    s.send(b"a")
                    live.append(s)
                    continue
                except OSError:
                    pass
            s.close()
        socks = live
        print(f"live {len(socks)}", flush=True)
        readable, _, _ = select.select([sys.stdin], [], [], interval)
        if readable and not sys.stdin.buffer.read1(4096):
            break
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
