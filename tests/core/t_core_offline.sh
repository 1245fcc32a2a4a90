#!/usr/bin/env bash
# Offline recipient behind Kamailio: bob has no device, alice's file is stored (`cpm send`
# prints `stored`). When bob's device registers with the core, the core's third-party
# REGISTER tells cpmd, and cpmd pushes the file through the core (Request-URI = bob's AOR):
# bob's `cpm receive` gets it, byte-identical (sha-1).
. "$(dirname "$0")/lib_core.sh"

start_core_pair
gen_file "$T_DIR/photo.jpg" 700000
start_receiver alice alice phone --timeout 60
send_file s alice bob "$T_DIR/photo.jpg"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"
assert_grep "$SEND_ERR" '^cpm: stored by the server as item ' "no item id on the sender's stderr"

before=$(grep -a -c "cpmd's INVITE to sip:bob@$DOMAIN -> devices" "$KAM_LOG" || true)
start_receiver bob bob phone --count 1 --timeout 30
assert_grep "$KAM_LOG" "third-party REGISTER sip:bob@$DOMAIN expires=[1-9]" "the core sent no third-party REGISTER for bob"
wait_exit "${RECV_PID[bob]}" 30
[ "$WAIT_RC" = 0 ] || fail "bob's device: exit status $WAIT_RC (0 expected after the pushed file)"
assert_received bob "$T_DIR/photo.jpg"
after=$(grep -a -c "cpmd's INVITE to sip:bob@$DOMAIN -> devices" "$KAM_LOG" || true)
[ "$after" -gt "$before" ] || fail "the push did not go through the core"
cpmd_alive
kam_alive
