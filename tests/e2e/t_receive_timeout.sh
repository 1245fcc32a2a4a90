#!/usr/bin/env bash
# `cpm receive --timeout 2 --count 1` with nothing sent registers, then exits
# non-zero after about 2 s (not at once, not never), leaving its --dir empty;
# a device that got fewer files than --count also exits non-zero.
. "$(dirname "$0")/lib.sh"

start_cpmd
t0=$(date +%s%3N)
start_receiver idle bob phone --count 1 --timeout 2
wait_exit "${RECV_PID[idle]}" 15
ms=$(($(date +%s%3N) - t0))
[ "$WAIT_RC" != timeout ] || fail "receive --timeout 2 still running after 15 s"
[ "$WAIT_RC" -ne 0 ] || fail "receive --timeout 2 exited 0 without receiving anything"
[ "$ms" -ge 1800 ] || fail "receive --timeout 2 gave up after $ms ms"
assert_dir_empty "${RECV_DIR[idle]}" "the idle receiver's --dir is not empty"
log "idle receiver: exit $WAIT_RC after $ms ms"

gen_file "$T_DIR/one.bin" 1000
start_receiver short carol phone --count 2 --timeout 4
send_file one alice carol "$T_DIR/one.bin"
expect_delivered
wait_exit "${RECV_PID[short]}" 15
[ "$WAIT_RC" != timeout ] || fail "receive --count 2 --timeout 4 still running after 15 s"
[ "$WAIT_RC" -ne 0 ] || fail "receive --count 2 exited 0 after only 1 file"
assert_received short "$T_DIR/one.bin"
