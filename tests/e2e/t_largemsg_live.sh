#!/usr/bin/env bash
# Large Message Mode, recipient online (docs/internals/messaging.md §2): alice sends bob a
# 1 MiB text with `cpm message --large` (TEXT from standard input). cpmd anchors it like a
# file and forks it to bob's two devices; the first to answer takes it. alice's last line is
# `sent`; the device that took it prints one `message sip:alice@DOMAIN ID TEXT` line whose
# TEXT, un-escaped, is the text byte for byte, ID being the message-id alice printed. cpmd
# stored nothing; alice's own device gets exactly one `notification delivered ID` (bob's
# device reports, cpmd checks it against the message's record and passes it on). Then a
# message without --large over 1300 bytes goes in large mode by itself (RFC 3428 §8), and
# one with --no-report gets no report.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_largemsg.sh"

start_cpmd
start_receiver alice alice laptop --timeout 90
start_receiver phone bob phone --count 3 --timeout 90
start_receiver tablet bob tablet --count 3 --timeout 90 --answer-delay 5

gen_text "$T_DIR/big.txt" $((1024 * 1024))
send_message big alice bob "$T_DIR/big.txt" --large
[ "$MSG_RC" -eq 0 ] && [ "$MSG_LAST" = sent ] ||
	fail "expected exit 0 and last line 'sent'; got exit $MSG_RC, last line '$MSG_LAST'"
[ -n "$MSG_ID" ] || fail "cpm message printed no 'cpm: message-id ID' on stderr"
wait_for 20 "bob's phone to print the message" grep -q -a "^message sip:alice@$DOMAIN $MSG_ID " "${RECV_OUT[phone]}"
assert_message phone "sip:alice@$DOMAIN" "$MSG_ID" "$T_DIR/big.txt"
assert_grep "$CPMD_LOG" 'large message, IMDN id' "cpmd did not log a large message"
assert_grep "$CPMD_LOG" "ft .*: delivered [0-9]+ bytes from sip:alice@$DOMAIN to bob@$DOMAIN" "cpmd did not log the delivery"
[ -z "$(files_in "$CPMD_DATA/blobs" | grep -v /blobs/tmp/)" ] || fail "cpmd stored a blob for a message a device took"
big_id=$MSG_ID
wait_for 20 "alice's 'notification delivered $big_id'" grep -q -x -F "notification delivered $big_id" "${RECV_OUT[alice]}"

# Not --large, but over 1300 bytes of CPIM: large mode all the same.
gen_text "$T_DIR/mid.txt" 5000
send_message mid alice bob "$T_DIR/mid.txt"
[ "$MSG_RC" -eq 0 ] && [ "$MSG_LAST" = sent ] ||
	fail "expected exit 0 and last line 'sent' for 5000 bytes; got exit $MSG_RC, last line '$MSG_LAST'"
wait_for 20 "bob's phone to print the second message" grep -q -a "^message sip:alice@$DOMAIN $MSG_ID " "${RECV_OUT[phone]}"
assert_message phone "sip:alice@$DOMAIN" "$MSG_ID" "$T_DIR/mid.txt"
# --no-report: nobody reports it
gen_text "$T_DIR/quiet.txt" 3000
send_message quiet alice bob "$T_DIR/quiet.txt" --large --no-report
[ "$MSG_RC" -eq 0 ] && [ "$MSG_LAST" = sent ] || fail "--no-report: exit $MSG_RC, '$MSG_LAST'"
quiet_id=$MSG_ID
wait_exit "${RECV_PID[phone]}" 20
[ "$WAIT_RC" = 0 ] || fail "bob's phone exit status $WAIT_RC (expected 0 after 3 messages)"
grep -q -a "^message sip:alice@$DOMAIN $quiet_id " "${RECV_OUT[phone]}" || fail "bob's phone did not print the --no-report message"
sleep 1 # a second or unwanted report would come within this
n=$(grep -c -a "^notification delivered $big_id\$" "${RECV_OUT[alice]}" || true)
[ "$n" -eq 1 ] || fail "alice got $n delivered notifications for the 1 MiB message, exactly 1 expected"
assert_no_grep "${RECV_OUT[alice]}" "^notification [a-z]+ $quiet_id\$" "a report came for a --no-report message"
# The tablet answered late each time: CANCELled, it printed nothing.
assert_no_grep "${RECV_OUT[tablet]}" '^message ' "the second device printed a message the first one took"
cpmd_alive
