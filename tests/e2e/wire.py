#!/usr/bin/env python3
"""Raw wire tool for the e2e/interop tests: send exact bytes to cpmd and check
what comes back. Not a test by itself (only t_*.sh files are tests).

  wire.py udp  HOST PORT FILE [--repeat N]
  wire.py tcp  HOST PORT FILE [--expect REGEX] [--expect-close] [--timeout S]
  wire.py msrp-send HOST PORT --to-path URI --from-path URI --file F
                    [--chunk N] [--content-type T] [--timeout S]
  wire.py msrp-validate FOLLOW_FILE   (output of tshark -q -z follow,tcp,raw,N)
  wire.py cpim-check [--sip HEX_FILE] [--msrp FOLLOW_FILE]... [--min N]
      every message/cpim body in SIP payloads (HEX_FILE: one hex payload per
      line, tshark -T fields -e udp.payload -e tcp.payload) and in complete
      MSRP messages (FOLLOW_FILE as above) decoded with Python's email
      parser (RFC 5322 header blocks) and, for message/imdn+xml, with
      xml.etree (expat): decoders that are not cpmd's. Prints one line per
      body; exit 1 if one does not decode or fewer than N were found.

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


CPIM_NS_IMDN = "urn:ietf:params:imdn"
IMDN_XMLNS = "{urn:ietf:params:xml:ns:imdn}"


def check_cpim_body(body):
    """Decode one message/cpim body with the stdlib; returns (summary, errors)."""
    import datetime, email.parser, email.policy, xml.etree.ElementTree as ET
    errs = []
    p = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    outer = p.parsebytes(body)
    if outer.defects:
        errs.append("CPIM header block defects: %r" % outer.defects)
    for h in ("From", "To"):
        v = outer.get_all(h) or []
        if len(v) < 1 or (h == "From" and len(v) != 1):
            errs.append("CPIM %s: %d value(s)" % (h, len(v)))
        elif not re.fullmatch(r'(?:"[^"]*"|[^<"]*)?\s*<[^<>\s]+>', v[0].strip()):
            errs.append("CPIM %s not [name] <URI>: %r" % (h, v[0]))
    ns = [x.split(None, 1) for x in outer.get_all("NS") or []]
    prefixes = {a[0]: a[1].strip() for a in ns if len(a) == 2}
    msgid = None
    for k, v in outer.items():
        if "." in k:
            pre = k.split(".", 1)[0]
            if prefixes.get(pre) != "<%s>" % CPIM_NS_IMDN:
                errs.append("CPIM header %s uses an undeclared prefix" % k)
            if k.lower().endswith(".message-id"):
                msgid = v.strip()
    dt = outer.get("DateTime")
    if msgid and not dt:
        errs.append("imdn.Message-ID without DateTime")
    if dt:
        try:
            datetime.datetime.fromisoformat(dt.strip().replace("Z", "+00:00"))
        except ValueError:
            errs.append("DateTime not RFC 3339: %r" % dt)
    inner_raw = outer.get_payload(decode=False)
    inner_raw = inner_raw.encode("utf-8", "surrogateescape") if isinstance(inner_raw, str) else inner_raw
    inner = p.parsebytes(inner_raw)
    ctype = (inner.get("Content-Type") or "").split(";")[0].strip().lower()
    if not ctype:
        errs.append("no Content-Type in the CPIM content headers")
    content = inner.get_payload(decode=False)
    content = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
    cl = inner.get("Content-Length")
    if cl is not None and (not cl.strip().isdigit() or int(cl) > len(content)):
        errs.append("Content-Length %r beyond the content (%d bytes)" % (cl, len(content)))
    what = ctype
    if ctype == "message/imdn+xml":
        try:
            root = ET.fromstring(content)
            if root.tag != IMDN_XMLNS + "imdn":
                errs.append("IMDN root is %s" % root.tag)
            mid = root.find(IMDN_XMLNS + "message-id")
            if mid is None or not (mid.text or "").strip() or root.find(IMDN_XMLNS + "datetime") is None:
                errs.append("IMDN without message-id or datetime")
            notes = [c for c in root if c.tag.endswith("-notification")]
            st = [g.tag.split("}")[-1] for n in notes for s2 in n if s2.tag.endswith("status") for g in s2]
            if len(notes) != 1 or not st:
                errs.append("IMDN: %d notification element(s), status %r" % (len(notes), st))
            what = "imdn %s %s" % (",".join(st), (mid.text or "").strip() if mid is not None else "?")
        except ET.ParseError as e:
            errs.append("IMDN XML: %s" % e)
    return "%s id=%s" % (what, msgid), errs


def sip_messages(payload):
    """SIP messages in one UDP/TCP payload (several may share a segment)."""
    out = []
    while payload:
        end = payload.find(b"\r\n\r\n")
        if end < 0:
            break
        head = payload[:end].decode("utf-8", "replace")
        m = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
        n = int(m.group(1)) if m else 0
        body = payload[end + 4:end + 4 + n]
        out.append((head, body))
        payload = payload[end + 4 + n:]
    return out


def msrp_cpim_bodies(data):
    """Bodies of complete message/cpim MSRP messages in one direction of a stream. Each request
    runs from its start line to its own end-line; a SEND without a body (the bind) has no blank
    line before its end-line."""
    bodies, parts, pos = [], {}, 0
    start = re.compile(rb"MSRP (\S+) ([A-Z]+)\r\n")
    while True:
        m = start.search(data, pos)
        if not m:
            break
        tid = m.group(1)
        end = re.compile(rb"-------" + re.escape(tid) + rb"([$+#])\r\n").search(data, m.end())
        if not end:
            break
        region = data[m.end():end.start()]
        pos = end.end()
        if m.group(2) != b"SEND":
            continue
        blank = region.find(b"\r\n\r\n")
        if blank < 0:
            continue  # no body
        head = region[:blank].decode("utf-8", "replace")
        body = region[blank + 4:]
        if body.endswith(b"\r\n"):
            body = body[:-2]  # the CRLF before the end-line belongs to the framing
        ct = re.search(r"(?im)^content-type:\s*(\S+)", head)
        mid = re.search(r"(?im)^message-id:\s*(\S+)", head)
        if not ct or ct.group(1).lower() != "message/cpim" or not mid:
            continue
        parts.setdefault(mid.group(1), b"")
        parts[mid.group(1)] += body
        if end.group(1) == b"$":
            bodies.append(parts.pop(mid.group(1)))
    return bodies


def do_cpim_check(args):
    import binascii
    bodies = []
    for f in args.sip or []:
        for line in open(f, encoding="ascii", errors="replace"):
            for hx in re.split(r"[,\s]+", line.strip()):
                if not hx:
                    continue
                for head, body in sip_messages(binascii.unhexlify(hx)):
                    if re.search(r"(?im)^(?:content-type|c)\s*:\s*message/cpim", head) and body:
                        bodies.append(("sip " + head.split("\r\n", 1)[0][:40], body))
    for f in args.msrp or []:
        dirs = {"->": b"", "<-": b""}
        for line in open(f, encoding="ascii", errors="replace"):
            line = line.rstrip("\n")
            if re.fullmatch(r"[0-9a-f]+", line):
                dirs["->"] += binascii.unhexlify(line)
            elif re.fullmatch(r"\t[0-9a-f]+", line):
                dirs["<-"] += binascii.unhexlify(line[1:])
        for d, data in dirs.items():
            bodies += [("msrp " + d, b) for b in msrp_cpim_bodies(data)]
    bad = 0
    for where, body in bodies:
        summary, errs = check_cpim_body(body)
        print("%s: %s%s" % (where, summary, "" if not errs else " ERRORS: " + "; ".join(errs)))
        bad += bool(errs)
    print("%d message/cpim bodies, %d bad" % (len(bodies), bad))
    return 1 if bad or len(bodies) < args.min else 0


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
    q = sub.add_parser("cpim-check")
    q.add_argument("--sip", action="append"); q.add_argument("--msrp", action="append")
    q.add_argument("--min", type=int, default=1)
    args = p.parse_args()
    try:
        return {"udp": do_udp, "tcp": do_tcp, "msrp-send": do_msrp_send,
                "msrp-validate": do_msrp_validate, "cpim-check": do_cpim_check}[args.cmd](args)
    except OSError as e:
        print("wire: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
