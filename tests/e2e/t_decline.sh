#!/usr/bin/env bash
# The recipient's only device declines: the sender prints `declined` and exits
# non-zero; nothing is written on the device.
. "$(dirname "$0")/lib.sh"

start_cpmd
gen_file "$T_DIR/a.txt" 5000
start_receiver bob bob phone --count 1 --timeout 60 --answer decline
send_file a alice bob "$T_DIR/a.txt"
[ "$SEND_RC" -ne 0 ] || fail "sender exited 0 although the only device declined"
[ "$SEND_LAST" = declined ] || fail "sender's last line is '$SEND_LAST', expected 'declined'"
assert_no_grep "${RECV_OUT[bob]}" '^received ' "the declining device received the file"
assert_dir_empty "${RECV_DIR[bob]}" "the declining device has files in its --dir"
cpmd_alive
