#!/usr/bin/env bash
# Forking with a device we did not write: a SIPp device of bob registers over
# TCP, rings (180) and never answers; bob's cpm device accepts. cpmd must then
# CANCEL the SIPp branch on the device's own TCP connection with
#   Reason: SIP;cause=200;text="Call completed elsewhere"
# (checked inside the scenario with <ereg check_it>), and complete the branch
# with 487/ACK. The file reaches the cpm device.
. "$(dirname "$0")/../e2e/lib.sh"

start_cpmd
gen_file "$T_DIR/doc.bin" 50000
before=$(reg_count bob)
start_sipp dev -sf "$SIPP_DIR/device_register.xml" -oocsf "$SIPP_DIR/device_ring_cancel.xml" \
	-t t1 -m 1 -timeout 80s -timeout_error -s bob -key domain "$DOMAIN" \
	-key instance "$(cat /proc/sys/kernel/random/uuid)" "$HOST:$SIP_PORT"
sipp_registered() { [ "$(reg_count bob)" -gt "$before" ]; }
wait_for 15 "cpmd to log the SIPp device's REGISTER" sipp_registered
start_receiver phone bob phone --count 1 --timeout 60 --answer accept
send_file doc alice bob "$T_DIR/doc.bin"
expect_delivered
wait_exit "${RECV_PID[phone]}" 20
[ "$WAIT_RC" = 0 ] || fail "cpm device exit status $WAIT_RC"
assert_received phone "$T_DIR/doc.bin"
wait_exit "${SIPP_PID[dev]}" 60
[ "$WAIT_RC" = 0 ] || fail "SIPp device scenario failed (exit $WAIT_RC): see sipp.dev.errors"
assert_grep "$LOGDIR/sipp.dev.log" 'INVITE received' "the SIPp device never received the forked INVITE"
assert_grep "$LOGDIR/sipp.dev.log" 'DEVICE-CANCEL-OK' "the SIPp device did not complete 180 / CANCEL(Reason) / 487 / ACK"
# The forked INVITE as the SIPp device got it: it names the real sender and
# carries the file offer.
awk '/^INVITE /,/^-----/' "$LOGDIR/sipp.dev.messages" >"$LOGDIR/invite.txt"
assert_grep "$LOGDIR/invite.txt" "^(From|f): .*sip:alice@$DOMAIN" "the forked INVITE's From is not the sender sip:alice@$DOMAIN"
assert_grep "$LOGDIR/invite.txt" '^a=file-selector:.*name:"doc\.bin".*size:50000' "the forked INVITE lacks the file-selector (name doc.bin, size 50000)"
# Belt and braces: the CANCEL on the wire, as SIPp logged it.
awk '/^CANCEL /,/^$/' "$LOGDIR/sipp.dev.messages" >"$LOGDIR/cancel.txt"
assert_grep "$LOGDIR/cancel.txt" '^Reason: *SIP *; *cause=200 *; *text="Call completed elsewhere"' \
	"the CANCEL lacks 'Reason: SIP;cause=200;text=\"Call completed elsewhere\"'"
cpmd_alive
