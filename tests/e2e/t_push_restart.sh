#!/usr/bin/env bash
# Push parameters survive a restart (docs/internals/push.md "What cpmd keeps"): bob's phone
# registers with RFC 8599 push parameters (cpm --push), then unregisters (an app put to sleep).
# cpmd is stopped (SIGTERM) and started again, then killed (SIGKILL) and started again: each
# time it loads the phone's parameters from the store. alice sends bob a file: it is stored and
# the gateway gets the wake-up, every field as the phone registered it. cpmd is killed once
# more before the phone wakes: at start it wakes the phone again for the item that waited
# across the crash. The phone registers and gets the file. Then it registers without push
# parameters: after one more restart nothing is loaded (the row went with them).
. "$(dirname "$0")/lib.sh"

start_push_gateway
push_opts=(--push-gateway "http://$HOST:$gw_port/wake" --push-retry 1:4)
start_cpmd "${push_opts[@]}"
assert_grep "$CPMD_LOG" 'push: 0 devices with push parameters loaded from the store'
prid=00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0
CPM_GLOBAL_OPTS="--push apns:$prid:ABCD1234.com.example.voip" start_receiver sleepy bob phone --timeout 60
pushable() { grep -q 'push: bob@cpm.test device=.* can be woken via pn-provider=apns' "$CPMD_LOG"; }
wait_for 10 "cpmd to keep bob's push parameters" pushable
stop_pid "${RECV_PID[sleepy]}" 5
gone() { grep -q 'unregister bob@cpm.test device=' "$CPMD_LOG"; }
wait_for 10 "bob's phone to unregister" gone

restart_cpmd TERM "${push_opts[@]}"
assert_grep "$CPMD_LOG" 'push: 1 devices with push parameters loaded from the store' \
	"the phone's push parameters were not loaded after a clean restart"
restart_cpmd KILL "${push_opts[@]}"
assert_grep "$CPMD_LOG" 'push: 1 devices with push parameters loaded from the store' \
	"the phone's push parameters were not loaded after kill -9"
[ "$(grep -c '^/wake ' "$posts")" = 0 ] || fail "a wake-up with nothing waiting"

gen_file "$T_DIR/photo.jpg" 120000
send_file photo alice bob "$T_DIR/photo.jpg"
[ "$SEND_RC" = 0 ] && [ "$SEND_LAST" = stored ] || fail "send to the sleeping bob: exit $SEND_RC, '$SEND_LAST' (stored expected)"
item=$(sed -n 's/^cpm: stored by the server as item \([0-9a-f]*\).*/\1/p' "$SEND_ERR")
[ -n "$item" ] || fail "no item id in the sender's stderr"
posts_ge() { [ "$(grep -c '^/wake ' "$posts")" -ge "$1" ]; }
wait_for 15 "the wake-up at the gateway" posts_ge 1
line=$(grep -m1 '^/wake ' "$posts")
body=${line#/wake json 204 }
[ "$body" != "$line" ] || fail "wake-up: $line"
python3 - "$body" "$item" "$prid" <<'PY' || fail "wake-up body: $body"
import json, sys
b = json.loads(sys.argv[1])
want = {"aor": "bob@cpm.test", "pn-provider": "apns", "pn-prid": sys.argv[3],
        "pn-param": "ABCD1234.com.example.voip", "item": sys.argv[2], "kind": "file", "from": "sip:alice@cpm.test"}
assert b == want, (b, want)
PY

# a crash before the phone woke: the item waited across it, the phone is woken again at start
restart_cpmd KILL "${push_opts[@]}"
wait_for 15 "the wake-up after the restart" posts_ge 2
[ "$(grep '^/wake ' "$posts" | sed -n 2p)" = "$line" ] || fail "the second wake-up differs: $(grep '^/wake ' "$posts" | sed -n 2p)"

CPM_GLOBAL_OPTS="--push apns:$prid:ABCD1234.com.example.voip" start_receiver awake bob phone --count 1 --timeout 60
wait_exit "${RECV_PID[awake]}" 30
[ "$WAIT_RC" = 0 ] || fail "bob's phone did not get the stored file (exit $WAIT_RC)"
assert_received awake "$T_DIR/photo.jpg"
[ "$(grep -c '^/wake ' "$posts")" = 2 ] || fail "$(grep -c '^/wake ' "$posts") wake-ups (2 expected)"

# registered without push parameters: forgotten, in the store too
start_receiver plain bob phone --timeout 60
stop_pid "${RECV_PID[plain]}" 5
restart_cpmd TERM "${push_opts[@]}"
assert_grep "$CPMD_LOG" 'push: 0 devices with push parameters loaded from the store' \
	"the phone registered without push parameters, but they were loaded again"
