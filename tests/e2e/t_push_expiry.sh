#!/usr/bin/env bash
# Push wake-up when the binding expires (docs/internals/push.md): bob's phone registers with
# push parameters and dies without unregistering (kill -9: an app killed in its sleep). alice's
# file rings the dead binding, is stored, and no wake-up goes while the binding is live; once
# the binding expires (--reg-max-expires 20) cpmd's sweep wakes the phone through the gateway,
# once, and the phone registering again gets the file. --delivery-retry 30:60: no push delivery
# rings the dead binding before it expires (one that failed would wake the phone at once,
# t_push_unanswered.sh), so the wake-up here is the sweep's.
. "$(dirname "$0")/lib.sh"

start_push_gateway
start_cpmd --push-gateway "http://$HOST:$gw_port/wake" --push-retry 1:2 --reg-max-expires 20 --invite-timeout 2 \
	--delivery-retry 30:60
reg_before=$(date +%s) # the binding starts after this second: it expires 20 s or more later
CPM_GLOBAL_OPTS="--push fcm:tok-42" start_receiver sleepy bob phone --timeout 60
reg_at=$(date +%s)
kill -KILL "${RECV_PID[sleepy]}"
gen_file "$T_DIR/a.bin" 40000
send_file a alice bob "$T_DIR/a.bin"
[ "$SEND_LAST" = stored ] || fail "file for bob's dead phone: '$SEND_LAST' (stored expected)"
now=$(date +%s)
[ $((now - reg_at)) -lt 18 ] || fail "too slow to test before the binding expires ($((now - reg_at)) s)"
[ "$(grep -c '^/wake ' "$posts")" = 0 ] || fail "a wake-up while the binding is still registered"
woken() { [ "$(grep -c '^/wake ' "$posts")" -ge 1 ]; }
wait_for 40 "the wake-up after the binding expired" woken
# cpmd counts bindings in whole seconds of CLOCK_MONOTONIC (location_now), whose second
# boundaries are not the wall clock's: its 20 s can end up to 1 s before the wall-clock
# registration time + 20 (CI: registered at :20.060, woken at :39.966, 94 ms before)
[ $(($(date +%s) - reg_before)) -ge 19 ] || fail "woken before the binding expired"
assert_no_grep "$CPMD_LOG" 'retrying deliveries to bob@cpm.test' "a delivery attempt came before the sweep's wake-up"
line=$(grep -m1 '^/wake ' "$posts")
[[ "$line" == '/wake json 204 {"aor":"bob@cpm.test","pn-provider":"fcm","pn-prid":"tok-42","pn-param":""'* ]] ||
	fail "wake-up: $line"
start_receiver awake bob phone --count 1 --timeout 60
wait_exit "${RECV_PID[awake]}" 30
[ "$WAIT_RC" = 0 ] || fail "bob's phone did not get the stored file (exit $WAIT_RC)"
assert_received awake "$T_DIR/a.bin"
[ "$(grep -c '^/wake ' "$posts")" = 1 ] || fail "$(grep -c '^/wake ' "$posts") wake-ups for one item"
