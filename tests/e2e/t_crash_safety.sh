#!/usr/bin/env bash
# Crash safety of store-and-forward: cpmd is killed with SIGKILL at many points
# of many transfers (real cpmd, real cpm; no mocks) and started again on the
# same ports and data directory each time. A ledger records what every sender
# was told. At the end bob takes everything and we assert:
#  (a) every file whose sender printed `stored` or `delivered` reached bob
#      byte-identical EXACTLY once (counted by sha-1; every file's content is
#      unique); a file whose sender was not told so may or may not arrive, but
#      never twice and never corrupted (bob holds no content nobody sent);
#  (b) after everything is delivered and cpmd restarted once more: no blob in
#      blobs/, blobs/tmp/ holds only partials that have an item or partial row,
#      and the store (read-only) holds no item/partial/delivery row of a
#      delivered item (only RECEIVING rows of uploads killed before the end);
#  (c) cpmd starts again after every kill (reconcile) and no log holds a
#      sanitizer report (lib.sh checks every log at exit).
#
# Kill points (tests/e2e/crash_check.py does the watching and the kill):
#   upload      bob offline (deferred), a new blobs/tmp/ file passed a random
#               byte count: cpmd dies while bytes flow (upload-frozen: the
#               sender is SIGSTOPped first, cpmd dies with the upload stalled);
#   stored      as soon as `cpm send` printed `stored`;
#   commit      the partial reached its full size (last byte in) or the final
#               blob appeared, then 0,1,2,3,5,10,20 ms: between fsync, rename,
#               the STORED commit and the acknowledgement;
#   random      1-3 concurrent senders, killed 0-60 ms after they started;
#   deliver     bob online, a .cpm-part file of a push delivery passed a random
#               byte count (deliver-frozen: bob SIGSTOPped first);
#   received    as soon as bob printed `received` (+0,0,1,2,5 ms): the
#               delivery is complete on the device, cpmd is finishing the item;
#   deliver-random  a random time after bob came online;
#   live        bob online (no deferral): mid-relay, or after `delivered`.
# Options: CRASH_SEED=N replays a run (the seed is logged); CPM_SANITIZE_RUN=1
# (ASan pass) and CPM_SMALL_FILES=1 make the big files smaller, never fewer
# than 50 transfers.
#
# Found by this test (2026-11-25) and fixed since: a push delivery completed on the device
# (renamed, `received` printed) whose item cpmd had not finished when it was killed was pushed
# again after the restart and saved twice ("NAME (1).ext"). cpmd sends the item id as the MSRP
# Message-ID of every attempt; cpm receive now keeps the Message-IDs it completed
# (src/client/recv_log.c) and acknowledges such a re-delivery without a second copy.
# CRASH_ALLOW_REDELIVERY=1 still turns a double delivery into a warning (crash_check.py
# --allow-redelivery), to watch the other assertions should it come back.
#
# Found in this test's harness (2026-12-04): kill_when saw the previous watcher's "armed" in
# kill.out before the new watcher's redirection had emptied it, so transfers often started
# before their watcher looked; their kill points timed out (10 s each, 4-6 per run) or came
# late. kill.out is emptied before the watcher starts now; a log line "timeout" or "missed"
# (the sender ended first: --gone-pidfile) is a kill point not met.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "python3 is needed (crash_check.py)"
CHECK=(python3 "$E2E_DIR/crash_check.py")
CPM_TRANSPORT=udp # bob's binding outlives a cpmd crash (restored from the store)
SEED=${CRASH_SEED:-$(((RANDOM << 15) | RANDOM))}
RANDOM=$SEED
log "seed $SEED (CRASH_SEED=$SEED replays the choices)"

if [ "${CPM_SANITIZE_RUN:-0}" = 1 ]; then
	BIG_MAX=3   # MiB (before big_size's CPM_SMALL_FILES scaling)
	ROUNDS_A=28 # upload rounds
	ROUNDS_B=16 # delivery rounds
else
	BIG_MAX=10
	ROUNDS_A=36
	ROUNDS_B=22
fi
ROUNDS_C=4 # live rounds
MIB=$(big_size 1)

CPMD_OPTS=(--delivery-retry 1:2 --invite-timeout 10)
start_cpmd "${CPMD_OPTS[@]}"
DB="$CPMD_DATA/cpmd.db"
LEDGER="$T_DIR/ledger.tsv"
: >"$LEDGER"
ARTIFACTS+=("$LEDGER")
KILLS=0
declare -A KILLS_AT=()
NT=0 # transfers
declare -A SPID=() SFILE=() SSIZE=()

# ---------------------------------------------------------------- helpers

# restart: cpmd is dead (or is killed now); start it again on the same ports and
# data dir. Fails the test if it does not come up (reconcile failed, crash).
RESTARTS=0
restart_cpmd() {
	local attempt i rc
	kill -KILL "$CPMD_PID" 2>/dev/null || true
	wait "$CPMD_PID" 2>/dev/null || true
	RESTARTS=$((RESTARTS + 1))
	for attempt in 1 2 3 4 5 6 7 8 9 10; do
		CPMD_LOG="$LOGDIR/cpmd.r$RESTARTS.$attempt.log"
		_cpmd_opts
		"$CPMD" --domain "$DOMAIN" --sip "$HOST:$SIP_PORT" --msrp "$HOST:$MSRP_PORT" --data-dir "$CPMD_DATA" \
			"${CPMD_EXTRA[@]}" "${CPMD_OPTS[@]}" </dev/null >"$LOGDIR/cpmd.r$RESTARTS.$attempt.stdout" 2>"$CPMD_LOG" &
		CPMD_PID=$!
		PIDS+=("$CPMD_PID")
		for ((i = 0; i < 300; i++)); do
			if grep -q 'cpmd: ready' "$CPMD_LOG"; then
				assert_grep "$CPMD_LOG" 'store: reconcile: blobs kept' "restart $RESTARTS: no reconcile line"
				# a STORED item without its blob: an acknowledged file lost
				assert_no_grep "$CPMD_LOG" 'items failed [1-9]|blob is missing' \
					"restart $RESTARTS (after kill #$KILLS): reconcile found a stored item without its blob"
				return 0
			fi
			kill -0 "$CPMD_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$CPMD_PID" 2>/dev/null && fail "restart $RESTARTS: cpmd not ready within 15 s"
		rc=0
		wait "$CPMD_PID" || rc=$?
		if grep -qiE 'in use|cannot listen|bind' "$CPMD_LOG"; then
			log "restart $RESTARTS: port still busy (attempt $attempt), retrying"
			sleep 0.5
			continue
		fi
		fail "cpmd did not start again after kill #$KILLS (exit status $rc): $(tail -n 3 "$CPMD_LOG")"
	done
	fail "cpmd could not bind its ports again after kill #$KILLS"
}

# new_file N SIZE: a file of unique content, named fNNN.bin.
mkdir -p "$T_DIR/src"
new_file() {
	local f
	printf -v f '%s/src/f%03d.bin' "$T_DIR" "$1"
	head -c "$2" /dev/urandom >"$f"
	SFILE[$1]=$f SSIZE[$1]=$2
}
big() { echo $((MIB * (1 + RANDOM % BIG_MAX) + RANDOM)); }
small() { echo $((64 + (RANDOM * 32768 + RANDOM) % 400000)); }

# start_send SIZE: a new transfer alice -> bob in the background; sets LAST_N.
start_send() {
	NT=$((NT + 1))
	local n=$NT base
	new_file "$n" "$1"
	mapfile -t base < <(_cpm_base alice)
	timeout -k 5 60 "$CPM" "${base[@]}" send "sip:bob@$DOMAIN" "${SFILE[$n]}" --no-resume --invite-timeout 20 \
		</dev/null >"$LOGDIR/send.$n.out" 2>"$LOGDIR/send.$n.err" &
	SPID[$n]=$!
	PIDS+=("${SPID[$n]}")
	LAST_N=$n
	echo "${SPID[$n]}" >"$SENDER" # (a watcher given --gone-pidfile follows it)
}

# finish_send N PHASE POINT: wait for the sender, record what it was told. (Shell only but
# for sha1sum: this runs ~80 times, and a fork costs ~6 ms of CPU on the test VM.)
finish_send() {
	local n=$1 rc=0 last="" res item="" l h
	local -a lines=()
	wait "${SPID[$n]}" || rc=$?
	[ -f "$LOGDIR/send.$n.out" ] && mapfile -t lines <"$LOGDIR/send.$n.out"
	[ ${#lines[@]} -gt 0 ] && last=${lines[-1]//$'\t'/ }
	if [ -f "$LOGDIR/send.$n.err" ]; then
		while IFS= read -r l; do
			[[ $l =~ ^cpm:\ stored\ by\ the\ server\ as\ item\ ([A-Za-z0-9_-]*) ]] && item=${BASH_REMATCH[1]}
		done <"$LOGDIR/send.$n.err"
	fi
	if [ "$rc" = 0 ] && { [ "$last" = stored ] || [ "$last" = delivered ]; }; then
		res=$last
	else
		res="rc$rc:${last:-nothing}"
	fi
	read -r h _ < <(sha1sum <"${SFILE[$n]}")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "${SFILE[$n]##*/}" "${SSIZE[$n]}" \
		"$h" "$2" "$3" "$res" "$item" >>"$LEDGER"
}

# kill_when POINT [crash_check kill options...]: arm a watcher in the
# background (returns once it watches); kill_wait collects it. The kill is
# SIGKILL to the current cpmd. --freeze-pidfile "$FREEZE" stalls the peer
# whose pid the test writes there.
FREEZE="$T_DIR/freeze.pid"
# SENDER: the pid of the sender whose transfer a kill point watches (phase A); once it ended,
# the point cannot come any more and cpmd is killed at once ("missed") rather than at the
# watcher's timeout (a fast upload done before its byte count was seen: ~10 s each).
SENDER="$T_DIR/sender.pid"
kill_when() {
	local i
	KPOINT=$1
	shift
	rm -f "$FREEZE" "$SENDER"
	# emptied here, not by the watcher's redirection: that happens in the child, after this
	# shell may already have read the last watcher's "armed" (then the transfer started
	# before the watcher looked: its kill point was never met, a 10 s timeout instead)
	: >"$T_DIR/kill.out"
	"${CHECK[@]}" kill --pid "$CPMD_PID" --timeout 30 "$@" >>"$T_DIR/kill.out" 2>&1 &
	KPID=$!
	PIDS+=("$KPID")
	for ((i = 0; i < 200; i++)); do
		grep -q armed "$T_DIR/kill.out" && return 0
		kill -0 "$KPID" 2>/dev/null || break
		sleep 0.01
	done
	fail "crash_check kill did not arm: $(cat "$T_DIR/kill.out")"
}
kill_wait() {
	local out
	wait "$KPID" || fail "crash_check kill failed: $(cat "$T_DIR/kill.out")"
	out=$(tail -n 1 "$T_DIR/kill.out")
	KILLS=$((KILLS + 1))
	KILLS_AT[$KPOINT]=$((${KILLS_AT[$KPOINT]:-0} + 1))
	log "kill #$KILLS ($KPOINT): $out"
	echo "kill #$KILLS ($KPOINT): $out" >>"$T_DIR/kills.txt"
}

# Items still to deliver (STORED or DELIVERING), read-only: the sqlite3 shell starts in a few
# ms where a python start takes ~60 ms of CPU on the test VM; phase D polls it.
pending() { sqlite3 -readonly -cmd '.timeout 10000' "$DB" 'SELECT count(*) FROM item WHERE state IN (1,2)'; }

# bob: one device, one --dir for the whole test (kept partials get resumed);
# each time online is a new `cpm receive` (its output kept as recv.bob.N.out).
BOBN=0
BDIR="$T_DIR/recv.bob"
bob_online() {
	BOBN=$((BOBN + 1))
	start_receiver bob bob phone
	echo "${RECV_PID[bob]}" >"$FREEZE"
}
bob_offline() {
	stop_pid "${RECV_PID[bob]}" 5
	mv "${RECV_OUT[bob]}" "$LOGDIR/recv.bob.$BOBN.out"
	mv "${RECV_ERR[bob]}" "$LOGDIR/recv.bob.$BOBN.err"
	sleep 0.2 # the un-REGISTER is committed
}

# ------------------------------------------- A: uploads, bob offline (deferred)
log "phase A: $ROUNDS_A upload rounds, bob offline"
DELAYS=(0 1 2 3 5 10 20)
for ((r = 0; r < ROUNDS_A; r++)); do
	TMP="$CPMD_DATA/blobs/tmp"
	case $((r % 6)) in
	0 | 1) # mid-upload, bytes flowing / sender stalled
		sz=$(big)
		if [ $((r % 6)) = 0 ]; then
			kill_when upload --new-bytes "$TMP" $((sz * (5 + RANDOM % 85) / 100)) --timeout 10 --gone-pidfile "$SENDER"
		else
			kill_when upload-frozen --new-bytes "$TMP" $((sz * (5 + RANDOM % 85) / 100)) --timeout 10 --freeze-pidfile "$SENDER" \
				--gone-pidfile "$SENDER"
		fi
		start_send "$sz" # (it writes SENDER: the pid to stall and to follow)
		ns=("$LAST_N")
		;;
	2) # right after the acknowledgement
		kill_when stored --line "$LOGDIR/send.$((NT + 1)).out" '^stored$' --timeout 10 --gone-pidfile "$SENDER"
		start_send "$(if ((RANDOM % 2)); then big; else small; fi)"
		ns=("$LAST_N")
		;;
	3 | 4) # mid-commit: last byte in, then a small delay
		sz=$(if ((RANDOM % 3)); then big; else small; fi)
		d=${DELAYS[$(((2 * (r / 6) + r % 6 - 3) % ${#DELAYS[@]}))]}
		kill_when "commit+${d}ms" --new-full "$TMP" "$sz" "$CPMD_DATA/blobs" --delay-ms "$d" --timeout 10 \
			--gone-pidfile "$SENDER"
		start_send "$sz"
		ns=("$LAST_N")
		;;
	5) # random point, 1-3 senders at once
		kill_when random --after-ms $((RANDOM % 60))
		ns=()
		for ((k = 0; k <= RANDOM % 3; k++)); do
			start_send "$(if ((RANDOM % 2)); then big; else small; fi)"
			ns+=("$LAST_N")
		done
		;;
	esac
	kill_wait
	restart_cpmd # first: a sender still in its INVITE retransmits it to the new cpmd
	for n in "${ns[@]}"; do finish_send "$n" A "$KPOINT"; done
done
log "phase A done: $NT transfers, $KILLS kills, $(pending) items waiting for bob"

# ------------------------------------- B: push deliveries to bob, killed
log "phase B: $ROUNDS_B delivery rounds"
for ((r = 0; r < ROUNDS_B; r++)); do
	# keep a stock: a big and a small file stored for bob (no kill)
	if [ "$(pending)" -lt 3 ]; then
		start_send "$(big)"
		first_n=$LAST_N
		start_send "$(small)"
		finish_send "$first_n" B none-at-send
		finish_send "$LAST_N" B none-at-send
	fi
	mkdir -p "$BDIR"
	case $((r % 4)) in
	0) kill_when deliver --part-bytes "$BDIR" $((MIB / 4 + RANDOM * 16)) --timeout 4 ;;
	1) kill_when deliver-frozen --part-bytes "$BDIR" $((MIB / 4 + RANDOM * 16)) --timeout 4 --freeze-pidfile "$FREEZE" ;;
	2)
		RDELAYS=(0 0 1 2 5)
		d=${RDELAYS[$((r / 4 % 5))]}
		kill_when "received+${d}ms" --line "$LOGDIR/recv.bob.out" '^received ' --delay-ms "$d" --timeout 4
		;;
	esac
	bob_online # (bob registers before any kill: no delivery starts earlier)
	[ $((r % 4)) = 3 ] && kill_when deliver-random --after-ms $((RANDOM % 700))
	kill_wait
	restart_cpmd
	sleep 0.$((RANDOM % 5)) # the restarted cpmd pushes to the restored binding
	bob_offline
done
log "phase B done: $NT transfers, $KILLS kills, $(pending) items waiting for bob"

# ------------------------------------------ C: live transfers, bob online
log "phase C: $ROUNDS_C live rounds"
for ((r = 0; r < ROUNDS_C; r++)); do
	bob_online
	sleep 0.5 # let the stored items' pushes start; the live transfer runs beside them
	if ((r % 2 == 0)); then
		kill_when live --part-bytes "$BDIR" $((MIB / 2)) --timeout 10
		start_send "$(big)"
	else
		kill_when live-delivered --line "$LOGDIR/send.$((NT + 1)).out" '^delivered$' --timeout 10
		start_send "$(small)"
	fi
	kill_wait
	restart_cpmd
	finish_send "$LAST_N" C "$KPOINT"
	bob_offline
done

# -------------------------------------- D: bob takes everything that is left
log "phase D: bob online until nothing is pending ($(pending) items)"
bob_online
for ((i = 0; i < 1200; i++)); do
	[ "$(pending)" = 0 ] && break
	cpmd_alive
	sleep 0.1
done
[ "$(pending)" = 0 ] || fail "items still pending after 120 s with bob online: $(pending)"
sleep 1 # the last deletes are committed, bob's last renames done
bob_offline
# once more: a kill -9 at rest, a start (reconcile), a clean stop
restart_cpmd
sleep 0.5
stop_cpmd

[ "$NT" -ge 50 ] || fail "only $NT transfers (test bug: at least 50 wanted)"
log "kills by point: $(for k in "${!KILLS_AT[@]}"; do printf '%s=%s ' "$k" "${KILLS_AT[$k]}"; done)"
log "sender results: $(cut -f7 "$LEDGER" | sed 's/:.*//' | sort | uniq -c | tr '\n' ' ')"
CHECK_OPTS=(--logs "$LOGDIR")
[ "${CRASH_ALLOW_REDELIVERY:-0}" = 1 ] && CHECK_OPTS+=(--allow-redelivery)
"${CHECK[@]}" check "${CHECK_OPTS[@]}" "$LEDGER" "$CPMD_DATA" "$BDIR" >"$T_DIR/check.out" 2>&1 || {
	cat "$T_DIR/check.out" >&2
	fail "crash-safety assertions failed (seed $SEED; $NT transfers, $KILLS kills)"
}
cat "$T_DIR/check.out" >&2
