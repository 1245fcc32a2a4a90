#!/usr/bin/env bash
# Store-and-forward and 603 (docs/internals/store-and-forward.md §1, §3, §7):
#  a) a 603 to a LIVE transfer is never deferred: bob's only device declines,
#     alice's `cpm send` prints `declined` (exit 3), cpmd stores nothing
#     (blobs/ empty, no "deferred" in its log); also when another device of
#     the recipient only rings (a 6xx ends every fork).
#  b) a 603 to a DEFERRED delivery ends the item: the file is stored for carol
#     (no device), then carol registers with --answer decline; the push is
#     declined, the item is gone (blob removed) and alice gets exactly one
#     `notification failed ID` (never `delivered`).
. "$(dirname "$0")/lib.sh"

start_cpmd
gen_file "$T_DIR/a.bin" 50000
gen_file "$T_DIR/b.bin" 60000
start_receiver alice alice laptop --timeout 60

# --- a) live 603 -------------------------------------------------------------
start_receiver bob bob phone --count 1 --timeout 60 --answer decline
send_file a alice bob "$T_DIR/a.bin"
[ "$SEND_RC" -eq 3 ] && [ "$SEND_LAST" = declined ] ||
	fail "a) expected exit 3 and last line 'declined'; got exit $SEND_RC, last line '$SEND_LAST'"
assert_no_grep "$SEND_ERR" 'stored by the server' "a) cpm send reports a stored copy after a 603"
assert_no_grep "$CPMD_LOG" 'deferred \(' "a) cpmd deferred a transfer the device declined with 603"
assert_dir_empty "$CPMD_DATA/blobs" "a) blobs/ is not empty after a declined live transfer"
assert_no_grep "${RECV_OUT[bob]}" '^received ' "a) the declining device received the file"
stop_pid "${RECV_PID[bob]}" 3

# a2) the same with a second device that rings and never answers: the 603 of
#     one fork ends the whole transfer (6xx), still nothing is deferred.
start_receiver dmute dave tablet --timeout 60 --answer ignore
start_receiver ddecl dave phone --timeout 60 --answer decline
send_file a2 alice dave "$T_DIR/a.bin"
[ "$SEND_RC" -eq 3 ] && [ "$SEND_LAST" = declined ] ||
	fail "a2) expected exit 3 and last line 'declined'; got exit $SEND_RC, last line '$SEND_LAST'"
assert_no_grep "$CPMD_LOG" 'deferred \(' "a2) cpmd deferred a transfer one device declined with 603"
assert_dir_empty "$CPMD_DATA/blobs" "a2) blobs/ is not empty after a declined live transfer"
wait_for 10 "the ringing device to be cancelled" grep -q -i cancel "${RECV_ERR[dmute]}"
stop_pid "${RECV_PID[dmute]}" 3
stop_pid "${RECV_PID[ddecl]}" 3

# --- b) 603 to a deferred delivery --------------------------------------------
send_file b alice carol "$T_DIR/b.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
	fail "b) expected exit 0 and last line 'stored'; got exit $SEND_RC, last line '$SEND_LAST'"
ftid=$(sed -n 's/^cpm: file-transfer-id //p' "$SEND_ERR" | head -n 1)
[ -n "$ftid" ] || fail "b) no file-transfer-id on cpm send's stderr"
[ "$(files_in "$CPMD_DATA/blobs" | grep -c .)" -eq 1 ] || fail "b) expected 1 blob in blobs/"
start_receiver carol carol phone --timeout 60 --answer decline
wait_for 20 "alice's 'notification failed $ftid'" grep -q -x -F "notification failed $ftid" "${RECV_OUT[alice]}"
wait_for 10 "the declined item's blob to be removed" bash -c '[ -z "$(find "$1" -mindepth 1 -type f)" ]' _ "$CPMD_DATA/blobs"
assert_no_grep "${RECV_OUT[carol]}" '^received ' "b) the declining device received the file"
assert_dir_empty "${RECV_DIR[carol]}" "b) the declining device has files in its --dir"
# The item is gone: a device of carol registering later is offered nothing.
start_receiver carol2 carol tablet --timeout 30
sleep 1.5
assert_no_grep "${RECV_OUT[carol2]}" '^received ' "b) the declined item was delivered to another device later"
n=$(grep -c -a '^notification ' "${RECV_OUT[alice]}" || true)
[ "$n" -eq 1 ] || fail "alice got $n notifications, exactly 1 ('failed') expected: $(cat "${RECV_OUT[alice]}")"
# No retry of a declined item: one push only.
np=$(grep -c 'dlv .*pushing item' "$CPMD_LOG" || true)
[ "$np" -eq 1 ] || fail "b) cpmd pushed the declined item $np times (1 expected)"
cpmd_alive
