#!/usr/bin/env bash
# Messaging benchmarks (issue 8), see docs/BENCHMARKS.md "Messages and sessions (issue 8)".
#
#   bench/msg_bench.sh BUILD_DIR      (BUILD_DIR has cpmd and cpm, Release)
#
# 1. pager: SIPp-to-SIPp MESSAGE baseline (sender_message.xml -> message_sink.xml, UDP),
#    then the same SIPp sender through cpmd to one online SIPp device of the recipient
#    (device_stay.xml + -oocsf message_sink.xml): messages/s offered and completed (200),
#    cpmd's CPU µs per message (utime+stime), and SIPp's for the baseline.
# 2. deferred: the same sender to a user with no device: every message is stored (202)
#    durably (group commit) before its answer: stored/s, cpmd CPU µs per message, items
#    counted in the database afterwards.
# 3. chat (CHAT=1): messages/s relayed in one session (cpm chat fed N lines -> cpm receive)
#    and over SESSIONS sessions at once.
# Knobs: RATE (6000 offered/s), N (60000 messages per run), REPS (3), CHAT (1), CHAT_N
# (20000), SESSIONS (100), PER_SESSION (200), SKIP ("pager deferred chat").
# Ports: random free ones in 20000-32767 (bench/lib.sh).
set -euo pipefail
BUILD=$(cd "${1:?usage: bench/msg_bench.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SIPP_SCN=$ROOT/tests/interop/sipp
RATE=${RATE:-6000}
N=${N:-60000}
REPS=${REPS:-3}
CHAT=${CHAT:-1}
CHAT_N=${CHAT_N:-20000}
SESSIONS=${SESSIONS:-100}
PER_SESSION=${PER_SESSION:-200}
SKIP=${SKIP:-}
DOMAIN=bench.test
CPMD=$BUILD/cpmd CPM=$BUILD/cpm
for b in "$CPMD" "$CPM"; do [ -x "$b" ] || { echo "msg_bench: $b missing" >&2; exit 2; }; done
command -v sipp >/dev/null || { echo "msg_bench: sipp missing (apt-get install sip-tester)" >&2; exit 2; }
# shellcheck source=lib.sh
. "$HERE/lib.sh"
bench_tmp /var/tmp/cpmd-msg-bench.XXXXXX
MEDIAN_DEC=1
say() { echo "msg_bench: $*" >&2; }
start_cpmd() { bench_start_cpmd "$1" "$2" --log-level warn "${@:3}"; } # start_cpmd DATA_DIR LOG [options]

# sipp_send NAME TARGET_HOSTPORT TARGET_USER: RATE msg/s, N messages, UDP; sets SENT_OK,
# SENT_FAIL, SENT_S (wall seconds from SIPp's first to its exit), SIPP_CPU (s).
sipp_send() {
	local name=$1 hp=$2 user=$3 pid port
	bench_port port
	(cd "$T" && exec sipp -sf "$SIPP_SCN/sender_message.xml" -t u1 -i 127.0.0.1 -p "$port" \
		-s alice -key domain "$DOMAIN" -key target "$user" -r "$RATE" -rp 1000 -m "$N" -l 20000 \
		-max_recv_loops 5000 -timeout 120s -nostdin -trace_stat -stf "$T/$name.stat.csv" \
		-trace_err -error_file "$T/$name.err" "$hp" >"$T/$name.out" 2>&1) &
	pid=$!
	SIPP_CPU=0
	while kill -0 "$pid" 2>/dev/null; do
		SIPP_CPU=$(awk -v hz="$HZ" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat" 2>/dev/null || echo "$SIPP_CPU")
		sleep 0.2
	done
	wait "$pid" || true
	# SIPp's own clock: successful calls / (time of its last statistics row - its start)
	read -r SENT_OK SENT_FAIL SENT_S < <(python3 - "$T/$name.stat.csv" <<'PY'
import sys
rows = [l.rstrip("\n").split(";") for l in open(sys.argv[1])]
h, last = rows[0], rows[-1]
col = lambda n: last[h.index(n)]
epoch = lambda v: float(v.split("\t")[2])
print(col("SuccessfulCall(C)"), col("FailedCall(C)"), "%.3f" % (epoch(col("CurrentTime")) - epoch(col("StartTime"))))
PY
)
}

DATE=$(utc_date)
GITREV=$(git_rev "$ROOT")
echo "msg_bench — $DATE — HEAD $GITREV, build $(basename "$BUILD")"
echo "machine: $(machine_desc); sipp $(sipp -v 2>&1 | grep -o 'v[0-9.]*' | head -1)"
echo "command: bench/msg_bench.sh $(basename "$BUILD")  (RATE=$RATE N=$N REPS=$REPS CHAT=$CHAT CHAT_N=$CHAT_N SESSIONS=$SESSIONS PER_SESSION=$PER_SESSION)"
echo

if [[ " $SKIP " != *" pager "* ]]; then
	echo "1. pager MESSAGE, SIPp sender at $RATE/s offered, $N messages per run, UDP, one online device"
	B_L="" C_L="" U_L=""
	for ((r = 1; r <= REPS; r++)); do
		# baseline: SIPp -> SIPp
		bench_port sp
		# shellcheck disable=SC2154 # sp: set by bench_port
		(cd "$T" && exec sipp -sf "$HERE/sipp/message_sink.xml" -t u1 -i 127.0.0.1 -p "$sp" -nostdin -bg \
			-trace_err -error_file "$T/sink.err" >"$T/sink.out" 2>&1) || true
		sink=$(grep -o 'PID=\[[0-9]*\]' "$T/sink.out" | tr -dc 0-9)
		PIDS+=("$sink")
		s0=$(cpu_ticks "$sink")
		sipp_send base$r "127.0.0.1:$sp" bob
		s1=$(cpu_ticks "$sink")
		kill "$sink" 2>/dev/null || true
		brate=$(awk -v n="$SENT_OK" -v s="$SENT_S" 'BEGIN {printf "%.0f", n / s}')
		bus=$(awk -v t=$((s1 - s0)) -v hz="$HZ" -v n="$SENT_OK" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
		echo "   round $r SIPp->SIPp: $SENT_OK ok, $SENT_FAIL failed in ${SENT_S} s = $brate msg/s; SIPp sink CPU $bus µs/msg, SIPp sender CPU ${SIPP_CPU} s"
		B_L="$B_L $brate"
		# through cpmd to one online SIPp device
		start_cpmd "$T/data-p$r" "$T/cpmd-p$r.log"
		bench_port dp
		# shellcheck disable=SC2154 # dp: set by bench_port
		(cd "$T" && exec sipp -sf "$HERE/sipp/device_stay.xml" -oocsf "$HERE/sipp/message_sink.xml" -t u1 \
			-i 127.0.0.1 -p "$dp" -s bob -key domain "$DOMAIN" -m 1 -nostdin -bg \
			-trace_err -error_file "$T/dev.err" "127.0.0.1:$SIP_PORT" >"$T/dev.out" 2>&1) || true
		dev=$(grep -o 'PID=\[[0-9]*\]' "$T/dev.out" | tr -dc 0-9)
		PIDS+=("$dev")
		sleep 1
		c0=$(cpu_ticks "$CPMD_PID")
		sipp_send cpmd$r "127.0.0.1:$SIP_PORT" bob
		c1=$(cpu_ticks "$CPMD_PID")
		crate=$(awk -v n="$SENT_OK" -v s="$SENT_S" 'BEGIN {printf "%.0f", n / s}')
		cus=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$SENT_OK" 'BEGIN {printf "%.1f", t / hz * 1e6 / (n ? n : 1)}')
		echo "   round $r via cpmd : $SENT_OK ok, $SENT_FAIL failed in ${SENT_S} s = $crate msg/s; cpmd CPU $cus µs/msg (forks one MESSAGE per message)"
		C_L="$C_L $crate" U_L="$U_L $cus"
		kill "$dev" 2>/dev/null || true
		bench_stop_cpmd
	done
	echo "   median: SIPp->SIPp $(echo "$B_L" | median) msg/s; via cpmd $(echo "$C_L" | median) msg/s at $(echo "$U_L" | median) µs CPU per message"
	echo
fi

if [[ " $SKIP " != *" deferred "* ]]; then
	echo "2. deferred pager messages (recipient has no device: stored durably, then 202), $N per run"
	D_L="" E_L=""
	for ((r = 1; r <= REPS; r++)); do
		start_cpmd "$T/data-d$r" "$T/cpmd-d$r.log"
		c0=$(cpu_ticks "$CPMD_PID")
		sipp_send def$r "127.0.0.1:$SIP_PORT" carol
		c1=$(cpu_ticks "$CPMD_PID")
		drate=$(awk -v n="$SENT_OK" -v s="$SENT_S" 'BEGIN {printf "%.0f", n / s}')
		dus=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$SENT_OK" 'BEGIN {printf "%.1f", t / hz * 1e6 / (n ? n : 1)}')
		bench_stop_cpmd
		items=$(sqlite3 "$T/data-d$r/cpmd.db" "SELECT count(*) FROM item" 2>/dev/null || echo "?")
		echo "   round $r: $SENT_OK stored (202), $SENT_FAIL failed in ${SENT_S} s = $drate msg/s; cpmd CPU $dus µs/msg; items in the database after stop: $items"
		D_L="$D_L $drate" E_L="$E_L $dus"
	done
	echo "   median: $(echo "$D_L" | median) stored msg/s at $(echo "$E_L" | median) µs CPU per message"
	echo
fi

if [ "$CHAT" = 1 ] && [[ " $SKIP " != *" chat "* ]]; then
	echo "3. chat messages relayed by cpmd (cpm chat, lines from a file on stdin -> cpm receive), TCP"
	start_cpmd "$T/data-c" "$T/cpmd-c.log"
	CPMA=(--server "127.0.0.1:$SIP_PORT" --transport tcp)
	mkdir -p "$T/bob"
	"$CPM" "${CPMA[@]}" --user "sip:bob@$DOMAIN" --device phone receive --dir "$T/bob" --answer accept \
		--timeout 600 >"$T/bob.out" 2>"$T/bob.err" &
	BOB=$!
	PIDS+=("$BOB")
	for ((i = 0; i < 100; i++)); do grep -q registered "$T/bob.err" && break; sleep 0.1; done
	seq -f "chat line %g of the benchmark, about sixty bytes of text" 1 "$CHAT_N" >"$T/lines"
	echo "/quit" >>"$T/lines"
	c0=$(cpu_ticks "$CPMD_PID")
	t0=$(now)
	"$CPM" "${CPMA[@]}" --user "sip:alice@$DOMAIN" chat bob <"$T/lines" >"$T/alice.out" 2>"$T/alice.err" || true
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -c '^chat ' "$T/bob.out")" -ge "$CHAT_N" ] && break
		sleep 0.1
	done
	t1=$(now)
	c1=$(cpu_ticks "$CPMD_PID")
	got=$(grep -c '^chat ' "$T/bob.out" || true)
	echo "   one session: $got of $CHAT_N messages in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s (session set-up included) = $(awk -v n="$got" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}') msg/s; cpmd CPU $(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$got" 'BEGIN {printf "%.1f", t / hz * 1e6 / (n ? n : 1)}') µs/msg"
	: >"$T/bob.out"
	seq -f "line %g of a session among $SESSIONS, about fifty bytes" 1 "$PER_SESSION" >"$T/lines2"
	echo "/quit" >>"$T/lines2"
	c0=$(cpu_ticks "$CPMD_PID")
	t0=$(now)
	CH=()
	for ((s = 0; s < SESSIONS; s++)); do
		"$CPM" "${CPMA[@]}" --user "sip:u$s@$DOMAIN" chat bob <"$T/lines2" >"$T/u$s.out" 2>"$T/u$s.err" &
		CH+=($!)
	done
	want=$((SESSIONS * PER_SESSION))
	for ((i = 0; i < 1200; i++)); do
		[ "$(grep -c '^chat ' "$T/bob.out")" -ge "$want" ] && break
		sleep 0.1
	done
	t1=$(now)
	c1=$(cpu_ticks "$CPMD_PID")
	for p in "${CH[@]}"; do wait "$p" 2>/dev/null || true; done
	got=$(grep -c '^chat ' "$T/bob.out" || true)
	echo "   $SESSIONS sessions at once: $got of $want messages in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s (100 cpm processes starting, registering and inviting included) = $(awk -v n="$got" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}') msg/s; cpmd CPU $(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$got" 'BEGIN {printf "%.1f", t / hz * 1e6 / (n ? n : 1)}') µs/msg"
	kill "$BOB" 2>/dev/null || true
	bench_stop_cpmd
	echo
fi
