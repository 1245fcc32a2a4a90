#!/usr/bin/env bash
# Two home domains, standalone messages (docs/deployment.md §3, messaging.md):
#   1. live across: `sent`, bob prints it, alice gets one `delivered` routed back across;
#   2. recipient offline: example.net stores it (`stored` at alice), carol gets it when she
#      registers, alice one `delivered`;
#   3. example.net DOWN: example.com stores it (`stored`), delivers it once example.net is
#      back: bob prints it exactly once, alice exactly one `delivered`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domains.sh"

domains_start "--delivery-retry 1:2 --message-timeout 3" "--message-timeout 3"
use_domain com
start_receiver alice alice laptop --timeout 90
use_domain net
start_receiver bob bob phone --timeout 90

use_domain com
send_message live alice bob@example.net "hello across"
expect_message_result live 0 sent
id1=$MSG_ID
wait_for 10 "bob to print the message" grep -q -x -F "message sip:alice@example.com $id1 hello across" "${RECV_OUT[bob]}"
wait_for 20 "alice's 'notification delivered $id1'" grep -q -x -F "notification delivered $id1" "${RECV_OUT[alice]}"

send_message offline alice carol@example.net "for carol later"
expect_message_result offline 0 stored
id2=$MSG_ID
assert_grep "${D_LOG[net]}" "cpmd stores it for carol@example.net" "example.net did not store the message"
use_domain net
start_receiver carol carol phone --timeout 30
wait_for 20 "carol to print the message" grep -q -x -F "message sip:alice@example.com $id2 for carol later" "${RECV_OUT[carol]}"
wait_for 20 "alice's 'notification delivered $id2'" grep -q -x -F "notification delivered $id2" "${RECV_OUT[alice]}"

domain_stop net
use_domain com
send_message down alice bob@example.net "while you were down"
expect_message_result down 0 stored
id3=$MSG_ID
assert_grep "${D_LOG[com]}" "cpmd stores it for bob@example.net" "example.com did not store the message"
domain_start net
wait_for 30 "bob to print the stored message" \
	grep -q -x -F "message sip:alice@example.com $id3 while you were down" "${RECV_OUT[bob]}"
wait_for 20 "alice's 'notification delivered $id3'" grep -q -x -F "notification delivered $id3" "${RECV_OUT[alice]}"
sleep 3 # a second push would have had time to come
n=$(count_lines "${RECV_OUT[bob]}" "message sip:alice@example.com $id3 while you were down")
[ "$n" -eq 1 ] || fail "bob printed the message $n times, exactly once expected"
for id in "$id1" "$id2" "$id3"; do
	n=$(count_lines "${RECV_OUT[alice]}" "notification delivered $id")
	[ "$n" -eq 1 ] || fail "alice got $n 'delivered' for $id, exactly 1 expected"
done
assert_no_grep "${RECV_OUT[alice]}" '^notification failed' "alice got a failed notification"
domains_alive
