#!/usr/bin/env python3
"""sf_ua.py: a minimal SIP UA over UDP for bench/sf_bench.sh (issue #3: REGISTER -> first
delivery INVITE latency with many stored items).

  sf_ua.py --server HOST:PORT --user USER@DOMAIN --port LOCAL_PORT --cycles N
           [--answer 480] [--gap 0.05] [--timeout 2] [--pid CPMD_PID] [--out FILE]
           [--method INVITE|MESSAGE]

Each cycle: REGISTER (Expires 3600, +sip.instance) -> wait for cpmd's INVITE(s) -> answer
each with --answer (480 keeps the item STORED) and take the ACK -> REGISTER Expires 0 ->
wait for its 200 -> sleep --gap. The latency is REGISTER sendto() -> first INVITE
recvfrom(), both on this one socket (CLOCK_MONOTONIC). With --method MESSAGE the delivery is
a pager-mode MESSAGE (stored standalone messages, issue 8), answered --answer the same way; sf_bench.sh also measures it from a
tshark capture on loopback. Prints one line per cycle to --out and a summary on stdout:
  ua: cycles N ok K timeouts T  reg->invite ms p50 .. p90 .. p99 .. max ..  reg->200 ms p50 .. p99 ..
With --pid, cpmd's VmRSS is printed after the cycles. Exit 1 if any cycle timed out.
"""
import argparse, os, random, socket, sys, time


def parse(data):
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    lines = head.split("\r\n")
    start = lines[0]
    hdrs = []
    for l in lines[1:]:
        if l[:1] in (" ", "\t") and hdrs:
            hdrs[-1] = (hdrs[-1][0], hdrs[-1][1] + " " + l.strip())
        elif ":" in l:
            k, v = l.split(":", 1)
            hdrs.append((k.strip(), v.strip()))
    return start, hdrs


COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length"}


def hget(hdrs, name, all_=False):
    out = [v for k, v in hdrs if COMPACT.get(k.lower(), k.lower()) == name]
    return out if all_ else (out[0] if out else None)


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--answer", type=int, default=480)
    ap.add_argument("--method", choices=("INVITE", "MESSAGE"), default="INVITE")
    ap.add_argument("--gap", type=float, default=0.05)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--out")
    a = ap.parse_args()
    host, port = a.server.rsplit(":", 1)
    srv = (host, int(port))
    user, domain = a.user.split("@", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", a.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    call_id = "sfua-%08x@127.0.0.1" % random.getrandbits(32)
    ftag = "%08x" % random.getrandbits(32)
    inst = "<urn:uuid:5f000000-0000-4000-8000-%012d>" % a.port
    cseq = [0]
    out = open(a.out, "w") if a.out else None

    def register(expires):
        cseq[0] += 1
        branch = "z9hG4bK-sf%x" % random.getrandbits(48)
        msg = ("REGISTER sip:%s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:%s@%s>;tag=%s\r\n"
               "To: <sip:%s@%s>\r\n"
               "Call-ID: %s\r\n"
               "CSeq: %d REGISTER\r\n"
               "Contact: <sip:%s@127.0.0.1:%d>;+sip.instance=\"%s\";expires=%d\r\n"
               "Expires: %d\r\n"
               "Content-Length: 0\r\n\r\n") % (domain, a.port, branch, user, domain, ftag, user, domain,
                                               call_id, cseq[0], user, a.port, inst, expires, expires)
        t = time.monotonic()
        s.sendto(msg.encode(), srv)
        return t, cseq[0]

    def respond(start, hdrs, code, reason, src):
        to = hget(hdrs, "to")
        if ";tag=" not in to:
            to += ";tag=ua%x" % random.getrandbits(32)
        r = "SIP/2.0 %d %s\r\n" % (code, reason)
        for v in hget(hdrs, "via", True):
            r += "Via: %s\r\n" % v
        r += "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n" % (
            hget(hdrs, "from"), to, hget(hdrs, "call-id"), hget(hdrs, "cseq"))
        s.sendto(r.encode(), src)

    def serve(deadline, want_reg_cseq, quiet_after_invites=None):
        """receive until the REGISTER's 200 came and (if quiet_after_invites) no INVITE/ACK for
        that long after the last one; returns (t_200, [t_invite...])"""
        t200, invites, acks_missing, last = None, [], 0, None
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if t200 is not None and quiet_after_invites is None:
                break
            if t200 is not None and invites and acks_missing == 0 and now - last >= quiet_after_invites:
                break
            s.settimeout(max(0.001, min(deadline - now, quiet_after_invites or 1.0)))
            try:
                data, src = s.recvfrom(65536)
            except socket.timeout:
                continue
            t = time.monotonic()
            start, hdrs = parse(data)
            if start.startswith("SIP/2.0"):
                code = int(start.split()[1])
                cs = hget(hdrs, "cseq") or ""
                if cs.endswith("REGISTER") and int(cs.split()[0]) == want_reg_cseq and code >= 200:
                    if code != 200:
                        print("ua: REGISTER answered %s" % start, file=sys.stderr)
                    t200 = t
                continue
            method = start.split()[0]
            if method == a.method:
                invites.append(t)
                last = t
                acks_missing += 1 if a.answer >= 300 and method == "INVITE" else 0
                respond(start, hdrs, a.answer, "Temporarily Unavailable" if a.answer == 480 else "Busy", src)
            elif method == "ACK":
                acks_missing = max(0, acks_missing - 1)
                last = t
            elif method in ("CANCEL", "BYE", "OPTIONS", "MESSAGE", "NOTIFY"):
                respond(start, hdrs, 200, "OK", src)
                last = t
        return t200, invites

    lat, r200, ninv, timeouts = [], [], [], 0
    for c in range(a.cycles):
        t0, cs = register(3600)
        t200, inv = serve(t0 + a.timeout, cs, quiet_after_invites=0.15)
        if not inv or t200 is None:
            timeouts += 1
            line = "cycle %d: timeout (200 %s, %d INVITEs)" % (c, t200 is not None, len(inv))
        else:
            lat.append((inv[0] - t0) * 1000)
            r200.append((t200 - t0) * 1000)
            ninv.append(len(inv))
            line = "cycle %d: reg->200 %.3f ms reg->invite %.3f ms invites %d" % (c, r200[-1], lat[-1], len(inv))
        if out:
            out.write(line + "\n")
        t1, cs = register(0)
        serve(t1 + a.timeout, cs)
        time.sleep(a.gap)
    rss = ""
    if a.pid:
        try:
            with open("/proc/%d/status" % a.pid) as f:
                for l in f:
                    if l.startswith(("VmRSS", "VmHWM")):
                        rss += " " + " ".join(l.split())
        except OSError:
            rss = " (cpmd gone)"
    print("ua: cycles %d ok %d timeouts %d  reg->invite ms p50 %.3f p90 %.3f p99 %.3f max %.3f  "
          "reg->200 ms p50 %.3f p99 %.3f  invites/cycle %s%s" % (
              a.cycles, len(lat), timeouts, pct(lat, 50), pct(lat, 90), pct(lat, 99), max(lat or [float("nan")]),
              pct(r200, 50), pct(r200, 99), "%d-%d" % (min(ninv), max(ninv)) if ninv else "-",
              ("  cpmd" + rss) if rss else ""))
    return 1 if timeouts else 0


if __name__ == "__main__":
    sys.exit(main())
