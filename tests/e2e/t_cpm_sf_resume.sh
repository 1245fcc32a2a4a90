#!/usr/bin/env bash
# Upload resume against the real cpmd (store-and-forward §5): bob has no
# device, so cpmd takes alice's file itself; alice's `cpm send` is killed
# (SIGKILL) mid-file; the same command again offers a=file-range:N+1-SIZE
# from its journal, cpmd continues its partial upload from that byte (the
# 488 fallback must not run), the
# send ends `stored` with the first attempt's file-transfer-id, and bob,
# registering later, receives the byte-identical file.
. "$(dirname "$0")/lib.sh"

J="$T_DIR/journal"
start_cpmd
size=$(big_size 100)
gen_file "$T_DIR/big.bin" "$size"
send_file_bg first alice bob "$T_DIR/big.bin" --journal "$J"
first_err=$SEND_ERR
acked() {
	local f
	f=$(find "$J" -name 'send-*.journal' 2>/dev/null | head -n1)
	[ -n "$f" ] && sed -n 's/^acked \([0-9]*\)$/\1/p' "$f" || echo 0
}
some_acked() { [ "$(acked)" -gt 0 ]; }
# the sender runs in 2 ms slices, so it cannot finish between two looks
throttle_until "$SEND_PID" 30 some_acked || fail "the journal recorded no acknowledged bytes"
kill -0 "$SEND_PID" 2>/dev/null || fail "the send ended before it could be killed: $(tail -n1 "$SEND_OUT")"
kill -KILL "$SEND_PID"
wait "$SEND_PID" 2>/dev/null || true
N=$(acked)
id=$(sed -n 's/^cpm: file-transfer-id //p' "$first_err" | head -n1)
log "killed after $N of $size bytes acknowledged; file-transfer-id $id"
sleep 0.5 # cpmd notices the sender is gone and keeps the partial upload

send_file second alice bob "$T_DIR/big.bin" --journal "$J"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "second send: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"
assert_grep "$SEND_ERR" "^cpm: resuming the interrupted send of .* at byte $N of $size\$" "no resume note"
assert_no_grep "$SEND_ERR" 'no partial upload to continue' "cpmd did not continue the partial upload"
assert_grep "$CPMD_LOG" "resuming upload of item [0-9a-f]* from byte $N of $size" "cpmd did not resume from byte $N"
assert_grep "$SEND_ERR" "^cpm: file-transfer-id $id\$" "the resumed send does not keep the first file-transfer-id"
[ -z "$(find "$J" -name 'send-*.journal')" ] || fail "journal entry left after 'stored'"

start_receiver bob bob phone --count 1 --timeout 40
wait_exit "${RECV_PID[bob]}" 40
[ "$WAIT_RC" = 0 ] || fail "bob's receiver exit status $WAIT_RC"
assert_received bob "$T_DIR/big.bin"
cpmd_alive
