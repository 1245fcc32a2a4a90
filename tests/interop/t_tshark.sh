#!/usr/bin/env bash
# Our wire format, judged by Wireshark's dissectors (a decoder we did not
# write): capture one transfer (1 MiB with a thumbnail, forked to two devices
# so that a CANCEL is on the wire too) on lo, decode SIP on the SIP port
# (UDP and TCP) and MSRP on the MSRP port, and require:
#   - SIP REGISTER, INVITE (with SDP and a=file-selector), 200 with SDP, ACK,
#     CANCEL and BYE decoded;
#   - MSRP SEND requests and 200 responses decoded;
#   - zero frames matching `_ws.malformed || _ws.expert.severity == error`
#     outside MSRP;
#   - every MSRP TCP stream in the capture passes a strict RFC 4975 framing
#     check (tests/e2e/wire.py msrp-validate: start line, To-Path first,
#     From-Path second, Message-ID, Byte-Range matches the body, end-line tid
#     and flag), each leg carries the complete 1 MiB message, and a REPORT is
#     there when a SEND asked for Success-Report: yes.
# Why MSRP is not held to "zero malformed" by the dissector itself: Wireshark
# 4.0's MSRP dissector flags valid chunks as malformed when a chunk spans TCP
# segments or several chunks share one (verified with an independent Python
# MSRP sender and sink: 22 of 512 valid 2 KiB chunks flagged). Its flags are
# logged, and the strict framing check above is the oracle for MSRP instead.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../lib_tshark.sh"

command -v tshark >/dev/null || fail "tshark not installed (scripts/setup.sh)"
dumpcap -D 2>/dev/null | grep -qw lo || fail "dumpcap -D does not list the lo interface (capture privileges?)"
start_cpmd
# start_capture NAME FILTER: tshark on lo into $T_DIR/NAME.pcapng; waits until
# dumpcap really captures ("Capture started", not "Capturing on").
start_capture() {
	local n=$1 f=$2
	ARTIFACTS+=("$T_DIR/$n.pcapng")
	tshark -i lo -B 256 -f "$f" -w "$T_DIR/$n.pcapng" -q </dev/null >"$LOGDIR/tshark.$n.capture" 2>&1 &
	CAP_PID[$n]=$!
	PIDS+=("${CAP_PID[$n]}")
	wait_for 20 "tshark ($n) to start capturing" grep -q 'Capture started' "$LOGDIR/tshark.$n.capture"
	sleep 0.3
}
stop_capture() {
	local n=$1
	kill -INT "${CAP_PID[$n]}"
	wait_exit "${CAP_PID[$n]}" 10
	[ -s "$T_DIR/$n.pcapng" ] || fail "empty capture $n"
	# A capture with holes would make every check below meaningless.
	if grep -q -E '^[1-9][0-9]* packets dropped' "$LOGDIR/tshark.$n.capture"; then
		fail "capture $n is incomplete: $(grep -E 'packets dropped' "$LOGDIR/tshark.$n.capture")"
	fi
}
declare -A CAP_PID=()
# Phase 1 (registrations): only cpmd's ports are known yet.
start_capture reg "port $SIP_PORT or port $MSRP_PORT"
gen_file "$T_DIR/photo.bin" 1048576
CPM_TRANSPORT=tcp start_receiver phone bob phone --count 1 --timeout 60 --answer accept
CPM_TRANSPORT=udp start_receiver tablet bob tablet --count 1 --timeout 60 --answer ignore
# Phase 2 (the transfer): also every port the two devices hold, because cpmd
# may reach a UDP-registered device over a new TCP connection (RFC 3261
# §18.1.1: requests above 1300 bytes, e.g. with a thumbnail, go over TCP).
dev_ports=$(ss -Htuanp | grep -E "pid=(${RECV_PID[phone]}|${RECV_PID[tablet]})," |
	awk '{print $5}' | sed 's/.*://' | sort -un | tr '\n' ' ')
[ -n "$dev_ports" ] || fail "could not find the devices' ports with ss -p"
filter="port $SIP_PORT or port $MSRP_PORT"
for p in $dev_ports; do filter="$filter or port $p"; done
log "transfer capture filter: $filter"
start_capture xfer "$filter"
stop_capture reg
CPM_TRANSPORT=udp send_file photo alice bob "$T_DIR/photo.bin" --thumbnail "$DATA_DIR/thumb.png"
expect_delivered
wait_exit "${RECV_PID[phone]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received phone "$T_DIR/photo.bin"
sleep 1 # let the BYE/CANCEL transactions finish on the wire
stop_capture xfer
cap="$T_DIR/xfer.pcapng"

# Every count below comes from one tshark pass per capture (tests/lib_tshark.sh).
DECODE=(-o tcp.desegment_tcp_streams:TRUE -d "tcp.port==$MSRP_PORT,msrp"
	-d "udp.port==$SIP_PORT,sip" -d "tcp.port==$SIP_PORT,sip")
BAD='(_ws.malformed || _ws.expert.severity == error)'
need_at_least() { # COUNT N WHAT FILTER
	log "$3: $1"
	[ "$1" -ge "$2" ] || fail "$3: $1 frames match '$4', at least $2 expected (see tshark.summary)"
}
check() { # check COUNT_INDEX N WHAT: COUNTS[i] against FILTERS[i]
	need_at_least "${COUNTS[$1]}" "$2" "$3" "${FILTERS[$1]}"
}
FILTERS=('sip.Method == "REGISTER"' 'sip.Status-Code == 200 && sip.CSeq.method == "REGISTER"' "$BAD")
tshark_counts "$T_DIR/reg.pcapng" "${DECODE[@]}" -- "${FILTERS[@]}"
check 0 2 "SIP REGISTER"
check 1 2 "SIP 200 to REGISTER"
[ "${COUNTS[2]}" -eq 0 ] || fail "malformed/error frames among the registrations"

cap="$T_DIR/xfer.pcapng"
FILTERS=('sip.Method == "INVITE"' 'sip.Method == "INVITE" && sdp' 'sip.Status-Code == 200 && sdp'
	'sip.Method == "CANCEL"' 'sip.Method == "BYE"' 'sip.Method == "ACK"' 'msrp.method == "SEND"'
	'msrp.status.code == 200' 'sdp.media_attr contains "file-selector"'
	'msrp.success.report == "yes"' 'msrp.method == "REPORT"' "$BAD && !msrp" "$BAD && msrp")
TSHARK_SUMMARY="$LOGDIR/tshark.summary" tshark_counts "$cap" "${DECODE[@]}" -- "${FILTERS[@]}"
log "capture: $(wc -l <"$LOGDIR/tshark.summary") frames"
check 0 3 "SIP INVITE (sender + two forks)"
check 1 3 "SIP INVITE with SDP"
check 2 2 "SIP 200 with SDP"
check 3 1 "SIP CANCEL"
check 4 1 "SIP BYE"
check 5 2 "SIP ACK"
check 6 2 "MSRP SEND"
check 7 2 "MSRP 200"
check 8 2 "SDP a=file-selector"
# REPORTs are counted by the strict check below: the dissector only decodes
# the first MSRP message of a TCP segment, and a REPORT often shares one.
want_report=${COUNTS[9]}
log "MSRP REPORT decoded by Wireshark: ${COUNTS[10]}"
bad=${COUNTS[11]}
if [ "$bad" -ne 0 ]; then
	tshark -r "$cap" "${DECODE[@]}" -Y "$BAD && !msrp" -V >"$T_DIR/malformed.txt" 2>>"$LOGDIR/tshark.decode.err" || true
	head -n 300 "$T_DIR/malformed.txt" >"$LOGDIR/tshark.malformed"
	fail "$bad malformed/error frames outside MSRP (see tshark.malformed)"
fi
log "MSRP frames flagged by Wireshark's MSRP dissector: ${COUNTS[12]} (checked by the strict validator below)"

# Strict framing check of every MSRP connection (both directions).
mapfile -t streams < <(tshark -r "$cap" "${DECODE[@]}" -Y "tcp.port == $MSRP_PORT && tcp.len > 0" \
	-T fields -e tcp.stream 2>>"$LOGDIR/tshark.decode.err" | sort -un)
[ "${#streams[@]}" -ge 2 ] || fail "${#streams[@]} MSRP TCP connections captured, at least 2 expected (sender leg, device leg)"
tshark_follow "$cap" "$T_DIR/follow" "${streams[@]}"
full=0
for st in "${streams[@]}"; do
	python3 "$E2E_DIR/wire.py" msrp-validate "$T_DIR/follow.$st" >"$LOGDIR/msrp-validate.$st" 2>&1 ||
		fail "MSRP connection $st breaks RFC 4975 framing: $(grep -m5 ERROR "$LOGDIR/msrp-validate.$st")"
	log "MSRP connection $st: $(tr '\n' ' ' <"$LOGDIR/msrp-validate.$st" | cut -c1-300)"
	grep -q "1048576/1048576" "$LOGDIR/msrp-validate.$st" && full=$((full + 1))
done
reports=$(cat "$LOGDIR"/msrp-validate.* | sed -n -E 's/.* ([0-9]+) REPORT,.*/\1/p' | awk '{n += $1} END {print n + 0}')
log "MSRP REPORTs in the strict check: $reports"
if [ "$want_report" -gt 0 ] && [ "$reports" -lt 1 ]; then
	fail "a SEND asked for Success-Report: yes, but no MSRP REPORT is on the wire"
fi
[ "$full" -ge 2 ] || fail "$full MSRP connections carry the complete 1 MiB message, 2 expected (sender -> cpmd, cpmd -> device)"
