#!/usr/bin/env bash
# Deployment benchmarks (issue 9): cpmd in AS mode behind Kamailio (deploy/kamailio/cpmd-core.cfg)
# next to cpmd standalone, in the same run. See docs/BENCHMARKS.md "Deployment: behind Kamailio,
# two domains (issue 9)".
#
#   bench/core_bench.sh BUILD_DIR     (BUILD_DIR has cpmd, cpm and sf_fill, Release)
#
# Processes, ports and the temp dir come from tests/core/lib_core.sh (over tests/e2e/lib.sh):
# random free ports, every process in PIDS, stopped by the EXIT trap; Kamailio runs the
# project's own config exactly as the tests start it.
#
# 1. blast: small transfers per second. Per round and mode (standalone, then core): a fresh
#    cpmd (and Kamailio), the recipient's device (`cpm receive --count N`) and a registered
#    device of the sender (behind the core a user must be registered to originate), then
#    `cpm blast --count N --parallel P --size SIZE` (one process, P transfers in flight).
#    transfers/s is blast's own figure; CPU per transfer = utime+stime deltas over the blast of
#    cpmd and of Kamailio (its main process and all its workers), and of `cpm blast`.
# 2. tpr: third-party REGISTERs per second. SIPp plays the core (the trusted address) and sends
#    cpmd (--mode as) third-party REGISTERs (bench/sipp/core_3preg_load.xml: To = the user,
#    Expires 600, message/sip body with Contact and +sip.instance). First FILL_USERS users at
#    FILL_RATE, then steps of STEP_S seconds at each rate of RATES, half refreshes of registered
#    users and half new users, until a step has failures, retransmissions or falls short of
#    the offered rate. Per step: SIPp's success/failure/retransmission counts and its clock,
#    cpmd CPU per REGISTER and RSS, the kernel's UDP receive-buffer drops.
# 3. reg: REGISTER -> first push INVITE with ITEM_COUNTS stored items (sf_bench.sh part 3's data
#    dirs in SF_CACHE, filled by sf_fill, and its UA bench/sf_ua.py), standalone and behind the
#    core in the same run: behind the core the device registers to Kamailio, Kamailio sends the
#    third-party REGISTER, cpmd pushes to the core, Kamailio forks the INVITE to the device.
#    Latency on the wire (tshark on lo, the device's port: bench/wire_latency.py).
# Knobs (environment): SKIP ("blast tpr reg": parts to skip), MODES ("standalone core"),
# REPS (2), BLAST_COUNT (2000), BLAST_PAR (32), BLAST_SIZE (4096), FILL_USERS (100000),
# FILL_RATE (3000), FILL_LINGER (35: s of rest after the fill, while the fill's server
# transactions expire), RATES ("2000 3000 4000 5000 6000 8000"), STEP_S (6), KAM_SHM (256: MB
# of shared memory for Kamailio), MAX_USERS (1000000: cpmd --max-users in part 2), CPMD_READY_S
# (120),
# SF_CACHE (/var/tmp/cpmd-sf-bench), ITEM_COUNTS (1000000), CYCLES (200), TEST_ITEMS (3),
# TEST_SIZE (65536). Needs kamailio, sip-tester, tshark (scripts/setup.sh; installed here if
# missing).
set -euo pipefail
BUILD=$(cd "${1:?usage: bench/core_bench.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export CPM_SRC=$ROOT CPM_BUILD=$BUILD CPMD=$BUILD/cpmd CPM=$BUILD/cpm
export TMPDIR=${TMPDIR:-/var/tmp} # the ext4 root, like the other benches (tmpfs would flatter)
DOMAIN=bench.test
SKIP=${SKIP:-}
MODES=${MODES:-standalone core}
REPS=${REPS:-2}
BLAST_COUNT=${BLAST_COUNT:-2000}
BLAST_PAR=${BLAST_PAR:-32}
BLAST_SIZE=${BLAST_SIZE:-4096}
FILL_USERS=${FILL_USERS:-100000}
FILL_RATE=${FILL_RATE:-3000}
RATES=${RATES:-2000 3000 4000 5000 6000 8000}
STEP_S=${STEP_S:-6}
SF_CACHE=${SF_CACHE:-/var/tmp/cpmd-sf-bench}
ITEM_COUNTS=${ITEM_COUNTS:-1000000}
CYCLES=${CYCLES:-200}
TEST_ITEMS=${TEST_ITEMS:-3}
TEST_SIZE=${TEST_SIZE:-65536}
KAM_SHM=${KAM_SHM:-256}
MAX_USERS=${MAX_USERS:-1000000}
FILL_LINGER=${FILL_LINGER:-35}
export CPMD_READY_S=${CPMD_READY_S:-120} # start-up with 1M stored items (reconcile) on a cold cache

need_pkg() { # COMMAND PACKAGE
	command -v "$1" >/dev/null && return 0
	echo "core_bench: installing $2" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null
}
need_pkg kamailio kamailio
need_pkg sipp sip-tester
need_pkg tshark tshark
[ -x "$BUILD/sf_fill" ] || { echo "core_bench: $BUILD/sf_fill missing (cmake --build $BUILD --target sf_fill)" >&2; exit 2; }

# shellcheck source=../tests/core/lib_core.sh
. "$ROOT/tests/core/lib_core.sh"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
say() { echo "core_bench: $*" >&2; }
MEDIAN_DEC=1
newport() { local p; p=$(pick_port); USED_PORTS="$USED_PORTS$p "; printf -v "$1" %s "$p"; } # newport VAR

# start_mode MODE [cpmd options...]: standalone = cpmd alone, devices talk to it; core = cpmd
# --mode as behind Kamailio, devices talk to Kamailio. Sets DEV_PORT (where devices send SIP).
start_mode() {
	local mode=$1
	shift
	if [ "$mode" = core ]; then
		newport KAM_ISC_PORT
		start_cpmd --mode as --core "sip:$HOST:$KAM_ISC_PORT" --core-trust "$HOST" --reg-event off "$@"
		start_kamailio -m "$KAM_SHM" # shared memory: the tests' 32 MB runs out of tm cells under load
		DEV_PORT=$KAM_UA_PORT
	else
		start_cpmd "$@"
		KAM_PID=""
		DEV_PORT=$SIP_PORT
		KAM_UA_PORT=$SIP_PORT # lib_core's _cpm_base sends every cpm to KAM_UA_PORT
	fi
}
stop_mode() {
	stop_kamailio
	stop_cpmd
}
kam_ticks() { if [ -n "$KAM_PID" ]; then tree_cpu_ticks "$KAM_PID"; else echo 0; fi; }

DATE=$(utc_date)
GITREV=$(git_rev "$ROOT")
DIRTY=$(git_dirty "$ROOT")
echo "core_bench — $DATE — HEAD $GITREV (tracked files modified: $DIRTY), build $(basename "$BUILD") (cpmd binary of $(date -u -r "$CPMD" '+%Y-%m-%d %H:%M UTC'))"
echo "machine: $(machine_desc); $(kamailio -v 2>/dev/null | head -n 1 | cut -d' ' -f1-3); sipp $(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1)"
echo "temp dir on $(df -T "$T_DIR" | awk 'NR == 2 {print $1 " " $2}'); load average at start: $(loadavg); processes >= 5% CPU at start: $(busy_others)"
echo "command: bench/core_bench.sh $(basename "$BUILD")  (MAX_USERS=$MAX_USERS SKIP=\"$SKIP\" MODES=\"$MODES\" REPS=$REPS BLAST_COUNT=$BLAST_COUNT BLAST_PAR=$BLAST_PAR BLAST_SIZE=$BLAST_SIZE FILL_USERS=$FILL_USERS FILL_RATE=$FILL_RATE RATES=\"$RATES\" STEP_S=$STEP_S ITEM_COUNTS=\"$ITEM_COUNTS\" CYCLES=$CYCLES)"
echo

# --- 1. small transfers per second --------------------------------------------
# start_device NAME USER DEVICE [receive options]: a registered `cpm receive`; sets DEV_PID
start_device() {
	local name=$1 user=$2 dev=$3 base i
	shift 3
	mkdir -p "$T_DIR/rx.$name"
	mapfile -t base < <(_cpm_base "$user" "$dev")
	"$CPM" "${base[@]}" receive --dir "$T_DIR/rx.$name" --timeout 600 "$@" </dev/null \
		>"$LOGDIR/rx.$name.out" 2>"$LOGDIR/rx.$name.err" &
	DEV_PID=$!
	PIDS+=("$DEV_PID")
	for ((i = 0; i < 150; i++)); do
		grep -q 'registered sip:' "$LOGDIR/rx.$name.err" 2>/dev/null && break
		kill -0 "$DEV_PID" 2>/dev/null || fail "device $name exited before registering"
		sleep 0.1
	done
	grep -q 'registered sip:' "$LOGDIR/rx.$name.err" || fail "device $name did not register"
	# behind the core: registered = cpmd took the third-party REGISTER
	[ -z "$KAM_PID" ] || wait_for 15 "cpmd took $user's third-party REGISTER" _tpr_ok_ge "$user" 1
}
declare -A BL_RATE BL_CPMD BL_KAM BL_CPM
blast_round() { # MODE ROUND
	local mode=$1 r=$2 key="$1.$2" ru su rx sx base b0 b1 c0 c1 k0 k1 w u s line ok failed got i
	ru="rcv$r$mode" su="snd$r$mode"
	start_mode "$mode" --log-level warn
	start_device "$key.rcv" "$ru" phone --count "$BLAST_COUNT"
	rx=$DEV_PID
	start_device "$key.snd" "$su" laptop
	sx=$DEV_PID
	mapfile -t base < <(_cpm_base "$su" blaster)
	sleep 0.5
	b0=$(sys_busy) c0=$(cpu_ticks "$CPMD_PID") k0=$(kam_ticks)
	TIMEFORMAT='%R %U %S'
	{ time timeout -k 5 300 "$CPM" "${base[@]}" blast "sip:$ru@$DOMAIN" --count "$BLAST_COUNT" \
		--parallel "$BLAST_PAR" --size "$BLAST_SIZE" </dev/null >"$LOGDIR/blast.$key.out" 2>"$LOGDIR/blast.$key.err"; } \
		2>"$T_DIR/blast.$key.time" || say "cpm blast $key exited with $?"
	c1=$(cpu_ticks "$CPMD_PID") k1=$(kam_ticks) b1=$(sys_busy)
	line=$(grep -a '^blast ' "$LOGDIR/blast.$key.out" | tail -n 1 || true)
	read -r _ ok _ failed _ _ _ _ _ <<<"${line:-blast 0 ok 0 failed}"
	for ((i = 0; i < 100; i++)); do
		got=$(grep -c -a '^received ' "$LOGDIR/rx.$key.rcv.out" || true)
		[ "$got" -ge "${ok:-0}" ] && break
		sleep 0.1
	done
	read -r w u s < <(tail -n 1 "$T_DIR/blast.$key.time")
	BL_RATE[$key]=$(awk '{print $8}' <<<"$line")
	BL_CPMD[$key]=$(ticks_us $((c1 - c0)) "$ok")
	BL_KAM[$key]=$(ticks_us $((k1 - k0)) "$ok")
	BL_CPM[$key]=$(awk -v u="$u" -v s="$s" -v n="$ok" 'BEGIN { printf "%.0f", (u + s) * 1e6 / (n ? n : 1) }')
	printf '   round %d %-10s: %s | received %s | CPU µs per transfer: cpmd %s, Kamailio %s, cpm blast %s | machine busy %s CPU s in %s s wall (%d CPUs)\n' \
		"$r" "$mode" "${line:-no blast line}" "$got" "${BL_CPMD[$key]}" "${BL_KAM[$key]}" "${BL_CPM[$key]}" \
		"$(fdiv $((b1 - b0)) "$HZ" %.2f)" "$w" "$(nproc)"
	stop_pid "$rx" 3
	stop_pid "$sx" 3
	stop_mode
}
if [[ " $SKIP " != *" blast "* ]]; then
	echo "1. small transfers: cpm blast --count $BLAST_COUNT --parallel $BLAST_PAR --size $BLAST_SIZE -> one cpm receive, SIP over UDP; standalone = devices -> cpmd; core = devices -> Kamailio -> cpmd --mode as (MSRP straight to cpmd in both)"
	for ((r = 1; r <= REPS; r++)); do
		for m in $MODES; do blast_round "$m" "$r"; done
	done
	for m in $MODES; do
		L="" C="" K="" P=""
		for ((r = 1; r <= REPS; r++)); do
			L+=" ${BL_RATE[$m.$r]:-0}" C+=" ${BL_CPMD[$m.$r]:-0}" K+=" ${BL_KAM[$m.$r]:-0}" P+=" ${BL_CPM[$m.$r]:-0}"
		done
		eval "MED_$m=$(median <<<"$L")"
		echo "   median $m: $(median <<<"$L") transfers/s; CPU µs per transfer: cpmd $(median <<<"$C"), Kamailio $(median <<<"$K"), cpm blast $(median <<<"$P")"
	done
	if [ -n "${MED_core:-}" ] && [ -n "${MED_standalone:-}" ]; then
		echo "   core / standalone: $(fdiv "$MED_core" "$MED_standalone" %.2f)"
	fi
	echo
fi

# --- 2. third-party REGISTERs per second ---------------------------------------
# csv_users FILE COUNT FIRST_NEW REGISTERED CSEQ: SIPp injection file of COUNT users, half new
# (from index FIRST_NEW on), half refreshes of users 0..REGISTERED-1 (random), shuffled;
# REGISTERED 0 = all new. field2 is the CSeq of the device's REGISTER in the body: 2 for a
# new device, then growing with every row (a registrar refuses a refresh whose Call-ID it
# knows with a CSeq not above the last: RFC 3261 10.3 step 7), from CSEQ on. Prints the next
# new index and the next CSeq.
csv_users() {
	python3 - "$@" <<'PY'
import random, sys
f, n, first, reg, cseq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = []
nxt = first
for i in range(n):
    if reg and i % 2:
        k = random.randrange(reg)
    else:
        k = nxt; nxt += 1
    rows.append(k)
if reg:
    random.shuffle(rows)
with open(f, "w") as o:
    o.write("SEQUENTIAL\n")
    for k in rows:
        cseq += 1
        o.write("u%d;%012d;%d;\n" % (k, k, 2 if k >= first else cseq))
print(nxt, cseq + 1)
PY
}
# sipp_core NAME RATE COUNT CSV: SIPp as the core at RATE/s; sets S_OK S_FAIL S_RETR S_SECS S_RT S_CPU
sipp_core() {
	local name=$1 rate=$2 n=$3 csv=$4 pid
	(cd "$T_DIR" && exec sipp -sf "$HERE/sipp/core_3preg_load.xml" -t u1 -i "$HOST" -p "$CORE_PORT" \
		-inf "$csv" -key domain "$DOMAIN" -key expires 600 -r "$rate" -rp 1000 -m "$n" -l 200000 \
		-max_recv_loops 10000 -max_sched_loops 10000 -timeout 300s -nostdin -trace_stat -fd 1 -stf "$T_DIR/$name.stat.csv" \
		-trace_err -error_file "$LOGDIR/sipp.$name.err" "$HOST:$SIP_PORT" >"$LOGDIR/sipp.$name.out" 2>&1) &
	pid=$!
	S_CPU=0
	while kill -0 "$pid" 2>/dev/null; do
		S_CPU=$(awk -v hz="$HZ" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat" 2>/dev/null || echo "$S_CPU")
		sleep 0.2
	done
	wait "$pid" || true
	read -r S_OK S_FAIL S_RETR S_SECS S_RT < <(python3 - "$T_DIR/$name.stat.csv" <<'PY'
import sys
rows = [l.rstrip("\n").split(";") for l in open(sys.argv[1])]
h, last = rows[0], rows[-1]
col = lambda n: last[h.index(n)]
epoch = lambda v: float(v.split("\t")[2])
rt = col("ResponseTime1(C)") if "ResponseTime1(C)" in h else "n/a"
print(col("SuccessfulCall(C)"), col("FailedCall(C)"), col("Retransmissions(C)"),
      "%.3f" % (epoch(col("CurrentTime")) - epoch(col("StartTime"))), rt)
PY
)
}
if [[ " $SKIP " != *" tpr "* ]]; then
	echo "2. third-party REGISTERs absorbed by cpmd --mode as (SIPp plays the core: Expires 600, message/sip body with Contact and +sip.instance), data dir on $(df -T "$T_DIR" | awk 'NR == 2 {print $2}')"
	newport CORE_PORT
	start_cpmd --mode as --core "sip:$HOST:$CORE_PORT" --core-trust "$HOST" --reg-event off --log-level warn \
		--max-users "$MAX_USERS" # the default, 100000, would refuse every new user of the steps
	read -r NEXT CSEQ < <(csv_users "$T_DIR/fill.csv" "$FILL_USERS" 0 0 3)
	REGD=$FILL_USERS
	c0=$(cpu_ticks "$CPMD_PID") u0=$(netstat_val /proc/net/snmp Udp RcvbufErrors)
	sipp_core fill "$FILL_RATE" "$FILL_USERS" "$T_DIR/fill.csv"
	c1=$(cpu_ticks "$CPMD_PID") u1=$(netstat_val /proc/net/snmp Udp RcvbufErrors)
	hwm_fill=$(status_kb "$CPMD_PID" VmHWM)
	sleep "$FILL_LINGER"
	echo "   fill: $FILL_USERS new users at $FILL_RATE/s offered: $S_OK ok, $S_FAIL failed, $S_RETR retransmissions in $S_SECS s = $(fdiv "$S_OK" "$S_SECS" %.0f)/s; cpmd CPU $(ticks_us $((c1 - c0)) "$S_OK") µs per REGISTER; SIPp CPU $S_CPU s; UDP rcvbuf drops $((u1 - u0)); cpmd VmHWM $hwm_fill kB, VmRSS $FILL_LINGER s later $(status_kb "$CPMD_PID" VmRSS) kB"
	BINDINGS=$(sqlite3 "$CPMD_DATA/cpmd.db" "SELECT count(*) FROM reg" 2>/dev/null || echo "?")
	echo "   bindings in cpmd's database after the fill: $BINDINGS"
	BEST=0
	for rate in $RATES; do
		n=$((rate * STEP_S))
		read -r NEXT CSEQ < <(csv_users "$T_DIR/step.$rate.csv" "$n" "$NEXT" "$REGD" "$CSEQ")
		REGD=$NEXT
		echo 5 >"/proc/$CPMD_PID/clear_refs"
		c0=$(cpu_ticks "$CPMD_PID") u0=$(netstat_val /proc/net/snmp Udp RcvbufErrors) b0=$(sys_busy)
		sipp_core "r$rate" "$rate" "$n" "$T_DIR/step.$rate.csv"
		c1=$(cpu_ticks "$CPMD_PID") u1=$(netstat_val /proc/net/snmp Udp RcvbufErrors) b1=$(sys_busy)
		got=$(fdiv "$S_OK" "$S_SECS" %.0f)
		echo "   step $rate/s offered, $n REGISTERs (half refreshes, half new; $REGD users known after it): $S_OK ok, $S_FAIL failed, $S_RETR retransmissions in $S_SECS s = $got/s; mean response $S_RT; cpmd CPU $(ticks_us $((c1 - c0)) "$S_OK") µs per REGISTER ($(fdiv $((c1 - c0)) "$(awk -v s="$S_SECS" -v hz="$HZ" 'BEGIN {print s * hz}')" %.2f) of a core); SIPp CPU $S_CPU s; machine busy $(fdiv $((b1 - b0)) "$HZ" %.2f) CPU s; UDP rcvbuf drops $((u1 - u0)); cpmd VmRSS $(status_kb "$CPMD_PID" VmRSS) kB VmHWM $(status_kb "$CPMD_PID" VmHWM) kB"
		if [ "$S_FAIL" -gt 0 ] || [ "$S_RETR" -gt 0 ] || [ "$got" -lt $((rate * 95 / 100)) ]; then
			echo "   -> first step with failures, retransmissions or < 95 % of the offered rate: $rate/s"
			break
		fi
		BEST=$got
	done
	echo "   highest rate with 0 failures and 0 retransmissions: $BEST/s (target >= 5000/s)"
	stop_cpmd
	echo
fi

# --- 3. REGISTER -> first push INVITE ------------------------------------------
if [[ " $SKIP " != *" reg "* ]]; then
	echo "3. REGISTER -> first push INVITE ($CYCLES register/480/unregister cycles; test user bob with $TEST_ITEMS stored files of $TEST_SIZE bytes; latency on the wire at the device's port)"
	for n in $ITEM_COUNTS; do
		D=$SF_CACHE/items-$n
		for m in $MODES; do
			"$BUILD/sf_fill" "$D" "$n" $((n / 10)) "$DOMAIN" bob "$TEST_ITEMS" "$TEST_SIZE" file 2>/dev/null | sed 's/^/   /' >&2
			t0=$(now)
			start_mode "$m" --data-dir "$D" --delivery-retry 3600:3600 --log-level info
			st=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
			newport UAP
			tshark -i lo -f "udp port $UAP" -w "$T_DIR/reg-$m-$n.pcap" -q >"$LOGDIR/tshark-$m-$n.out" 2>&1 &
			TSP=$!
			PIDS+=("$TSP")
			for ((i = 0; i < 200; i++)); do grep -q 'Capturing on' "$LOGDIR/tshark-$m-$n.out" && break; sleep 0.05; done
			sleep 0.5
			c0=$(cpu_ticks "$CPMD_PID") k0=$(kam_ticks)
			ua=$(python3 "$HERE/sf_ua.py" --server "$HOST:$DEV_PORT" --user "bob@$DOMAIN" --port "$UAP" \
				--cycles "$CYCLES" --gap 0.02 --out "$LOGDIR/ua-$m-$n.txt" || true)
			c1=$(cpu_ticks "$CPMD_PID") k1=$(kam_ticks)
			sleep 0.5
			kill -INT "$TSP" 2>/dev/null || true
			wait "$TSP" 2>/dev/null || true
			echo "   $n stored items, $m (cpmd and core up in $st s): $(python3 "$HERE/wire_latency.py" "$T_DIR/reg-$m-$n.pcap" "$UAP" INVITE)"
			echo "      UA: ${ua#ua: }"
			echo "      CPU per cycle (2 REGISTERs, $TEST_ITEMS INVITE/480/ACK): cpmd $(ticks_us $((c1 - c0)) "$CYCLES") µs, Kamailio $(ticks_us $((k1 - k0)) "$CYCLES") µs; cpmd VmRSS $(status_kb "$CPMD_PID" VmRSS) kB"
			stop_mode
		done
	done
	echo
fi
echo "processes >= 5% CPU at the end: $(busy_others); load average $(loadavg)"
echo "total: $SECONDS s"
