#!/usr/bin/env bash
# The fork race with a device we did not write: a SIPp device of the
# recipient rings, is CANCELled because the cpm device accepted first, and
# answers 200 OK to the INVITE anyway (its 200 "crossed" the CANCEL). cpmd
# must ACK that late 2xx and BYE it (RFC 3261 §13.2.2.4), and the file goes
# to the cpm device only. Over TCP (-t t1: requests come back on the SIPp
# device's own connection) and over UDP.
. "$(dirname "$0")/../e2e/lib.sh"

start_cpmd
round() { # round USER SIPP_TRANSPORT
	local user=$1 tr=$2 before
	gen_file "$T_DIR/late-$user.bin" 200000
	before=$(reg_count "$user")
	start_sipp "late-$user" -sf "$SIPP_DIR/device_register.xml" -oocsf "$SIPP_DIR/device_late_2xx.xml" \
		-t "$tr" -m 1 -timeout 80s -timeout_error -s "$user" -key domain "$DOMAIN" \
		-key instance "$(cat /proc/sys/kernel/random/uuid)" "$HOST:$SIP_PORT"
	sipp_registered() { [ "$(reg_count "$user")" -gt "$before" ]; }
	wait_for 15 "cpmd to log the SIPp device's REGISTER ($tr)" sipp_registered
	start_receiver "phone-$user" "$user" phone --count 1 --timeout 60 --answer accept
	send_file "late-$user" alice "$user" "$T_DIR/late-$user.bin"
	expect_delivered
	wait_exit "${RECV_PID[phone-$user]}" 20
	[ "$WAIT_RC" = 0 ] || fail "cpm device of $user: exit status $WAIT_RC"
	assert_received "phone-$user" "$T_DIR/late-$user.bin"
	wait_exit "${SIPP_PID[late-$user]}" 60
	[ "$WAIT_RC" = 0 ] || fail "SIPp late-2xx device ($tr) failed (exit $WAIT_RC): see sipp.late-$user.errors"
	assert_grep "$LOGDIR/sipp.late-$user.log" 'DEVICE-LATE-2XX-OK' \
		"the SIPp device ($tr) did not see its late 200 OK ACKed and BYEd"
	assert_grep "$LOGDIR/cpmd.1.log" 'answered late; hanging it up' "cpmd did not log the late 2xx"
	log "round $tr: late 200 OK was ACKed and BYEd; file delivered to the winner only"
}
round bob t1
round carol u1
cpmd_alive
