# shellcheck shell=bash
# The delivery-resume scenario (store-and-forward §3, §5), shared by t_cpm_sf_push_resume
# (standalone) and tests/core/t_core_resume (behind Kamailio): source after lib.sh (and
# lib_core.sh) once cpmd runs. push_resume_scenario: a file stored for bob is being pushed
# to his device when the device is killed (SIGKILL); its partial file and sidecar stay in
# --dir. The device starts again on the same --dir; cpmd pushes the rest
# (a=file-range:N+1-SIZE), the device continues its partial (no 488) and ends with the
# byte-identical file and no partial left. Sets RESUME_ERR: the second run's stderr (with
# TPORT_LOG=1: its SIP trace).
push_resume_scenario() {
	local size dir base p out err
	size=$(big_size 200)
	gen_file "$T_DIR/big.bin" "$size"
	send_file s alice bob "$T_DIR/big.bin"
	[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"

	# The device runs in 2 ms slices from its start (registration included), so
	# the push cannot finish between two looks at its partial file.
	dir="$T_DIR/recv.bob"
	mkdir -p "$dir"
	mapfile -t base < <(_cpm_base bob phone)
	"$CPM" "${base[@]}" receive --dir "$dir" --count 1 --timeout 50 </dev/null >"$LOGDIR/recv.bob.out" \
		2>"$LOGDIR/recv.bob.err" &
	RECV_PID[bob]=$!
	PIDS+=("${RECV_PID[bob]}")
	part_over_1m() { [ "$(stat -c %s "$dir/.big.bin.cpm-part" 2>/dev/null || echo 0)" -gt 1048576 ]; }
	throttle_until "${RECV_PID[bob]}" 40 part_over_1m || fail "the device wrote no partial file of more than 1 MiB"
	# cpm's disk worker writes ahead of the 200s (msrp_in_disk.c: a chunk is acknowledged once
	# the worker wrote it, from the loop thread): one more slice of 50 ms lets the 200s of what
	# the file holds go out, so that cpmd has something to resume from.
	kill -CONT "${RECV_PID[bob]}" 2>/dev/null || true
	sleep 0.05
	kill -STOP "${RECV_PID[bob]}" 2>/dev/null || true
	sleep 0.3 # cpmd reads the 200s already sent before the kill's reset drops them
	kill -0 "${RECV_PID[bob]}" 2>/dev/null || fail "the device finished before it could be killed"
	kill -KILL "${RECV_PID[bob]}"
	wait "${RECV_PID[bob]}" 2>/dev/null || true
	[ -n "$(find "$dir" -name '.big.bin.cpm-part.meta')" ] || fail "no sidecar next to the partial file"
	log "device killed with $(stat -c %s "$dir/.big.bin.cpm-part") bytes in its partial file"
	sleep 0.5

	# same --dir, same device: cpmd pushes again when it registers
	RECV_DIR[bob2]=$dir
	out="$LOGDIR/recv.bob2.out" err="$LOGDIR/recv.bob2.err"
	mapfile -t base < <(_cpm_base bob phone)
	TPORT_LOG=1 "$CPM" "${base[@]}" receive --dir "$dir" --count 1 --timeout 50 </dev/null >"$out" 2>"$err" &
	p=$!
	PIDS+=("$p")
	RECV_OUT[bob2]=$out
	wait_exit "$p" 50
	[ "$WAIT_RC" = 0 ] || fail "second device run: exit status $WAIT_RC"
	assert_received bob2 "$T_DIR/big.bin"
	assert_grep "$err" 'a=file-range:[0-9]+-' "cpmd pushed the whole file again (no a=file-range)"
	log "cpmd resumed the delivery: $(grep -m1 -o 'a=file-range:[0-9*-]*' "$err")"
	assert_no_grep "$err" '488 No Partial File' "the device did not find its kept partial"
	[ -z "$(find "$dir" -name '*.cpm-part*')" ] || fail "partial files left: $(find "$dir" -name '*.cpm-part*')"
	RESUME_ERR=$err
}
