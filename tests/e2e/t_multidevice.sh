#!/usr/bin/env bash
# Forking to three devices of one user: one accepts at once, one never answers,
# one would accept after 5 s. Exactly one device receives the file, the sender
# prints `delivered`, and the two others are cancelled (RFC 3261 §16.7; the
# CANCEL's Reason header is checked on the wire by tests/interop/t_sipp_cancel).
. "$(dirname "$0")/lib.sh"

start_cpmd
gen_file "$T_DIR/doc.pdf" 300000
start_receiver fast bob phone --count 1 --timeout 60 --answer accept
start_receiver mute bob tablet --count 1 --timeout 60 --answer ignore
start_receiver late bob laptop --count 1 --timeout 60 --answer accept --answer-delay 5
t0=$(date +%s)
send_file doc alice bob "$T_DIR/doc.pdf"
expect_delivered
wait_exit "${RECV_PID[fast]}" 20
[ "$WAIT_RC" = 0 ] || fail "device 'fast' exit status $WAIT_RC (expected 0 after receiving)"
assert_received fast "$T_DIR/doc.pdf"
# Give the late device time to (wrongly) answer: 5 s after the INVITE + margin.
while [ $(($(date +%s) - t0)) -lt 7 ]; do sleep 0.2; done
for d in mute late; do
	assert_no_grep "${RECV_OUT[$d]}" '^received ' "device '$d' received the file too (must be exactly one)"
	assert_dir_empty "${RECV_DIR[$d]}" "device '$d' has files in its --dir"
done
n=$(cat "${RECV_OUT[fast]}" "${RECV_OUT[mute]}" "${RECV_OUT[late]}" | grep -c -a '^received ' || true)
[ "$n" -eq 1 ] || fail "$n 'received' lines among the three devices, exactly 1 expected"
# The two others were cancelled: cpmd logs a cancel per losing branch, or
# both devices report one.
if [ "$(grep -ci cancel "$CPMD_LOG" || true)" -lt 2 ]; then
	for d in mute late; do
		cat "${RECV_OUT[$d]}" "${RECV_ERR[$d]}" | grep -qi cancel ||
			fail "cpmd logged fewer than 2 cancelled branches, and device '$d' did not report a cancel"
	done
fi
cpmd_alive
