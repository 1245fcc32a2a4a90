#!/usr/bin/env python3
"""raw_ua.py: the SIP half of bench/speed_bench.sh's raw MSRP pair (issue 12). It sets a file
transfer up through cpmd the way `cpm` does (RFC 5547 offer with the file's sha-1, SIP over UDP)
and hands the bytes to bench/tools/msrp_raw (no hashing, no file writes: cpmd is what is measured).

  raw_ua.py recv --server H:P --user U@D --port LOCAL --msrp-raw BIN
      REGISTER, answer the INVITE cpmd forks to us (200, a=setup:active), run `msrp_raw sink`
      to cpmd's a=path, answer the BYE, print the sink's line.
  raw_ua.py send --server H:P --user U@D --port LOCAL --to R@D --file F --chunk N --msrp-raw BIN
      INVITE R with F's file-selector (size and sha-1), ACK cpmd's 200, run `msrp_raw send` to
      its a=path, BYE. Prints "raw_ua send BYTES SECONDS msrp T0 T1": SECONDS from the INVITE to the
      REPORT of the last byte, T0..T1 the MSRP part (CLOCK_MONOTONIC, comparable across processes).

Exit 0 when the transfer completed, 1 otherwise. SIP helpers from sf_ua.py.
"""
import argparse
import hashlib
import os
import random
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sf_ua import hget, parse  # noqa: E402

FT_ICSI = "urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.filetransfer"


def rnd(n=16):
    return "%0*x" % (n, random.getrandbits(4 * n))


class UA:
    def __init__(self, a):
        host, port = a.server.rsplit(":", 1)
        self.srv = (host, int(port))
        self.user, self.domain = a.user.split("@", 1)
        self.port = a.port
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", a.port))
        self.tag = rnd(8)
        self.inst = "<urn:uuid:5e000000-0000-4000-8000-%012d>" % a.port
        self.cseq = 0

    def via(self):
        return "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s;rport\r\n" % (self.port, rnd(12))

    def send(self, text, dest=None):
        self.s.sendto(text.encode(), dest or self.srv)

    def recv(self, deadline):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no SIP message in time")
            self.s.settimeout(left)
            data, src = self.s.recvfrom(65536)
            start, hdrs = parse(data)
            body = data.split(b"\r\n\r\n", 1)[1].decode("utf-8", "replace") if b"\r\n\r\n" in data else ""
            return start, hdrs, body, src

    def respond(self, hdrs, src, code, reason, extra="", body=""):
        to = hget(hdrs, "to")
        if ";tag=" not in to:
            to += ";tag=" + self.tag
        r = "SIP/2.0 %d %s\r\n" % (code, reason)
        for v in hget(hdrs, "via", True):
            r += "Via: %s\r\n" % v
        r += "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n%sContent-Length: %d\r\n\r\n%s" % (
            hget(hdrs, "from"), to, hget(hdrs, "call-id"), hget(hdrs, "cseq"), extra, len(body.encode()), body)
        self.send(r, src)

    def request(self, method, ruri, to, call_id, extra="", body=""):
        self.cseq += 1
        m = ("%s %s SIP/2.0\r\n%sMax-Forwards: 70\r\nFrom: <sip:%s@%s>;tag=%s\r\nTo: %s\r\n"
             "Call-ID: %s\r\nCSeq: %d %s\r\n%sContent-Length: %d\r\n\r\n%s") % (
                 method, ruri, self.via(), self.user, self.domain, self.tag, to, call_id, self.cseq, method,
                 extra, len(body.encode()), body)
        self.send(m)
        return self.cseq


def sdp_path(body):
    for line in body.splitlines():
        if line.startswith("a=path:"):
            return line[7:].strip()
    raise ValueError("no a=path in the SDP")


def msrp_hostport(path):
    # msrp://HOST:PORT/ID;tcp (the last hop is cpmd itself)
    hp = path.split()[0].split("://", 1)[1].split("/", 1)[0]
    host, port = hp.rsplit(":", 1)
    return host, port


def sdp(role, path, selector):
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=message 9 TCP/MSRP *\r\na=path:%s\r\na=accept-types:*\r\na=setup:active\r\na=%s\r\n"
            "a=file-selector:%s\r\na=file-transfer-id:%s\r\n") % (path, role, selector, rnd(12))


def do_recv(a, ua):
    call_id = "rawua-%s@127.0.0.1" % rnd(8)
    ua.request("REGISTER", "sip:" + ua.domain, "<sip:%s@%s>" % (ua.user, ua.domain), call_id,
               "Contact: <sip:%s@127.0.0.1:%d>;+sip.instance=\"%s\";+g.3gpp.icsi-ref=\"%s\"\r\nExpires: 600\r\n" %
               (ua.user, ua.port, ua.inst, FT_ICSI))
    deadline = time.monotonic() + a.timeout
    sink = None
    while True:
        start, hdrs, body, src = ua.recv(deadline)
        if start.startswith("SIP/2.0"):
            continue
        method = start.split()[0]
        if method == "INVITE" and sink is None:
            path = sdp_path(body)
            sel = next(l[len("a=file-selector:"):] for l in body.splitlines() if l.startswith("a=file-selector:"))
            ours = "msrp://127.0.0.1:9/%s;tcp" % rnd(20)
            ua.respond(hdrs, src, 200, "OK", "Contact: <sip:%s@127.0.0.1:%d>\r\nContent-Type: application/sdp\r\n" %
                       (ua.user, ua.port), sdp("recvonly", ours, sel))
            host, port = msrp_hostport(path)
            sink = subprocess.Popen([a.msrp_raw, "sink", host, port, path, ours], stdout=subprocess.PIPE, text=True)
        elif method == "INVITE":
            continue  # a retransmission: our 200 went out
        elif method == "BYE":
            ua.respond(hdrs, src, 200, "OK")
            break
        elif method in ("CANCEL", "OPTIONS", "MESSAGE", "NOTIFY"):
            ua.respond(hdrs, src, 200, "OK")
    out, _ = sink.communicate(timeout=30)
    sys.stdout.write(out)
    return sink.returncode


def do_send(a, ua):
    size = os.path.getsize(a.file)
    sha = a.sha1
    if not sha:
        h = hashlib.sha1()
        with open(a.file, "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
        sha = h.hexdigest()
    sha = ":".join(sha[i:i + 2].upper() for i in range(0, 40, 2))
    sel = 'name:"%s" type:application/octet-stream size:%d hash:sha-1:%s' % (os.path.basename(a.file), size, sha)
    ours = "msrp://127.0.0.1:9/%s;tcp" % rnd(20)
    call_id = "rawua-%s@127.0.0.1" % rnd(8)
    to = "<sip:%s>" % a.to
    t0 = time.monotonic()
    ua.request("INVITE", "sip:" + a.to, to, call_id,
               "Contact: <sip:%s@127.0.0.1:%d>\r\nAccept-Contact: *;+g.3gpp.icsi-ref=\"%s\"\r\n"
               "P-Preferred-Service: urn:urn-7:3gpp-service.ims.icsi.oma.cpm.filetransfer\r\n"
               "Content-Type: application/sdp\r\n" % (ua.user, ua.port, FT_ICSI), sdp("sendonly", ours, sel))
    deadline = time.monotonic() + a.timeout
    while True:
        start, hdrs, body, src = ua.recv(deadline)
        if not start.startswith("SIP/2.0"):
            continue
        code = int(start.split()[1])
        if code < 200:
            continue
        break
    if code != 200:
        print("raw_ua: INVITE answered %s" % start, file=sys.stderr)
        return 1
    to_tagged = hget(hdrs, "to")
    contact = hget(hdrs, "contact").split("<", 1)[1].split(">", 1)[0]
    cseq = ua.cseq
    ack = ("ACK %s SIP/2.0\r\n%sMax-Forwards: 70\r\nFrom: <sip:%s@%s>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\n"
           "CSeq: %d ACK\r\nContent-Length: 0\r\n\r\n") % (contact, ua.via(), ua.user, ua.domain, ua.tag,
                                                          to_tagged, call_id, cseq)
    ua.send(ack)
    path = sdp_path(body)
    host, port = msrp_hostport(path)
    m0 = time.monotonic()
    r = subprocess.run([a.msrp_raw, "send", host, port, path, ours, a.file, str(a.chunk)], stdout=subprocess.PIPE,
                       text=True, timeout=a.timeout)
    t1 = time.monotonic()
    ua.request("BYE", contact, to_tagged, call_id)
    try:
        ua.recv(time.monotonic() + 2)
    except TimeoutError:
        pass
    sys.stderr.write(r.stdout)
    print("raw_ua send %d %.3f msrp %.6f %.6f" % (size, t1 - t0, m0, t1))
    return r.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=("send", "recv"))
    ap.add_argument("--server", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--msrp-raw", required=True)
    ap.add_argument("--to")
    ap.add_argument("--file")
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--sha1", help="the file's sha-1 in hex (default: computed here)")
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()
    ua = UA(a)
    return do_send(a, ua) if a.role == "send" else do_recv(a, ua)


if __name__ == "__main__":
    sys.exit(main())
