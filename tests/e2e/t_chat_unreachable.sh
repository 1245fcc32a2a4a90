#!/usr/bin/env bash
# A chat session nobody takes (docs/internals/messaging.md §5): sessions are live, cpmd
# stores nothing; the inviter hears why and `cpm chat` says it on its last line:
#   no device registered        -> rejected: 480 ... (exit 4)
#   the device declines         -> declined (exit 3)
#   nobody answers (--invite-timeout 2) -> rejected: 408 ... (exit 4), the ringing device
#                                  is cancelled and prints no session line
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
# no device
start_chat nodev alice bob
chat_say nodev "anyone there?"
chat_exit nodev 20
[ "$WAIT_RC" = 4 ] || fail "chat to a user with no device: exit $WAIT_RC, 4 expected"
assert_grep "${CHAT_OUT[nodev]}" '^rejected: 480 Temporarily Unavailable \(no device registered\)$'
assert_no_grep "${CHAT_ERR[nodev]}" 'established'

# a device that declines
start_receiver no bob phone --answer decline
start_chat decl alice bob
chat_exit decl 20
[ "$WAIT_RC" = 3 ] || fail "declined chat: exit $WAIT_RC, 3 expected"
[ "$(tail -n 1 "${CHAT_OUT[decl]}")" = declined ] || fail "declined chat: last line '$(tail -n 1 "${CHAT_OUT[decl]}")'"
stop_pid "${RECV_PID[no]}" 5

# a device that only rings: the invitation timer (2 s) ends it with 408
start_receiver ring carol phone --answer ignore
start_chat ring alice carol
chat_exit ring 20
[ "$WAIT_RC" = 4 ] || fail "unanswered chat: exit $WAIT_RC, 4 expected"
assert_grep "${CHAT_OUT[ring]}" '^rejected: 408 '
wait_for 10 "cpmd to cancel the ringing branch" grep -q -E 'branch [0-9]+ .*cancelled: SIP;cause=480' "$CPMD_LOG"
assert_no_grep "${RECV_OUT[ring]}" '^(chat|session) '

# every device unavailable (480 from each)
start_receiver u1 dave phone --answer unavailable
start_receiver u2 dave tablet --answer unavailable
start_chat unav alice dave
chat_exit unav 20
[ "$WAIT_RC" = 4 ] || fail "chat to unavailable devices: exit $WAIT_RC, 4 expected"
assert_grep "${CHAT_OUT[unav]}" '^rejected: 480 '
cpmd_alive
