#!/usr/bin/env bash
# Files of 0 B, 1 B, 1 MiB and 100 MiB arrive byte-identical (cmp + sha1), over
# SIP/UDP and SIP/TCP (also under ASan: it takes ~3 s there).
. "$(dirname "$0")/lib.sh"

start_cpmd
BIG=$(big_size 100)
for tr in udp tcp; do
	CPM_TRANSPORT=$tr
	src="$T_DIR/src.$tr"
	mkdir -p "$src"
	gen_file "$src/empty-$tr.bin" 0
	gen_file "$src/one-$tr.bin" 1
	gen_file "$src/mib-$tr.bin" 1048576
	gen_file "$src/big-$tr.bin" "$BIG"
	start_receiver "bob-$tr" "bob$tr" "dev-$tr" --count 4 --timeout 300
	for f in empty one mib big; do
		send_file "$f-$tr" "alice$tr" "bob$tr" "$src/$f-$tr.bin"
		expect_delivered
	done
	wait_exit "${RECV_PID[bob-$tr]}" 60
	[ "$WAIT_RC" = 0 ] || fail "receiver bob-$tr: exit status $WAIT_RC after 4 files (expected 0)"
	for f in empty one mib big; do
		assert_received "bob-$tr" "$src/$f-$tr.bin"
	done
	n=$(files_in "${RECV_DIR[bob-$tr]}" | wc -l)
	[ "$n" -eq 4 ] || fail "receiver bob-$tr: $n files in --dir, 4 expected: $(files_in "${RECV_DIR[bob-$tr]}")"
	rm -f "$src/big-$tr.bin" "${RECV_DIR[bob-$tr]}"/*big* 2>/dev/null || true
done
cpmd_alive
