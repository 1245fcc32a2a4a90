#!/usr/bin/env bash
# A chat session nobody takes (docs/internals/messaging.md §5): sessions are live, cpmd
# stores no session; the inviter hears why and `cpm chat` says it (`rejected: ...` /
# `declined`, exit 4 / 3). When the recipient has no device or nobody answers, what the user
# types still goes, as standalone messages (`message stored|sent ID`):
#   no device registered        -> rejected: 480 ...; the lines are stored by cpmd and reach
#                                  the recipient's device when it registers (same ids)
#   the device declines         -> declined (exit 3), nothing sent
#   nobody answers (--invite-timeout 2) -> rejected: 408 ...; the ringing device is
#                                  cancelled, prints no session line, and gets the line as a
#                                  standalone message
#   every device unavailable    -> rejected: 480 ... (exit 4)
# Plus the command line: `cpm chat --help`, usage errors (exit 2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat_lib.sh"

# usage
"$CPM" chat --help >"$LOGDIR/chat.help" 2>&1 || fail "cpm chat --help exited non-zero"
for w in /file /quit 'chat SENDER' 'file delivered' --conversation-id; do
	grep -q -F -e "$w" "$LOGDIR/chat.help" || fail "cpm chat --help does not mention '$w'"
done
"$CPM" receive --help >"$LOGDIR/receive.help" 2>&1 || fail "cpm receive --help exited non-zero"
for w in --read --reply 'session SENDER'; do
	grep -q -F -e "$w" "$LOGDIR/receive.help" || fail "cpm receive --help does not mention '$w'"
done
rc=0
"$CPM" --server 127.0.0.1:9 --user sip:a@b chat </dev/null >/dev/null 2>"$LOGDIR/usage.err" || rc=$?
[ $rc -eq 2 ] || fail "cpm chat without TARGET: exit $rc, 2 expected"
rc=0
"$CPM" --server 127.0.0.1:9 --user sip:a@b receive --dir "$T_DIR/x" --reply </dev/null >/dev/null 2>"$LOGDIR/usage2.err" || rc=$?
[ $rc -eq 2 ] || fail "cpm receive --reply without TEXT: exit $rc, 2 expected"

start_cpmd --invite-timeout 2
# no device: the lines are kept as standalone messages
start_chat nodev alice zoe --conversation-id conv-nodev
chat_say nodev "anyone there?"
chat_say nodev "call me back"
wait_lines 20 "${CHAT_OUT[nodev]}" '^message stored [0-9a-f]+$' 2
chat_eof nodev
chat_exit nodev 20
[ "$WAIT_RC" = 4 ] || fail "chat to a user with no device: exit $WAIT_RC, 4 expected"
[ "$(head -n 1 "${CHAT_OUT[nodev]}")" = "rejected: 480 Temporarily Unavailable (no device registered)" ] ||
	fail "first line '$(head -n 1 "${CHAT_OUT[nodev]}")'"
assert_no_grep "${CHAT_ERR[nodev]}" 'established'
mapfile -t sids < <(sed -n 's/^message stored //p' "${CHAT_OUT[nodev]}")
start_receiver zoe zoe phone
wait_lines 20 "${RECV_OUT[zoe]}" "^message sip:alice@$DOMAIN ${sids[0]} anyone there\?\$" 1
wait_lines 20 "${RECV_OUT[zoe]}" "^message sip:alice@$DOMAIN ${sids[1]} call me back\$" 1

# a device that declines
start_receiver no bob phone --answer decline
start_chat decl alice bob
chat_say decl "not sent: a decline is the user's answer"
chat_exit decl 20
[ "$WAIT_RC" = 3 ] || fail "declined chat: exit $WAIT_RC, 3 expected"
[ "$(cat "${CHAT_OUT[decl]}")" = declined ] || fail "declined chat printed '$(cat "${CHAT_OUT[decl]}")', only 'declined' expected"
stop_pid "${RECV_PID[no]}" 5

# a device that only rings: the invitation timer (2 s) ends it with 408
start_receiver ring carol phone --answer ignore
start_chat ring alice carol
chat_say ring "ping"
wait_lines 20 "${CHAT_OUT[ring]}" '^message sent [0-9a-f]+$' 1
chat_eof ring
chat_exit ring 20
[ "$WAIT_RC" = 4 ] || fail "unanswered chat: exit $WAIT_RC, 4 expected"
assert_grep "${CHAT_OUT[ring]}" '^rejected: 408 '
wait_for 10 "cpmd to cancel the ringing branch" grep -q -E 'branch [0-9]+ .*cancelled: SIP;cause=480' "$CPMD_LOG"
assert_no_grep "${RECV_OUT[ring]}" '^(chat|session) '
rid=$(sed -n 's/^message sent //p' "${CHAT_OUT[ring]}")
wait_lines 20 "${RECV_OUT[ring]}" "^message sip:alice@$DOMAIN $rid ping\$" 1

# every device unavailable (480 from each)
start_receiver u1 dave phone --answer unavailable
start_receiver u2 dave tablet --answer unavailable
start_chat unav alice dave
chat_eof unav # nothing to keep: it ends with the session's answer
chat_exit unav 20
[ "$WAIT_RC" = 4 ] || fail "chat to unavailable devices: exit $WAIT_RC, 4 expected"
assert_grep "${CHAT_OUT[unav]}" '^rejected: 480 '
cpmd_alive
