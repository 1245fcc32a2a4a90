#!/usr/bin/env bash
# Expiry of stored standalone messages (docs/internals/messaging.md §3; the rules of
# store-and-forward.md §6):
#  a) discard (the default): `cpm message --expires 2` to offline bob: stored; about
#     2 s later alice's device prints exactly one `notification failed ID`; bob,
#     registering afterwards, gets nothing; cpmd logs the discard.
#  b) --no-report: the same expiry, and no notification at all (nothing was asked).
#  c) keep (--user-pref carol:on-expiry=keep): the message's body — the CPIM as
#     sent, byte for byte — becomes DATA/mss/<item id>; no `failed` notification.
#  d) --store-max-expiry caps a larger --expires.
#  e) deferral off for dave: `rejected: 480 ...`, exit 4, nothing stored.
. "$(dirname "$0")/lib.sh"

start_cpmd --store-max-expiry 3600 --store-default-expiry 3600 --user-pref "carol@$DOMAIN:on-expiry=keep" \
	--user-pref "dave@$DOMAIN:defer=off"
start_receiver alice alice laptop --timeout 60
# a control message without --expires: still there at the end
send_message ctl alice erin "control"
expect_message_result ctl 0 stored

# --- a) discard --------------------------------------------------------------------
send_message a alice bob "this will expire" --expires 2
expect_message_result a 0 stored
id_a=$MSG_ID
wait_for 15 "alice's 'notification failed $id_a'" grep -q -x -F "notification failed $id_a" "${RECV_OUT[alice]}"
assert_grep "$CPMD_LOG" 'expired undelivered: discarded' "a) cpmd did not log the discard"
start_receiver bob bob phone --timeout 20
sleep 1.5
assert_no_grep "${RECV_OUT[bob]}" '^message ' "a) bob got an expired message"
stop_pid "${RECV_PID[bob]}" 3

# --- b) no report asked ---------------------------------------------------------------
send_message b alice bob "quiet expiry" --expires 1 --no-report
expect_message_result b 0 stored
id_b=$MSG_ID
two_discards() { [ "$(grep -c 'expired undelivered: discarded' "$CPMD_LOG")" -ge 2 ]; }
wait_for 10 "the second discard" two_discards
sleep 1
assert_no_grep "${RECV_OUT[alice]}" "$id_b" "b) a notification for a message that asked for none"

# --- c) keep ----------------------------------------------------------------------------
send_message c alice carol "keep me for the message store" --expires 1
expect_message_result c 0 stored
item_c=$(sed -n 's/^cpm: stored by the server as item //p' "$MSG_ERR")
wait_for 10 "mss/$item_c" test -f "$CPMD_DATA/mss/$item_c"
assert_grep "$CPMD_DATA/mss/$item_c" "^imdn.Message-ID: $MSG_ID" "c) the kept file is not the message"
assert_grep "$CPMD_DATA/mss/$item_c" "^keep me for the message store\$" "c) the kept file lacks the text"
assert_grep "$CPMD_DATA/mss/$item_c" "^From: <sip:alice@$DOMAIN>" "c) the kept file lacks the sender"
sleep 1
assert_no_grep "${RECV_OUT[alice]}" "notification failed $MSG_ID" "c) a kept message was reported failed"

# the control message outlived them all
mapfile -t base < <(_cpm_base erin)
"$CPM" "${base[@]}" list >"$LOGDIR/list.erin.out" 2>&1 || fail "cpm list (erin): exit $?"
grep -q -E "^deferred [0-9a-f]{32} sip:alice@$DOMAIN message [0-9]+\$" "$LOGDIR/list.erin.out" ||
	fail "the control message is gone: $(cat "$LOGDIR/list.erin.out")"

# --- d) the operator's cap ---------------------------------------------------------------
stop_pid "${RECV_PID[alice]}" 3
stop_cpmd
start_cpmd --store-max-expiry 2 --store-default-expiry 2
start_receiver alice2 alice laptop --timeout 60
send_message d alice bob "capped" --expires 3600
expect_message_result d 0 stored
wait_for 15 "alice's 'notification failed $MSG_ID' (capped expiry)" \
	grep -q -x -F "notification failed $MSG_ID" "${RECV_OUT[alice2]}"

# --- e) deferral off ----------------------------------------------------------------------
stop_pid "${RECV_PID[alice2]}" 3
stop_cpmd
start_cpmd --user-pref "dave@$DOMAIN:defer=off"
send_message e alice dave "not kept"
[ "$MSG_RC" = 4 ] || fail "e) exit $MSG_RC, 4 expected"
case "$MSG_LAST" in "rejected: 480 "*) ;; *) fail "e) last line '$MSG_LAST', 'rejected: 480 ...' expected" ;; esac
assert_no_grep "$CPMD_LOG" 'stored as item' "e) the message was stored"
cpmd_alive
