#!/usr/bin/env bash
# Concurrent transfers per user (issue 10 §4, docs/security.md): --max-transfers-per-user 2.
# erin's device only rings; alice sends her 5 files at once: 2 ring, 3 are refused at once
# with `rejected: 486 Too Many Transfers (max-transfers-per-user 2)` (exit 4) and cpmd sends
# Retry-After. carol, meanwhile, sends bob a file as usual. Once alice's ringing sends end
# (she gives up: CANCEL), she has room again.
. "$(dirname "$0")/lib.sh"

start_cpmd --max-transfers-per-user 2 --invite-timeout 60 --defer off
gen_file "$T_DIR/f.bin" 20000
start_receiver ring erin phone --answer ignore

declare -A SP=()
for i in 1 2 3 4 5; do
	send_file_bg "f$i" alice erin "$T_DIR/f.bin"
	SP[f$i]=$SEND_PID
done
refused() {
	local n=0 i
	for i in 1 2 3 4 5; do
		grep -q -x 'rejected: 486 Too Many Transfers (max-transfers-per-user 2)' "$LOGDIR/send.f$i.out" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}
wait_for 20 "3 of alice's 5 sends to be refused ($(refused) so far)" bash -c "[ \"\$(grep -l -x 'rejected: 486 Too Many Transfers (max-transfers-per-user 2)' $LOGDIR/send.f*.out 2>/dev/null | wc -l)\" -eq 3 ]"
ringing=()
for i in 1 2 3 4 5; do
	if grep -q '^rejected: 486' "$LOGDIR/send.f$i.out"; then
		wait_exit "${SP[f$i]}" 10
		[ "$WAIT_RC" = 4 ] || fail "send f$i: exit $WAIT_RC after 486, 4 expected"
	else
		kill -0 "${SP[f$i]}" || fail "send f$i neither refused nor ringing"
		ringing+=("f$i")
	fi
done
[ "${#ringing[@]}" -eq 2 ] || fail "${#ringing[@]} sends left ringing, 2 expected"
assert_grep "$CPMD_LOG" 'rejected: 486 Too Many Transfers \(max-transfers-per-user 2\)' "cpmd did not log the refusal"

# another user is not affected
start_receiver bob bob phone --count 1 --timeout 30
send_file c carol bob "$T_DIR/f.bin"
expect_delivered

# alice gives up ringing: room again (the third send rings instead of a 486)
for f in "${ringing[@]}"; do kill -TERM "${SP[$f]}"; done
sleep 1
send_file_bg again alice erin "$T_DIR/f.bin"
sleep 2
kill -0 "$SEND_PID" 2>/dev/null || fail "alice's send after her others ended did not ring: $(cat "$SEND_OUT")"
cpmd_alive
