#!/usr/bin/env bash
# Registrations survive a cpmd crash: a device registers (over UDP, whose
# socket outlives cpmd; a TCP flow would die with it), cpmd is killed with
# SIGKILL and started again on the same ports and data directory, and —
# without registering again — the device receives the next file, because
# cpmd restored the binding from its store (data-dir/cpmd.db).
. "$(dirname "$0")/lib.sh"

CPM_TRANSPORT=udp
start_cpmd
gen_file "$T_DIR/doc.bin" 300000
start_receiver phone bob phone --count 1 --timeout 60
sleep 0.3 # the binding's write is group-committed right after the 200

kill -KILL "$CPMD_PID"
wait "$CPMD_PID" 2>/dev/null || true
log "cpmd killed with SIGKILL; starting it again on the same ports and data dir"
CPMD_LOG="$LOGDIR/cpmd.restart.log"
"$CPMD" --domain "$DOMAIN" --sip "$HOST:$SIP_PORT" --msrp "$HOST:$MSRP_PORT" --data-dir "$CPMD_DATA" \
	</dev/null >"$LOGDIR/cpmd.restart.stdout" 2>"$CPMD_LOG" &
CPMD_PID=$!
PIDS+=("$CPMD_PID")
wait_for 15 "the restarted cpmd to be ready" grep -q 'cpmd: ready' "$CPMD_LOG"
assert_grep "$CPMD_LOG" 'restored 1 registration' "cpmd did not restore bob's registration from its store"

send_file doc alice bob "$T_DIR/doc.bin"
expect_delivered
wait_exit "${RECV_PID[phone]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received phone "$T_DIR/doc.bin"
cpmd_alive
