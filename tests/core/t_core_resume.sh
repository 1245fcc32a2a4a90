#!/usr/bin/env bash
# Resume of a delivery behind Kamailio (as tests/e2e/t_cpm_sf_push_resume.sh, through the
# core): a file stored for bob is being pushed (INVITE through the core, MSRP straight from
# cpmd) when his device is killed (SIGKILL); its partial file stays. The device starts
# again on the same --dir and registers with the core; the third-party REGISTER makes cpmd
# push the rest (a=file-range:N+1-SIZE) and the device ends with the byte-identical file.
. "$(dirname "$0")/lib_core.sh"

start_core_pair
start_receiver alice alice phone --timeout 90
size=$(big_size 200)
gen_file "$T_DIR/big.bin" "$size"
send_file s alice bob "$T_DIR/big.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"

# The device runs in 2 ms slices from its start (registration included), so the push
# cannot finish between two looks at its partial file.
dir="$T_DIR/recv.bob"
mkdir -p "$dir"
mapfile -t base < <(_cpm_base bob phone)
"$CPM" "${base[@]}" receive --dir "$dir" --count 1 --timeout 50 </dev/null >"$LOGDIR/recv.bob.out" \
	2>"$LOGDIR/recv.bob.err" &
RECV_PID[bob]=$!
PIDS+=("${RECV_PID[bob]}")
part_over_1m() { [ "$(stat -c %s "$dir/.big.bin.cpm-part" 2>/dev/null || echo 0)" -gt 1048576 ]; }
throttle_until "${RECV_PID[bob]}" 40 part_over_1m || fail "the device wrote no partial file of more than 1 MiB"
sleep 0.3 # cpmd reads the 200s already sent before the kill's reset drops them
kill -0 "${RECV_PID[bob]}" 2>/dev/null || fail "the device finished before it could be killed"
kill -KILL "${RECV_PID[bob]}"
wait "${RECV_PID[bob]}" 2>/dev/null || true
[ -n "$(find "$dir" -name '.big.bin.cpm-part.meta')" ] || fail "no sidecar next to the partial file"
log "device killed with $(stat -c %s "$dir/.big.bin.cpm-part") bytes in its partial file"
sleep 0.5

# same --dir, same device (same +sip.instance): it registers again through the core
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
assert_grep "$err" "recv [0-9]+ bytes from (udp|tcp)/\\[127\\.0\\.0\\.1\\]:$KAM_UA_PORT " "the resumed push did not come through the core"
[ -z "$(find "$dir" -name '*.cpm-part*')" ] || fail "partial files left: $(find "$dir" -name '*.cpm-part*')"
cpmd_alive
kam_alive
