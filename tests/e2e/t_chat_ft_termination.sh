#!/usr/bin/env bash
# File transfer during a chat session (docs/internals/messaging.md §6): a file sent while a
# session is up is its own INVITE dialog with the session's Conversation-ID, and the two
# share nothing else. Each termination order leaves the other one intact, both directions:
#   1. FT ends first, its sender cancels (bob's `cpm send` stopped mid-file): the session
#      still carries messages both ways;
#   2. FT ends first, its receiver hangs up (alice's file device stopped mid-file): the same;
#   3. the session ends first on the inviter's side (`/quit` while alice's `/file` is in
#      flight): the file completes, `cpm chat` prints `file delivered NAME` and exits 0;
#   4. the session ends first on the invited side (bob's chat device stops while bob's file
#      to alice is in flight): the file completes.
# "In flight" is made certain by running the file's receiver in 2 ms slices until its part
# file has bytes and leaving it stopped meanwhile (throttle_until): no timing is assumed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat_lib.sh"

# --defer off: a file its receiver hangs up is not kept (and later pushed) by cpmd; this
# test is about the two dialogs, store-and-forward has its own tests
start_cpmd --defer off
for n in 1 2 3 4; do gen_file "$T_DIR/big$n.bin" $((30 * 1048576)); done
start_receiver phone bob phone --reply pong
start_receiver afiles alice files
conv=conv-ft-$RANDOM$RANDOM
start_chat a1 alice bob --conversation-id "$conv"
chat_wait_up a1
pongs=0
# still_up WHAT: a message goes to bob and his reply comes back, in the session
still_up() {
	chat_say a1 "still here: $1"
	wait_lines 20 "${RECV_OUT[phone]}" "^chat sip:alice@$DOMAIN $conv still here: $1\$" 1
	pongs=$((pongs + 1))
	wait_lines 20 "${CHAT_OUT[a1]}" "^chat sip:bob@$DOMAIN $conv pong\$" "$pongs"
}
still_up "before any file"
# has_bytes DIR NAME: the receiver's part file of NAME (.NAME.cpm-part) has bytes
has_bytes() { [ -n "$(find "$1" -type f -name "*$2*" -size +0 -print -quit)" ]; }

# 1. bob's file to alice, cancelled by its sender mid-way
send_file_bg c1 bob alice "$T_DIR/big1.bin" --conversation-id "$conv"
c1_pid=$SEND_PID c1_out=$SEND_OUT
throttle_until "${RECV_PID[afiles]}" 30 has_bytes "${RECV_DIR[afiles]}" big1.bin || fail "case 1: no bytes reached alice's file device"
kill -TERM "$c1_pid"
kill -CONT "${RECV_PID[afiles]}"
wait_exit "$c1_pid" 20
[ "$WAIT_RC" = 1 ] || fail "case 1: the cancelled sender exited $WAIT_RC, 1 expected ($(tail -n 1 "$c1_out"))"
wait_lines 20 "${RECV_OUT[afiles]}" '^failed: big1\.bin ' 1
still_up "after the sender cancelled its file"

# 2. bob's file to alice, its receiver hangs up mid-way
send_file_bg c2 bob alice "$T_DIR/big2.bin" --conversation-id "$conv"
c2_pid=$SEND_PID c2_out=$SEND_OUT
throttle_until "${RECV_PID[afiles]}" 30 has_bytes "${RECV_DIR[afiles]}" big2.bin || fail "case 2: no bytes reached alice's file device"
kill -TERM "${RECV_PID[afiles]}"
kill -CONT "${RECV_PID[afiles]}"
wait_exit "${RECV_PID[afiles]}" 20
wait_exit "$c2_pid" 60
[ "$WAIT_RC" = 1 ] || fail "case 2: the sender exited $WAIT_RC, 1 expected ($(tail -n 1 "$c2_out"))"
assert_grep "$c2_out" '^failed: '
still_up "after the receiver hung up a file"

# 3. alice's file to bob in the session, then /quit while it is in flight
chat_say a1 "/file $T_DIR/big3.bin"
throttle_until "${RECV_PID[phone]}" 30 has_bytes "${RECV_DIR[phone]}" big3.bin || fail "case 3: no bytes reached bob's phone"
chat_say a1 "/quit"
wait_for 20 "cpmd to see the inviter's BYE" grep -q "BYE from the inviter" "$CPMD_LOG"
kill -CONT "${RECV_PID[phone]}"
chat_exit a1 60
[ "$WAIT_RC" = 0 ] || fail "case 3: cpm chat exit $WAIT_RC, 0 expected (session ended, file delivered)"
assert_grep "${CHAT_OUT[a1]}" '^file delivered big3\.bin$'
assert_received phone "$T_DIR/big3.bin"
wait_lines 20 "${RECV_OUT[phone]}" "^session sip:alice@$DOMAIN $conv ended\$" 1
# the session ended before the file did
ended=$(grep -n -a "^session sip:alice@$DOMAIN $conv ended" "${RECV_OUT[phone]}" | head -n 1 | cut -d: -f1)
got=$(grep -n -a '^received .*big3\.bin ' "${RECV_OUT[phone]}" | head -n 1 | cut -d: -f1)
[ "$ended" -lt "$got" ] || fail "case 3: bob's phone got the file (line $got) before the session ended (line $ended)"

# 4. a new session; bob's file to alice in flight; bob's chat device goes away
start_receiver afiles2 alice files2
conv2=conv-ft2-$RANDOM$RANDOM
start_chat a2 alice bob --conversation-id "$conv2"
chat_wait_up a2
send_file_bg c4 bob alice "$T_DIR/big4.bin" --conversation-id "$conv2"
c4_pid=$SEND_PID c4_out=$SEND_OUT
throttle_until "${RECV_PID[afiles2]}" 30 has_bytes "${RECV_DIR[afiles2]}" big4.bin || fail "case 4: no bytes reached alice's file device"
kill -TERM "${RECV_PID[phone]}"
chat_exit a2 20
[ "$WAIT_RC" = 0 ] || fail "case 4: cpm chat exit $WAIT_RC after bob left, 0 expected"
kill -CONT "${RECV_PID[afiles2]}"
wait_exit "$c4_pid" 60
[ "$WAIT_RC" = 0 ] || fail "case 4: bob's file ended with exit $WAIT_RC ($(tail -n 1 "$c4_out")), delivered expected"
[ "$(tail -n 1 "$c4_out")" = delivered ] || fail "case 4: last line '$(tail -n 1 "$c4_out")', delivered expected"
wait_lines 30 "${RECV_OUT[afiles2]}" '^received .*big4\.bin ' 1
assert_received afiles2 "$T_DIR/big4.bin"
# in cpmd's log: the session ended (bob's BYE) before the file was delivered
sid=$(sed -n -E "s/.*session ([A-Za-z0-9]+): .* conversation $conv2\$/\1/p" "$CPMD_LOG" | head -n 1)
fid=$(sed -n -E 's/.*ft ([A-Za-z0-9]+): sip:bob@[^ ]+ -> alice@[^ ]+ name="big4\.bin".*/\1/p' "$CPMD_LOG" | head -n 1)
[ -n "$sid" ] && [ -n "$fid" ] || fail "case 4: session ($sid) or transfer ($fid) not found in cpmd's log"
bye=$(grep -n "session $sid: BYE from the recipient" "$CPMD_LOG" | head -n 1 | cut -d: -f1)
dlv=$(grep -n "ft $fid: delivered" "$CPMD_LOG" | head -n 1 | cut -d: -f1)
[ -n "$bye" ] && [ -n "$dlv" ] && [ "$bye" -lt "$dlv" ] || fail "case 4: BYE of the session (line $bye) not before the file's delivery (line $dlv)"
cpmd_alive
