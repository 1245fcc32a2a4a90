#!/usr/bin/env bash
# Store-and-forward, trigger "no device" (docs/internals/store-and-forward.md §1, §3, §7):
# alice sends to bob, who has never registered. cpmd takes the file itself:
# `cpm send` ends `stored` (exit 0) and the blob is in $CPMD_DATA/blobs/. When
# bob registers, cpmd pushes the file (byte-identical) and alice's device
# gets exactly one `notification delivered ID`, ID being the file-transfer-id
# `cpm send` printed. The blob is gone afterwards.
. "$(dirname "$0")/lib.sh"

start_cpmd
gen_file "$T_DIR/report.bin" 300000
# alice's device is registered before the send (it gets the notification live).
start_receiver alice alice laptop --timeout 60

send_file r alice bob "$T_DIR/report.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
	fail "expected exit 0 and last line 'stored'; got exit $SEND_RC, last line '$SEND_LAST'"
ftid=$(sed -n 's/^cpm: file-transfer-id \(.*\)$/\1/p' "$SEND_ERR" | head -n 1)
[ -n "$ftid" ] || fail "cpm send printed no 'cpm: file-transfer-id ID' on stderr"
item=$(sed -n 's/^cpm: stored by the server as item \(.*\)$/\1/p' "$SEND_ERR" | head -n 1)
log "file-transfer-id $ftid, item '$item'"
assert_grep "$CPMD_LOG" 'deferred \(no-device\)' "cpmd did not log the no-device deferral"

# The blob is durable in blobs/ and identical to the file.
blobs=$(files_in "$CPMD_DATA/blobs")
[ "$(echo "$blobs" | grep -c .)" -eq 1 ] || fail "expected exactly 1 blob in blobs/, got: $blobs"
cmp -s "$blobs" "$T_DIR/report.bin" || fail "the stored blob differs from the file sent"
if [ -n "$item" ]; then
	[ "$(basename "$blobs")" = "$item" ] || fail "blob named $(basename "$blobs"), item id $item"
fi
assert_no_grep "${RECV_OUT[alice]}" '^notification ' "alice got a notification before bob took the file"

# bob registers: the file is pushed to him.
start_receiver bob bob phone --count 1 --timeout 30
wait_exit "${RECV_PID[bob]}" 30
[ "$WAIT_RC" = 0 ] || fail "bob's receiver exit status $WAIT_RC (expected 0 after one file)"
assert_received bob "$T_DIR/report.bin"

wait_for 20 "alice's 'notification delivered $ftid'" grep -q -x -F "notification delivered $ftid" "${RECV_OUT[alice]}"
wait_for 10 "the blob to be removed" bash -c '[ -z "$(find "$1" -mindepth 1 -type f)" ]' _ "$CPMD_DATA/blobs"
# Exactly one notification, and never a `failed` one (a little slack for a duplicate).
sleep 1
n=$(grep -c -a '^notification ' "${RECV_OUT[alice]}" || true)
[ "$n" -eq 1 ] || fail "alice got $n notifications, exactly 1 expected: $(cat "${RECV_OUT[alice]}")"

# A second alice device registering afterwards gets nothing more: the
# notification was already taken.
start_receiver alice2 alice tablet --timeout 30
sleep 1.5
assert_no_grep "${RECV_OUT[alice2]}" '^notification ' "alice's second device got the notification again"
cpmd_alive
