#!/usr/bin/env bash
# The device is killed (SIGKILL) in the middle of a large transfer: the sender
# exits non-zero with `failed: ...` (or `rejected: ...`), and cpmd stays up and
# still relays a later transfer.
. "$(dirname "$0")/lib.sh"

# --defer off: the live path's answer (t_defer_recipient_lost covers deferral)
start_cpmd --defer off
gen_file "$T_DIR/huge.bin" "$(big_size 200)"
start_receiver bob bob phone --count 1 --timeout 60
# --verbose: the sender logs its SIP events and shutdown stages (its stderr is in the failure dump)
CPM_GLOBAL_OPTS=--verbose send_file_bg huge alice bob "$T_DIR/huge.bin"
has_bytes() { [ -n "$(find "${RECV_DIR[bob]}" -type f -size +0 -print -quit)" ]; }
wait_for 30 "the device to write the first bytes of the file" has_bytes
kill -0 "${RECV_PID[bob]}" 2>/dev/null || fail "the device exited before it could be killed"
kill -0 "$SEND_PID" 2>/dev/null || fail "the transfer ended before the device could be killed (too fast?)"
kill -KILL "${RECV_PID[bob]}"
log "device killed with $(find "${RECV_DIR[bob]}" -type f -printf '%s ') bytes written"
wait_exit "$SEND_PID" 90
[ "$WAIT_RC" != timeout ] || fail "sender still running 90 s after the device was killed"
last=$(tail -n 1 "$SEND_OUT" || true)
[ "$WAIT_RC" -ne 0 ] || fail "sender exited 0 (last line '$last') although the device was killed mid-transfer"
[[ "$last" == "failed: "* || "$last" == "rejected: "* ]] ||
	fail "sender's last line is '$last', expected 'failed: REASON' (or 'rejected: REASON')"
cpmd_alive
gen_file "$T_DIR/after.bin" 4096
start_receiver carol carol phone --count 1 --timeout 60
send_file after alice carol "$T_DIR/after.bin"
expect_delivered
wait_exit "${RECV_PID[carol]}" 20
[ "$WAIT_RC" = 0 ] || fail "second receiver exit status $WAIT_RC"
assert_received carol "$T_DIR/after.bin"
