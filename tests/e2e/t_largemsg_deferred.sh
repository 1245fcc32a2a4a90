#!/usr/bin/env bash
# Large Message Mode, recipient away (docs/internals/messaging.md §2-3): alice sends bob, who
# has no device, a 1 MiB text in large mode. cpmd takes it into its store: alice's last line
# is `stored` (Cpm-Stored on the final MSRP 200), the blob is the CPIM message. When bob
# registers, cpmd pushes it (INVITE with the deferred ICSI, one MSRP SEND): bob prints one
# `message sip:alice@DOMAIN ID TEXT` line, TEXT byte-identical, ID alice's message-id; the
# blob is gone and alice gets exactly one `notification delivered ID`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_largemsg.sh"

start_cpmd
start_receiver alice alice laptop --timeout 90

gen_text "$T_DIR/big.txt" $((1024 * 1024))
send_message big alice bob "$T_DIR/big.txt" --large
[ "$MSG_RC" -eq 0 ] && [ "$MSG_LAST" = stored ] ||
	fail "expected exit 0 and last line 'stored'; got exit $MSG_RC, last line '$MSG_LAST'"
item=$(sed -n 's/^cpm: stored by the server as item \(.*\)$/\1/p' "$MSG_ERR" | head -n 1)
[ -n "$item" ] || fail "cpm message printed no 'stored by the server as item ID'"
assert_grep "$CPMD_LOG" 'deferred \(no-device\)' "cpmd did not log the no-device deferral"
blob="$CPMD_DATA/blobs/$item"
[ -f "$blob" ] || fail "no blob $item in blobs/: $(files_in "$CPMD_DATA/blobs")"
# The blob is the whole CPIM message: its content is the text.
python3 - "$blob" "$T_DIR/big.txt" <<'PY' || fail "the stored blob does not end with the text sent"
import sys
blob, text = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
sys.exit(0 if blob.startswith(b"From: <sip:alice@") and blob.endswith(b"\r\n\r\n" + text) else 1)
PY

# bob registers: the message is pushed to him.
start_receiver bob bob phone --count 1 --timeout 60
wait_exit "${RECV_PID[bob]}" 60
[ "$WAIT_RC" = 0 ] || fail "bob's receiver exit status $WAIT_RC (expected 0 after one message)"
assert_message bob "sip:alice@$DOMAIN" "$MSG_ID" "$T_DIR/big.txt"
assert_grep "$CPMD_LOG" "dlv .*: pushing item $item \(message," "cpmd did not push the message item"
wait_for 20 "the blob to be removed" bash -c '[ ! -e "$1" ]' _ "$blob"
wait_for 20 "alice's 'notification delivered $MSG_ID'" grep -q -x -F "notification delivered $MSG_ID" "${RECV_OUT[alice]}"
sleep 1 # a second report would come within this
n=$(grep -c -a "^notification delivered $MSG_ID\$" "${RECV_OUT[alice]}" || true)
[ "$n" -eq 1 ] || fail "alice got $n delivered notifications, exactly 1 expected"

# Nothing is delivered twice: bob's second device sees nothing of it.
start_receiver bob2 bob tablet --timeout 30
sleep 1.5
assert_no_grep "${RECV_OUT[bob2]}" '^message ' "bob's second device got the message again"
cpmd_alive
