#!/usr/bin/env bash
# SIGHUP (what operators and service managers send to "reload") must not kill
# cpmd: without --users it logs that there is nothing to reload and keeps serving — registered
# devices still get files, new devices still register — and SIGTERM then
# still stops it cleanly with exit status 0.
. "$(dirname "$0")/lib.sh"

start_cpmd
start_receiver bob bob phone --timeout 60
gen_file "$T_DIR/a.bin" 20000
gen_file "$T_DIR/b.bin" 30000

# hup_logged N: cpmd is alive (else fail with its exit status: 129 = killed
# by SIGHUP) and has logged N SIGHUP lines.
hup_logged() {
	cpmd_alive
	[ "$(grep -c 'cpmd: info: SIGHUP received: nothing to reload (no --users); ignored' "$CPMD_LOG")" -ge "$1" ]
}
for i in 1 2; do
	kill -HUP "$CPMD_PID"
	wait_for 10 "cpmd's log line about SIGHUP #$i" hup_logged $i
done
sleep 0.3
cpmd_alive
assert_no_grep "$CPMD_LOG" 'shutting down' "cpmd started shutting down on SIGHUP"

send_file a alice bob "$T_DIR/a.bin"
expect_delivered
assert_received bob "$T_DIR/a.bin"
start_receiver carol carol laptop --timeout 60
send_file b alice carol "$T_DIR/b.bin"
expect_delivered
assert_received carol "$T_DIR/b.bin"

pid=$CPMD_PID
stop_pid "$pid" 10
CPMD_PID=""
[ "$STOP_RC" = 0 ] || fail "cpmd exit status '$STOP_RC' after SIGHUP then SIGTERM (0 expected)"
assert_grep "$CPMD_LOG" 'cpmd: info: stopped' "cpmd did not log its clean stop"
