#!/usr/bin/env python3
"""Raw wire tool for the e2e/interop tests: send exact bytes to cpmd and check
what comes back. Not a test by itself (only t_*.sh files are tests).

  wire.py udp  HOST PORT FILE [--repeat N]
  wire.py tcp  HOST PORT FILE [--expect REGEX] [--expect-close] [--timeout S]
  wire.py msrp-send HOST PORT --to-path URI --from-path URI --file F
                    [--chunk N] [--content-type T] [--timeout S]
  wire.py msrp-validate FOLLOW_FILE   (output of tshark -q -z follow,tcp,raw,N)

FILE is a path or "-" (stdin). --crlf turns every LF of FILE into CRLF (wire
cases in tests/data/wire/ are written with LF); --subst K=V replaces @K@.
Exit status 0 = the expectation held, 1 = it did not, 2 = usage/IO error.
"""
import argparse, os, re, secrets, socket, sys, time


def load(args):
    data = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
    for kv in args.subst or []:
        k, v = kv.split("=", 1)
        data = data.replace(b"@" + k.encode() + b"@", v.encode())
    if args.crlf:
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data


def do_udp(args):
    data = load(args)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(args.repeat):
        try:
            s.sendto(data, (args.host, args.port))
        except OSError as e:  # e.g. EMSGSIZE, ECONNREFUSED from a previous ICMP
            print("udp send: %s" % e, file=sys.stderr)
    return 0


def do_tcp(args):
    data = load(args)
    s = socket.create_connection((args.host, args.port), timeout=args.timeout)
    got = b""
    closed = False
    try:
        s.sendall(data)
    except OSError as e:
        # the peer may close or reset while we still write (e.g. overlong line)
        print("tcp send stopped: %s" % e, file=sys.stderr)
        closed = True
    deadline = time.time() + args.timeout
    pat = re.compile(args.expect.encode(), re.M) if args.expect else None
    while not closed and time.time() < deadline:
        if pat and pat.search(got):
            break
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except OSError as e:
            print("tcp recv: %s" % e, file=sys.stderr)
            closed = True
            break
        if not b:
            closed = True
            break
        got += b
    s.close()
    sys.stdout.write(got.decode("utf-8", "replace"))
    print("\n[wire: %d bytes received, connection %s]" % (len(got), "closed by peer" if closed else "open"),
          file=sys.stderr)
    if pat and not pat.search(got):
        print("[wire: expected /%s/ not received]" % args.expect, file=sys.stderr)
        return 1
    if args.expect_close and not closed:
        print("[wire: expected the peer to close the connection]", file=sys.stderr)
        return 1
    return 0


def read_until(s, buf, pat, deadline):
    while True:
        m = pat.search(buf)
        if m:
            return m, buf
        if time.time() > deadline:
            return None, buf
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        if not b:
            return None, buf
        buf += b


def do_msrp_send(args):
    """Send FILE as one MSRP message (RFC 4975) in chunks; every chunk must get
    200. A success REPORT, if one comes, is printed too."""
    body = open(args.file, "rb").read()
    s = socket.create_connection((args.host, args.port), timeout=args.timeout)
    msgid = secrets.token_hex(8)
    total = len(body)
    deadline = time.time() + args.timeout
    buf = b""
    start = 0
    ok = True
    while True:
        chunk = body[start:start + args.chunk]
        tid = secrets.token_hex(6)
        end = start + len(chunk)
        last = end >= total
        head = ("MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
                "Byte-Range: %d-%d/%d\r\nSuccess-Report: yes\r\nFailure-Report: yes\r\n"
                "Content-Type: %s\r\n\r\n" % (tid, args.to_path, args.from_path, msgid,
                                              start + 1, end, total, args.content_type))
        s.sendall(head.encode() + chunk + ("\r\n-------%s%s\r\n" % (tid, "$" if last else "+")).encode())
        pat = re.compile((r"MSRP %s (\d{3})[^\r\n]*\r\n(?:.*?\r\n)?-------%s\$\r\n" % (tid, tid)).encode(), re.S)
        m, buf = read_until(s, buf, pat, deadline)
        if not m:
            print("msrp-send: no response to chunk %d-%d" % (start + 1, end), file=sys.stderr)
            ok = False
            break
        code = m.group(1).decode()
        print("response %s %s-%d/%d" % (code, start + 1, end, total))
        buf = buf[m.end():]
        if code != "200":
            ok = False
            break
        start = end
        if last:
            break
    if ok:
        pat = re.compile(rb"MSRP \S+ REPORT\r\n.*?Status: 000 (\d{3})[^\r\n]*\r\n.*?-------\S+\$\r\n", re.S)
        m, buf = read_until(s, buf, pat, time.time() + min(args.timeout, 10))
        print("report %s" % (m.group(1).decode() if m else "none"))
    s.close()
    return 0 if ok else 1


IDENT = rb"[A-Za-z0-9][A-Za-z0-9.\-+%=]{3,31}"
URI = rb"msrps?://[^ \r\n/]+(?:/[A-Za-z0-9\-._~+=/]+)?;[A-Za-z0-9]+(?:;[^ \r\n]*)?"


def validate_msrp_stream(data, name):
    """Strict RFC 4975 framing check of one direction of an MSRP connection.
    Returns (errors, stats)."""
    errs = []
    st = {"SEND": 0, "REPORT": 0, "responses": 0, "bytes": 0, "messages": {}}
    i = 0
    start_re = re.compile(rb"MSRP (" + IDENT + rb") (?:([A-Z]+)|(\d{3})(?: [^\r\n]*)?)\r\n")
    while i < len(data):
        m = start_re.match(data, i)
        if not m:
            errs.append("%s@%d: bad start line %r" % (name, i, data[i:i + 60]))
            break
        tid, method, code = m.group(1), m.group(2), m.group(3)
        end_re = re.compile(rb"\r\n-------" + re.escape(tid) + rb"([+$#])\r\n")
        e = end_re.search(data, m.end() - 2)
        if not e:
            errs.append("%s@%d: no end-line for tid %s" % (name, i, tid.decode()))
            break
        # headers: up to the blank line (body) or the end-line
        head_end = data.find(b"\r\n\r\n", m.end() - 2, e.start() + 2)
        hdr_blob = data[m.end():(head_end + 2 if head_end >= 0 else e.start() + 2)]
        body = data[head_end + 4:e.start()] if head_end >= 0 else b""
        lines = [l for l in hdr_blob.split(b"\r\n") if l]
        where = "%s@%d tid %s" % (name, i, tid.decode())
        if len(lines) < 2 or not re.fullmatch(rb"To-Path: " + URI + rb"(?: " + URI + rb")*", lines[0]):
            errs.append("%s: first header is not a valid To-Path: %r" % (where, lines[:1]))
        if len(lines) < 2 or not re.fullmatch(rb"From-Path: " + URI + rb"(?: " + URI + rb")*", lines[1]):
            errs.append("%s: second header is not a valid From-Path: %r" % (where, lines[1:2]))
        hdrs = {}
        for l in lines[2:]:
            hm = re.fullmatch(rb"([A-Za-z][A-Za-z0-9\-]*): (.*)", l)
            if not hm:
                errs.append("%s: bad header line %r" % (where, l[:80]))
                continue
            hdrs[hm.group(1).lower()] = hm.group(2)
        if code:
            st["responses"] += 1
            if head_end >= 0 or e.group(1) != b"$":
                errs.append("%s: response with a body or a flag other than $" % where)
        elif method == b"SEND":
            st["SEND"] += 1
            st["bytes"] += len(body)
            mid = hdrs.get(b"message-id")
            if not mid or not re.fullmatch(IDENT, mid):
                errs.append("%s: SEND without a valid Message-ID" % where)
            br = hdrs.get(b"byte-range", b"1-*/*")
            bm = re.fullmatch(rb"(\d+)-(\d+|\*)/(\d+|\*)", br)
            if not bm:
                errs.append("%s: bad Byte-Range %r" % (where, br))
            elif body or head_end >= 0:
                a = int(bm.group(1))
                if bm.group(2) != b"*" and e.group(1) != b"+" and int(bm.group(2)) - a + 1 != len(body):
                    errs.append("%s: Byte-Range %s but %d body bytes" % (where, br.decode(), len(body)))
                if bm.group(2) != b"*" and e.group(1) == b"+" and int(bm.group(2)) - a + 1 < len(body):
                    errs.append("%s: more body bytes (%d) than Byte-Range %s" % (where, len(body), br.decode()))
                if b"content-type" not in hdrs:
                    errs.append("%s: SEND with a body but no Content-Type" % where)
                if mid:
                    info = st["messages"].setdefault(mid.decode(), {"got": 0, "total": bm.group(3).decode(), "last": False})
                    info["got"] += len(body)
                    info["last"] = info["last"] or e.group(1) == b"$"
        elif method == b"REPORT":
            st["REPORT"] += 1
            if not re.fullmatch(rb"000 \d{3}(?: .*)?", hdrs.get(b"status", b"")):
                errs.append("%s: REPORT without a valid Status" % where)
            if head_end >= 0:
                errs.append("%s: REPORT with a body" % where)
        else:
            errs.append("%s: unknown method %r" % (where, method))
        i = e.end()
    return errs, st


def do_msrp_validate(args):
    """Validate both directions of a `tshark -q -z follow,tcp,raw,N` dump.
    Prints one summary line per direction; exit 1 on any framing error."""
    import binascii
    dirs = {"->": b"", "<-": b""}
    for line in open(args.file, encoding="ascii", errors="replace"):
        line = line.rstrip("\n")
        if re.fullmatch(r"[0-9a-f]+", line):
            dirs["->"] += binascii.unhexlify(line)
        elif re.fullmatch(r"\t[0-9a-f]+", line):
            dirs["<-"] += binascii.unhexlify(line[1:])
    bad = 0
    for name, data in dirs.items():
        if not data:
            continue
        errs, st = validate_msrp_stream(data, name)
        complete = [m for m, v in st["messages"].items() if v["last"] and v["total"] != "*" and v["got"] >= int(v["total"])]
        print("%s %d bytes: %d SEND (%d body bytes), %d REPORT, %d responses, %d complete message(s)%s" % (
            name, len(data), st["SEND"], st["bytes"], st["REPORT"], st["responses"], len(complete),
            "".join(" [%s %d/%s]" % (m, v["got"], v["total"]) for m, v in st["messages"].items())))
        for x in errs[:20]:
            print("  ERROR " + x)
        bad += len(errs)
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("udp", "tcp"):
        q = sub.add_parser(name)
        q.add_argument("host"); q.add_argument("port", type=int); q.add_argument("file")
        q.add_argument("--crlf", action="store_true"); q.add_argument("--subst", action="append")
        q.add_argument("--timeout", type=float, default=5)
        if name == "udp":
            q.add_argument("--repeat", type=int, default=1)
        else:
            q.add_argument("--expect"); q.add_argument("--expect-close", action="store_true")
    q = sub.add_parser("msrp-send")
    q.add_argument("host"); q.add_argument("port", type=int)
    q.add_argument("--to-path", required=True); q.add_argument("--from-path", required=True)
    q.add_argument("--file", required=True); q.add_argument("--chunk", type=int, default=2048)
    q.add_argument("--content-type", default="application/octet-stream")
    q.add_argument("--timeout", type=float, default=30)
    q = sub.add_parser("msrp-validate")
    q.add_argument("file")
    args = p.parse_args()
    try:
        return {"udp": do_udp, "tcp": do_tcp, "msrp-send": do_msrp_send,
                "msrp-validate": do_msrp_validate}[args.cmd](args)
    except OSError as e:
        print("wire: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
