#!/usr/bin/env bash
# Two cpmd on one --data-dir would share one SQLite store and blob directory
# (double deliveries, a reconcile deleting the other's partial uploads). The
# second must refuse at start-up, before it touches anything, with a message
# naming the directory and the pid holding it, and a non-zero exit; the
# first keeps working. The lock dies with its process: after a kill -9 a new
# cpmd starts on the directory at once.
. "$(dirname "$0")/lib.sh"

start_cpmd
first=$CPMD_PID
data=$CPMD_DATA
start_receiver bob bob phone --timeout 60
snap() { find "$data" -path "$data/cpmd.lock" -prune -o -printf '%P %s %T@\n' | sort; }
snap >"$T_DIR/before"

# second SIP MSRP LOG: a second cpmd on the same data directory; sets RC.
second() {
	RC=0
	timeout -k 2 10 "$CPMD" --domain "$DOMAIN" --sip "$HOST:$1" --msrp "$HOST:$2" --data-dir "$data" \
		</dev/null >"$3" 2>&1 || RC=$?
}
s2=$(pick_port)
USED_PORTS="$USED_PORTS$s2 "
m2=$(pick_port)
USED_PORTS="$USED_PORTS$m2 "
second "$s2" "$m2" "$LOGDIR/cpmd.second.log"
[ $RC -ne 124 ] && [ $RC -ne 137 ] || fail "the second cpmd on $data was still running after 10 s"
[ $RC -ne 0 ] && [ $RC -lt 128 ] || fail "the second cpmd exited $RC (an error exit expected)"
assert_no_grep "$LOGDIR/cpmd.second.log" 'cpmd: ready' "a second cpmd became ready on a data directory in use"
assert_grep "$LOGDIR/cpmd.second.log" "cpmd: error: data directory $data is in use by another cpmd \\(pid $first\\)" \
	"the second cpmd's error does not name the directory and the pid $first"
log "second cpmd: exit $RC: $(grep -m1 error "$LOGDIR/cpmd.second.log")"
snap >"$T_DIR/after"
diff "$T_DIR/before" "$T_DIR/after" >"$LOGDIR/snap.diff" ||
	fail "the refused cpmd changed the data directory: $(head -n 5 "$LOGDIR/snap.diff" | tr '\n' ' ')"
# nothing of the second one's listening either
[ -z "$(ss -Htuln "( sport = :$s2 or sport = :$m2 )" 2>/dev/null)" ] || fail "ports of the refused cpmd still open"

# The first one is unaffected.
cpmd_alive
gen_file "$T_DIR/a.bin" 40000
send_file a alice bob "$T_DIR/a.bin"
expect_delivered
assert_received bob "$T_DIR/a.bin"

# kill -9: no stale lock; a new cpmd takes the directory over (and its data).
kill -KILL "$first"
wait "$first" 2>/dev/null || true
CPMD_PID=""
stop_pid "${RECV_PID[bob]}" 5
s3=$(pick_port)
USED_PORTS="$USED_PORTS$s3 "
m3=$(pick_port)
USED_PORTS="$USED_PORTS$m3 "
CPMD_LOG="$LOGDIR/cpmd.third.log"
"$CPMD" --domain "$DOMAIN" --sip "$HOST:$s3" --msrp "$HOST:$m3" --data-dir "$data" </dev/null >/dev/null 2>"$CPMD_LOG" &
CPMD_PID=$!
PIDS+=("$CPMD_PID")
third_ready() { cpmd_alive; grep -q 'cpmd: ready' "$CPMD_LOG"; }
wait_for 15 "a new cpmd on $data after kill -9 of the first" third_ready
third=$CPMD_PID
[ "$(head -n 1 "$data/cpmd.lock")" = "$third" ] || fail "cpmd.lock does not hold the new cpmd's pid $third"
# and it holds the lock in turn
s4=$(pick_port)
USED_PORTS="$USED_PORTS$s4 "
m4=$(pick_port)
second "$s4" "$m4" "$LOGDIR/cpmd.fourth.log"
[ $RC -ne 0 ] && [ $RC -lt 124 ] || fail "a cpmd next to the restarted one exited $RC"
assert_grep "$LOGDIR/cpmd.fourth.log" "in use by another cpmd \\(pid $third\\)"
stop_cpmd
