#!/usr/bin/env bash
# reg event (RFC 3680) behind Kamailio: the core runs its notifier (WITH_REGEVENT: presence,
# presence_reginfo, pua, pua_reginfo) and cpmd runs `--reg-event on`, next to the third-party
# REGISTER.
#  1. alice's file for offline bob is stored. bob's device registers: the third-party REGISTER
#     binds it (device key = its +sip.instance), cpmd SUBSCRIBEs to bob's reg event at the
#     core (through --core), the core NOTIFYs an application/reginfo+xml and cpmd applies it
#     (its log line per contact): Kamailio 5.6's reginfo carries no +sip.instance, so cpmd
#     maps the contact URI to the binding the third-party REGISTER made (one device, one
#     binding). The stored file is pushed through the core, exactly once, byte-identical.
#  2. bob's device un-REGISTERs: the core's NOTIFY (registration terminated) and its Expires 0
#     reach cpmd, whichever comes first removes the binding (the other finds it gone), cpmd
#     un-SUBSCRIBEs; alice's next file is stored without any INVITE toward bob.
#  3. bob registers again: a new SUBSCRIBE, and the second file is pushed.
. "$(dirname "$0")/lib_core.sh"

# shellcheck disable=SC2034 # read by start_kamailio (lib_core.sh)
KAM_REGEVENT=1
start_core_pair --reg-event on
core="sip:$HOST:$KAM_ISC_PORT"
start_receiver alice alice phone --timeout 60

# the counters of the lines this test waits for
subs() { grep -a -c -F "reg event: SUBSCRIBE sip:bob@$DOMAIN through $core" "$CPMD_LOG" || true; }
notifies() { grep -a -c -E "NOTIFY .* on behalf of sip:bob@$DOMAIN for event reg" "$KAM_LOG" || true; }
invites() { grep -a -c -F "cpmd's INVITE to sip:bob@$DOMAIN -> devices" "$KAM_LOG" || true; }
bob_received() { grep -a -c '^received ' "${RECV_OUT[bob]}" || true; }
_ge() { [ "$("$1")" -ge "$2" ]; } # _ge COUNTER N
# what cpmd applied from a reginfo NOTIFY (grep the cpmd log from line $1 on): Kamailio 5.6's
# reginfo carries no +sip.instance, so cpmd maps the contact to the binding the third-party
# REGISTER made for it (one device, one binding)
reginfo_bound() { tail -n +"$1" "$CPMD_LOG" | grep -a -q -E "reg event: bob@$DOMAIN contact sip:[^ ]+ active \(device <urn:uuid:"; }
reginfo_unbound() { tail -n +"$1" "$CPMD_LOG" | grep -a -q -E "reg event: bob@$DOMAIN contact sip:[^ ]+ terminated|register bob@$DOMAIN: all devices removed"; }

# 1. stored while offline, pushed when bob registers (and subscribed to)
gen_file "$T_DIR/one.bin" 300000
send_file one alice bob "$T_DIR/one.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send one: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"
[ "$(subs)" -eq 0 ] || fail "cpmd subscribed to bob's reg event before bob ever registered"
mark=$(($(wc -l <"$CPMD_LOG") + 1))
start_receiver bob bob phone --timeout 60
assert_grep "$CPMD_LOG" "register bob@$DOMAIN device=<urn:uuid:" "the third-party REGISTER did not bind bob's device by its +sip.instance"
wait_for 10 "cpmd's SUBSCRIBE to bob's reg event" _ge subs 1
wait_for 10 "the core's reginfo NOTIFY for bob" _ge notifies 1
wait_for 10 "cpmd to apply the reginfo NOTIFY (a binding keyed by the contact URI)" reginfo_bound "$mark"
assert_no_grep "$CPMD_LOG" "reg event: SUBSCRIBE .* refused|reg event NOTIFY .*(refused|not applied)" "cpmd's reg event failed"
wait_for 20 "bob's device to get the stored file" _ge bob_received 1
assert_received bob "$T_DIR/one.bin"
sleep 1
[ "$(bob_received)" -eq 1 ] || fail "bob's device got $(bob_received) files, the one stored file expected once"
[ "$(invites)" -eq 1 ] || fail "$(invites) INVITEs toward bob through the core, 1 push expected"

# 2. de-registration: offline for cpmd by both paths, the subscription ends
mark=$(($(wc -l <"$CPMD_LOG") + 1))
z0=$(tpr_zero_count bob)
n0=$(notifies)
stop_pid "${RECV_PID[bob]}" 5
[ "$STOP_RC" = 0 ] || fail "bob's device exit status $STOP_RC after SIGTERM"
wait_tpr_zero bob $((z0 + 1)) 10
wait_for 10 "cpmd's answer to bob's Expires 0" _tpr_answered bob
wait_for 10 "the core's NOTIFY of bob's de-registration" _ge notifies $((n0 + 1))
wait_for 10 "cpmd to remove the reginfo binding" reginfo_unbound "$mark"
wait_for 10 "cpmd's un-SUBSCRIBE" grep -a -q -F "reg event: un-SUBSCRIBE bob@$DOMAIN (no binding left)" "$CPMD_LOG"
tries=$(invites)
gen_file "$T_DIR/two.bin" 40000
send_file two alice bob "$T_DIR/two.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send two: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"
[ "$(invites)" -eq "$tries" ] || fail "cpmd still tried bob through the core after his de-registration (it must know he is offline)"

# 3. back again: subscribed again, the second file is pushed
mark=$(($(wc -l <"$CPMD_LOG") + 1))
s0=$(subs)
start_receiver bob2 bob phone --timeout 60
wait_for 10 "cpmd's second SUBSCRIBE to bob's reg event" _ge subs $((s0 + 1))
wait_for 10 "cpmd to apply the new reginfo NOTIFY" reginfo_bound "$mark"
wait_for 20 "bob's device to get the second stored file" grep -q -a '^received ' "${RECV_OUT[bob2]}"
assert_received bob2 "$T_DIR/two.bin"
assert_no_grep "${RECV_OUT[bob2]}" "^received .* $(sha1 "$T_DIR/one.bin")\$" "the first file was delivered twice"
cpmd_alive
kam_alive
