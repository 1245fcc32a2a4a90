#!/usr/bin/env bash
# Store-and-forward expiry and the deferral switches
# (docs/internals/store-and-forward.md §1, §2, §6, §8):
#  a) `cpm send --expires 2` to offline bob (cpmd's default and maximum
#     expiry: 3600 s): stored; ~2 s later the item expires (default on-expiry discard): the blob is removed and alice
#     (registered) gets exactly one `notification failed ID`; bob, registering
#     afterwards, gets nothing.
#  b) --user-pref carol@DOMAIN:on-expiry=keep: the expired blob ends up in
#     $CPMD_DATA/mss/ (identical), and alice gets no `failed` notification.
#  c) --store-max-expiry 2 caps a larger --expires (3600): the item expires
#     after ~2 s all the same.
#  d) --defer off, and --user-pref dave@DOMAIN:defer=off: an offline recipient
#     gets the old final answer: `rejected: 480 ...`, exit 4, nothing stored.
. "$(dirname "$0")/lib.sh"

# blobs/ holds the control item's blob and nothing else.
only_ctl() { [ "$(find "$CPMD_DATA/blobs" -mindepth 1 -type f)" = "$ctl_blob" ]; }

# stored_send TAG TO FILE [send options]: a send that must end `stored`; sets FTID.
stored_send() {
	local tag=$1 to=$2 file=$3
	shift 3
	send_file "$tag" alice "$to" "$file" "$@"
	[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
		fail "$tag: expected exit 0 and last line 'stored'; got exit $SEND_RC, last line '$SEND_LAST'"
	FTID=$(sed -n 's/^cpm: file-transfer-id //p' "$SEND_ERR" | head -n 1)
	[ -n "$FTID" ] || fail "$tag: no file-transfer-id on cpm send's stderr"
}

gen_file "$T_DIR/x.bin" 80000
start_cpmd --store-max-expiry 3600 --store-default-expiry 3600 --user-pref "carol@$DOMAIN:on-expiry=keep"
start_receiver alice alice laptop --timeout 60
# A control item without --expires (default 3600 s): must still be there at the end.
stored_send ctl erin "$T_DIR/x.bin"
ctl_blob=$(files_in "$CPMD_DATA/blobs")

# --- a) discard -----------------------------------------------------------------
stored_send a bob "$T_DIR/x.bin" --expires 2
ftid_a=$FTID
[ "$(files_in "$CPMD_DATA/blobs" | grep -c .)" -eq 2 ] || fail "a) expected 2 blobs in blobs/"
wait_for 15 "alice's 'notification failed $ftid_a' (expiry)" grep -q -x -F "notification failed $ftid_a" "${RECV_OUT[alice]}"
wait_for 5 "the expired blob to be removed" only_ctl
assert_grep "$CPMD_LOG" 'expired undelivered: discarded' "a) cpmd did not log the discard"
[ ! -d "$CPMD_DATA/mss" ] || assert_dir_empty "$CPMD_DATA/mss" "a) a discarded item was kept for the MSS"
start_receiver bob bob phone --timeout 20
sleep 1.5
assert_no_grep "${RECV_OUT[bob]}" '^received ' "a) bob received an expired file"
stop_pid "${RECV_PID[bob]}" 3

# --- b) keep ----------------------------------------------------------------------
stored_send b carol "$T_DIR/x.bin" --expires 2
ftid_b=$FTID
item_b=$(sed -n 's/^cpm: stored by the server as item //p' "$SEND_ERR" | head -n 1)
wait_for 15 "carol's expired item to reach mss/" bash -c '[ -n "$(find "$1" -type f 2>/dev/null)" ]' _ "$CPMD_DATA/mss"
kept=$(files_in "$CPMD_DATA/mss")
[ "$(echo "$kept" | grep -c .)" -eq 1 ] || fail "b) expected exactly 1 file in mss/: $kept"
cmp -s "$kept" "$T_DIR/x.bin" || fail "b) the kept blob $kept differs from the file sent"
[ -z "$item_b" ] || [ "$(basename "$kept")" = "$item_b" ] || log "NOTE: mss file named $(basename "$kept"), item $item_b"
wait_for 5 "the kept item to leave blobs/" only_ctl
sleep 1.5 # a (wrong) failed notification would come right after the expiry
assert_no_grep "${RECV_OUT[alice]}" "^notification (failed|delivered) $ftid_b\$" \
	"b) alice got a notification for an item kept for the MSS (on-expiry=keep)"

[ -f "$ctl_blob" ] || fail "the control item (no --expires, default 3600 s) expired"
n=$(grep -c -a '^notification ' "${RECV_OUT[alice]}" || true)
[ "$n" -eq 1 ] || fail "alice got $n notifications, 1 expected (a's failed): $(cat "${RECV_OUT[alice]}")"
cpmd_alive
stop_pid "${RECV_PID[alice]}" 3
stop_cpmd

# --- c) --store-max-expiry caps --expires ------------------------------------------
start_cpmd --store-max-expiry 2 --store-default-expiry 2 --user-pref "dave@$DOMAIN:defer=off"
start_receiver alice alice laptop --timeout 60
ctl_blob=""
t0=$(date +%s)
stored_send c bob "$T_DIR/x.bin" --expires 3600
ftid_c=$FTID
wait_for 15 "alice's 'notification failed $ftid_c' (capped expiry)" grep -q -x -F "notification failed $ftid_c" "${RECV_OUT[alice]}"
log "c) --expires 3600 capped: expired after $(($(date +%s) - t0)) s"
wait_for 5 "the capped item's blob to be removed" only_ctl

# --- d) defer off for one user -------------------------------------------------------
send_file d alice dave "$T_DIR/x.bin"
[ "$SEND_RC" -eq 4 ] && [[ "$SEND_LAST" == "rejected: 480"* ]] ||
	fail "d) defer=off for dave: expected exit 4 and 'rejected: 480 ...'; got exit $SEND_RC, last line '$SEND_LAST'"
assert_dir_empty "$CPMD_DATA/blobs" "d) something was stored for dave (defer=off)"
# ... while deferral stays on for the others.
stored_send d2 bob "$T_DIR/x.bin"
cpmd_alive
stop_pid "${RECV_PID[alice]}" 3
stop_cpmd

# --- d) --defer off for everyone (wins over a user's defer=on) --------------------------
start_cpmd --defer off --user-pref "bob@$DOMAIN:defer=on"
send_file e alice bob "$T_DIR/x.bin"
[ "$SEND_RC" -eq 4 ] && [[ "$SEND_LAST" == "rejected: 480"* ]] ||
	fail "--defer off: expected exit 4 and 'rejected: 480 ...'; got exit $SEND_RC, last line '$SEND_LAST'"
assert_no_grep "$SEND_ERR" 'stored by the server' "--defer off: cpm send says stored"
assert_dir_empty "$CPMD_DATA/blobs" "--defer off: something was stored"
cpmd_alive
