#!/usr/bin/env bash
# Forking with a device we did not write: a SIPp device of the recipient
# registers (round 1: over TCP, -t t1, so every request must come back on its
# own connection; round 2: over UDP, -t u1, with no TCP listener, and the file
# has a thumbnail so the INVITE is above 1300 bytes), rings (180) and never
# answers; the recipient's cpm device accepts. cpmd must then CANCEL the SIPp
# branch with
#   Reason: SIP;cause=200;text="Call completed elsewhere"
# (checked inside the scenario with <ereg check_it>, and again in SIPp's
# message trace), and complete it with 487/ACK. The forked INVITE names the
# real sender and carries the file offer; the file reaches the cpm device.
. "$(dirname "$0")/../e2e/lib.sh"

start_cpmd
round() { # round USER SIPP_TRANSPORT [send options...]
	local user=$1 tr=$2 before
	shift 2
	gen_file "$T_DIR/doc-$user.bin" 50000
	before=$(reg_count "$user")
	start_sipp "dev-$user" -sf "$SIPP_DIR/device_register.xml" -oocsf "$SIPP_DIR/device_ring_cancel.xml" \
		-t "$tr" -m 1 -timeout 80s -timeout_error -s "$user" -key domain "$DOMAIN" \
		-key instance "$(cat /proc/sys/kernel/random/uuid)" "$HOST:$SIP_PORT"
	sipp_registered() { [ "$(reg_count "$user")" -gt "$before" ]; }
	wait_for 15 "cpmd to log the SIPp device's REGISTER ($tr)" sipp_registered
	start_receiver "phone-$user" "$user" phone --count 1 --timeout 60 --answer accept
	send_file "doc-$user" alice "$user" "$T_DIR/doc-$user.bin" "$@"
	expect_delivered
	wait_exit "${RECV_PID[phone-$user]}" 20
	[ "$WAIT_RC" = 0 ] || fail "cpm device of $user: exit status $WAIT_RC"
	assert_received "phone-$user" "$T_DIR/doc-$user.bin"
	wait_exit "${SIPP_PID[dev-$user]}" 60
	[ "$WAIT_RC" = 0 ] || fail "SIPp device ($tr) scenario failed (exit $WAIT_RC): see sipp.dev-$user.errors"
	sipp_clean "dev-$user"
	local L="$LOGDIR/sipp.dev-$user"
	assert_grep "$L.log" 'INVITE received' "the SIPp device ($tr) never received the forked INVITE"
	assert_grep "$L.log" 'DEVICE-CANCEL-OK' "the SIPp device ($tr) did not complete 180 / CANCEL(Reason) / 487 / ACK"
	# The forked INVITE as the SIPp device got it.
	awk '/^INVITE /,/^-----/' "$L.messages" >"$LOGDIR/invite-$user.txt"
	assert_grep "$LOGDIR/invite-$user.txt" "^(From|f): .*sip:alice@$DOMAIN" \
		"the forked INVITE ($tr) does not name the sender sip:alice@$DOMAIN in From"
	assert_grep "$LOGDIR/invite-$user.txt" "^a=file-selector:.*name:\"doc-$user\\.bin\".*size:50000" \
		"the forked INVITE ($tr) lacks the file-selector (name doc-$user.bin, size 50000)"
	# The CANCEL on the wire, as SIPp logged it.
	awk '/^CANCEL /,/^-----/' "$L.messages" >"$LOGDIR/cancel-$user.txt"
	assert_grep "$LOGDIR/cancel-$user.txt" '^Reason: *SIP *; *cause=200 *; *text="Call completed elsewhere"' \
		"the CANCEL ($tr) lacks 'Reason: SIP;cause=200;text=\"Call completed elsewhere\"'"
	log "round $tr: CANCEL with Reason cause=200 received, 487/ACK done, file delivered to the cpm device"
}
round bob t1
round carol u1 --thumbnail "$DATA_DIR/thumb.png"
cpmd_alive
