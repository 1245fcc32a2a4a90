#!/usr/bin/env bash
# Concurrent transfers through one cpmd: four senders to four recipients at
# the same time (20 MiB each), plus three senders to one device at once. Every
# file must reach its own recipient byte-identical: the relay must never mix
# chunks of different sessions, and no transfer may stall another.
. "$(dirname "$0")/lib.sh"

start_cpmd
for i in 1 2 3 4; do
	gen_file "$T_DIR/f$i.bin" $((20 * 1048576 + i))
	start_receiver "r$i" "user$i" phone --count 1 --timeout 120
done
for i in 1 2 3; do gen_file "$T_DIR/g$i.bin" $((3 * 1048576 + i)); done
start_receiver many many phone --count 3 --timeout 120

declare -A SPID=()
for i in 1 2 3 4; do
	send_file_bg "f$i" "sender$i" "user$i" "$T_DIR/f$i.bin"
	SPID[f$i]=$SEND_PID
done
for i in 1 2 3; do
	send_file_bg "g$i" "gsender$i" many "$T_DIR/g$i.bin"
	SPID[g$i]=$SEND_PID
done
for k in f1 f2 f3 f4 g1 g2 g3; do
	wait_exit "${SPID[$k]}" 120
	last=$(tail -n 1 "$LOGDIR/send.$k.out" 2>/dev/null || true)
	[ "$WAIT_RC" = 0 ] && [ "$last" = delivered ] ||
		fail "concurrent send $k: exit $WAIT_RC, last line '$last' (expected 0 / delivered)"
done
for i in 1 2 3 4; do
	wait_exit "${RECV_PID[r$i]}" 30
	[ "$WAIT_RC" = 0 ] || fail "receiver r$i: exit status $WAIT_RC"
	assert_received "r$i" "$T_DIR/f$i.bin"
	[ "$(files_in "${RECV_DIR[r$i]}" | wc -l)" -eq 1 ] || fail "receiver r$i has more than its one file"
done
wait_exit "${RECV_PID[many]}" 30
[ "$WAIT_RC" = 0 ] || fail "receiver 'many': exit status $WAIT_RC after 3 concurrent files"
for i in 1 2 3; do assert_received many "$T_DIR/g$i.bin"; done
cpmd_alive
