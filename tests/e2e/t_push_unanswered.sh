#!/usr/bin/env bash
# A registered device that does not answer is woken at once (RFC 8599 §4, docs/internals/push.md
# "When cpmd wakes"): bob's phone registers with push parameters and falls asleep without
# unregistering (SIGSTOP: its binding stays, over TCP, and it answers nothing). alice's file
# rings it, is stored; the push delivery rings it again and times out (--invite-timeout 2):
# cpmd wakes the phone through the gateway right then, an hour before its binding expires. The
# woken phone refreshes its registration (SIGCONT, then SIGUSR1: cpm re-REGISTERs on the same
# handle and connection, as an app woken by a push does): that refresh of a binding cpmd
# already had kicks the delivery at once, not the back-off's next attempt (6 s later), and the
# file arrives, once. One wake-up in all.
. "$(dirname "$0")/lib.sh"

CPM_TRANSPORT=tcp
start_push_gateway
start_cpmd --push-gateway "http://$HOST:$gw_port/wake" --invite-timeout 2 --delivery-retry 3:60
CPM_GLOBAL_OPTS="--push fcm:tok-asleep" start_receiver phone bob phone --count 1 --timeout 60
pushable() { grep -q 'push: bob@cpm.test device=.* can be woken via pn-provider=fcm' "$CPMD_LOG"; }
wait_for 10 "cpmd to keep bob's push parameters" pushable
kill -STOP "${RECV_PID[phone]}"

gen_file "$T_DIR/a.bin" 60000
send_file a alice bob "$T_DIR/a.bin"
[ "$SEND_LAST" = stored ] || fail "file for bob's sleeping phone: '$SEND_LAST' (stored expected)"
item=$(sed -n 's/^cpm: stored by the server as item \([0-9a-f]*\).*/\1/p' "$SEND_ERR")
woken() { [ "$(grep -c '^/wake ' "$posts")" -ge 1 ]; }
wait_for 20 "the wake-up of the phone that did not answer" woken
assert_grep "$CPMD_LOG" 'push: bob@cpm.test device=.* is registered but did not answer: waking it'
assert_no_grep "$CPMD_LOG" 'unregister bob@cpm.test' "the phone's binding went: this is not the unanswered case"
line=$(grep -m1 '^/wake ' "$posts")
[ "$line" = "/wake json 204 {\"aor\":\"bob@cpm.test\",\"pn-provider\":\"fcm\",\"pn-prid\":\"tok-asleep\",\"pn-param\":\"\",\"item\":\"$item\",\"kind\":\"file\",\"from\":\"sip:alice@cpm.test\"}" ] ||
	fail "wake-up: $line"

# woken: the app runs again and refreshes its registration
kill -CONT "${RECV_PID[phone]}"
kill -USR1 "${RECV_PID[phone]}"
wait_exit "${RECV_PID[phone]}" 30
[ "$WAIT_RC" = 0 ] || fail "bob's phone did not get the stored file after its refresh (exit $WAIT_RC)"
assert_received phone "$T_DIR/a.bin"
assert_grep "${RECV_ERR[phone]}" '^cpm: SIGUSR1: refreshing the registration'
back=$(grep -n 'push: bob@cpm.test device=.* registered again after its wake-up' "$CPMD_LOG" | head -1 | cut -d: -f1)
[ -n "$back" ] || fail "cpmd did not see the phone's refresh as its return"
# the same binding: a refresh, not a new contact or connection
[ "$(grep 'register bob@cpm.test device=' "$CPMD_LOG" | grep -v unregister | sed 's/.*contact=//' | sort -u | wc -l)" = 1 ] ||
	fail "the phone registered with another contact or flow: not a refresh"
pushed=$(awk -v b="$back" 'NR > b && /dlv .*: pushing item/ { print NR; exit }' "$CPMD_LOG")
[ -n "$pushed" ] || fail "no delivery after the refresh"
retried=$(awk -v b="$back" 'NR > b && /retrying deliveries to bob@cpm.test/ { print NR; exit }' "$CPMD_LOG")
[ -z "$retried" ] || [ "$retried" -gt "$pushed" ] || fail "the delivery waited for the back-off, not the refresh"
assert_grep "$CPMD_LOG" "item $item delivered|delivered \\(push\\) to device"
sleep 1
[ "$(grep -c '^/wake ' "$posts")" = 1 ] || fail "$(grep -c '^/wake ' "$posts") wake-ups for one item"
[ "$(grep -c '^received ' "${RECV_OUT[phone]}")" = 1 ] || fail "the file arrived more than once"
