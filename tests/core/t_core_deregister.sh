#!/usr/bin/env bash
# De-registration behind Kamailio makes the user offline for cpmd:
#  1. bob's only device un-REGISTERs (SIGTERM to `cpm receive`): the core sends cpmd a
#     third-party REGISTER with Expires 0; alice's next file is stored at once, without an
#     INVITE toward bob through the core;
#  2. a device whose binding expires (a SIPp device registering for 2 s and going away): the
#     core's usrloc timer sends Expires 0 with a message/sip body naming that contact; cpmd
#     answers it 2xx and the next message to carol is stored without an attempt either.
. "$(dirname "$0")/lib_core.sh"

start_core_pair
start_receiver alice alice phone --timeout 60
start_receiver bob bob phone --timeout 60
z0=$(tpr_zero_count bob)
stop_pid "${RECV_PID[bob]}" 5
[ "$STOP_RC" = 0 ] || fail "bob's device exit status $STOP_RC after SIGTERM"
wait_tpr_zero bob $((z0 + 1)) 10
wait_for 10 "cpmd's answer to bob's Expires 0" _tpr_answered bob
tries=$(grep -a -c "cpmd's INVITE to sip:bob@$DOMAIN -> devices" "$KAM_LOG" || true)
gen_file "$T_DIR/doc.bin" 50000
send_file s alice bob "$T_DIR/doc.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send after de-registration: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"
n=$(grep -a -c "cpmd's INVITE to sip:bob@$DOMAIN -> devices" "$KAM_LOG" || true)
[ "$n" -eq "$tries" ] || fail "cpmd still tried bob through the core after his de-registration (it must know he is offline)"

# 2. expiry
command -v sipp >/dev/null || fail "sipp not installed (scripts/setup.sh installs sip-tester)"
run_sipp carol "$HOST:$KAM_UA_PORT" -m 1 -sf "$CPM_SRC/tests/core/sipp/device_short.xml" -s carol \
	-key domain "$DOMAIN" -key instance "$(cat /proc/sys/kernel/random/uuid)" -key expires 2
[ "$SIPP_RC" -eq 0 ] || fail "carol's SIPp device: exit $SIPP_RC"
wait_for 10 "cpmd to accept carol's registration" _tpr_ok_ge carol 1
wait_for 15 "the core to expire carol's binding" grep -q -a "expired -> third-party REGISTER expires=0" "$KAM_LOG"
wait_for 10 "cpmd's 2xx to carol's expiry" _tpr_ok_ge carol 2
tries=$(grep -a -c "cpmd's MESSAGE to sip:carol@$DOMAIN -> devices" "$KAM_LOG" || true)
send_message gone alice carol "you expired"
expect_message_result gone 0 stored
n=$(grep -a -c "cpmd's MESSAGE to sip:carol@$DOMAIN -> devices" "$KAM_LOG" || true)
[ "$n" -eq "$tries" ] || fail "cpmd still tried carol through the core after her binding expired"
cpmd_alive
kam_alive
