#!/usr/bin/env bash
# `cpm receive` against a scripted server (the Python below, SIP/UDP +
# MSRP/TCP) playing cpmd's store-and-forward side:
#  - IMDN MESSAGEs print `notification delivered|failed ID` (200); a bad
#    message/cpim body gets 400, another body type 415;
#  - a deferred-list MESSAGE prints `deferred ID SENDER NAME SIZE` per item;
#  - an INVITE with a=file-range and no kept partial gets 488;
#  - a transfer cut by a connection reset keeps .NAME.cpm-part + .meta;
#  - the rest offered with a=file-range:A-SIZE is appended to it (Byte-Range
#    within the range), the whole file's sha-1 checked, `received` printed,
#    the success REPORT covers the range, and the partial files are gone;
#  - `cpm list` (MESSAGE deferred-query to our own AOR) prints the list;
#  - `cpm fetch` (INVITE, Cpm-Item-Id, recvonly, empty selector): 404 ->
#    `failed: no such item ID` exit 4; 200 -> the file, `received ...`.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "python3 needed"
cat >"$T_DIR/fake.py" <<'PY'
#!/usr/bin/env python3
"""A scripted stand-in for cpmd's store-and-forward side, for
t_cpm_receive_resume.sh: it plays registrar and sender towards one
`cpm receive` (SIP over UDP, MSRP over TCP) and checks cpm's answers.
Not a test by itself. Prints "OK" and exits 0 when every step held.

  fake.py SIP_PORT MSRP_PORT FILE STEP...

Steps (in order given):
  imdn ID STATUS       MESSAGE message/cpim IMDN (delivered|failed); expect 200
  badcpim              MESSAGE message/cpim garbage; expect 400
  plain                MESSAGE text/plain; expect 415
  deferred             MESSAGE deferred list (2 items); expect 200
  range488 A           INVITE for FILE with a=file-range:A-SIZE; expect 488
  partial N            INVITE for FILE, send N bytes, reset the MSRP connection
  resume A             INVITE with a=file-range:A-SIZE; send the rest; expect
                       the success REPORT
"""
import hashlib, os, re, secrets, socket, struct, sys, time

SIP_PORT, MSRP_PORT, FILE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
STEPS = sys.argv[4:]
HOST = "127.0.0.1"
DATA = open(FILE, "rb").read()
SIZE = len(DATA)
SHA1 = hashlib.sha1(DATA).hexdigest().upper()
HASH = ":".join(SHA1[i:i + 2] for i in range(0, 40, 2))
NAME = os.path.basename(FILE)

sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sip.bind((HOST, SIP_PORT))
msrp_l = socket.socket()
msrp_l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
msrp_l.bind((HOST, MSRP_PORT))
msrp_l.listen(4)
peer = None  # cpm's SIP address


def die(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def hdr(msg, name):
    m = re.search(r"^" + name + r":\s*(.*?)\r?$", msg, re.M | re.I)
    return m.group(1) if m else ""


def recv_sip(timeout=10, want=None):
    sip.settimeout(timeout)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            data, addr = sip.recvfrom(65535)
        except socket.timeout:
            break
        m = data.decode("utf-8", "replace")
        if m.startswith("REGISTER "):
            reply(m, addr, 200, "OK", extra="Contact: %s;expires=600\r\n" % hdr(m, "Contact"))
            global peer
            peer = addr
            continue
        if want is None or want(m):
            return m, addr
        if not m.startswith("SIP/2.0 ") and not m.startswith("ACK "):
            reply(m, addr, 200, "OK")  # cpm's own BYE and the like
    die("no SIP message within %s s" % timeout)


def reply(req, addr, code, phrase, extra="", body=b"", ctype=None):
    to = hdr(req, "To")
    if ";tag=" not in to:
        to += ";tag=" + secrets.token_hex(4)
    r = "SIP/2.0 %d %s\r\n" % (code, phrase)
    for v in re.findall(r"^Via:\s*(.*?)\r?$", req, re.M | re.I):
        r += "Via: %s\r\n" % v
    r += "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n%s" % (
        hdr(req, "From"), to, hdr(req, "Call-ID"), hdr(req, "CSeq"), extra)
    if ctype:
        r += "Content-Type: %s\r\n" % ctype
    sip.sendto(r.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body, addr)


def request(method, body=b"", ctype=None, call=None, cseq=1, to_tag="", extra="", branch=None):
    call = call or secrets.token_hex(8) + "@fake"
    branch = branch or "z9hG4bK" + secrets.token_hex(6)
    m = ("%s sip:bob@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=%s\r\nMax-Forwards: 70\r\n"
         "From: <sip:alice@cpm.test>;tag=fa\r\nTo: <sip:bob@cpm.test>%s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"
         "Contact: <sip:%s:%d>\r\n%s" % (method, peer[0], peer[1], HOST, SIP_PORT, branch,
                                           (";tag=" + to_tag) if to_tag else "", call, cseq, method,
                                           HOST, SIP_PORT, extra))
    if ctype:
        m += "Content-Type: %s\r\n" % ctype
    m = m.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body
    sip.sendto(m, peer)
    return call, branch


def final_for(call, method):
    while True:
        m, _ = recv_sip(want=lambda x: x.startswith("SIP/2.0 ") and hdr(x, "Call-ID") == call)
        code = int(m.split()[1])
        if code >= 200 and method in hdr(m, "CSeq"):
            return code, m


def message(ctype, body, expect):
    call, _ = request("MESSAGE", body.encode(), ctype)
    code, _ = final_for(call, "MESSAGE")
    if code != expect:
        die("MESSAGE %s answered %d, %d expected" % (ctype, code, expect))


def imdn(msgid, status):
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\r\n<imdn xmlns="urn:ietf:params:xml:ns:imdn">\r\n'
           '<message-id>%s</message-id>\r\n<datetime>2026-11-25T12:00:00Z</datetime>\r\n'
           '<delivery-notification><status><%s/></status></delivery-notification>\r\n</imdn>\r\n' % (msgid, status))
    body = ("From: <sip:bob@cpm.test>\r\nTo: <sip:alice@cpm.test>\r\nNS: imdn <urn:ietf:params:imdn>\r\n"
            "imdn.Message-ID: w%s\r\nDateTime: 2026-11-25T12:00:01Z\r\n\r\n"
            "Content-Type: message/imdn+xml\r\nContent-Disposition: notification\r\nContent-Length: %d\r\n\r\n%s"
            % (secrets.token_hex(4), len(xml), xml))
    message("message/cpim", body, 200)


def deferred():
    body = ("CPMD-Deferred/1\r\n\r\nId: item1\r\nSender: sip:alice@cpm.test\r\nTime: 2026-11-25T12:00:00Z\r\n"
            "Name: holiday%20photo.jpg\r\nType: image/jpeg\r\nSize: 123456\r\n"
            "Expires: 2026-11-26T12:00:00Z\r\n\r\nId: item-2_b\r\nSender: sip:carol@cpm.test\r\n"
            "Name: a%0Ab.txt\r\nType: text/plain\r\nSize: 7\r\n")
    message("application/vnd.cpmd.deferred+text", body, 200)


DEFERRED_LIST = ("CPMD-Deferred/1\r\n\r\nId: item1\r\nSender: sip:alice@cpm.test\r\n"
                 "Name: %s\r\nType: application/octet-stream\r\nSize: %d\r\n" % (NAME, SIZE))


def serve(what):
    """Answer one request of a second cpm (list / fetch) that uses us as its proxy."""
    m, addr = recv_sip(15, want=lambda x: x.startswith("MESSAGE ") or x.startswith("INVITE "))
    if what == "list":
        if not m.startswith("MESSAGE ") or hdr(m, "Content-Type") != "application/vnd.cpmd.deferred-query":
            die("list: expected a deferred-query MESSAGE, got: " + m.splitlines()[0])
        if not re.match(r"MESSAGE sip:bob@cpm.test SIP/2.0", m):
            die("list: not sent to our own AOR: " + m.splitlines()[0])
        reply(m, addr, 200, "OK", body=DEFERRED_LIST.encode(), ctype="application/vnd.cpmd.deferred+text")
        return
    if not m.startswith("INVITE sip:bob@cpm.test ") or hdr(m, "Cpm-Item-Id") != what:
        die("fetch: expected an INVITE to sip:bob@cpm.test with Cpm-Item-Id %s: %s / %s" %
            (what, m.splitlines()[0], hdr(m, "Cpm-Item-Id")))
    if "a=recvonly" not in m or not re.search(r"^a=file-selector\r?$", m, re.M):
        die("fetch: offer is not recvonly with an empty a=file-selector")
    if what == "nosuch":
        reply(m, addr, 404, "No Such Item")
        recv_sip(want=lambda x: x.startswith("ACK "))
        return
    body = sdp().replace(b"a=sendonly", b"a=sendonly")
    reply(m, addr, 200, "OK", extra="Contact: <sip:%s:%d>\r\n" % (HOST, SIP_PORT), body=body,
          ctype="application/sdp")
    recv_sip(want=lambda x: x.startswith("ACK "))
    rng = msrp_session(0, SIZE, SIZE)
    if rng != "1-%d/%d" % (SIZE, SIZE):
        die("fetch: success REPORT Byte-Range %s" % rng)
    b, a2 = recv_sip(want=lambda x: x.startswith("BYE "))
    reply(b, a2, 200, "OK")


def sdp(range_start=None):
    s = ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=message %d TCP/MSRP *\r\n"
         "a=path:msrp://%s:%d/fakesess;tcp\r\na=accept-types:*\r\na=setup:passive\r\na=sendonly\r\n"
         "a=file-selector:name:\"%s\" type:application/octet-stream size:%d hash:sha-1:%s\r\n"
         "a=file-transfer-id:%s\r\n" % (HOST, HOST, MSRP_PORT, HOST, MSRP_PORT, NAME, SIZE, HASH,
                                         secrets.token_hex(8)))
    if range_start:
        s += "a=file-range:%d-%d\r\n" % (range_start, SIZE)
    return s.encode()


def invite(range_start=None):
    call, branch = request("INVITE", sdp(range_start), "application/sdp")
    code, m = final_for(call, "INVITE")
    totag = re.search(r"tag=([^;>\s]+)", hdr(m, "To")).group(1)
    if code >= 300:  # ACK a non-2xx in the same transaction
        request("ACK", call=call, to_tag=totag, branch=branch)
    else:
        request("ACK", call=call, to_tag=totag)
    return code, m, call, totag


def read_until(c, buf, pat, timeout=10):
    c.settimeout(timeout)
    while not re.search(pat, buf):
        b = c.recv(65536)
        if not b:
            die("MSRP connection closed by cpm")
        buf += b
    return buf


def msrp_session(start, count, total, reset=False):
    """Accept cpm's connection, answer its binding SEND, send DATA[start:start+count]
    as Byte-Range 1-based within a message of `total` bytes."""
    msrp_l.settimeout(10)
    c, _ = msrp_l.accept()
    buf = read_until(c, b"", rb"-------(\w+)\$\r\n")
    tid = re.search(rb"^MSRP (\w+) SEND", buf, re.M).group(1)
    from_path = re.search(rb"^From-Path: (\S+)", buf, re.M).group(1)
    ours = b"msrp://%s:%d/fakesess;tcp" % (HOST.encode(), MSRP_PORT)
    c.sendall(b"MSRP %s 200 OK\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n" % (tid, from_path, ours, tid))
    off, chunk, n = 0, 65536, 0
    while off < count:
        d = DATA[start + off:start + min(off + chunk, count)]
        last = off + len(d) >= count and not reset
        t = b"tid%04d" % n
        n += 1
        c.sendall(b"MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: msg00001\r\nByte-Range: %d-%d/%d\r\n"
                  b"Success-Report: yes\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n-------%s%s\r\n"
                  % (t, from_path, ours, off + 1, off + len(d), total, d, t, b"$" if last else b"+"))
        off += len(d)
    # every chunk's 200 (and, at the end, the REPORT)
    want = rb"MSRP tid%04d 200" % (n - 1)
    buf = read_until(c, b"", want)
    if reset:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        return None
    buf = read_until(c, buf, rb"REPORT[\s\S]*Status: 000 200")
    rng = re.search(rb"REPORT[\s\S]*?Byte-Range: (\S+)", buf).group(1)
    c.close()
    return rng.decode()


# wait for cpm's REGISTER
deadline = time.time() + 15
while peer is None and time.time() < deadline:
    sip.settimeout(1)
    try:
        data, addr = sip.recvfrom(65535)
    except socket.timeout:
        continue
    m = data.decode("utf-8", "replace")
    if m.startswith("REGISTER "):
        reply(m, addr, 200, "OK", extra="Contact: %s;expires=600\r\n" % hdr(m, "Contact"))
        peer = addr
if peer is None:
    die("cpm did not REGISTER")
print("registered %s:%d" % peer, flush=True)

i = 0
while i < len(STEPS):
    s = STEPS[i]
    i += 1
    if s == "imdn":
        imdn(STEPS[i], STEPS[i + 1])
        i += 2
    elif s == "badcpim":
        message("message/cpim", "garbage without headers", 400)
    elif s == "plain":
        message("text/plain", "hello", 415)
    elif s == "deferred":
        deferred()
    elif s == "range488":
        a = int(STEPS[i])
        i += 1
        code, _, _, _ = invite(a)
        if code != 488:
            die("range INVITE without a partial answered %d, 488 expected" % code)
    elif s == "partial":
        n = int(STEPS[i])
        i += 1
        code, _, call, totag = invite()
        if code != 200:
            die("INVITE answered %d" % code)
        msrp_session(0, n, SIZE, reset=True)
        time.sleep(0.5)
        request("BYE", call=call, to_tag=totag, cseq=2)
    elif s == "resume":
        a = int(STEPS[i])
        i += 1
        code, m, call, totag = invite(a)
        if code != 200:
            die("resume INVITE answered %d" % code)
        if "a=file-range:%d-%d" % (a, SIZE) not in m:
            die("the 200 does not repeat a=file-range:%d-%d" % (a, SIZE))
        rng = msrp_session(a - 1, SIZE - (a - 1), SIZE - (a - 1))
        if rng != "1-%d/%d" % (SIZE - (a - 1), SIZE - (a - 1)):
            die("success REPORT Byte-Range %s" % rng)
        request("BYE", call=call, to_tag=totag, cseq=2)
    elif s == "serve":
        serve(STEPS[i])
        i += 1
    else:
        die("unknown step " + s)
    print("step %s done" % s, flush=True)
print("OK", flush=True)
PY
SIP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$SIP_PORT "
MP=$(pick_port)
USED_PORTS="$USED_PORTS$MP "
gen_file "$T_DIR/doc.bin" 500000
dir="$T_DIR/recv"
mkdir -p "$dir"
python3 "$T_DIR/fake.py" "$SIP_PORT" "$MP" "$T_DIR/doc.bin" \
	imdn ftid-1 delivered imdn ftid-2 failed badcpim plain deferred range488 1001 \
	partial 300000 resume 200001 serve list serve nosuch serve item1 >"$LOGDIR/fake.out" 2>&1 &
FAKE=$!
PIDS+=("$FAKE")
sleep 0.3
"$CPM" --server "$HOST:$SIP_PORT" --user "sip:bob@$DOMAIN" --transport udp receive --dir "$dir" --count 1 \
	--timeout 50 </dev/null >"$LOGDIR/recv.out" 2>"$LOGDIR/recv.err" &
RP=$!
PIDS+=("$RP")
resumed() { grep -q '^step resume done' "$LOGDIR/fake.out"; }
wait_for 30 "the receive steps" resumed
# list and fetch (a second device of bob) against the same server
fdir="$T_DIR/fetch"
mkdir -p "$fdir"
c=("$CPM" --server "$HOST:$SIP_PORT" --user "sip:bob@$DOMAIN" --device laptop)
rc=0
timeout 20 "${c[@]}" list >"$LOGDIR/list.out" 2>"$LOGDIR/list.err" || rc=$?
[ $rc -eq 0 ] || fail "cpm list exit $rc"
[ "$(cat "$LOGDIR/list.out")" = "deferred item1 sip:alice@cpm.test doc.bin 500000" ] ||
	fail "cpm list printed: $(cat "$LOGDIR/list.out")"
rc=0
timeout 20 "${c[@]}" fetch nosuch --dir "$fdir" >"$LOGDIR/fetch404.out" 2>"$LOGDIR/fetch404.err" || rc=$?
[ $rc -eq 4 ] || fail "cpm fetch of an unknown item: exit $rc, 4 expected"
[ "$(tail -n1 "$LOGDIR/fetch404.out")" = "failed: no such item nosuch" ] || fail "fetch 404: $(cat "$LOGDIR/fetch404.out")"
rc=0
timeout 20 "${c[@]}" fetch item1 --dir "$fdir" >"$LOGDIR/fetch.out" 2>"$LOGDIR/fetch.err" || rc=$?
[ $rc -eq 0 ] || fail "cpm fetch item1: exit $rc: $(cat "$LOGDIR/fetch.out")"
h0=$(sha1 "$T_DIR/doc.bin")
[ "$(tail -n1 "$LOGDIR/fetch.out")" = "received $fdir/doc.bin 500000 $h0" ] || fail "fetch: $(cat "$LOGDIR/fetch.out")"
cmp -s "$T_DIR/doc.bin" "$fdir/doc.bin" || fail "the fetched file differs"
wait_exit "$FAKE" 30
[ "$WAIT_RC" = 0 ] || fail "fake server: $WAIT_RC: $(tail -n2 "$LOGDIR/fake.out")"
assert_grep "$LOGDIR/fake.out" '^OK$'
wait_exit "$RP" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
out="$LOGDIR/recv.out"
assert_grep "$out" '^notification delivered ftid-1$'
assert_grep "$out" '^notification failed ftid-2$'
assert_grep "$out" '^deferred item1 sip:alice@cpm.test holiday%20photo.jpg 123456$'
assert_grep "$out" '^deferred item-2_b sip:carol@cpm.test a%0Ab.txt 7$'
assert_grep "$LOGDIR/recv.err" '488 No Partial File' "no 488 note for the range without a partial"
assert_grep "$out" '^failed: doc.bin MSRP ' "the reset transfer printed no failed line"
assert_grep "$LOGDIR/recv.err" 'kept the partial file .*\.doc\.bin\.cpm-part \(300000 of 500000 bytes\)'
h=$(sha1 "$T_DIR/doc.bin")
assert_grep "$out" "^received $dir/doc.bin 500000 $h\$" "no received line for the resumed file"
cmp -s "$T_DIR/doc.bin" "$dir/doc.bin" || fail "the resumed file differs"
[ "$(files_in "$dir" | wc -l)" -eq 1 ] || fail "files left in --dir: $(files_in "$dir" | tr '\n' ' ')"
