#!/usr/bin/env python3
"""Attackers for the limits tests (t_limits_*.sh; docs/security.md).

slow PORT FIRST GAP MAX: connect to 127.0.0.1:PORT, send FIRST (the start of a request,
  never finished), then one byte every GAP seconds. Prints "closed after S s" and exits 0
  when the server closes the connection within MAX seconds; exits 1 otherwise.
idle PORT N SRC HOLD: open N connections to 127.0.0.1:PORT from source address SRC, send
  nothing, keep them HOLD seconds; prints how many the server closed at once (read EOF or
  reset within 1 s of their opening) and how many stayed open.
flood PORT N SRCS FROMS [WAIT [SPREAD]]: N MESSAGE requests over UDP, as fast as possible or
  spread over SPREAD seconds, the i-th from source
  address SRCS[i % len] with From user FROMS[i % len] (comma-separated lists); for WAIT s (default 3) prints one line
  per final status and reason phrase seen, "COUNT STATUS PHRASE"."""
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
    # cpmd accepts (and closes beyond its cap) from its listen backlog at its own pace: on a
    # loaded machine that takes more than a second, so count until the count stops moving
    last, stable, deadline = -1, 0, time.monotonic() + 15
    while time.monotonic() < deadline and stable < 3:
        time.sleep(0.5)
        shut = [s for s in socks if closed(s)]
        stable = stable + 1 if len(shut) == last else 0
        last = len(shut)
    print("refused %d open %d" % (last, n - last), flush=True)
    time.sleep(hold)
    return 0


def flood(port, n, srcs, froms, wait=3.0, spread=0.0):
    socks = {}
    for a in srcs:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a, 0))
        s.settimeout(0.01)
        socks[a] = s
    for i in range(n):
        a, u = srcs[i % len(srcs)], froms[i % len(froms)]
        s = socks[a]
        lp = s.getsockname()[1]
        body = "flood %d" % i
        req = ("MESSAGE sip:bob@cpm.test SIP/2.0\r\n"
               "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bKfl%d;rport\r\n"
               "Max-Forwards: 70\r\nFrom: <sip:%s@cpm.test>;tag=f%d\r\nTo: <sip:bob@cpm.test>\r\n"
               "Call-ID: flood-%d@%s\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n"
               "Content-Length: %d\r\n\r\n%s") % (a, lp, i, u, i, i, a, len(body), body)
        s.sendto(req.encode(), ("127.0.0.1", port))
        if spread:
            time.sleep(spread / n)
    seen = {}
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for s in socks.values():
            try:
                data = s.recv(65536).decode("latin-1")
            except (socket.timeout, BlockingIOError):
                continue
            first = data.split("\r\n", 1)[0]
            parts = first.split(" ", 2)
            if len(parts) == 3 and parts[1] >= "200":
                seen[(parts[1], parts[2])] = seen.get((parts[1], parts[2]), 0) + 1
    for (st, ph), c in sorted(seen.items()):
        print("%d %s %s" % (c, st, ph))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "flood":
        sys.exit(flood(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(","), sys.argv[5].split(","),
                       float(sys.argv[6]) if len(sys.argv) > 6 else 3.0,
                       float(sys.argv[7]) if len(sys.argv) > 7 else 0.0))
    if sys.argv[1] == "slow":
        sys.exit(slow(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])))
    sys.exit(idle(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])))
