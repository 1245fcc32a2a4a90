#!/usr/bin/env bash
# Store-and-forward on the wire, judged by decoders we did not write:
# alice (device over UDP) sends to offline bob -> cpmd stores it; bob
# registers over TCP -> cpmd pushes it (INVITE with Referred-By, a=file-date,
# file-selector); alice gets the delivery notification (SIP MESSAGE,
# message/cpim + message/imdn+xml). Require from Wireshark's dissectors:
#   - the push INVITE, its 200, the MESSAGE and its 200 decoded;
#   - zero malformed/expert-error frames outside MSRP (MSRP: see t_tshark);
# and from Python's XML parser (xml.etree, not libxml2 that cpm uses): the
# IMDN inside the CPIM body is well-formed, in urn:ietf:params:xml:ns:imdn,
# with the file-transfer-id as <message-id> and <delivered/>.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../lib_tshark.sh"

command -v tshark >/dev/null || fail "tshark not installed (scripts/setup.sh)"
start_cpmd
cap="$T_DIR/sf.pcapng"
ARTIFACTS+=("$cap")
tshark -i lo -B 256 -f "port $SIP_PORT or port $MSRP_PORT" -w "$cap" -q </dev/null >"$LOGDIR/tshark.capture" 2>&1 &
CAPPID=$!
PIDS+=("$CAPPID")
wait_for 20 "tshark to start capturing" grep -q 'Capture started' "$LOGDIR/tshark.capture"
sleep 0.3

gen_file "$T_DIR/doc.bin" 200000
CPM_TRANSPORT=udp start_receiver alice alice phone --timeout 40
CPM_TRANSPORT=udp send_file doc alice bob "$T_DIR/doc.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"
ftid=$(sed -n 's/^cpm: file-transfer-id //p' "$SEND_ERR" | head -n1)
CPM_TRANSPORT=tcp start_receiver bob bob laptop --count 1 --timeout 40
wait_exit "${RECV_PID[bob]}" 30
[ "$WAIT_RC" = 0 ] || fail "bob's device exit status $WAIT_RC"
assert_received bob "$T_DIR/doc.bin"
wait_for 15 "alice's delivery notification" grep -q "^notification delivered $ftid" "${RECV_OUT[alice]}"
sleep 1
kill -INT "$CAPPID"
wait_exit "$CAPPID" 10
[ -s "$cap" ] || fail "empty capture"

# Every count from one tshark pass (tests/lib_tshark.sh).
DECODE=(-o tcp.desegment_tcp_streams:TRUE -d "tcp.port==$MSRP_PORT,msrp"
	-d "udp.port==$SIP_PORT,sip" -d "tcp.port==$SIP_PORT,sip")
BAD='(_ws.malformed || _ws.expert.severity == error) && !msrp'
FILTERS=('sip.Method == "INVITE" && sip.Referred-by' 'sip.Method == "INVITE" && sdp.media_attr contains "file-date"'
	'sip.Method == "INVITE" && sdp.media_attr contains "file-selector"'
	'sip.Status-Code == 200 && sip.CSeq.method == "INVITE" && sdp' 'sip.Method == "MESSAGE"'
	'sip.Status-Code == 200 && sip.CSeq.method == "MESSAGE"' "$BAD")
tshark_counts "$cap" "${DECODE[@]}" -- "${FILTERS[@]}"
need() { # COUNT_INDEX N WHAT
	log "$3: ${COUNTS[$1]}"
	[ "${COUNTS[$1]}" -ge "$2" ] || fail "$3: ${COUNTS[$1]} frames match '${FILTERS[$1]}', at least $2 expected"
}
need 0 1 "push INVITE with Referred-By"
need 1 1 "push INVITE with a=file-date"
need 2 2 "INVITEs with a=file-selector"
need 3 2 "200 with SDP (cpmd's own, the device's)"
need 4 1 "SIP MESSAGE (notification)"
need 5 1 "200 to the MESSAGE"
bad=${COUNTS[6]}
if [ "$bad" -ne 0 ]; then
	tshark -r "$cap" "${DECODE[@]}" -Y "$BAD" -V 2>>"$LOGDIR/tshark.decode.err" | head -n 200 >"$LOGDIR/tshark.malformed" || true
	fail "$bad malformed/error frames outside MSRP (see tshark.malformed)"
fi

# The notification's body, as carried on the wire, through an independent XML parser.
tshark -r "$cap" "${DECODE[@]}" -Y 'sip.Method == "MESSAGE"' -T fields -e udp.payload -e tcp.payload \
	2>>"$LOGDIR/tshark.decode.err" | head -n1 >"$T_DIR/msg.hex"
python3 - "$T_DIR/msg.hex" "$ftid" <<'PY' || fail "the IMDN on the wire does not check out (see above)"
import sys, xml.etree.ElementTree as ET
raw = [f for f in open(sys.argv[1]).read().strip().split('\t') if f]
if not raw:
    sys.exit("no MESSAGE bytes in the capture")
sipmsg = bytes.fromhex(max(raw, key=len).replace(':', '')).decode('utf-8')
if '\r\n\r\n' not in sipmsg:
    sys.exit("the MESSAGE has no body: %r" % sipmsg[:200])
body = sipmsg.split('\r\n\r\n', 1)[1]
blocks = body.replace('\r\n', '\n').split('\n\n', 2)
if len(blocks) != 3:
    sys.exit("CPIM body is not three blocks: %r" % body[:200])
cpim, mime, xmltext = blocks
heads = dict(l.split(': ', 1) for l in cpim.split('\n') if ': ' in l)
for h in ('From', 'To', 'NS', 'imdn.Message-ID', 'DateTime'):
    if h not in heads:
        sys.exit("CPIM header %s missing: %r" % (h, heads))
if 'message/imdn+xml' not in mime or 'notification' not in mime:
    sys.exit("content headers: %r" % mime)
ns = '{urn:ietf:params:xml:ns:imdn}'
root = ET.fromstring(xmltext.encode())
if root.tag != ns + 'imdn':
    sys.exit("root %s" % root.tag)
mid = root.findtext(ns + 'message-id')
if mid != sys.argv[2]:
    sys.exit("message-id %r, expected %r" % (mid, sys.argv[2]))
if root.find(ns + 'delivery-notification/' + ns + 'status/' + ns + 'delivered') is None:
    sys.exit("no <delivered/> status")
print("IMDN ok: message-id %s, From %s, To %s" % (mid, heads['From'], heads['To']))
PY
cpmd_alive
