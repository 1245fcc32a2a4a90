#!/usr/bin/env bash
# Store-and-forward trigger "every fork answered 480" (docs/internals/
# store-and-forward.md §1): bob's two devices both answer 480 Temporarily
# Unavailable; cpmd does not pass the 480 back but takes the file (`stored`,
# Cpm-Deferred: no-answer). It does not ring those devices again at once; when
# an accepting device of bob registers, the file is pushed and arrives
# byte-identical, once.
. "$(dirname "$0")/lib.sh"

start_cpmd --delivery-retry 300:300
gen_file "$T_DIR/a.bin" 300000
start_receiver busy1 bob phone --timeout 40 --answer unavailable
start_receiver busy2 bob tablet --timeout 40 --answer unavailable
send_file a alice bob "$T_DIR/a.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
	fail "expected exit 0 and 'stored' after two 480s; got exit $SEND_RC, '$SEND_LAST'"
assert_grep "$CPMD_LOG" 'answered 480' "cpmd logged no 480 from the devices"
assert_grep "$CPMD_LOG" 'deferred \(no-answer\)' "cpmd did not defer after every device answered 480"
assert_no_grep "$CPMD_LOG" 'pushing item' "cpmd rang the unavailable devices again at once"

start_receiver laptop bob laptop --count 1 --timeout 30
wait_exit "${RECV_PID[laptop]}" 30
[ "$WAIT_RC" = 0 ] || fail "the accepting device did not get the file (exit $WAIT_RC)"
assert_received laptop "$T_DIR/a.bin"
assert_no_grep "${RECV_OUT[busy1]}" '^received ' "an unavailable device received the file"
assert_no_grep "${RECV_OUT[busy2]}" '^received ' "an unavailable device received the file"
cpmd_alive
