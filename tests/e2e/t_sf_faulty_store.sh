#!/usr/bin/env bash
# Store-and-forward with a failing store (cpmd --test-store-fail N: the Nth
# store write and every later one fail with EIO; docs/internals/store-and-forward.md
# §1: the item is committed BEFORE the final 200 / REPORT that say `stored`).
# For several N, alice sends two files to offline bob:
#  - each send ends either `stored` (exit 0) or `failed: ...` (exit 1), never
#    anything else, and once one send failed (the store is broken for good)
#    the next one cannot be `stored`;
#  - with small N (the store fails before the first item) both fail; with a
#    large N both are stored;
#  - cpmd stays up;
#  - `stored` is the truth: cpmd is then killed and started again WITHOUT
#    fault injection on the same data dir (after a SIGKILL), bob registers and receives exactly
#    the files that were reported `stored` (identical), none of the others.
. "$(dirname "$0")/lib.sh"

# restart_clean: SIGKILL cpmd (a `stored` file must already be durable), start
# it again on the same ports and data dir without --test-store-fail.
restart_clean() {
	kill -KILL "$CPMD_PID"
	wait "$CPMD_PID" 2>/dev/null || true
	CPMD_LOG="$LOGDIR/cpmd.$CPMD_N.clean.log"
	"$CPMD" --domain "$DOMAIN" --sip "$HOST:$SIP_PORT" --msrp "$HOST:$MSRP_PORT" --data-dir "$CPMD_DATA" \
		</dev/null >"$LOGDIR/cpmd.$CPMD_N.clean.stdout" 2>"$CPMD_LOG" &
	CPMD_PID=$!
	PIDS+=("$CPMD_PID")
	wait_for 15 "cpmd (restarted without fault injection) to be ready" grep -q 'cpmd: ready' "$CPMD_LOG"
}

for n in 1 2 4 6 7 40; do
	start_cpmd --test-store-fail "$n"
	stored=() failed=0
	for f in f g; do
		gen_file "$T_DIR/$f$n.bin" $((50000 + n * 1000 + ${#f}))
		send_file "$f$n" alice bob "$T_DIR/$f$n.bin"
		cpmd_alive
		case "$SEND_RC:$SEND_LAST" in
		"0:stored")
			[ "$failed" = 0 ] || fail "N=$n: $f$n reported 'stored' after an earlier send failed (the store fails every write after the Nth)"
			stored+=("$f$n")
			;;
		"1:failed: "*) failed=1 ;;
		*) fail "N=$n: $f$n ended exit $SEND_RC, last line '$SEND_LAST' (expected 'stored' or 'failed: ...')" ;;
		esac
	done
	log "N=$n: stored: ${stored[*]:-none}"
	case $n in
	1 | 2) [ ${#stored[@]} -eq 0 ] || fail "N=$n: ${stored[*]} reported stored although the store fails from its write $n on" ;;
	40) [ ${#stored[@]} -eq 2 ] || fail "N=40: only '${stored[*]}' stored; the store does not fail that early" ;;
	esac
	if [ "$failed" = 1 ]; then
		assert_grep "$CPMD_LOG" 'Input/output error' "N=$n: a send failed but cpmd logged no store error"
	fi

	# The truth of `stored`: a clean cpmd on the same data delivers exactly those.
	restart_clean
	start_receiver "bob$n" bob phone --timeout 30
	for f in "${stored[@]}"; do
		h=$(sha1 "$T_DIR/$f.bin")
		wait_for 20 "bob to receive $f.bin (reported stored with N=$n)" grep -q -a " $h\$" "${RECV_OUT[bob$n]}"
		assert_received "bob$n" "$T_DIR/$f.bin"
	done
	sleep 1 # a file that failed must not come after the stored ones
	got=$(grep -c -a '^received ' "${RECV_OUT[bob$n]}" || true)
	[ "$got" -eq ${#stored[@]} ] ||
		fail "N=$n: bob received $got files after the clean restart, ${#stored[@]} reported stored: $(cat "${RECV_OUT[bob$n]}")"
	stop_pid "${RECV_PID[bob$n]}" 3
	cpmd_alive
	stop_cpmd
done
