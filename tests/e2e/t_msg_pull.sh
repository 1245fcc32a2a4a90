#!/usr/bin/env bash
# Pull of stored standalone messages (docs/internals/messaging.md §3, §7):
#  carol's preference is method=pull. alice's message to offline carol is stored;
#  carol's device registers: nothing is pushed, the deferred-list MESSAGE shows
#  it (`deferred ID sip:alice@DOMAIN message SIZE`), and so does `cpm list`;
#  `cpm fetch ID --dir D` prints `message sip:alice@DOMAIN MSGID TEXT` (exit 0)
#  and writes nothing into D; alice gets exactly one `notification delivered
#  MSGID` (carol's own report); the list is empty afterwards and a second fetch
#  of ID says `failed: no such item ID` (exit 4). A file stored next to it is
#  listed and fetched as a file, unchanged.
. "$(dirname "$0")/lib.sh"

start_cpmd --user-pref "carol@$DOMAIN:method=pull"
start_receiver alice alice laptop --timeout 60
text=$'pull me \\ please\nthanks'
send_message m alice carol "$text"
expect_message_result m 0 stored
msgid=$MSG_ID
gen_file "$T_DIR/f.bin" 3000
send_file f alice carol "$T_DIR/f.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "the file: exit $SEND_RC, '$SEND_LAST'"

start_receiver carol carol phone --timeout 30
wait_for 10 "the deferred list at carol's device" grep -q '^deferred ' "${RECV_OUT[carol]}"
line=$(grep -a -E "^deferred [0-9a-f]{32} sip:alice@$DOMAIN message [0-9]+\$" "${RECV_OUT[carol]}" | head -n 1)
[ -n "$line" ] || fail "carol's device did not list the message: $(cat "${RECV_OUT[carol]}")"
id=$(cut -d' ' -f2 <<<"$line")
assert_no_grep "${RECV_OUT[carol]}" '^message ' "a pull user's message was pushed"

mapfile -t base < <(_cpm_base carol)
"$CPM" "${base[@]}" list >"$LOGDIR/list1.out" 2>"$LOGDIR/list1.err" || fail "cpm list: exit $?"
assert_grep "$LOGDIR/list1.out" "^$line\$" "cpm list does not show the message"
assert_grep "$LOGDIR/list1.out" "^deferred [0-9a-f]{32} sip:alice@$DOMAIN f.bin 3000\$" "cpm list does not show the file"
[ "$(grep -c . "$LOGDIR/list1.out")" -eq 2 ] || fail "cpm list: 2 lines expected: $(cat "$LOGDIR/list1.out")"

rc=0
timeout 30 "$CPM" "${base[@]}" fetch "$id" --dir "$T_DIR/got" >"$LOGDIR/fetch.out" 2>"$LOGDIR/fetch.err" || rc=$?
[ $rc -eq 0 ] || fail "cpm fetch $id: exit $rc: $(cat "$LOGDIR/fetch.out")"
[ "$(tail -n 1 "$LOGDIR/fetch.out")" = "message sip:alice@$DOMAIN $msgid pull me \\\\ please\\nthanks" ] ||
	fail "fetch printed: $(cat "$LOGDIR/fetch.out")"
assert_dir_empty "$T_DIR/got" "the fetched message was written to --dir"
wait_for 10 "alice's 'notification delivered $msgid'" grep -q -x -F "notification delivered $msgid" "${RECV_OUT[alice]}"

"$CPM" "${base[@]}" list >"$LOGDIR/list2.out" 2>"$LOGDIR/list2.err" || fail "cpm list: exit $?"
assert_no_grep "$LOGDIR/list2.out" ' message ' "the fetched message is still listed"
rc=0
timeout 30 "$CPM" "${base[@]}" fetch "$id" --dir "$T_DIR/got" >"$LOGDIR/fetch2.out" 2>"$LOGDIR/fetch2.err" || rc=$?
[ $rc -eq 4 ] && [ "$(tail -n 1 "$LOGDIR/fetch2.out")" = "failed: no such item $id" ] ||
	fail "a second fetch: exit $rc, $(cat "$LOGDIR/fetch2.out")"

# the file next to it is still a file
fid=$(awk '$4 == "f.bin" {print $2}' "$LOGDIR/list2.out")
rc=0
timeout 30 "$CPM" "${base[@]}" fetch "$fid" --dir "$T_DIR/got" >"$LOGDIR/fetch3.out" 2>"$LOGDIR/fetch3.err" || rc=$?
[ $rc -eq 0 ] || fail "fetch of the file: exit $rc: $(cat "$LOGDIR/fetch3.out")"
cmp -s "$T_DIR/f.bin" "$T_DIR/got/f.bin" || fail "the fetched file differs"
sleep 1
[ "$(count_lines "${RECV_OUT[alice]}" "notification delivered $msgid")" -eq 1 ] || fail "alice: not exactly one delivered"
cpmd_alive
