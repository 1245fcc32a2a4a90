#!/usr/bin/env bash
# Standalone messages behind Kamailio: live (bob online: `sent`, his device prints it; also
# a pager MESSAGE the client sends over TCP and a large message), and stored (bob offline: `stored`; when he registers, the third-party REGISTER makes cpmd push
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
# a pager MESSAGE over 1200 bytes goes to the core over TCP (cpm's proxy_tcp), a text over
# 1300 bytes of CPIM is a large message (an INVITE through the core, MSRP straight to cpmd)
mid=$(head -c 950 /dev/zero | tr '\0' m)
send_message tcp alice bob "$mid"
expect_message_result tcp 0 sent
wait_for 15 "bob's TCP pager message" grep -q -a -F " $MSG_ID $mid" "${RECV_OUT[bob]}"
assert_grep "$KAM_LOG" "MESSAGE sip:bob@$DOMAIN from sip:alice@$DOMAIN \\(tcp:.* -> cpmd \\(orig\\)" "the 1.2 KB pager message did not reach the core over TCP"
big=$(head -c 6000 /dev/zero | tr '\0' L)
send_message large alice bob "$big"
expect_message_result large 0 sent
wait_for 15 "bob's large message" grep -q -a -F " $MSG_ID $big" "${RECV_OUT[bob]}"
assert_grep "$KAM_LOG" "INVITE sip:bob@$DOMAIN from sip:alice@$DOMAIN .* -> cpmd \\(orig\\)" "the large message's INVITE did not go through the core"
sleep 1
n=$(grep -a -c -F " $stored_id " "${RECV_OUT[bob]}" || true)
[ "$n" -eq 1 ] || fail "the stored message was printed $n times, once expected"
# ISC: cpmd sent the live message back to the core along the core's own `odi` route entry
assert_grep "$CPMD_LOG" "branch [0-9]+ -> sip:bob@$DOMAIN via route <sip:127\\.0\\.0\\.1:$KAM_ISC_PORT;lr;odi=[0-9a-f]+>" \
	"cpmd did not send the originating message back along the core's odi route"
cpmd_alive
kam_alive
