#!/usr/bin/env python3
"""Checks an MSS object as stored by Dovecot, with Python's `email` package:
a MIME parser independent of ours (helper of tests/mss/t_mss_*.sh).

  mss_check.py EML [--hdr NAME=VALUE]... [--no-hdr NAME]... [--part CID=FILE]...
               [--filename NAME] [--body FILE] [--records KIND:FILE,...]

  --hdr      the decoded header (RFC 2047 undone) equals VALUE, exactly once
  --no-hdr   the header is absent (an injection did not create it)
  --part     the part with Content-ID <CID> decodes byte-identical to FILE
  --filename the file part's (RFC 2231) file name
  --body     a single-part object's body decodes byte-identical to FILE
  --records  a session history: its record parts, in order, with X-CPM-Record
             KIND and a body byte-identical to FILE
Prints FAIL lines and exits 1 on any difference.
"""
import email
import email.policy
import sys

fails = []


def check(cond, what):
    if not cond:
        fails.append(what)


def main(argv):
    path, args = argv[1], argv[2:]
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    check(not msg.defects, f"defects: {msg.defects}")
    i = 0
    while i < len(args):
        opt, val = args[i], args[i + 1]
        i += 2
        if opt == "--hdr":
            name, want = val.split("=", 1)
            got = msg.get_all(name) or []
            check(len(got) == 1, f"{name}: {len(got)} headers, want 1")
            if got:
                check(str(got[0]) == want, f"{name}: {str(got[0])!r} != {want!r}")
        elif opt == "--no-hdr":
            check(msg.get_all(val) is None, f"{val} present: {msg.get_all(val)}")
        elif opt == "--part":
            cid, fname = val.split("=", 1)
            parts = [p for p in msg.walk() if p.get("Content-ID") == f"<{cid}>"]
            check(len(parts) == 1, f"part <{cid}>: {len(parts)} found")
            if parts:
                data = parts[0].get_payload(decode=True)
                want = open(fname, "rb").read()
                check(data == want, f"part <{cid}>: {len(data)} bytes decoded, differ from {fname} ({len(want)})")
        elif opt == "--filename":
            parts = [p for p in msg.walk() if p.get("Content-ID") == "<file@cpm.mss>"]
            check(parts and parts[0].get_filename() == val,
                  f"filename {parts[0].get_filename() if parts else None!r} != {val!r}")
        elif opt == "--body":
            check(not msg.is_multipart(), "not single-part")
            data = msg.get_payload(decode=True)
            check(data == open(val, "rb").read(), "body differs")
        elif opt == "--records":
            want = [w.split(":", 1) for w in val.split(",")]
            recs = [p for p in msg.walk() if p.get("X-CPM-Record")]
            check(len(recs) == len(want), f"{len(recs)} records, want {len(want)}")
            for n, (p, (kind, fname)) in enumerate(zip(recs, want)):
                check(p["X-CPM-Record"] == kind, f"record {n}: kind {p['X-CPM-Record']} != {kind}")
                check(p.get_payload(decode=True) == open(fname, "rb").read(), f"record {n}: body differs")
        else:
            sys.exit(f"unknown option {opt}")
    for f in fails:
        print(f"FAIL {path}: {f}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
