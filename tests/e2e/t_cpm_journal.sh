#!/usr/bin/env bash
# The send resume journal: `cpm send` records (user, target, file) with the
# file-transfer-id and the bytes acknowledged; a send killed with SIGKILL
# leaves it; the same command again resumes (a=file-range:N+1-SIZE, same
# file-transfer-id on stderr) or, when nothing can be continued (488),
# sends the whole file; the entry is gone once the send is delivered or
# stored. --no-resume records nothing.
. "$(dirname "$0")/lib.sh"

J="$T_DIR/journal"
start_cpmd
size=$(big_size 100)
gen_file "$T_DIR/big.bin" "$size"
start_receiver bob bob phone --count 1 --timeout 55

send_file_bg first alice bob "$T_DIR/big.bin" --journal "$J"
first_err=$SEND_ERR
acked() { # bytes acknowledged according to the one journal entry (0 if none)
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
n=$(find "$J" -name 'send-*.journal' | wc -l)
[ "$n" -eq 1 ] || fail "$n journal entries after the kill, 1 expected"
jf=$(find "$J" -name 'send-*.journal')
ARTIFACTS+=("$jf")
N=$(acked)
id=$(sed -n 's/^cpm: file-transfer-id //p' "$first_err" | head -n1)
[ -n "$id" ] || fail "the first send printed no file-transfer-id"
assert_grep "$jf" '^cpm-send-journal 1$' "journal has no version line"
assert_grep "$jf" "^file-transfer-id $id\$" "journal does not record the file-transfer-id $id"
[ "$N" -gt 0 ] && [ "$N" -lt "$size" ] || fail "journal says $N bytes acknowledged (0 < N < $size expected)"
log "killed after $N of $size bytes acknowledged (journal)"

# Again: resumes from N (or falls back to the whole file when no partial is
# found anywhere), and ends delivered or stored.
TPORT_LOG=1 send_file second alice bob "$T_DIR/big.bin" --journal "$J"
case "$SEND_LAST" in delivered | stored) ;; *) fail "second send: '$SEND_LAST' (exit $SEND_RC)" ;; esac
[ "$SEND_RC" -eq 0 ] || fail "second send exit $SEND_RC"
assert_grep "$SEND_ERR" "^cpm: file-transfer-id $id\$" "the resumed send does not keep the first file-transfer-id"
assert_grep "$SEND_ERR" "^cpm: resuming the interrupted send of .* at byte $N of $size\$" "no resume note"
assert_grep "$SEND_ERR" "^[[:space:]]*a=file-range:$((N + 1))-$size" "the resumed INVITE has no a=file-range:$((N + 1))-$size"
assert_grep "$SEND_ERR" "^[[:space:]]*a=file-selector:.*hash:sha-1:" "the resumed INVITE's selector has no sha-1"
if grep -q 'no partial upload to continue' "$SEND_ERR"; then
	log "the server had no partial: whole file sent again"
fi
[ -z "$(find "$J" -name 'send-*.journal')" ] || fail "journal entry left after '$SEND_LAST'"
# A kill -9 can land between a journal write and its rename: the next cpm removes what a dead
# process left (checked here, after that next run, where it is guaranteed).
[ -z "$(find "$J" -name '*.tmp.*')" ] || fail "temporary journal files left behind"
wait_exit "${RECV_PID[bob]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received bob "$T_DIR/big.bin"

# --no-resume: nothing recorded
gen_file "$T_DIR/small.bin" 5000
start_receiver carol carol phone --count 2 --timeout 30
send_file small alice carol "$T_DIR/small.bin" --journal "$T_DIR/j2" --no-resume
expect_delivered
[ -z "$(find "$T_DIR/j2" -type f 2>/dev/null)" ] || fail "--no-resume wrote a journal"
# a delivered send leaves no entry either
send_file small2 alice carol "$T_DIR/small.bin" --journal "$T_DIR/j3"
expect_delivered
[ -z "$(find "$T_DIR/j3" -name "send-*.journal" 2>/dev/null)" ] || fail "journal entry left after a finished send"
