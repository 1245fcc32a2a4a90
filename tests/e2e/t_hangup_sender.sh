#!/usr/bin/env bash
# The sender is killed (SIGKILL) in the middle of a large transfer: the device
# prints `failed` or nothing, keeps no partial file (no *.cpm-part), and cpmd
# stays up and still relays a later transfer.
. "$(dirname "$0")/lib.sh"

start_cpmd
gen_file "$T_DIR/huge.bin" "$(big_size 200)"
start_receiver bob bob phone --count 1 --timeout 30
send_file_bg huge alice bob "$T_DIR/huge.bin"
has_bytes() { [ -n "$(find "${RECV_DIR[bob]}" -type f -size +0 -print -quit)" ]; }
wait_for 30 "the device to write the first bytes of the file" has_bytes
kill -0 "$SEND_PID" 2>/dev/null || fail "the transfer ended before the sender could be killed (too fast? $(tail -n1 "$SEND_OUT"))"
kill -KILL "$SEND_PID"
log "sender killed with $(find "${RECV_DIR[bob]}" -type f -printf '%s ') bytes on the device"
# The device must notice (MSRP '#', connection loss or BYE) and clean up.
no_files() { [ -z "$(files_in "${RECV_DIR[bob]}")" ]; }
wait_for 40 "the device to remove its partial file (files: $(files_in "${RECV_DIR[bob]}" | tr '\n' ' '))" no_files
assert_no_grep "${RECV_OUT[bob]}" '^received ' "the device reported a complete file although the sender was killed"
assert_no_grep <(find "$T_DIR" -name '*.cpm-part' -not -path "$CPMD_DATA/*") . "partial file left behind"
cpmd_alive
# A later transfer (to another user, so the first device can't interfere) works.
gen_file "$T_DIR/after.bin" 4096
start_receiver carol carol phone --count 1 --timeout 60
send_file after alice carol "$T_DIR/after.bin"
expect_delivered
wait_exit "${RECV_PID[carol]}" 20
[ "$WAIT_RC" = 0 ] || fail "second receiver exit status $WAIT_RC"
assert_received carol "$T_DIR/after.bin"
