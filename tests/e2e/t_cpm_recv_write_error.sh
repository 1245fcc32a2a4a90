#!/usr/bin/env bash
# cpm receive cannot write its part file (issue 12 §4): the same failure whether the file is
# written inline on the loop or by the disk worker (src/client/msrp_in_disk.c). The receiver
# runs with a 1 MiB file-size limit (ulimit -f, SIGXFSZ ignored: the write fails with EFBIG,
# as on a full disk) and gets a 3 MiB file: its stderr says "write NAME: File too large", its
# stdout "failed: NAME bad chunk (answered 400)", no file is left in --dir, and it is not
# killed by the limit.
. "$(dirname "$0")/lib.sh"

start_cpmd
gen_file "$T_DIR/big.bin" $((3 << 20))
# inline: --disk-thread off; worker: on, for every file (CPM_TEST_RECV_RING_MIN=1)
for mode in inline worker; do
	case $mode in
	inline) export CPM_DISK_THREAD=off CPM_TEST_RECV_RING_MIN=1 ;;
	worker) export CPM_DISK_THREAD=on CPM_TEST_RECV_RING_MIN=1 ;;
	esac
	trap '' XFSZ
	ulimit -S -f 1024
	start_receiver "bob-$mode" "bob$mode" phone --timeout 60
	ulimit -S -f unlimited
	trap - XFSZ
	send_file "$mode" alice "bob$mode" "$T_DIR/big.bin"
	out=${RECV_OUT[bob-$mode]} err=${RECV_ERR[bob-$mode]}
	for ((i = 0; i < 100; i++)); do
		grep -q '^failed: ' "$out" && break
		sleep 0.1
	done
	assert_grep "$err" "write \\.big\\.bin\\.cpm-part: File too large" "$mode: the write error in the receiver's log"
	assert_grep "$out" "^failed: big\\.bin bad chunk \\(answered 400\\)\$" "$mode: the receiver's failed line"
	assert_no_grep "$out" '^received ' "$mode: nothing received"
	kill -0 "${RECV_PID[bob-$mode]}" 2>/dev/null || fail "$mode: the receiver died"
	[ -z "$(files_in "${RECV_DIR[bob-$mode]}")" ] || fail "$mode: files left in --dir: $(files_in "${RECV_DIR[bob-$mode]}")"
	kill "${RECV_PID[bob-$mode]}" 2>/dev/null || true
	wait_exit "${RECV_PID[bob-$mode]}" 20
done
unset CPM_TEST_RECV_RING_MIN CPM_DISK_THREAD
cpmd_alive
