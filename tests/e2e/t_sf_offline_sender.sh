#!/usr/bin/env bash
# Store-and-forward with an offline sender (docs/internals/store-and-forward.md
# §7: the notification is kept in the store until a device of the sender
# registers, and is durable):
#  1) alice (no registered device) sends to bob (no device): `stored`; bob
#     registers and takes the file while alice is offline; cpmd keeps the
#     `delivered` notification; alice registers later and gets exactly one
#     `notification delivered ID`.
#  2) the same, but cpmd is killed with SIGKILL after bob took the file and
#     started again on the same data dir: alice's device, registering with the
#     new cpmd, still gets the notification.
. "$(dirname "$0")/lib.sh"

# offline_round TAG: alice offline sends, bob takes it. Sets FTID.
offline_round() {
	local tag=$1
	gen_file "$T_DIR/$tag.bin" 120000
	send_file "$tag" alice bob "$T_DIR/$tag.bin"
	[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
		fail "$tag: expected exit 0 and last line 'stored'; got exit $SEND_RC, last line '$SEND_LAST'"
	FTID=$(sed -n 's/^cpm: file-transfer-id //p' "$SEND_ERR" | head -n 1)
	[ -n "$FTID" ] || fail "$tag: no file-transfer-id on cpm send's stderr"
	start_receiver "bob-$tag" bob phone --count 1 --timeout 30
	wait_exit "${RECV_PID[bob-$tag]}" 30
	[ "$WAIT_RC" = 0 ] || fail "$tag: bob's device exit status $WAIT_RC"
	assert_received "bob-$tag" "$T_DIR/$tag.bin"
	# cpmd could not hand the notification to alice: it keeps it.
	wait_for 10 "cpmd to keep the notification for alice" grep -q "kept until alice@$DOMAIN registers" "$CPMD_LOG"
	assert_no_grep "${RECV_OUT[bob-$tag]}" '^notification ' "$tag: bob's device got a notification meant for alice"
}

start_cpmd

# --- 1) offline sender, cpmd stays up ------------------------------------------
offline_round live
ftid1=$FTID
start_receiver alice1 alice laptop --timeout 30
wait_for 15 "alice's 'notification delivered $ftid1'" grep -q -x -F "notification delivered $ftid1" "${RECV_OUT[alice1]}"
sleep 1
n=$(grep -c -a '^notification ' "${RECV_OUT[alice1]}" || true)
[ "$n" -eq 1 ] || fail "1) alice got $n notifications, exactly 1 expected: $(cat "${RECV_OUT[alice1]}")"
stop_pid "${RECV_PID[alice1]}" 3 # un-registers: alice is offline again

# --- 2) offline sender, cpmd killed and restarted before she comes back -------
offline_round crash
ftid2=$FTID
sleep 0.3 # the kept notification's write is group-committed right after the log line
restart_cpmd_kill9
start_receiver alice2 alice laptop --timeout 30
wait_for 15 "alice's 'notification delivered $ftid2' after the restart" \
	grep -q -x -F "notification delivered $ftid2" "${RECV_OUT[alice2]}"
sleep 1
n=$(grep -c -a '^notification ' "${RECV_OUT[alice2]}" || true)
[ "$n" -eq 1 ] || fail "2) alice got $n notifications after the restart, exactly 1 ($ftid2) expected: $(cat "${RECV_OUT[alice2]}")"
assert_dir_empty "$CPMD_DATA/blobs" "blobs/ still holds a delivered item"
cpmd_alive
