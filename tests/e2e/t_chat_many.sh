#!/usr/bin/env bash
# Many chat sessions at once through one cpmd (docs/internals/messaging.md §5): four users
# chat with bob's device at the same time, and alice has two sessions in ONE conversation
# (same Conversation-ID). Every message reaches bob once, in its own session, every reply
# comes back to the session it answers (never to another one), and all five sessions end
# cleanly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat_lib.sh"

start_cpmd
start_receiver phone bob phone --reply pong
names=(a1 a2 c d e)
users=(alice alice carol dave erin)
convs=(conv-alice conv-alice conv-carol conv-dave conv-erin)
for i in "${!names[@]}"; do
	start_chat "${names[$i]}" "${users[$i]}" bob --conversation-id "${convs[$i]}"
done
for n in "${names[@]}"; do chat_wait_up "$n"; done
for k in 1 2 3; do
	for i in "${!names[@]}"; do chat_say "${names[$i]}" "${names[$i]} says $k"; done
done
for i in "${!names[@]}"; do
	n=${names[$i]}
	wait_lines 30 "${RECV_OUT[phone]}" "^chat sip:${users[$i]}@$DOMAIN ${convs[$i]} $n says [123]\$" 3
	wait_lines 30 "${CHAT_OUT[$n]}" "^chat sip:bob@$DOMAIN ${convs[$i]} pong\$" 3
done
# exactly the three replies of its own session each (two sessions of one conversation do
# not see each other's)
for i in "${!names[@]}"; do
	n=${names[$i]}
	[ "$(count_lines "${CHAT_OUT[$n]}" '^chat ')" -eq 3 ] || fail "session $n printed $(count_lines "${CHAT_OUT[$n]}" '^chat ') chat lines, 3 expected"
	[ "$(count_lines "${RECV_OUT[phone]}" " $n says ")" -eq 3 ] || fail "bob got $(count_lines "${RECV_OUT[phone]}" " $n says ") lines of $n, 3 expected"
done
for n in "${names[@]}"; do chat_eof "$n"; done
for n in "${names[@]}"; do
	chat_exit "$n" 20
	[ "$WAIT_RC" = 0 ] || fail "chat $n exit $WAIT_RC"
done
wait_lines 20 "${RECV_OUT[phone]}" '^session sip:[a-z]+@[^ ]+ conv-[a-z]+ ended$' 5
[ "$(count_lines "${RECV_OUT[phone]}" '^session sip:alice@[^ ]+ conv-alice ended$')" -eq 2 ] || fail "alice's two sessions did not both end on bob's device"
[ "$(grep -c 'session [A-Za-z0-9]*: forking to 1 device' "$CPMD_LOG")" -eq 5 ] || fail "cpmd did not fork 5 sessions"
cpmd_alive
