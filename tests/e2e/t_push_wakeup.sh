#!/usr/bin/env bash
# Push wake-up (issue 13 §6, docs/internals/push.md): bob's phone registers with RFC 8599 push
# parameters (cpm --push: pn-provider, pn-prid, pn-param in its Contact), then goes away
# (unregisters, as an app put to sleep). alice sends him a file: cpmd stores it and POSTs a
# wake-up to --push-gateway (a python gateway here, recording the POSTs) with the JSON body of
# the docs; the gateway answers 500 first, cpmd retries after --push-retry; one wake-up per
# item, not more. The phone, woken, registers again: the file is pushed to it, intact.
. "$(dirname "$0")/lib.sh"

start_push_gateway --fail-first 1
start_cpmd --push-gateway "http://$HOST:$gw_port/wake" --push-retry 1:4
assert_grep "$CPMD_LOG" "push: wake-ups of devices with RFC 8599 push parameters go to http://$HOST:$gw_port/wake"

CPM_GLOBAL_OPTS="--push apns:00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0:ABCD1234.com.example.voip" \
	start_receiver sleepy bob phone --timeout 60
pushable() { grep -q 'push: bob@cpm.test device=.* can be woken via pn-provider=apns' "$CPMD_LOG"; }
wait_for 10 "cpmd to keep bob's push parameters" pushable
assert_grep "$CPMD_LOG" 'register bob@cpm.test device=.* contact=.*;pn-provider=apns;pn-prid=00fc13ad' \
	"the Contact of the REGISTER has no push parameters"
stop_pid "${RECV_PID[sleepy]}" 5
gone() { grep -q 'unregister bob@cpm.test device=' "$CPMD_LOG"; }
wait_for 10 "bob's phone to unregister" gone

gen_file "$T_DIR/photo.jpg" 150000
send_file photo alice bob "$T_DIR/photo.jpg"
[ "$SEND_RC" = 0 ] && [ "$SEND_LAST" = stored ] || fail "send to the sleeping bob: exit $SEND_RC, '$SEND_LAST' (stored expected)"
item=$(sed -n 's/^cpm: stored by the server as item \([0-9a-f]*\).*/\1/p' "$SEND_ERR")
[ -n "$item" ] || fail "no item id in the sender's stderr"
two_posts() { [ "$(grep -c '^/wake ' "$posts")" -ge 2 ]; }
wait_for 15 "the wake-up and its retry at the gateway" two_posts
log "gateway saw: $(grep '^/wake' "$posts" | cut -c1-200 | tr '\n' ' ')"
first=$(grep -m1 '^/wake ' "$posts")
[[ "$first" == "/wake json 500 "* ]] || fail "first POST: $first"
second=$(grep '^/wake ' "$posts" | sed -n 2p)
[[ "$second" == "/wake json 204 "* ]] || fail "second POST: $second"
body=${second#/wake json 204 }
python3 - "$body" "$item" <<'PY' || fail "wake-up body: $body"
import json, sys
b = json.loads(sys.argv[1])
want = {"aor": "bob@cpm.test", "pn-provider": "apns",
        "pn-prid": "00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0",
        "pn-param": "ABCD1234.com.example.voip", "item": sys.argv[2], "kind": "file", "from": "sip:alice@cpm.test"}
assert b == want, (b, want)
PY
[ "${first#/wake json 500 }" = "$body" ] || fail "the retry's body differs from the first attempt's"
assert_grep "$CPMD_LOG" 'push: wake-up of bob@cpm.test device=.*: gateway answered 500; attempt 1, again in 1 s'
assert_grep "$CPMD_LOG" "push: woke bob@cpm.test device=.* \\(item $item\\): gateway answered 204"

# woken: the phone registers again and gets the file
start_receiver awake bob phone --count 1 --timeout 60
wait_exit "${RECV_PID[awake]}" 30
[ "$WAIT_RC" = 0 ] || fail "bob's phone did not get the stored file (exit $WAIT_RC)"
assert_received awake "$T_DIR/photo.jpg"
sleep 2
[ "$(grep -c '^/wake ' "$posts")" = 2 ] || fail "more wake-ups than one per item: $(grep -c '^/wake ' "$posts")"
