#!/usr/bin/env bash
# Security benchmarks (issue 10): the cost of SIP digest authentication and of TLS, each next to
# the same thing without it, in the same run. See docs/BENCHMARKS.md "Security: authentication
# and TLS (issue 10)".
#
#   bench/sec_bench.sh BUILD_DIR     (BUILD_DIR has cpmd and cpm, Release)
#
# Processes, ports and the temp dir come from tests/e2e/lib.sh (random free ports, every process
# in PIDS, stopped by the EXIT trap); CPU readings from bench/lib.sh.
# 1. reg: REGISTERs per second, SIPp (bench/sipp/device_reg_load.xml, UDP) against cpmd with
#    --users (MD5 offered first: SIPp 3.6.1 knows no SHA-256; 401 then 200 with credentials) and
#    without (200 at once). One user, a new Call-ID per REGISTER (SIPp cannot vary the digest
#    user per call). Steps of STEP_S seconds at each rate of RATES until a step has failures,
#    retransmissions or falls short of 95 % of the offered rate; cpmd CPU per REGISTER.
# 2. blast: `cpm blast --count N --parallel P --size SIZE` to one registered `cpm receive`,
#    plain vs --users (every cpm with --password: REGISTER 401, every INVITE 407). REPS rounds,
#    alternating; transfers/s (blast's own) and cpmd CPU per transfer.
# 3. tls: one file of BIG_MIB MiB, cpm send -> cpmd -> cpm receive (registered, live), SIP and
#    MSRP over TCP vs over TLS (msrps both legs, --sip-tls/--msrp-tls, scripts/mk-test-certs.sh),
#    REPS_TLS rounds alternating, one cpmd with both listeners. MB/s = file size / cpm send wall
#    time (end to end: hash, SIP, MSRP); cpmd CPU s per GiB.
# Knobs (environment): SKIP ("reg blast tls": parts to skip), RATES ("1000 2000 3000 4000 6000 8000"),
# STEP_S (5), REPS (2), BLAST_COUNT (2000), BLAST_PAR (32), BLAST_SIZE (4096), BIG_MIB (256),
# REPS_TLS (3), PROFILE (0; 1: perf record of cpmd during the last tcp and tls rounds of part 3,
# which then cost a little more CPU).
set -euo pipefail
BUILD=$(cd "${1:?usage: bench/sec_bench.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export CPM_SRC=$ROOT CPM_BUILD=$BUILD CPMD=$BUILD/cpmd CPM=$BUILD/cpm
export TMPDIR=${TMPDIR:-/var/tmp} # the ext4 root, like the other benches (tmpfs would flatter)
export DOMAIN=bench.test
SKIP=${SKIP:-}
RATES=${RATES:-1000 2000 3000 4000 6000 8000}
STEP_S=${STEP_S:-5}
REPS=${REPS:-2}
BLAST_COUNT=${BLAST_COUNT:-2000}
BLAST_PAR=${BLAST_PAR:-32}
BLAST_SIZE=${BLAST_SIZE:-4096}
BIG_MIB=${BIG_MIB:-256}
REPS_TLS=${REPS_TLS:-3}
PROFILE=${PROFILE:-0}
PW=bench-pw # every subscriber's password (cpm takes one --password)

# shellcheck source=../tests/e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
say() { echo "sec_bench: $*" >&2; }
MEDIAN_DEC=1
# start_dev NAME USER [receive options]: a `cpm receive` (RECV_PID/RECV_DIR/RECV_OUT[NAME]) that
# has registered (its own "registered sip:" line: cpmd runs at --log-level warn, so
# lib.sh's start_receiver, which reads cpmd's log, cannot see it)
start_dev() {
	local name=$1 user=$2 base i d=$T_DIR/recv.$1
	shift 2
	mkdir -p "$d"
	mapfile -t base < <(_cpm_base "$user" phone)
	"$CPM" "${base[@]}" receive --dir "$d" --timeout 600 "$@" </dev/null >"$LOGDIR/recv.$name.out" 2>"$LOGDIR/recv.$name.err" &
	RECV_PID[$name]=$! RECV_DIR[$name]=$d RECV_OUT[$name]=$LOGDIR/recv.$name.out
	PIDS+=("${RECV_PID[$name]}")
	for ((i = 0; i < 150; i++)); do
		grep -q 'registered sip:' "$LOGDIR/recv.$name.err" 2>/dev/null && return 0
		kill -0 "${RECV_PID[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	fail "device $name did not register: $(tail -n 2 "$LOGDIR/recv.$name.err")"
}
USERS=$T_DIR/users
{
	echo "u1@$DOMAIN $PW"
	for ((r = 1; r <= REPS; r++)); do echo "rcv$r@$DOMAIN $PW"; echo "snd$r@$DOMAIN $PW"; done
	echo "alice@$DOMAIN $PW"
	for ((r = 1; r <= REPS_TLS * 2; r++)); do echo "bob$r@$DOMAIN $PW"; done
} >"$USERS"

echo "sec_bench — $(utc_date) — HEAD $(git_rev "$ROOT") (tracked files modified: $(git_dirty "$ROOT")), build $(basename "$BUILD") (cpmd binary of $(date -u -r "$CPMD" '+%Y-%m-%d %H:%M UTC'))"
echo "machine: $(machine_desc); sipp $(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1); $(openssl version)"
echo "temp dir on $(df -T "$T_DIR" | awk 'NR == 2 {print $1 " " $2}'); load average at start: $(loadavg); processes >= 5% CPU at start: $(busy_others)"
echo "command: bench/sec_bench.sh $(basename "$BUILD")  (SKIP=\"$SKIP\" RATES=\"$RATES\" STEP_S=$STEP_S REPS=$REPS BLAST_COUNT=$BLAST_COUNT BLAST_PAR=$BLAST_PAR BLAST_SIZE=$BLAST_SIZE BIG_MIB=$BIG_MIB REPS_TLS=$REPS_TLS PROFILE=$PROFILE)"
echo

# --- 1. REGISTERs per second ----------------------------------------------------
# sipp_reg NAME RATE COUNT [sipp options]: sets S_OK S_FAIL S_RETR S_SECS
sipp_reg() {
	local name=$1 rate=$2 n=$3
	shift 3
	_sipp_args "$name"
	(cd "$T_DIR" && exec timeout -k 5 120 sipp "${SIPP_ARGS[@]}" -sf "$HERE/sipp/device_reg_load.xml" -t u1 \
		-inf "$T_DIR/reg.csv" -r "$rate" -rp 1000 -m "$n" -l 100000 -max_recv_loops 10000 -max_sched_loops 10000 \
		-trace_stat -fd 1 -stf "$T_DIR/$name.stat.csv" "$@" "$HOST:$SIP_PORT" </dev/null >"$LOGDIR/sipp.$name.stdout" 2>&1) || true
	read -r S_OK S_FAIL S_RETR S_SECS < <(python3 - "$T_DIR/$name.stat.csv" <<'PY'
import sys
rows = [l.rstrip("\n").split(";") for l in open(sys.argv[1])]
h, last = rows[0], rows[-1]
col = lambda n: last[h.index(n)]
epoch = lambda v: float(v.split("\t")[2])
print(col("SuccessfulCall(C)"), col("FailedCall(C)"), col("Retransmissions(C)"),
      "%.3f" % (epoch(col("CurrentTime")) - epoch(col("StartTime"))))
PY
)
}
declare -A REG_BEST REG_US
reg_mode() { # MODE (plain|auth)
	local mode=$1 rate n c0 c1 got best=0 us=n/a sargs=()
	if [ "$mode" = auth ]; then
		start_cpmd --users "$USERS" --auth-algorithms MD5,SHA-256 --log-level warn
		sargs=(-au u1 -ap "$PW")
	else
		start_cpmd --log-level warn
	fi
	printf 'SEQUENTIAL\n%s;u1;\n' "$DOMAIN" >"$T_DIR/reg.csv"
	echo "   $mode (load average $(loadavg)):"
	for rate in $RATES; do
		n=$((rate * STEP_S))
		c0=$(cpu_ticks "$CPMD_PID")
		sipp_reg "reg.$mode.$rate" "$rate" "$n" "${sargs[@]}"
		c1=$(cpu_ticks "$CPMD_PID")
		got=$(fdiv "$S_OK" "$S_SECS" %.0f)
		echo "     step $rate/s offered, $n REGISTERs: $S_OK ok, $S_FAIL failed, $S_RETR retransmissions in $S_SECS s = $got/s; cpmd CPU $(ticks_us $((c1 - c0)) "$S_OK") µs per REGISTER ($(fdiv $((c1 - c0)) "$(awk -v s="$S_SECS" -v hz="$HZ" 'BEGIN {print s * hz}')" %.2f) of a core)"
		if [ "$S_FAIL" -gt 0 ] || [ "$S_RETR" -gt 0 ] || [ "$got" -lt $((rate * 95 / 100)) ]; then
			echo "     -> first step with failures, retransmissions or < 95 % of the offered rate: $rate/s"
			break
		fi
		best=$got us=$(ticks_us $((c1 - c0)) "$S_OK")
	done
	REG_BEST[$mode]=$best REG_US[$mode]=$us
	stop_cpmd
}
if [[ " $SKIP " != *" reg "* ]]; then
	echo "1. REGISTERs per second, SIPp over UDP, Expires 600, one user, a new Call-ID each (auth: 401 + 200 with MD5 digest, qop=auth)"
	reg_mode plain
	reg_mode auth
	echo "   highest clean rate: plain ${REG_BEST[plain]}/s (cpmd ${REG_US[plain]} µs per REGISTER), auth ${REG_BEST[auth]}/s (cpmd ${REG_US[auth]} µs per authenticated REGISTER, two transactions); auth / plain rate $(fdiv "${REG_BEST[auth]}" "${REG_BEST[plain]}" %.2f)"
	echo
fi

# --- 2. small transfers per second ------------------------------------------------
declare -A BL_RATE BL_CPMD BMED
blast_round() { # MODE ROUND
	local mode=$1 r=$2 key="$1.$2" ru="rcv$2" base c0 c1 line ok got i
	if [ "$mode" = auth ]; then
		start_cpmd --users "$USERS" --log-level warn
		CPM_GLOBAL_OPTS="--password $PW"
	else
		start_cpmd --log-level warn
		CPM_GLOBAL_OPTS=""
	fi
	start_dev "$ru" "$ru" --count "$BLAST_COUNT"
	mapfile -t base < <(_cpm_base "snd$r" blaster)
	sleep 0.5
	c0=$(cpu_ticks "$CPMD_PID")
	timeout -k 5 300 "$CPM" "${base[@]}" blast "sip:$ru@$DOMAIN" --count "$BLAST_COUNT" --parallel "$BLAST_PAR" \
		--size "$BLAST_SIZE" </dev/null >"$LOGDIR/blast.$key.out" 2>"$LOGDIR/blast.$key.err" || say "cpm blast $key exited with $?"
	c1=$(cpu_ticks "$CPMD_PID")
	line=$(grep -a '^blast ' "$LOGDIR/blast.$key.out" | tail -n 1 || true)
	read -r _ ok _ _ _ _ _ _ _ <<<"${line:-blast 0 ok 0 failed}"
	for ((i = 0; i < 100; i++)); do
		got=$(grep -c -a '^received ' "${RECV_OUT[$ru]}" || true)
		[ "$got" -ge "${ok:-0}" ] && break
		sleep 0.1
	done
	BL_RATE[$key]=$(awk '{print $8}' <<<"$line")
	BL_CPMD[$key]=$(ticks_us $((c1 - c0)) "$ok")
	printf '   round %d %-5s (load average %s): %s | received %s | cpmd CPU %s µs per transfer\n' \
		"$r" "$mode" "$(loadavg)" "${line:-no blast line}" "$got" "${BL_CPMD[$key]}"
	stop_pid "${RECV_PID[$ru]}" 3
	stop_cpmd
	CPM_GLOBAL_OPTS=""
}
if [[ " $SKIP " != *" blast "* ]]; then
	echo "2. small transfers: cpm blast --count $BLAST_COUNT --parallel $BLAST_PAR --size $BLAST_SIZE -> one cpm receive, SIP over UDP; auth = cpmd --users (SHA-256 first), every cpm --password"
	for ((r = 1; r <= REPS; r++)); do
		for m in plain auth; do blast_round "$m" "$r"; done
	done
	for m in plain auth; do
		L="" C=""
		for ((r = 1; r <= REPS; r++)); do L+=" ${BL_RATE[$m.$r]:-0}" C+=" ${BL_CPMD[$m.$r]:-0}"; done
		BMED[$m]=$(median <<<"$L")
		echo "   median $m: $(median <<<"$L") transfers/s; cpmd CPU $(median <<<"$C") µs per transfer"
	done
	echo "   auth / plain: $(fdiv "${BMED[auth]}" "${BMED[plain]}" %.2f)"
	echo
fi

# --- 3. relay throughput, TLS vs TCP ------------------------------------------------
if [[ " $SKIP " != *" tls "* ]]; then
	CERTS=$T_DIR/certs
	bash "$ROOT/scripts/mk-test-certs.sh" "$CERTS" >/dev/null 2>&1 || fail "mk-test-certs.sh failed"
	BIG=$T_DIR/big.bin
	head -c $((BIG_MIB * 1048576)) /dev/urandom >"$BIG"
	SIPS_PORT=$(pick_port)
	MSRPS_PORT=$(pick_port)
	start_cpmd --sip-tls "$HOST:$SIPS_PORT" --msrp-tls "$HOST:$MSRPS_PORT" \
		--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" --log-level warn
	PLAIN_SIP=$SIP_PORT
	echo "3. one ${BIG_MIB} MiB file, cpm send -> cpmd -> cpm receive (registered), 64 KiB chunks; tcp = SIP/TCP + msrp, tls = SIP/TLS + msrps on both legs; one cpmd with both (load average $(loadavg))"
	declare -A T_MBS T_CPU TMED TCPU
	xn=0
	for ((r = 1; r <= REPS_TLS; r++)); do
		for m in tcp tls; do
			xn=$((xn + 1))
			if [ "$m" = tls ]; then
				SIP_PORT=$SIPS_PORT CPM_TRANSPORT=tls CPM_GLOBAL_OPTS="--ca $CERTS/server-ca.pem"
			else
				SIP_PORT=$PLAIN_SIP CPM_TRANSPORT=tcp CPM_GLOBAL_OPTS=""
			fi
			start_dev "bob$xn" "bob$xn" --count 1
			mapfile -t base < <(_cpm_base alice)
			PERF_PID=""
			if [ "$PROFILE" = 1 ] && [ "$r" = "$REPS_TLS" ]; then # the last round of each: where cpmd's time goes
				perf record -F 999 -g -o "$T_DIR/perf.$m.data" -p "$CPMD_PID" >"$LOGDIR/perf.$m.out" 2>&1 &
				PERF_PID=$!
				sleep 0.5
			fi
			c0=$(cpu_ticks "$CPMD_PID") b0=$(sys_busy) t0=$(now)
			timeout -k 5 300 "$CPM" "${base[@]}" send "sip:bob$xn@$DOMAIN" "$BIG" </dev/null \
				>"$LOGDIR/send.$xn.out" 2>"$LOGDIR/send.$xn.err" || say "cpm send $xn exited with $?"
			t1=$(now) c1=$(cpu_ticks "$CPMD_PID") b1=$(sys_busy)
			if [ -n "$PERF_PID" ]; then
				kill -INT "$PERF_PID"
				wait "$PERF_PID" || true
			fi
			last=$(tail -n 1 "$LOGDIR/send.$xn.out")
			wait_exit "${RECV_PID[bob$xn]}" 60
			cmp -s "$BIG" "${RECV_DIR[bob$xn]}/big.bin" && okf=same || okf=DIFFERS
			rm -rf "${RECV_DIR[bob$xn]}"
			w=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
			T_MBS[$m.$r]=$(fdiv $((BIG_MIB * 1048576)) "$(awk -v w="$w" 'BEGIN {print w * 1e6}')" %.1f)
			T_CPU[$m.$r]=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v g="$BIG_MIB" 'BEGIN {printf "%.2f", t / hz / (g / 1024)}')
			echo "   round $r $m: send '$last', received file $okf; ${w} s = ${T_MBS[$m.$r]} MB/s; cpmd CPU $(fdiv $((c1 - c0)) "$HZ" %.2f) s = ${T_CPU[$m.$r]} s/GiB; machine busy $(fdiv $((b1 - b0)) "$HZ" %.2f) CPU s; load average $(loadavg)"
		done
	done
	for m in tcp tls; do
		L="" C=""
		for ((r = 1; r <= REPS_TLS; r++)); do L+=" ${T_MBS[$m.$r]}" C+=" ${T_CPU[$m.$r]}"; done
		TMED[$m]=$(median <<<"$L") TCPU[$m]=$(median <<<"$C")
		echo "   median $m: $(median <<<"$L") MB/s; cpmd CPU $(median <<<"$C") s/GiB"
	done
	echo "   tls / tcp throughput: $(fdiv "${TMED[tls]}" "${TMED[tcp]}" %.2f) (target >= 0.6); cpmd CPU tls / tcp: $(fdiv "${TCPU[tls]}" "${TCPU[tcp]}" %.2f)"
	rm -f "$BIG"
	if [ "$PROFILE" = 1 ]; then
		for m in tcp tls; do
			echo "   perf of cpmd, last $m round (self time by library, top 6; then by symbol, top 10; libcrypto has no symbols):"
			# awk, not head: head's early exit would be a SIGPIPE under pipefail
			perf report -i "$T_DIR/perf.$m.data" --no-children --stdio --sort dso 2>/dev/null |
				awk '/^ +[0-9.]+%/ && n++ < 6 {print "     " $0}'
			perf report -i "$T_DIR/perf.$m.data" --no-children --stdio --sort dso,symbol 2>/dev/null |
				awk '/^ +[0-9.]+%/ && n++ < 10 {print "       " $1 " " $2 " " $4}'
		done
	fi
	stop_cpmd
	echo
fi
echo "processes >= 5% CPU at the end: $(busy_others); load average $(loadavg)"
echo "total: $SECONDS s"
