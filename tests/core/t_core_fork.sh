#!/usr/bin/env bash
# Online transfer behind Kamailio, bob with two devices. cpmd (AS mode) sends ONE INVITE to
# the core with Request-URI = bob's AOR; the core forks it to both devices (both ring), the
# phone accepts and gets the file, the tablet (rings for ever) gets a CANCEL from the core
# carrying `Reason: SIP;cause=200;text="Call completed elsewhere"` (seen in its own SIP
# trace, TPORT_LOG=1). No SIP from cpmd reaches a device except through the core.
. "$(dirname "$0")/lib_core.sh"

start_core_pair
gen_file "$T_DIR/doc.pdf" 300000
start_receiver alice alice phone --timeout 60
start_receiver win bob phone --count 1 --timeout 60 --answer accept --answer-delay 1
TPORT_LOG=1 start_receiver lose bob tablet --count 1 --timeout 60 --answer ignore
send_file doc alice bob "$T_DIR/doc.pdf"
expect_delivered
wait_exit "${RECV_PID[win]}" 20
[ "$WAIT_RC" = 0 ] || fail "the phone's exit status $WAIT_RC (0 expected after receiving)"
assert_received win "$T_DIR/doc.pdf"

# the fork was the core's: cpmd sent one INVITE toward bob's AOR, Kamailio looked it up
n=$(grep -a -c "cpmd's INVITE to sip:bob@$DOMAIN -> devices" "$KAM_LOG" || true)
[ "$n" -eq 1 ] || fail "the core got $n INVITEs from cpmd for sip:bob@$DOMAIN, 1 expected"
err=${RECV_ERR[lose]}
wait_for 10 "a CANCEL at the tablet" grep -q -a -E '^ *CANCEL sip:' "$err"
assert_grep "$err" '^ *INVITE sip:' "the tablet never got the INVITE (it must ring too)"
assert_grep "$err" 'Reason: SIP;cause=200;text="Call completed elsewhere"' \
	"the tablet's CANCEL has no Reason: SIP;cause=200;text=\"Call completed elsewhere\""
# everything the tablet received came from the core's user-facing port
assert_grep "$err" "recv [0-9]+ bytes from (udp|tcp)/\\[127\\.0\\.0\\.1\\]:$KAM_UA_PORT " \
	"the tablet's SIP did not come from the core (port $KAM_UA_PORT)"
assert_no_grep "$err" "recv [0-9]+ bytes from (udp|tcp)/\\[127\\.0\\.0\\.1\\]:$SIP_PORT " \
	"cpmd sent SIP straight to the tablet, bypassing the core"
assert_no_grep "${RECV_OUT[lose]}" '^received ' "the tablet received the file too"
cpmd_alive
kam_alive
