#!/usr/bin/env bash
# A chat session with a file sent inside it, on the wire, judged by Wireshark's dissectors
# (docs/internals/messaging.md §5-6): capture on lo, decode SIP and MSRP, and require
#   - the session INVITE (session ICSI in P-Preferred-Service, sendrecv SDP with
#     accept-types message/cpim) from the inviter and cpmd's fork of it;
#   - the file's INVITE (filetransfer ICSI, a=file-selector) from the inviter and cpmd's fork;
#   - ALL of them carry the same Conversation-ID, and the file's Contribution-ID differs
#     from the session's (its own dialog, messaging.md §6);
#   - MSRP SENDs of message/cpim in the session, 200s, and no malformed SIP frame;
#   - every MSRP connection framed per RFC 4975 (wire.py msrp-validate), and every chat
#     message and report in it decoded by Python's email parser and expat (wire.py cpim-check).
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../e2e/chat_lib.sh"
. "$(dirname "$0")/../lib_tshark.sh"

command -v tshark >/dev/null || fail "tshark not installed (scripts/setup.sh)"
dumpcap -D 2>/dev/null | grep -qw lo || fail "dumpcap -D does not list the lo interface (capture privileges?)"
start_cpmd
cap="$T_DIR/chat.pcapng"
ARTIFACTS+=("$cap")
# SIP over TCP everywhere: every message then has cpmd's SIP port on one side (cpmd reaches a
# device over its registration connection), so the capture filter needs no device port.
export CPM_TRANSPORT=tcp
tshark -i lo -B 256 -f "port $SIP_PORT or port $MSRP_PORT" -w "$cap" -q </dev/null >"$LOGDIR/tshark.capture" 2>&1 &
CAPPID=$!
PIDS+=("$CAPPID")
wait_for 20 "tshark to start capturing" grep -q 'Capture started' "$LOGDIR/tshark.capture"
sleep 0.3

gen_file "$T_DIR/photo.bin" 300000
start_receiver bob bob phone
conv=conv-wire-$RANDOM$RANDOM
start_chat a alice bob --conversation-id "$conv"
chat_wait_up a
chat_say a "hello over the wire"
wait_lines 20 "${RECV_OUT[bob]}" "^chat sip:alice@$DOMAIN $conv hello over the wire\$" 1
chat_say a "/file $T_DIR/photo.bin"
wait_lines 30 "${CHAT_OUT[a]}" '^file delivered photo\.bin$' 1
assert_received bob "$T_DIR/photo.bin"
chat_eof a
chat_exit a 20
[ "$WAIT_RC" = 0 ] || fail "cpm chat exit $WAIT_RC"
wait_lines 20 "${RECV_OUT[bob]}" "^session sip:alice@$DOMAIN $conv ended\$" 1
sleep 1 # let the last transactions finish on the wire
kill -INT "$CAPPID"
wait_exit "$CAPPID" 10
[ -s "$cap" ] || fail "empty capture"
if grep -q -E '^[1-9][0-9]* packets dropped' "$LOGDIR/tshark.capture"; then
	fail "the capture is incomplete: $(grep -E 'packets dropped' "$LOGDIR/tshark.capture")"
fi

DECODE=(-o tcp.desegment_tcp_streams:TRUE -d "tcp.port==$MSRP_PORT,msrp" -d "tcp.port==$SIP_PORT,sip")
decode() { # decode DISPLAY_FILTER [tshark output options...]
	local f=$1
	shift
	tshark -r "$cap" "${DECODE[@]}" -Y "$f" "$@" 2>>"$LOGDIR/tshark.decode.err"
}
# Every count below from one tshark pass (tests/lib_tshark.sh), with the frames' summary.
BAD='(_ws.malformed || _ws.expert.severity == error) && !msrp'
FILTERS=('sip.Method == "INVITE" && sdp.media_attr == "sendrecv" && sdp.media_attr contains "accept-types:message/cpim"'
	'sip.Method == "INVITE" && sdp.media_attr contains "file-selector"'
	'sip.Status-Code == 200 && sip.CSeq.method == "INVITE" && sdp' 'sip.Method == "BYE"'
	'msrp.method == "SEND" && msrp.content.type contains "message/cpim"' 'msrp.status.code == 200' "$BAD")
TSHARK_SUMMARY="$LOGDIR/tshark.summary" tshark_counts "$cap" "${DECODE[@]}" -- "${FILTERS[@]}"
log "capture: $(wc -l <"$LOGDIR/tshark.summary") frames"

# Every INVITE's headers, one INVITE per line (tshark prints the header block with the
# line ends escaped): "<ICSI kind> <Conversation-ID> <Contribution-ID>".
decode 'sip.Method == "INVITE"' -T fields -e sip.msg_hdr >"$LOGDIR/invites.raw"
hdr() { # hdr NAME LINE: the value of header NAME in one escaped header block
	printf '%s' "$2" | sed -e 's/\\r\\n/\n/g' | sed -n -E "s/^$1: *//Ip" | head -n 1 | tr -d '\r'
}
: >"$LOGDIR/invites"
while IFS= read -r line; do
	svc=$(hdr P-Preferred-Service "$line")
	kind=other
	case "$svc" in *oma.cpm.session) kind=session ;; *oma.cpm.filetransfer) kind=file ;; esac
	echo "$kind $(hdr Conversation-ID "$line") $(hdr Contribution-ID "$line")" >>"$LOGDIR/invites"
done <"$LOGDIR/invites.raw"
log "INVITEs on the wire: $(tr '\n' ';' <"$LOGDIR/invites")"
ns=$(grep -c '^session ' "$LOGDIR/invites" || true)
nf=$(grep -c '^file ' "$LOGDIR/invites" || true)
[ "$ns" -ge 2 ] || fail "$ns session INVITEs decoded (the inviter's and cpmd's fork expected)"
[ "$nf" -ge 2 ] || fail "$nf file-transfer INVITEs decoded (the inviter's and cpmd's fork expected)"
if grep -v -E "^(session|file) $conv " "$LOGDIR/invites"; then
	fail "an INVITE without the session's Conversation-ID $conv (above)"
fi
sc=$(awk '$1 == "session" {print $3}' "$LOGDIR/invites" | sort -u)
fc=$(awk '$1 == "file" {print $3}' "$LOGDIR/invites" | sort -u)
[ "$(echo "$sc" | wc -l)" -eq 1 ] && [ -n "$sc" ] || fail "the session INVITEs carry Contribution-IDs '$sc' (one, unchanged by cpmd, expected)"
[ "$(echo "$fc" | wc -l)" -eq 1 ] && [ -n "$fc" ] || fail "the file INVITEs carry Contribution-IDs '$fc' (one expected)"
[ "$sc" != "$fc" ] || fail "the file reused the session's Contribution-ID $sc"

# the SDP of a session: sendrecv MSRP accepting message/cpim; of the file: a file-selector
n=${COUNTS[0]}
[ "$n" -ge 2 ] || fail "$n session INVITEs with a sendrecv message/cpim SDP decoded, 2 expected"
n=${COUNTS[1]}
[ "$n" -ge 2 ] || fail "$n file INVITEs with a=file-selector decoded, 2 expected"
n=${COUNTS[2]}
[ "$n" -ge 4 ] || fail "$n 200 answers with SDP to INVITEs, 4 expected (two dialogs, two legs each)"
n=${COUNTS[3]}
[ "$n" -ge 2 ] || fail "$n BYEs decoded, at least 2 expected"
# MSRP in the session: message/cpim SENDs and their 200s (the dissector reads the first MSRP
# message of a segment: "at least" is what it can show)
n=${COUNTS[4]}
[ "$n" -ge 1 ] || fail "no MSRP SEND of message/cpim decoded"
n=${COUNTS[5]}
[ "$n" -ge 1 ] || fail "no MSRP 200 decoded"
bad=${COUNTS[6]}
[ "$bad" -eq 0 ] || fail "$bad malformed/error frames outside MSRP: $(decode "$BAD" | head -3)"
# Every MSRP connection: strict RFC 4975 framing (as t_tshark.sh), and every chat message
# and in-session report (message/cpim, IMDN inside) decoded by Python's email parser and expat
# (wire.py cpim-check), decoders that are not cpmd's or cpm's.
mapfile -t streams < <(decode "tcp.port == $MSRP_PORT && tcp.len > 0" -T fields -e tcp.stream | sort -un)
[ "${#streams[@]}" -ge 4 ] || fail "${#streams[@]} MSRP connections captured, at least 4 expected (two per dialog)"
tshark_follow "$cap" "$T_DIR/follow" "${streams[@]}"
follows=()
for st in "${streams[@]}"; do
	python3 "$E2E_DIR/wire.py" msrp-validate "$T_DIR/follow.$st" >"$LOGDIR/msrp-validate.$st" 2>&1 ||
		fail "MSRP connection $st breaks RFC 4975 framing: $(grep -m5 ERROR "$LOGDIR/msrp-validate.$st")"
	follows+=(--msrp "$T_DIR/follow.$st")
done
python3 "$E2E_DIR/wire.py" cpim-check "${follows[@]}" --min 4 >"$LOGDIR/cpim-check" 2>&1 ||
	fail "CPIM/IMDN bodies in the session do not decode: $(grep -m3 ERRORS "$LOGDIR/cpim-check") $(tail -n 1 "$LOGDIR/cpim-check")"
log "MSRP: ${#streams[@]} connections framed per RFC 4975; $(tail -n 1 "$LOGDIR/cpim-check") ($(grep -c ' imdn ' "$LOGDIR/cpim-check") reports)"
cpmd_alive
