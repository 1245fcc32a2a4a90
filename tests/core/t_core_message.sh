#!/usr/bin/env bash
# Standalone messages behind Kamailio: live (bob online: `sent`, his device prints it) and
# stored (bob offline: `stored`; when he registers, the third-party REGISTER makes cpmd push
# it through the core and his device prints it once). The sender must be a registered user
# of the domain: an unregistered one is refused by the core (403).
. "$(dirname "$0")/lib_core.sh"

start_core_pair
send_message unreg alice bob "nobody knows me"
[ "$MSG_RC" = 4 ] && [[ "$MSG_LAST" == "rejected: 403 "* ]] ||
	fail "an unregistered sender: exit $MSG_RC, '$MSG_LAST' ('rejected: 403 ...' from the core expected)"

start_receiver alice alice phone --timeout 60
send_message stored alice bob "kept for later"
expect_message_result stored 0 stored
stored_id=$MSG_ID

start_receiver bob bob phone --timeout 60
wait_for 20 "bob's stored message" grep -q -a -F " $stored_id kept for later" "${RECV_OUT[bob]}"
assert_grep "${RECV_OUT[bob]}" "^message sip:alice@$DOMAIN $stored_id kept for later\$" "the stored message's line is wrong"

send_message live alice bob "hello through the core"
expect_message_result live 0 sent
wait_for 15 "bob's live message" grep -q -a -F " $MSG_ID hello through the core" "${RECV_OUT[bob]}"
assert_grep "${RECV_OUT[bob]}" "^message sip:alice@$DOMAIN $MSG_ID hello through the core\$" "the live message's line is wrong"
sleep 1
n=$(grep -a -c -F " $stored_id " "${RECV_OUT[bob]}" || true)
[ "$n" -eq 1 ] || fail "the stored message was printed $n times, once expected"
cpmd_alive
kam_alive
