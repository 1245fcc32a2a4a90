#!/usr/bin/env bash
# A 1-1 chat session through cpmd (docs/internals/messaging.md §5) to a user with three
# devices: one accepts at once, one rings for ever, one would accept after 4 s. cpmd forks
# the session INVITE to all three: the first gets the session and the two others are
# CANCELled (cpmd logs one cancel per losing branch; neither prints a chat line). Messages
# go both ways in the one session (the device answers each with --reply), and each message
# gets exactly one `delivered` and one `displayed` report (the device runs with --read),
# inside the session. EOF on the chat's stdin ends the session: the device prints
# `session SENDER CONV ended` and `cpm chat` exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat_lib.sh"

start_cpmd
start_receiver phone bob phone --answer accept --read --reply "hi alice, got it"
start_receiver mute bob tablet --answer ignore
start_receiver late bob laptop --answer accept --answer-delay 4
conv=conv-3dev-$RANDOM$RANDOM
t0=$(date +%s)
start_chat a alice bob --conversation-id "$conv"
chat_wait_up a
for i in 1 2 3; do chat_say a "hello bob $i"; done
wait_lines 20 "${RECV_OUT[phone]}" "^chat sip:alice@$DOMAIN $conv hello bob [123]\$" 3
wait_lines 20 "${CHAT_OUT[a]}" "^chat sip:bob@$DOMAIN $conv hi alice, got it\$" 3
mapfile -t ids < <(chat_ids a)
[ "${#ids[@]}" -eq 3 ] || fail "cpm chat printed ${#ids[@]} message-ids, 3 expected"
for id in "${ids[@]}"; do
	wait_lines 20 "${CHAT_OUT[a]}" "^notification delivered $id\$" 1
	wait_lines 20 "${CHAT_OUT[a]}" "^notification displayed $id\$" 1
done
# the replies were reported delivered by cpm chat, in the session too
wait_lines 20 "${RECV_OUT[phone]}" '^notification delivered ' 3
# Past the late device's 4 s: it was cancelled, it must not have got the session.
while [ $(($(date +%s) - t0)) -lt 6 ]; do sleep 0.2; done
chat_eof a
chat_exit a 20
[ "$WAIT_RC" = 0 ] || fail "cpm chat exit status $WAIT_RC after EOF (0 expected)"
wait_lines 20 "${RECV_OUT[phone]}" "^session sip:alice@$DOMAIN $conv ended\$" 1

# exactly one report of each kind per message, whatever the number of devices
for id in "${ids[@]}"; do
	for kind in delivered displayed; do
		n=$(count_lines "${CHAT_OUT[a]}" "^notification $kind $id\$")
		[ "$n" -eq 1 ] || fail "$n '$kind' notifications for message $id, exactly 1 expected"
	done
done
[ "$(count_lines "${RECV_OUT[phone]}" '^chat ')" -eq 3 ] || fail "the phone printed $(count_lines "${RECV_OUT[phone]}" '^chat ') chat lines, 3 expected"
for d in mute late; do
	assert_no_grep "${RECV_OUT[$d]}" '^(chat|session) ' "device '$d' took part in the session"
done
# cpmd: one session, forked to three devices, two branches cancelled
sid=$(sed -n -E "s/.*session ([A-Za-z0-9]+): sip:alice@$DOMAIN -> bob@$DOMAIN conversation $conv\$/\1/p" "$CPMD_LOG" | head -n 1)
[ -n "$sid" ] || fail "cpmd logged no session from alice to bob in conversation $conv"
assert_grep "$CPMD_LOG" "session $sid: forking to 3 device\\(s\\)"
n=$(grep -c -E "$sid: branch [0-9]+ .*cancelled" "$CPMD_LOG" || true)
[ "$n" -eq 2 ] || fail "cpmd cancelled $n branches of session $sid, 2 expected"
assert_grep "$CPMD_LOG" "session $sid: BYE from the inviter"
for d in phone mute late; do cpmd_alive; kill -0 "${RECV_PID[$d]}" || fail "device $d died"; done
