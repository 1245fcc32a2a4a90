#!/usr/bin/env bash
# Store-and-forward, trigger "recipient lost" (docs/internals/store-and-forward.md
# §1, §3, §5): a large file goes live to bob's only device, which is killed with
# SIGKILL mid-transfer. Nothing changes for alice: cpmd keeps taking the chunks
# itself, so `cpm send` ends `stored` (exit 0, Cpm-Stored). bob's device comes
# back (same device, same --dir, so its kept partial can be resumed): cpmd
# delivers the file, complete and byte-identical; alice gets one
# `notification delivered ID`; the blob is removed.
# cpmd records the bytes the device acknowledged on the live leg, so the
# delivery resumes from there (a=file-range) and the device continues its
# kept .cpm-part.
. "$(dirname "$0")/lib.sh"

start_cpmd
size=$(big_size 200)
gen_file "$T_DIR/huge.bin" "$size"
start_receiver alice alice laptop --timeout 90
start_receiver bob bob phone --count 1 --timeout 90
send_file_bg huge alice bob "$T_DIR/huge.bin"
send_pid=$SEND_PID send_out=$SEND_OUT send_err=$SEND_ERR
# More than 1 MiB on the device's disk (so it has answered some chunks), with
# the device in 2 ms slices so the transfer cannot end between two looks.
has_bytes() { [ -n "$(find "${RECV_DIR[bob]}" -type f -size +1024k -print -quit)" ]; }
throttle_until "${RECV_PID[bob]}" 30 has_bytes || fail "bob's device wrote no MiB of the file"
# The device is stopped now; give cpmd a moment to read the 200s the device
# already sent: killing it makes the kernel reset the connection, and a reset
# drops whatever cpmd has not read yet (then nothing would be known to resume).
sleep 0.3
kill -0 "${RECV_PID[bob]}" 2>/dev/null || fail "bob's device exited before it could be killed"
kill -0 "$send_pid" 2>/dev/null || fail "the transfer ended before bob's device could be killed (too fast?)"
kill -KILL "${RECV_PID[bob]}"
wait "${RECV_PID[bob]}" 2>/dev/null || true
log "bob's device killed with $(find "${RECV_DIR[bob]}" -type f -printf '%f:%s ') on disk"

wait_exit "$send_pid" 90
[ "$WAIT_RC" != timeout ] || fail "alice's send still running 90 s after bob's device was killed"
last=$(tail -n 1 "$send_out" || true)
[ "$WAIT_RC" -eq 0 ] && [ "$last" = stored ] ||
	fail "alice's send: exit $WAIT_RC, last line '$last'; expected exit 0 and 'stored' (cpmd keeps taking the bytes)"
ftid=$(sed -n 's/^cpm: file-transfer-id //p' "$send_err" | head -n 1)
[ -n "$ftid" ] || fail "no file-transfer-id on cpm send's stderr"
assert_grep "$CPMD_LOG" "recipient's leg is lost" "cpmd did not log the lost recipient leg"
cpmd_alive

# bob comes back: same device name (same +sip.instance), same --dir (the
# receiver name "bob" again: recv.bob; its output file starts afresh).
cp "${RECV_ERR[bob]}" "$LOGDIR/recv.bob.first.err" 2>/dev/null || true
start_receiver bob bob phone --count 1 --timeout 60
wait_exit "${RECV_PID[bob]}" 35
[ "$WAIT_RC" = 0 ] || fail "bob's device (back) exit status $WAIT_RC: the stored file was not delivered"
assert_received bob "$T_DIR/huge.bin"
# The device had acknowledged part of the file on the live leg: cpmd recorded
# that, so the delivery resumes there (a=file-range) and the device continues
# its kept partial instead of receiving the whole file again.
assert_grep "$CPMD_LOG" "had acknowledged [0-9]+ bytes: its delivery will resume there" \
	"cpmd did not record what the device had acknowledged"
grep -q 'created in source mode (bytes [1-9][0-9]*[0-9]\.\.' "$CPMD_LOG" ||
	fail "the delivery did not resume from the acknowledged byte (no source relay starting past byte 1)"
log "delivery: resumed ($(grep -o 'created in source mode ([^)]*)' "$CPMD_LOG" | tail -n1))"
assert_no_grep "${RECV_ERR[bob]}" '488 No Partial File' "the device did not find its kept partial"
wait_for 20 "alice's 'notification delivered $ftid'" grep -q -x -F "notification delivered $ftid" "${RECV_OUT[alice]}"
wait_for 10 "the blob to be removed" bash -c '[ -z "$(find "$1" -mindepth 1 -type f)" ]' _ "$CPMD_DATA/blobs"
n=$(grep -c -a '^notification ' "${RECV_OUT[alice]}" || true)
[ "$n" -eq 1 ] || fail "alice got $n notifications, exactly 1 expected: $(cat "${RECV_OUT[alice]}")"
left=$(find "${RECV_DIR[bob]}" -name '.*cpm-part*' -printf '%f(%s) ')
[ -z "$left" ] || fail "bob's --dir still holds the interrupted partial: $left"
cpmd_alive
