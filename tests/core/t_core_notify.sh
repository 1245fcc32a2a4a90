#!/usr/bin/env bash
# Notifications back to the sender behind Kamailio: alice's file for offline bob is stored;
# bob registers later and gets it; cpmd's `delivered` IMDN goes to alice through the core
# (a MESSAGE to her AOR, forked by the core to her device): exactly one
# `notification delivered FTID`. A live message to bob gets its `delivered` report too.
. "$(dirname "$0")/lib_core.sh"

start_core_pair
gen_file "$T_DIR/note.txt" 20000
start_receiver alice alice phone --timeout 60
send_file s alice bob "$T_DIR/note.txt"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"
ftid=$(sed -n 's/^cpm: file-transfer-id //p' "$SEND_ERR" | head -n 1)
[ -n "$ftid" ] || fail "no file-transfer-id on the sender's stderr"

start_receiver bob bob phone --timeout 60
wait_for 20 "bob's device to get the stored file" grep -q -a '^received ' "${RECV_OUT[bob]}"
assert_received bob "$T_DIR/note.txt"
wait_for 20 "alice's 'notification delivered $ftid'" grep -q -a -x -F "notification delivered $ftid" "${RECV_OUT[alice]}"
assert_grep "$KAM_LOG" "cpmd's MESSAGE to sip:alice@$DOMAIN -> devices" "the notification did not go through the core"

send_message live alice bob "are you there?"
expect_message_result live 0 sent
wait_for 15 "bob's message line" grep -q -a -F " $MSG_ID are you there?" "${RECV_OUT[bob]}"
wait_for 15 "alice's 'notification delivered $MSG_ID'" grep -q -a -x -F "notification delivered $MSG_ID" "${RECV_OUT[alice]}"
sleep 1
for id in "$ftid" "$MSG_ID"; do
	n=$(grep -a -c -x -F "notification delivered $id" "${RECV_OUT[alice]}" || true)
	[ "$n" -eq 1 ] || fail "$n 'notification delivered $id' lines at alice, exactly 1 expected"
done
cpmd_alive
kam_alive
