#!/usr/bin/env bash
# `cpm receive` over TCP re-registers by itself when its connection to the
# server goes away: cpmd is killed (SIGKILL) and started again on the same
# ports; the device says `cpm: connection lost; re-registering`, then
# `cpm: registered ...` a second time, and a file sent afterwards arrives.
. "$(dirname "$0")/lib.sh"

CPM_TRANSPORT=tcp
start_cpmd
gen_file "$T_DIR/after.bin" 200000
start_receiver phone bob phone --count 1 --timeout 55
assert_grep "${RECV_ERR[phone]}" '^cpm: registered sip:bob@' "no 'registered' line from the device"

kill -KILL "$CPMD_PID"
wait "$CPMD_PID" 2>/dev/null || true
log "cpmd killed with SIGKILL"
lost() { grep -q '^cpm: connection lost; re-registering' "${RECV_ERR[phone]}"; }
wait_for 10 "the device to notice the lost connection" lost
sleep 1.5 # let a retry or two fail against the dead server (back-off)

CPMD_LOG="$LOGDIR/cpmd.restart.log"
"$CPMD" --domain "$DOMAIN" --sip "$HOST:$SIP_PORT" --msrp "$HOST:$MSRP_PORT" --data-dir "$CPMD_DATA" \
	</dev/null >"$LOGDIR/cpmd.restart.stdout" 2>"$CPMD_LOG" &
CPMD_PID=$!
PIDS+=("$CPMD_PID")
wait_for 15 "the restarted cpmd to be ready" grep -q 'cpmd: ready' "$CPMD_LOG"
twice() { [ "$(grep -c '^cpm: registered sip:bob@' "${RECV_ERR[phone]}")" -ge 2 ]; }
# back-off is at most 4 s at this point (1, 2, 4 ...)
wait_for 15 "the device to register again" twice
kill -0 "${RECV_PID[phone]}" 2>/dev/null || fail "the receiver exited"

send_file after alice bob "$T_DIR/after.bin"
expect_delivered
wait_exit "${RECV_PID[phone]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received phone "$T_DIR/after.bin"
cpmd_alive
