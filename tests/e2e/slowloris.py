#!/usr/bin/env python3
"""Attackers for the limits tests (t_limits_*.sh; docs/security.md).

slow PORT FIRST GAP MAX: connect to 127.0.0.1:PORT, send FIRST (the start of a request,
  never finished), then one byte every GAP seconds. Prints "closed after S s" and exits 0
  when the server closes the connection within MAX seconds; exits 1 otherwise.
idle PORT N SRC HOLD: open N connections to 127.0.0.1:PORT from source address SRC, send
  nothing, keep them HOLD seconds; prints how many the server closed at once (read EOF or
  reset within 1 s of their opening) and how many stayed open."""
import socket
import sys
import time


def closed(s):
    try:
        return s.recv(4096) == b""
    except (BlockingIOError, socket.timeout):
        return False
    except OSError:
        return True


def slow(port, first, gap, limit):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    start = time.monotonic()
    s.send(first.encode().decode("unicode_escape").encode("latin-1"))
    next_byte = start + gap
    while time.monotonic() - start < limit:
        if closed(s):
            print("closed after %.1f s" % (time.monotonic() - start))
            return 0
        if time.monotonic() >= next_byte:
            try:
                s.send(b"x")
            except OSError:
                print("closed after %.1f s (send failed)" % (time.monotonic() - start))
                return 0
            next_byte += gap
        time.sleep(0.05)
    print("still open after %.1f s" % limit)
    return 1


def idle(port, n, src, hold):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    time.sleep(1.0)
    shut = [s for s in socks if closed(s)]
    print("refused %d open %d" % (len(shut), n - len(shut)), flush=True)
    time.sleep(hold)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "slow":
        sys.exit(slow(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])))
    sys.exit(idle(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])))
