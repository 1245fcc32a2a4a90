#!/usr/bin/env bash
# Store-and-forward against a hostile (scripted) sender: the Python below
# speaks SIP/UDP + MSRP/TCP to the real cpmd (it is a peer, not a stand-in for
# cpmd). Recipient bob is offline, so every file is deferred to the store
# (docs/internals/store-and-forward.md §1, §5):
#  1) a resume offer (a=file-range:N+1-SIZE) when no partial exists -> 488;
#  2) a real partial is made (half the file sent, connection reset: cpmd keeps
#     it as a resumable item); resume offers that do not match it -> 488:
#     other sha-1, other size, more bytes claimed than kept;
#  3) a=file-range beyond the size (START > SIZE), or not ending at SIZE -> 488;
#  4) the matching resume (same selector, range from the kept byte, Byte-Range
#     within the range, §5) is accepted and ends with Cpm-Stored: the positive
#     control; bob then receives the whole file, identical;
#  5) a sender that declares 1 KiB and sends 256 KiB is refused (MSRP 413 or
#     the connection/session ended; a Byte-Range whose end passes its own
#     total may get 400), nothing is stored (no blob, no partial file),
#     and cpmd stays up and still stores a well-behaved file afterwards.
#     (This once left a 0-byte blobs/tmp/<item> with its item and partial rows
#     until expiry; fixed: a refused upload leaves nothing.)
#  3b) a Cpm-Expires that is not a number of seconds, or beyond any lifetime -> 400.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "python3 needed"
cat >"$T_DIR/hostile.py" <<'PY'
#!/usr/bin/env python3
"""Hostile file sender for t_sf_hostile.sh (SIP over UDP, MSRP over TCP).
  hostile.py SIP_PORT DOMAIN FILE MODE [key=value...]
MODE invite: INVITE with the given selector/range and print the final status
             ("final CODE PHRASE"); on 2xx run the MSRP part chosen by `msrp=`:
   msrp=none   BYE at once
   msrp=half   send the first half of the file, then reset the connection
   msrp=rest   send bytes START..SIZE as one message (Byte-Range within range)
   msrp=flood  send 256 KiB although the selector says `size`; the Byte-Range
               total is `size` (total=declared, inconsistent chunks), `*`
               (total=star) or 262144 (total=honest)
Keys: size= (declared size, default: the file's), sha1= (hex, default: the
file's), range=START (a=file-range:START-SIZE), rangestop=N, name=
Prints one line per event; exit 0 unless the script itself broke."""
import hashlib, os, re, secrets, socket, sys, time

sip_port, domain, path, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
kv = dict(a.split("=", 1) for a in sys.argv[5:])
data = open(path, "rb").read()
size = int(kv.get("size", len(data)))
sha = kv.get("sha1", hashlib.sha1(data).hexdigest())
name = kv.get("name", os.path.basename(path))
HOST = "127.0.0.1"

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((HOST, 0))
lport = u.getsockname()[1]
callid = secrets.token_hex(12)
ftag = secrets.token_hex(6)
sess = secrets.token_hex(10)
our_path = "msrp://%s:9/%s;tcp" % (HOST, sess)


def say(*a):
    print(*a, flush=True)


def sip_send(msg):
    u.sendto(msg.encode(), (HOST, sip_port))


def sip_recv(deadline, want_cseq_method):
    while time.time() < deadline:
        u.settimeout(max(0.05, deadline - time.time()))
        try:
            b, _ = u.recvfrom(65535)
        except socket.timeout:
            continue
        t = b.decode("utf-8", "replace")
        if not t.startswith("SIP/2.0 "):
            # a request from cpmd (e.g. BYE): answer 200
            first = t.split("\r\n", 1)[0]
            hdrs = [l for l in t.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
                    if re.match(r"(?i)(via|from|to|call-id|cseq):", l)]
            sip_send("SIP/2.0 200 OK\r\n" + "\r\n".join(hdrs) + "\r\nContent-Length: 0\r\n\r\n")
            say("request from cpmd: " + first)
            continue
        m = re.search(r"(?im)^CSeq:\s*\d+\s+(\w+)", t)
        if m and m.group(1).upper() == want_cseq_method:
            return t
    return None


def hdr(t, n):
    m = re.search(r"(?im)^%s:\s*(.*)$" % n, t)
    return m.group(1).strip() if m else ""


def colon_hex(h):
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2)).upper()


sdp_lines = ["v=0", "o=- 1 1 IN IP4 %s" % HOST, "s=-", "c=IN IP4 %s" % HOST, "t=0 0",
             "m=message 9 TCP/MSRP *", "a=path:" + our_path, "a=accept-types:*", "a=setup:active",
             "a=sendonly",
             'a=file-selector:name:"%s" type:application/octet-stream size:%d hash:sha-1:%s'
             % (name, size, colon_hex(sha)),
             "a=file-transfer-id:" + secrets.token_hex(8), "a=file-disposition:attachment"]
if "range" in kv:
    sdp_lines.append("a=file-range:%s-%s" % (kv["range"], kv.get("rangestop", str(size))))
sdp = "\r\n".join(sdp_lines) + "\r\n"
branch = "z9hG4bK" + secrets.token_hex(8)
via = "Via: SIP/2.0/UDP %s:%d;rport;branch=%s" % (HOST, lport, branch)
common = ("From: <sip:alice@%s>;tag=%s\r\n" % (domain, ftag)) + "Call-ID: %s\r\n" % callid
invite = ("INVITE sip:bob@%s SIP/2.0\r\n%s\r\nMax-Forwards: 70\r\n%sTo: <sip:bob@%s>\r\n"
          "CSeq: 1 INVITE\r\nContact: <sip:%s:%d>\r\n"
          'Accept-Contact: *;+g.3gpp.icsi-ref="urn%%3Aurn-7%%3A3gpp-service.ims.icsi.oma.cpm.filetransfer"\r\n'
          "P-Preferred-Service: urn:urn-7:3gpp-service.ims.icsi.oma.cpm.filetransfer\r\n"
          "%sContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s"
          % (domain, via, common, domain, HOST, lport,
             ("Cpm-Expires: %s\r\n" % kv["expires"]) if "expires" in kv else "", len(sdp), sdp))
final = None
deadline = time.time() + 15
for attempt in range(6):
    sip_send(invite)
    t_end = min(deadline, time.time() + 2)
    while time.time() < t_end:
        r = sip_recv(t_end, "INVITE")
        if r is None:
            break
        code = int(r.split(" ", 2)[1])
        if code >= 200:
            final = r
            break
    if final:
        break
if not final:
    say("final none")
    sys.exit(0)
status_line = final.split("\r\n", 1)[0]
code = int(status_line.split(" ", 2)[1])
say("final " + status_line.split(" ", 1)[1])
to_hdr = hdr(final, "To")
if code >= 300:
    # ACK in the INVITE's transaction
    sip_send("ACK sip:bob@%s SIP/2.0\r\n%s\r\nMax-Forwards: 70\r\n%sTo: %s\r\nCSeq: 1 ACK\r\n"
             "Content-Length: 0\r\n\r\n" % (domain, via, common, to_hdr))
    sys.exit(0)
contact = re.search(r"<([^>]+)>", hdr(final, "Contact")).group(1)
say("deferred-header " + hdr(final, "Cpm-Deferred"))


def in_dialog(method, cseq):
    v = "Via: SIP/2.0/UDP %s:%d;rport;branch=z9hG4bK%s" % (HOST, lport, secrets.token_hex(8))
    return ("%s %s SIP/2.0\r\n%s\r\nMax-Forwards: 70\r\n%sTo: %s\r\nCSeq: %d %s\r\n"
            "Content-Length: 0\r\n\r\n" % (method, contact, v, common, to_hdr, cseq, method))


sip_send(in_dialog("ACK", 1))
body = final.split("\r\n\r\n", 1)[1]
peer_path = re.search(r"a=path:(\S+)", body).group(1)
pm = re.match(r"msrp://([^:/]+):(\d+)/", peer_path)
msrp_mode = kv.get("msrp", "none")


def bye():
    sip_send(in_dialog("BYE", 2))
    r = sip_recv(time.time() + 5, "BYE")
    say("bye " + (r.split("\r\n", 1)[0] if r else "no answer"))


if msrp_mode == "none":
    bye()
    sys.exit(0)

s = socket.create_connection((pm.group(1), int(pm.group(2))), timeout=10)
msgid = secrets.token_hex(8)
buf = b""


def chunk(first, last, total, payload, flag):
    tid = secrets.token_hex(6)
    head = ("MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
            "Byte-Range: %d-%s/%s\r\nSuccess-Report: yes\r\nFailure-Report: yes\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
            % (tid, peer_path, our_path, msgid, first, last, total))
    s.sendall(head.encode() + payload + ("\r\n-------%s%s\r\n" % (tid, flag)).encode())
    return tid


def responses(secs):
    """Read what cpmd sends for SECS s; return (text, closed)."""
    global buf
    end = time.time() + secs
    closed = False
    while time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except OSError as e:
            closed = True
            say("msrp recv error " + str(e))
            break
        if not b:
            closed = True
            break
        buf += b
        if re.search(rb"Status: 000 \d{3}", buf) or re.search(rb"MSRP \S+ [45]\d\d", buf):
            end = min(end, time.time() + 0.5)
    return buf.decode("utf-8", "replace"), closed


if msrp_mode == "half":
    half = len(data) // 2
    step = 16384
    for off in range(0, half, step):
        piece = data[off:min(off + step, half)]
        chunk(off + 1, off + len(piece), len(data), piece, "+")
    txt, closed = responses(1.5)
    say("half sent: %d bytes, %d 200s" % (half, len(re.findall(r"MSRP \S+ 200", txt))))
    # reset: SO_LINGER 0
    import struct
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    time.sleep(0.5)
    bye()
elif msrp_mode == "rest":
    start = int(kv["range"])
    rest = data[start - 1:]
    n = len(rest)
    step = 65536
    for off in range(0, n, step):
        piece = rest[off:off + step]
        chunk(off + 1, off + len(piece), n, piece, "$" if off + len(piece) >= n else "+")
    txt, closed = responses(10)
    codes = re.findall(r"MSRP \S+ (\d{3})", txt)
    say("rest sent: %d bytes; responses %s" % (n, " ".join(sorted(set(codes)))))
    m = re.search(r"(?m)^Cpm-Stored: *(\S+)", txt)
    say("cpm-stored " + (m.group(1) if m else "none"))
    m = re.search(r"Status: 000 (\d{3})", txt)
    say("report " + (m.group(1) if m else "none"))
    bye()
elif msrp_mode == "flood":
    total = 256 * 1024
    sent = 0
    err = ""
    blob = os.urandom(16384)
    try:
        while sent < total:
            tot = {"declared": size, "star": "*", "honest": total}[kv.get("total", "declared")]
            chunk(sent + 1, sent + len(blob), tot, blob, "+" if sent + len(blob) < total else "$")
            sent += len(blob)
    except OSError as e:
        err = str(e)
    txt, closed = responses(5)
    codes = re.findall(r"MSRP \S+ (\d{3})", txt)
    say("flood sent %d of %d bytes%s; responses %s; connection %s" % (
        sent, total, (" (stopped: %s)" % err) if err else "", " ".join(sorted(set(codes))) or "-",
        "closed" if closed else "open"))
    st = re.search(r"Status: 000 (\d{3})", txt)
    say("report " + (st.group(1) if st else "none"))
    say("cpm-stored " + ("yes" if re.search(r"(?m)^Cpm-Stored:", txt) else "none"))
    try:
        s.close()
    except OSError:
        pass
    bye()
PY

# hostile TAG FILE MODE [key=value...]: run the script; sets H_OUT.
hostile() {
	local tag=$1 file=$2 mode=$3
	shift 3
	H_OUT="$LOGDIR/hostile.$tag.out"
	timeout -k 5 40 python3 "$T_DIR/hostile.py" "$SIP_PORT" "$DOMAIN" "$file" "$mode" "$@" \
		>"$H_OUT" 2>"$LOGDIR/hostile.$tag.err" || fail "hostile.py $tag broke (exit $?): $(tail -n 5 "$LOGDIR/hostile.$tag.err")"
	log "hostile $tag: $(tr '\n' '|' <"$H_OUT")"
	cpmd_alive
}
final_is() { # final_is CODE WHAT
	grep -q "^final $1" "$H_OUT" || fail "$2: expected a final $1, got '$(grep '^final' "$H_OUT")'"
}

SOFT_FAILS=()
start_cpmd
gen_file "$T_DIR/doc.bin" 400000
gen_file "$T_DIR/other.bin" 400000
other_sha=$(sha1 "$T_DIR/other.bin")

# 1) resume with no partial at all
hostile nopartial "$T_DIR/doc.bin" invite range=1001
final_is 488 "1) resume offer with no partial upload"

# 2) make a real partial: half the file, then a reset
hostile half "$T_DIR/doc.bin" invite msrp=half
final_is 200 "2) the first upload"
wait_for 10 "cpmd to keep the interrupted upload" grep -q 'kept as resumable item' "$CPMD_LOG"
kept=$(sed -n 's/.*upload interrupted after \([0-9]*\) of .*/\1/p' "$CPMD_LOG" | tail -n 1)
log "cpmd kept $kept bytes of doc.bin"
[ -n "$kept" ] && [ "$kept" -gt 0 ] && [ "$kept" -lt 400000 ] || fail "2) kept '$kept' bytes: not a partial"
hostile wronghash "$T_DIR/doc.bin" invite range=1001 sha1="$other_sha"
final_is 488 "2) resume offer with another sha-1"
hostile wrongsize "$T_DIR/doc.bin" invite range=1001 size=400001
final_is 488 "2) resume offer with another size"
hostile toofar "$T_DIR/doc.bin" invite range=$((kept + 2))
final_is 488 "2) resume offer claiming more bytes than cpmd kept ($kept)"

# 3) ranges outside the file
hostile beyond "$T_DIR/doc.bin" invite range=400002
final_is 488 "3) a=file-range starting beyond the size"
hostile badstop "$T_DIR/doc.bin" invite range=1001 rangestop=500000
final_is 488 "3) a=file-range ending beyond the size"
hostile zero "$T_DIR/doc.bin" invite range=0
final_is 488 "3) a=file-range starting at 0"
assert_no_grep "$CPMD_LOG" 'stored for bob' "a refused resume stored something"

# 3b) a Cpm-Expires that is not a number of seconds (or absurdly large): 400
hostile badexp "$T_DIR/doc.bin" invite expires=soon
final_is 400 "3b) Cpm-Expires: soon"
hostile hugeexp "$T_DIR/doc.bin" invite expires=99999999999999999999999
final_is 400 "3b) Cpm-Expires beyond any lifetime"

# 4) positive control: the matching resume is continued and stored
hostile resume "$T_DIR/doc.bin" invite range=$((kept + 1)) msrp=rest
final_is 200 "4) the matching resume offer"
grep -q '^cpm-stored [A-Za-z0-9_-]' "$H_OUT" || fail "4) the resumed upload's final 200/REPORT carried no Cpm-Stored"
grep -q '^report 200' "$H_OUT" || fail "4) no success REPORT for the resumed upload"
assert_grep "$CPMD_LOG" 'resuming upload of item' "4) cpmd did not log the resume"
start_receiver bob bob phone --count 1 --timeout 30
wait_exit "${RECV_PID[bob]}" 25
[ "$WAIT_RC" = 0 ] || fail "4) bob did not receive the resumed upload (exit $WAIT_RC)"
assert_received bob "$T_DIR/doc.bin"
stop_cpmd

# 5) declares 1 KiB, sends 256 KiB (three ways of labelling the chunks)
start_cpmd
gen_file "$T_DIR/small.bin" 1024
for how in declared star honest; do
	hostile "flood-$how" "$T_DIR/small.bin" invite msrp=flood total=$how
	final_is 200 "5/$how) the 1 KiB offer (deferred: bob offline)"
	if grep -q '^cpm-stored yes' "$H_OUT" || grep -q '^report 200' "$H_OUT"; then
		fail "5/$how) cpmd acknowledged an oversized upload as stored/successful: $(tr '\n' '|' <"$H_OUT")"
	fi
	grep -q -E 'responses .*(400|413)|connection closed|report 4' "$H_OUT" ||
		fail "5/$how) the oversized upload got neither a 400/413, a failure REPORT nor a closed connection: $(tr '\n' '|' <"$H_OUT")"
	sleep 0.5
	assert_no_grep "$CPMD_LOG" 'stored for bob|kept as resumable' "5/$how) the oversized upload was stored"
	left=$(files_in "$CPMD_DATA/blobs")
	if [ -n "$left" ]; then
		SOFT_FAILS+=("5/$how) after the refused upload blobs/ holds $(for f in $left; do printf '%s (%s bytes) ' "${f#"$CPMD_DATA"/}" "$(stat -c %s "$f")"; done)")
		log "FAILED (going on): ${SOFT_FAILS[-1]}"
		rm -f $left # so that the next variant is judged on its own
	fi
	cpmd_alive
done
# cpmd still works: a well-behaved file is stored and delivered.
send_file ok alice bob "$T_DIR/small.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "after the flood: send ended exit $SEND_RC '$SEND_LAST', expected stored"
cpmd_alive
[ ${#SOFT_FAILS[@]} -eq 0 ] || fail "$(printf '%s; ' "${SOFT_FAILS[@]}")"
