#!/usr/bin/env bash
# Large Message Mode, size policy (docs/internals/messaging.md §2, cpmd --max-message-size):
# a message over the limit gets 413 before a byte moves, whether the recipient is online
# or not (it is not stored), and `cpm message` prints `rejected: 413 ...` (exit 4). One at
# the limit's side of it goes through.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_largemsg.sh"

start_cpmd --max-message-size 100000
gen_text "$T_DIR/big.txt" 150000
gen_text "$T_DIR/ok.txt" 90000

# recipient away: refused, not stored
send_message away alice bob "$T_DIR/big.txt" --large
[ "$MSG_RC" -eq 4 ] || fail "expected exit 4, got $MSG_RC (last line '$MSG_LAST')"
case "$MSG_LAST" in
"rejected: 413 Message Too Large (max 100000 bytes)") ;;
*) fail "expected 'rejected: 413 Message Too Large (max 100000 bytes)', got '$MSG_LAST'" ;;
esac
[ -z "$(files_in "$CPMD_DATA/blobs" | grep -v '/blobs/tmp/')" ] || fail "a refused message left a blob"

# recipient online: refused the same, the device sees nothing
start_receiver bob bob phone --timeout 60
send_message online alice bob "$T_DIR/big.txt" --large
[ "$MSG_RC" -eq 4 ] && [ "${MSG_LAST#rejected: 413 }" != "$MSG_LAST" ] ||
	fail "expected exit 4 and 'rejected: 413 ...', got exit $MSG_RC, '$MSG_LAST'"
assert_no_grep "${RECV_OUT[bob]}" '^message ' "the device got a message over the limit"

# under the limit: sent
send_message small alice bob "$T_DIR/ok.txt" --large
[ "$MSG_RC" -eq 0 ] && [ "$MSG_LAST" = sent ] || fail "expected 'sent' under the limit, got exit $MSG_RC, '$MSG_LAST'"
wait_for 20 "bob to print the message" grep -q -a "^message sip:alice@$DOMAIN $MSG_ID " "${RECV_OUT[bob]}"
assert_message bob "sip:alice@$DOMAIN" "$MSG_ID" "$T_DIR/ok.txt"
cpmd_alive
