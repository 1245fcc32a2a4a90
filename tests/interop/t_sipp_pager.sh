#!/usr/bin/env bash
# Pager-mode standalone messages with a SIP client we did not write (SIPp), and
# every SIP frame and every CPIM/IMDN body judged by decoders that are not ours
# (docs/internals/messaging.md §1, §4):
#   A. cpm (alice) -> cpmd -> a SIPp device of bob (UDP): the SIPp device gets a
#      MESSAGE whose body is message/cpim with an imdn.Message-ID, answers 200
#      and sends back a `delivered` IMDN through cpmd; `cpm message` prints
#      `sent`; alice's cpm device prints `notification delivered ID` once.
#   B. SIPp (carol) -> cpmd -> cpm receive (dave): dave prints
#      `message sip:carol@DOMAIN ID hello from SIPp N`, SIPp gets 200.
#   C. SIPp (carol) -> erin, who has no device: SIPp gets 202 (stored).
#   D. a large message (cpm message --large, INVITE + one MSRP SEND) from alice
#      to dave: sent, and dave prints it.
# Everything on cpmd's SIP and MSRP ports is captured with tshark: zero
# malformed or error SIP frames, MESSAGE requests decoded, every MSRP
# connection framed per RFC 4975 (wire.py msrp-validate), and every
# message/cpim body, in SIP and in MSRP, parses with Python's email parser and
# expat (wire.py cpim-check).
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../lib_tshark.sh"

command -v tshark >/dev/null || fail "tshark not installed (scripts/setup.sh)"
start_cpmd
cap="$T_DIR/pager.pcapng"
ARTIFACTS+=("$cap")
tshark -i lo -B 256 -f "port $SIP_PORT or port $MSRP_PORT" -w "$cap" -q </dev/null >"$LOGDIR/tshark.capture" 2>&1 &
CAP=$!
PIDS+=("$CAP")
wait_for 20 "tshark to start capturing" grep -q 'Capture started' "$LOGDIR/tshark.capture"
sleep 0.3

# --- A: cpm -> SIPp device ------------------------------------------------
start_receiver alice-phone alice phone --timeout 60
before=$(reg_count bob)
start_sipp dev-bob -sf "$SIPP_DIR/device_register.xml" -oocsf "$SIPP_DIR/device_message.xml" \
	-t u1 -m 1 -timeout 60s -timeout_error -s bob -key domain "$DOMAIN" \
	-key instance "$(cat /proc/sys/kernel/random/uuid)" "$HOST:$SIP_PORT"
sipp_registered() { [ "$(reg_count bob)" -gt "$before" ]; }
wait_for 15 "the SIPp device of bob to register" sipp_registered
mapfile -t base < <(_cpm_base alice laptop)
"$CPM" "${base[@]}" message "sip:bob@$DOMAIN" "hello SIPp" </dev/null >"$LOGDIR/msg.A.out" 2>"$LOGDIR/msg.A.err" ||
	fail "cpm message to the SIPp device failed: $(cat "$LOGDIR/msg.A.out")"
[ "$(tail -n 1 "$LOGDIR/msg.A.out")" = sent ] || fail "expected 'sent', got: $(tail -n 1 "$LOGDIR/msg.A.out")"
id=$(sed -n 's/^cpm: message-id //p' "$LOGDIR/msg.A.err")
[ -n "$id" ] || fail "cpm message printed no message-id"
wait_exit "${SIPP_PID[dev-bob]}" 40
[ "$WAIT_RC" = 0 ] || fail "SIPp device scenario failed (exit $WAIT_RC): see sipp.dev-bob.*"
sipp_clean dev-bob
assert_grep "$LOGDIR/sipp.dev-bob.log" "DEVICE-MESSAGE-OK report for $id" "the SIPp device did not get message $id or its report was refused"
wait_for 15 "alice's device to print the delivered report" grep -q "^notification delivered $id\$" "${RECV_OUT[alice-phone]}"
sleep 1
n=$(grep -c "^notification delivered $id\$" "${RECV_OUT[alice-phone]}")
[ "$n" = 1 ] || fail "alice got $n delivered reports for $id, exactly 1 expected"
log "A: cpm -> SIPp device: sent, SIPp's IMDN reached alice once"

# --- B: SIPp -> cpm ---------------------------------------------------------
start_receiver dave dave phone --timeout 60
run_sipp send-dave -sf "$SIPP_DIR/sender_message.xml" -t u1 -m 1 -s carol -key domain "$DOMAIN" \
	-key target dave "$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "SIPp sender to dave failed (exit $SIPP_RC)"
wait_for 10 "dave to print the message" grep -q "^message sip:carol@$DOMAIN sippmsg[0-9]*n[0-9]* hello from SIPp [0-9]" "${RECV_OUT[dave]}"
log "B: SIPp -> cpm: $(grep '^message' "${RECV_OUT[dave]}")"

# --- C: SIPp -> offline user --------------------------------------------
run_sipp send-erin -sf "$SIPP_DIR/sender_message.xml" -t u1 -m 1 -s carol -key domain "$DOMAIN" \
	-key target erin "$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "SIPp sender to offline erin failed (exit $SIPP_RC)"
grep -q "SIP/2.0 202" "$LOGDIR/sipp.send-erin.messages" ||
	fail "SIPp did not get 202 Accepted for the stored message"
log "C: SIPp -> offline user: 202"

# --- D: large message mode ---------------------------------------------------
"$CPM" "${base[@]}" message "sip:dave@$DOMAIN" "a large message, sent in one MSRP SEND" --large </dev/null \
	>"$LOGDIR/msg.D.out" 2>"$LOGDIR/msg.D.err" || fail "cpm message --large failed: $(cat "$LOGDIR/msg.D.out")"
[ "$(tail -n 1 "$LOGDIR/msg.D.out")" = sent ] || fail "large message: expected 'sent', got: $(tail -n 1 "$LOGDIR/msg.D.out")"
wait_for 10 "dave to print the large message" grep -q "^message sip:alice@$DOMAIN [0-9a-f]* a large message, sent in one MSRP SEND\$" "${RECV_OUT[dave]}"
log "D: large message -> dave: sent"

sleep 1
kill -INT "$CAP"
wait_exit "$CAP" 10
! grep -q -E '^[1-9][0-9]* packets dropped' "$LOGDIR/tshark.capture" || fail "capture incomplete"
dec() { tshark -r "$cap" -o tcp.desegment_tcp_streams:TRUE -d "udp.port==$SIP_PORT,sip" -d "tcp.port==$SIP_PORT,sip" \
	-d "tcp.port==$MSRP_PORT,msrp" -Y "$1" "${@:2}" 2>>"$LOGDIR/tshark.decode.err"; }
tshark_counts "$cap" -o tcp.desegment_tcp_streams:TRUE -d "udp.port==$SIP_PORT,sip" -d "tcp.port==$SIP_PORT,sip" \
	-d "tcp.port==$MSRP_PORT,msrp" -- 'sip.Method == "MESSAGE"' '(_ws.malformed || _ws.expert.severity == error) && !msrp'
msgs=${COUNTS[0]}
[ "$msgs" -ge 6 ] || fail "$msgs SIP MESSAGE frames decoded, at least 6 expected"
# (MSRP is judged by the strict framing check below, not by Wireshark's MSRP dissector: see
# t_tshark.sh for why)
bad=${COUNTS[1]}
if [ "$bad" -ne 0 ]; then
	dec '(_ws.malformed || _ws.expert.severity == error) && !msrp' -V | head -n 200 >"$LOGDIR/tshark.malformed"
	fail "$bad malformed/error SIP frames (see tshark.malformed)"
fi
dec 'sip.Content-Type contains "cpim"' -T fields -e udp.payload -e tcp.payload >"$T_DIR/cpim.hex"
mapfile -t streams < <(dec "tcp.port == $MSRP_PORT && tcp.len > 0" -T fields -e tcp.stream | sort -un)
[ "${#streams[@]}" -ge 2 ] || fail "${#streams[@]} MSRP connections captured for the large message, 2 expected"
tshark_follow "$cap" "$T_DIR/follow" "${streams[@]}"
follows=()
for st in "${streams[@]}"; do
	python3 "$E2E_DIR/wire.py" msrp-validate "$T_DIR/follow.$st" >"$LOGDIR/msrp-validate.$st" 2>&1 ||
		fail "MSRP connection $st breaks RFC 4975 framing: $(grep -m5 ERROR "$LOGDIR/msrp-validate.$st")"
	follows+=(--msrp "$T_DIR/follow.$st")
done
python3 "$E2E_DIR/wire.py" cpim-check --sip "$T_DIR/cpim.hex" "${follows[@]}" --min 8 >"$LOGDIR/cpim-check" 2>&1 ||
	fail "CPIM/IMDN bodies do not decode: $(grep -m3 ERRORS "$LOGDIR/cpim-check") $(tail -n 1 "$LOGDIR/cpim-check")"
log "tshark: $msgs MESSAGE frames, none malformed; $(tail -n 1 "$LOGDIR/cpim-check")"
cpmd_alive
