#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] — cpmd benchmarks on loopback (`make bench`).
#
# Measures, in one run on this machine (docs/BENCHMARKS.md explains the
# methods and records the numbers):
#   1. throughput of one big file (default 1 GiB) through cpmd (cpm send ->
#      cpmd -> cpm receive) with 64 KiB and 10 KiB MSRP chunks, next to the
#      same bytes through socat (pump -> socat -> sink) and straight over
#      loopback (pump -> sink);
#   2. cpmd CPU seconds per GiB relayed (utime+stime from /proc/PID/stat);
#   3. cpmd peak RSS (VmHWM) for a 100 MiB and a 1 GiB transfer, and its
#      baseline RSS after start;
#   4. small-file (1 KiB) transfers per second with `cpm blast` at several
#      parallelism levels, and cpmd CPU µs per transfer;
#   5. (PROFILE=1, default) a perf profile of cpmd during one 1 GiB transfer.
# Prints a results table and writes it to bench/results/latest.txt (raw logs
# of the run go to bench/results/latest.log).
#
# Knobs (environment): BIG_MIB (1024), MID_MIB (100), REPS (4: rounds of
# pump->sink, pump->socat->sink twice, cpmd 64 KiB, cpmd 10 KiB), BLAST_COUNT (5000),
# BLAST_PAR ("16 64 256", SIP over CPM_TRANSPORT), BLAST_TCP_PAR ("64", SIP
# over TCP), BLAST_TMPFS (1: the TCP blast again on a cpmd with its
# --data-dir on tmpfs), BLAST_SIZE (1024), LINGER (65: idle seconds before the last
# memory reading), PROFILE (1), KEEP_TMP (0), CPM_TRANSPORT (udp).
# Everything runs in a fresh mktemp dir on random free ports in 20000-32767;
# every process started here is killed at exit and the temp dir removed.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
CPMD="$BUILD/cpmd"
CPM="$BUILD/cpm"
BIG_MIB=${BIG_MIB:-1024}
MID_MIB=${MID_MIB:-100}
REPS=${REPS:-4}
BLAST_COUNT=${BLAST_COUNT:-5000}
BLAST_PAR=${BLAST_PAR:-"16 64 256"}
BLAST_TCP_PAR=${BLAST_TCP_PAR:-64}
BLAST_SIZE=${BLAST_SIZE:-1024}
PROFILE=${PROFILE:-1}
TRANSPORT=${CPM_TRANSPORT:-udp}
DOMAIN=bench.test
HOST=127.0.0.1
RESULTS="$SRC/bench/results"
BUDGET=540 # seconds: optional steps are skipped past this point
# shellcheck source=lib.sh
. "$SRC/bench/lib.sh"

# What else runs on the machine (it is shared): the busiest processes over
# one second, and any packet capture on loopback (it taxes every packet).
bg_snapshot() {
	top -b -n 2 -d 1 -o %CPU -w 200 2>/dev/null | awk '/^top -/ {n++} n == 2' | awk 'f && $9 + 0 >= 5 {printf "%s %s%% %s; ", $1, $9, $12} /PID USER/ {f = 1}'
	local cap
	cap=$(ps -eo comm= | grep -cE '^(dumpcap|tcpdump|tshark)$' || true)
	[ "$cap" -gt 0 ] && printf '%s packet-capture process(es) running; ' "$cap"
	echo
}
say() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	say "FAILED: $*"
	exit 1
}

for b in "$CPMD" "$CPM"; do
	[ -x "$b" ] || die "missing binary $b (build first: make build, or pass the build dir)"
done

# Benchmark-only tools: socat (always), perf (PROFILE=1).
need_pkgs=()
command -v socat >/dev/null || need_pkgs+=(socat)
command -v cc >/dev/null || need_pkgs+=(gcc)
if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null; then need_pkgs+=(linux-perf); fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
	say "installing ${need_pkgs[*]}"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}"; } >&2 ||
		die "apt-get install ${need_pkgs[*]} failed"
fi
if [ "$PROFILE" = 1 ] && ! perf stat -e task-clock true >/dev/null 2>&1; then
	say "perf does not work here; PROFILE=0"
	PROFILE=0
fi

bench_tmp /tmp/cpm-bench.XXXXXX
mkdir -p "$T/logs" "$RESULTS"
# bench_cleanup (bench/lib.sh) stops the processes, then this keeps the logs' tails
bench_cleanup_hook() {
	if [ -d "$T/logs" ]; then
		for f in "$T"/logs/*; do
			[ -f "$f" ] || continue
			echo "===== $(basename "$f") (last 40 lines) ====="
			tail -n 40 "$f" | cut -c1-300
		done >"$RESULTS/latest.log" 2>/dev/null
	fi
	[ -n "${SHM:-}" ] && rm -rf "$SHM"
	[ "$1" -eq 0 ] || say "exit status $1; logs of this run: $RESULTS/latest.log"
}
trap 'exit 130' INT TERM
export CPMD_READY_S=15

# wait_until TIMEOUT_S COMMAND...: poll every 20 ms.
wait_until() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 50; i++)); do
		if "$@"; then return 0; fi
		sleep 0.02
	done
	return 1
}

# all CPUs: steal ticks (sys_busy, of bench/lib.sh, has the busy ones)
sys_steal() { awk '$1 == "cpu" {print $9; exit}' /proc/stat; }
reset_hwm() { echo 5 >"/proc/$1/clear_refs"; }
minmax() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}'; }

# --- machine ---------------------------------------------------------------
MACHINE=$(machine_desc)
LOAD_START=$(loadavg)
BG_START=$(bg_snapshot)
SHA_NI=$(grep -m1 -qw sha_ni /proc/cpuinfo && echo yes || echo no)
DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
GITREV=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$SRC" status --porcelain -- src lib include CMakeLists.txt 2>/dev/null | wc -l)
[ "$DIRTY" -gt 0 ] && GITREV="$GITREV + $DIRTY uncommitted source files (the binaries were built from the work tree)"
# BENCH_REV: what the binaries were built from, when not from this work tree
# (e.g. a `git archive HEAD` export, to keep other people's uncommitted edits out)
GITREV=${BENCH_REV:-$GITREV}
say "machine: $MACHINE; sha_ni: $SHA_NI; cpmd $GITREV ($BUILD); tmp $T"

# --- tools -----------------------------------------------------------------
cc -O2 -Wall -Wextra -o "$T/pump" "$SRC/bench/tools/pump.c"
cc -O2 -Wall -Wextra -o "$T/sink" "$SRC/bench/tools/sink.c"

# --- files -----------------------------------------------------------------
BIG="$T/big.bin"
MID="$T/mid.bin"
BIG_BYTES=$((BIG_MIB * 1048576))
MID_BYTES=$((MID_MIB * 1048576))
say "generating ${BIG_MIB} MiB and ${MID_MIB} MiB files"
head -c "$BIG_BYTES" /dev/urandom >"$BIG"
head -c "$MID_BYTES" /dev/urandom >"$MID"
TIMEFORMAT='%R %U %S'
{ time openssl dgst -sha1 -r "$BIG" >"$T/big.sha1"; } 2>"$T/hash.time"
BIG_SHA=$(cut -d' ' -f1 "$T/big.sha1")
MID_SHA=$(openssl dgst -sha1 -r "$MID" | cut -d' ' -f1)
read -r HASH_WALL hu hs <"$T/hash.time"
HASH_CPU=$(awk -v u="$hu" -v s="$hs" 'BEGIN {printf "%.2f", u + s}')

# --- baselines: pump -> sink, pump -> socat -> sink ---------------------------
# run_pump NAME [socat options]: one transfer of $BIG; prints the sink's
# seconds; the CPU (user+sys) of pump, socat and sink goes to $T/cpu.NAME.
cpu_of() { awk '{printf "%.2f", $2 + $3}' "$1"; }
run_pump() {
	local name=$1 sp rp spid ppid=""
	shift
	bench_port sp
	rm -f "$T/ready.$name"
	(
		TIMEFORMAT='%R %U %S'
		time "$T/sink" "$sp" "$T/ready.$name" >"$T/sink.$name.out" 2>>"$T/logs/baseline.err"
	) 2>"$T/sink.$name.time" &
	spid=$!
	PIDS+=("$spid")
	wait_until 5 test -e "$T/ready.$name" || die "sink did not start"
	local port=$sp
	if [ $# -gt 0 ]; then
		bench_port rp
		(
			TIMEFORMAT='%R %U %S'
			time socat "$@" "TCP4-LISTEN:$rp,bind=$HOST,reuseaddr" "TCP4:$HOST:$sp" 2>>"$T/logs/baseline.err"
		) 2>"$T/socat.$name.time" &
		ppid=$!
		PIDS+=("$ppid")
		wait_until 5 sh -c "ss -Htln '( sport = :$rp )' | grep -q ." || die "socat did not listen"
		port=$rp
	fi
	{ time timeout 120 "$T/pump" "$HOST" "$port" "$BIG" >"$T/pump.$name.out"; } 2>"$T/pump.$name.time" ||
		die "pump $name failed"
	wait "$spid" || die "sink $name failed"
	[ -n "$ppid" ] && { wait "$ppid" 2>/dev/null || true; }
	local bytes secs
	read -r _ bytes secs <"$T/sink.$name.out"
	[ "$bytes" = "$BIG_BYTES" ] || die "sink $name got $bytes bytes, $BIG_BYTES expected"
	echo "$(cpu_of "$T/pump.$name.time") $([ -n "$ppid" ] && cpu_of "$T/socat.$name.time" || echo -) $(cpu_of "$T/sink.$name.time")" \
		>"$T/cpu.$name"
	echo "$secs"
}
declare -A BASE BCPU
for kind in loop socat socat256k; do BASE[$kind]="" BCPU[$kind]=""; done
baseline_round() { # I: one run of each plain-TCP path
	local i=$1 kind
	BASE[loop]+=" $(run_pump "loop$i")"
	BASE[socat]+=" $(run_pump "socat$i" -b 8192)"
	BASE[socat256k]+=" $(run_pump "socat256k$i" -b 262144)"
	for kind in loop socat socat256k; do BCPU[$kind]+=" $(tr ' ' / <"$T/cpu.$kind$i")"; done
}

# --- cpmd ------------------------------------------------------------------
# start_cpmd NAME DATA_DIR: sets CPMD_PID, SIP_PORT, MSRP_PORT, CPMD_LOG.
start_cpmd() {
	CPMD_LOG="$T/logs/$1.log"
	mkdir -p "$2"
	bench_start_cpmd "$2" "$CPMD_LOG" --max-file-size $((BIG_BYTES * 2)) --log-level info
	sleep 0.5
	say "$1: pid $CPMD_PID ready (sip $SIP_PORT, msrp $MSRP_PORT, data $2)"
}
start_cpmd cpmd "$T/data"
RSS_START=$(status_kb "$CPMD_PID" VmRSS)

cpm_base() { printf '%s\n' --server "$HOST:$SIP_PORT" --user "sip:$1@$DOMAIN" --transport "${CUR_TR:-$TRANSPORT}"; }
reg_count() { grep -i 'regist' "$CPMD_LOG" | grep -c -F "$1@$DOMAIN" || true; }

# start_receiver USER [receive options]: `cpm receive` under bash's `time`
# (its CPU use is written to $T/recv.USER.time); waits for the registration.
start_receiver() {
	local user=$1 before base
	shift
	mkdir -p "$T/recv.$user"
	before=$(reg_count "$user")
	mapfile -t base < <(cpm_base "$user")
	(
		TIMEFORMAT='%R %U %S'
		time "$CPM" "${base[@]}" --device "dev-$user" receive --dir "$T/recv.$user" "$@" \
			</dev/null >"$T/logs/recv.$user.out" 2>"$T/logs/recv.$user.err"
	) 2>"$T/recv.$user.time" &
	RECV_PID=$!
	PIDS+=("$RECV_PID")
	wait_until 15 sh -c "[ \$(grep -i regist '$CPMD_LOG' | grep -c -F '$user@$DOMAIN') -gt $before ]" ||
		die "receiver $user did not register (logs/recv.$user.err)"
	sleep 0.2
}

# wait_pid PID TIMEOUT_S: 0 when it exited in time (status in WAIT_RC).
wait_pid() {
	local i
	WAIT_RC=0
	for ((i = 0; i < $2 * 50; i++)); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1" || WAIT_RC=$?
			return 0
		fi
		sleep 0.02
	done
	return 1
}

# xfer NAME FILE SHA1 CHUNK: one cpm send -> cpmd -> cpm receive. Sets
# X_MSRP (s, cpmd log: branch accepted -> delivered), X_INV (s, INVITE in ->
# branch accepted), X_WALL (s, whole cpm send), X_SEND_CPU, X_RECV_CPU,
# X_CPMD_CPU (s), X_HWM (kB, cpmd VmHWM after a reset before the send).
# A failed transfer is recorded (FAILS, shown in the table), its receiver
# stopped, and the transfer tried again once (run_xfer).
FAILS=()
xfail() {
	say "transfer $1 FAILED: $2"
	FAILS+=("$1: $2")
	if kill -0 "$RECV_PID" 2>/dev/null; then
		for c in $(ps -o pid= --ppid "$RECV_PID"); do kill -TERM "$c" 2>/dev/null || true; done
		wait_pid "$RECV_PID" 5 || true
	fi
}
run_xfer() {
	xfer "$@" || xfer "$1.retry" "${@:2}" || die "transfer $1 failed twice"
}

XN=0
xfer() {
	local name=$1 file=$2 sha=$3 chunk=$4 user base t0 t1 ft l_in l_acc l_del
	XN=$((XN + 1))
	user="bob$XN"
	start_receiver "$user" --count 1 --timeout 300
	mapfile -t base < <(cpm_base "alice$XN")
	reset_hwm "$CPMD_PID"
	local b0 st0
	b0=$(sys_busy) st0=$(sys_steal)
	local e0=$EPOCHREALTIME e1
	t0=$(cpu_ticks "$CPMD_PID")
	local before
	before=$(grep -c ': delivered ' "$CPMD_LOG" || true)
	{ time timeout -k 5 300 "$CPM" "${base[@]}" send "sip:$user@$DOMAIN" "$file" --chunk-size "$chunk" \
		</dev/null >"$T/logs/send.$name.out" 2>"$T/logs/send.$name.err"; } 2>"$T/send.$name.time" ||
		{ xfail "$name" "cpm send exit $?: $(tail -n 1 "$T/logs/send.$name.out") / $(tail -n 1 "$T/logs/send.$name.err")"; return 1; }
	[ "$(tail -n 1 "$T/logs/send.$name.out")" = delivered ] ||
		{ xfail "$name" "cpm send last line: $(tail -n 1 "$T/logs/send.$name.out")"; return 1; }
	wait_until 10 sh -c "[ \$(grep -c ': delivered ' '$CPMD_LOG') -gt $before ]" ||
		{ xfail "$name" "cpmd logged no 'delivered'"; return 1; }
	t1=$(cpu_ticks "$CPMD_PID")
	X_HWM=$(status_kb "$CPMD_PID" VmHWM)
	wait_pid "$RECV_PID" 60 || { xfail "$name" "receiver did not exit"; return 1; }
	[ "$WAIT_RC" = 0 ] || { xfail "$name" "receiver exited with $WAIT_RC"; return 1; }
	local b1 st1
	b1=$(sys_busy) st1=$(sys_steal)
	e1=$EPOCHREALTIME
	local line
	line=$(grep -a '^received ' "$T/logs/recv.$user.out" | tail -n 1)
	[ "${line##* }" = "$sha" ] || { xfail "$name" "receiver: wrong or no hash: '$line'"; return 1; }
	rm -rf "$T/recv.$user"
	l_del=$(grep ': delivered ' "$CPMD_LOG" | tail -n 1)
	ft=$(sed -E 's/.* ft ([^:]+): delivered .*/\1/' <<<"$l_del")
	l_acc=$(grep -F "ft $ft: branch" "$CPMD_LOG" | grep ' accepted' | tail -n 1)
	l_in=$(grep -F "ft $ft: " "$CPMD_LOG" | head -n 1)
	[ -n "$l_acc" ] || { xfail "$name" "no 'branch ... accepted' line for ft $ft"; return 1; }
	X_MSRP=$(fdiv $(($(log_ms "$l_del") - $(log_ms "$l_acc"))) 1000)
	X_INV=$(fdiv $(($(log_ms "$l_acc") - $(log_ms "$l_in"))) 1000)
	local w u s
	read -r w u s <"$T/send.$name.time"
	X_WALL=$w
	X_SEND_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')
	read -r w u s <"$T/recv.$user.time"
	X_RECV_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')
	X_CPMD_CPU=$(fdiv $((t1 - t0)) "$HZ" %.2f)
	# CPU used on the machine meanwhile by anything else (other users'
	# builds and tests, kernel writeback threads), and stolen by the host
	X_OTHER=$(awk -v b="$((b1 - b0))" -v hz="$HZ" -v a="$X_CPMD_CPU" -v s="$X_SEND_CPU" -v r="$X_RECV_CPU" \
		'BEGIN {x = b / hz - a - s - r; if (x < 0) x = 0; printf "%.2f", x}')
	X_STEAL=$(fdiv $((st1 - st0)) "$HZ" %.2f)
	X_UTIL=$(awk -v c="$X_CPMD_CPU" -v w="$X_MSRP" 'BEGIN {printf "%.0f", c / w * 100}')
	X_BUSY=$(awk -v b="$((b1 - b0))" -v hz="$HZ" -v w="$(awk -v a="$e0" -v b="$e1" 'BEGIN {print b - a}')" -v n="$(nproc)" 'BEGIN {printf "%.0f", b / hz / (w * n) * 100}')
	say "$name: msrp ${X_MSRP}s (invite->accept ${X_INV}s), send wall ${X_WALL}s; cpu s: cpmd $X_CPMD_CPU send $X_SEND_CPU recv $X_RECV_CPU others $X_OTHER (steal $X_STEAL), machine busy ${X_BUSY}%; cpmd VmHWM ${X_HWM} kB"
}

# 3: RSS baseline and a 100 MiB transfer (also warms everything up)
HWM_START=$(status_kb "$CPMD_PID" VmHWM)
run_xfer mid "$MID" "$MID_SHA" 65536
MID_MSRP=$X_MSRP MID_HWM=$X_HWM

# The client's own work before MSRP (file SHA-1 for the selector, SIP
# INVITE/answer): the same send to a device that declines (603), timed whole.
# "send wall - this" is a second, independent estimate of the MSRP phase.
PREP=""
prep_run() {
	local user="decl$1" base rc=0 w u s
	start_receiver "$user" --answer decline --timeout 120
	mapfile -t base < <(cpm_base "alice-d$1")
	{ time timeout -k 5 120 "$CPM" "${base[@]}" send "sip:$user@$DOMAIN" "$BIG" \
		</dev/null >"$T/logs/send.decline$1.out" 2>"$T/logs/send.decline$1.err"; } 2>"$T/decline$1.time" || rc=$?
	for c in $(ps -o pid= --ppid "$RECV_PID"); do kill -TERM "$c" 2>/dev/null || true; done
	wait_pid "$RECV_PID" 10 || true
	if [ "$rc" = 3 ] && [ "$(tail -n 1 "$T/logs/send.decline$1.out")" = declined ]; then
		read -r w u s <"$T/decline$1.time"
		PREP+=" $w"
	else
		say "decline run $1: exit $rc, '$(tail -n 1 "$T/logs/send.decline$1.out")' (not used)"
	fi
}
prep_run 1
prep_run 2
say "cpm send to a declining device (hash + SIP), s:$PREP"

# 1+2: 1 GiB with 64 KiB and 10 KiB chunks, interleaved
declare -A R_MSRP R_WALL R_CPU R_HWM R_SCPU R_RCPU R_INV R_OTHER R_BUSY R_UTIL
for c in 65536 10240; do R_UTIL[$c]=""; done
for c in 65536 10240; do R_MSRP[$c]="" R_WALL[$c]="" R_CPU[$c]="" R_HWM[$c]="" R_SCPU[$c]="" R_RCPU[$c]="" R_INV[$c]="" R_OTHER[$c]="" R_BUSY[$c]=""; done
# Rounds: the plain-TCP baselines and the two cpmd cases back to back, so
# that each round sees the same background load (this machine is shared);
# the ratios are also computed per round.
ROUND_RATIO=""
BG_ROUNDS=""
for ((i = 1; i <= REPS; i++)); do
	baseline_round "$i"
	for c in 65536 10240; do
		run_xfer "big$c.$i" "$BIG" "$BIG_SHA" "$c"
		R_MSRP[$c]+=" $X_MSRP" R_WALL[$c]+=" $X_WALL" R_CPU[$c]+=" $X_CPMD_CPU" R_HWM[$c]+=" $X_HWM"
		R_SCPU[$c]+=" $X_SEND_CPU" R_RCPU[$c]+=" $X_RECV_CPU" R_INV[$c]+=" $X_INV" R_OTHER[$c]+=" $X_OTHER" R_BUSY[$c]+=" $X_BUSY" R_UTIL[$c]+=" $X_UTIL"
	done
	# socat seconds / cpmd seconds = cpmd MB/s / socat MB/s, this round
	ROUND_RATIO+=" $(awk -v s="$(awk '{print $NF}' <<<"${BASE[socat]}")" -v c="$X_MSRP" \
		-v c64="$(awk '{print $NF}' <<<"${R_MSRP[65536]}")" 'BEGIN {printf "%.2f/%.2f", s / c64, s / c}')"
	BG_ROUNDS+="   round $i: $(bg_snapshot)"$'\n'
	say "round $i: loop $(awk '{print $NF}' <<<"${BASE[loop]}") s, socat $(awk '{print $NF}' <<<"${BASE[socat]}") s," \
		"socat -b 256k $(awk '{print $NF}' <<<"${BASE[socat256k]}") s; cpmd/socat 64K/10K:$(awk '{print $NF}' <<<"$ROUND_RATIO")"
done

# 5: profile of cpmd during one 1 GiB transfer per chunk size, before the
# blasts so that their leftovers (SIP transactions in their timers) stay out
PROF_TXT=""
PROF_BLAST_TXT=""
profile_run() { # CHUNK
	local chunk=$1 pp sp sc c
	perf record -e cpu-clock -F 1999 -g -p "$CPMD_PID" -o "$T/perf.$chunk.data" 2>>"$T/logs/perf.err" &
	pp=$!
	PIDS+=("$pp")
	sc=raw_syscalls:sys_enter
	for c in recvfrom sendmsg write epoll_wait epoll_ctl ioctl; do sc+=",syscalls:sys_enter_$c"; done
	perf stat -e "task-clock,context-switches,$sc" -p "$CPMD_PID" -o "$T/perf.$chunk.stat" 2>>"$T/logs/perf.err" &
	sp=$!
	PIDS+=("$sp")
	sleep 0.5
	run_xfer "profiled$chunk" "$BIG" "$BIG_SHA" "$chunk"
	kill -INT "$pp" "$sp" 2>/dev/null || true
	wait "$pp" 2>/dev/null || true
	wait "$sp" 2>/dev/null || true
	set +o pipefail
	{
		echo "-- ${BIG_MIB} MiB, $((chunk / 1024)) KiB chunks: relay ${X_MSRP} s with perf attached, cpmd CPU ${X_CPMD_CPU} s;" \
			"$((BIG_BYTES / chunk)) chunks"
		echo "perf stat (counts over the transfer plus ~1 s idle around it):"
		grep -E 'task-clock|context-switches|sys_enter' "$T/perf.$chunk.stat" |
			awk -v n="$((BIG_BYTES / chunk))" '{printf "  %12s  %-32s %6.2f per chunk\n", $1, $2, $1 / n}' | sed 's/msec/ms  /'
		echo "cpmd samples by DSO (perf record -e cpu-clock -F 1999):"
		perf report -i "$T/perf.$chunk.data" --no-children --sort dso --stdio 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -n 6
		echo "top symbols (self):"
		perf report -i "$T/perf.$chunk.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -n 15
		# libcrypto has no symbols here: name its samples by their code
		# (SHA-NI instructions next to the sampled address = SHA-1 block code)
		local lib addr pct sha=0 other=0
		lib=$(ldd "$CPMD" | awk '/libcrypto/ {print $3}')
		if [ -n "$lib" ] && command -v objdump >/dev/null; then
			perf report -i "$T/perf.$chunk.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
				awk '$2 ~ /^libcrypto/ && $4 ~ /^0x/ {print $1, $4}' | tr -d '%' >"$T/crypto.addr"
			while read -r pct addr; do
				if objdump -d --start-address="$addr" --stop-address=$((addr + 48)) "$lib" 2>/dev/null |
					grep -qE 'sha1(rnds4|nexte|msg1|msg2)'; then
					sha=$(awk -v a="$sha" -v b="$pct" 'BEGIN {print a + b}')
				else
					other=$(awk -v a="$other" -v b="$pct" 'BEGIN {print a + b}')
				fi
			done <"$T/crypto.addr"
			echo "libcrypto samples at SHA-1 SHA-NI code (sha1rnds4/sha1msg next to the address): ${sha}%, other libcrypto: ${other}%"
		fi
		echo "inclusive (children %, self %) of the syscalls, library calls and cpmd functions that matter:"
		perf report -i "$T/perf.$chunk.data" --children --sort dso,sym --stdio -g none 2>/dev/null |
			grep -E '^ +[0-9.]+%' |
			grep -E 'ksys_write$|__sys_sendmsg$|__sys_recvfrom$|do_epoll_wait$|do_epoll_ctl$|tcp_sendmsg$|tcp_recvmsg$|__schedule$|memmem|_int_free|_int_malloc|malloc_consolidate|memcpy|memmove| cpmd ' |
			head -n 28
	} >"$T/profile.$chunk.txt" 2>&1
	set -o pipefail
	PROF_TXT+="$(cat "$T/profile.$chunk.txt")"$'\n'
}
if [ "$PROFILE" = 1 ]; then
	for c in ${PROFILE_CHUNKS:-65536 10240}; do
		if [ "$SECONDS" -lt "$BUDGET" ]; then profile_run "$c"; else say "time budget used: no profile for chunk $c"; fi
	done
fi

# 4: small files with cpm blast (one receiver per run, fresh users)
declare -A B_LINE B_CPU B_RATE B_WALL B_GOT B_HWM B_UDPERR B_LDROP B_OTHER B_SIPDROP
# cpmd's SIP UDP socket: "rcvbuf bytes / drops so far" (ss skmem rb and d)
sip_udp_drops() {
	ss -Huanm "( sport = :$SIP_PORT )" 2>/dev/null | tr -d '\n' | sed -nE 's/.*skmem:\(r[0-9]+,rb([0-9]+),.*,d([0-9]+)\).*/\1 \2/p'
}
BN=0
BLAST_RUNS=""
blast_run() { # KEY PARALLEL TRANSPORT [profile]
	local key=$1 par=$2 tr=$3 prof=${4:-} pp="" user base t0 t1 b0 b1 u0 u1 l0 l1 ok got w u s
	if [ "$SECONDS" -gt "$BUDGET" ]; then
		say "time budget used: skipping blast $key"
		return 0
	fi
	BN=$((BN + 1))
	BLAST_RUNS+=" $key"
	user="many$BN"
	CUR_TR=$tr # sender and receiver both use this SIP transport
	start_receiver "$user" --count "$BLAST_COUNT" --timeout 120
	mapfile -t base < <(cpm_base "blaster$BN")
	CUR_TR=""
	reset_hwm "$CPMD_PID"
	u0=$(netstat_val /proc/net/snmp Udp RcvbufErrors) l0=$(netstat_val /proc/net/netstat TcpExt ListenDrops)
	if [ "$prof" = profile ]; then
		perf record -e cpu-clock -F 1999 -g -p "$CPMD_PID" -o "$T/perf.blast.data" 2>>"$T/logs/perf.err" &
		pp=$!
		PIDS+=("$pp")
		sleep 0.5
	fi
	b0=$(sys_busy)
	t0=$(cpu_ticks "$CPMD_PID")
	{ time timeout -k 5 150 "$CPM" "${base[@]}" blast "sip:$user@$DOMAIN" --count "$BLAST_COUNT" \
		--parallel "$par" --size "$BLAST_SIZE" </dev/null >"$T/logs/blast.$key.out" 2>"$T/logs/blast.$key.err"; } \
		2>"$T/blast.$key.time" || say "cpm blast $key exited with $? (see logs)"
	t1=$(cpu_ticks "$CPMD_PID")
	b1=$(sys_busy)
	if [ -n "$pp" ]; then
		kill -INT "$pp" 2>/dev/null || true
		wait "$pp" 2>/dev/null || true
		set +o pipefail
		{
			echo "-- cpmd during blast $key (perf record -e cpu-clock -F 1999, includes ~0.5 s idle before)"
			echo "samples by DSO:"
			perf report -i "$T/perf.blast.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 6
			echo "top symbols (self):"
			perf report -i "$T/perf.blast.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
				grep -E '^ +[0-9.]+%' | head -n 15
			echo "inclusive (children %, self %), cpmd functions and the syscalls:"
			perf report -i "$T/perf.blast.data" --children --sort dso,sym --stdio -g none 2>/dev/null |
				grep -E '^ +[0-9.]+%' |
				grep -E ' cpmd |ksys_write$|__sys_sendmsg$|__sys_sendto$|__sys_recvfrom$|__sys_recvmsg$|do_epoll_wait$|do_epoll_ctl$|__sys_accept4$|__sys_connect$|do_sys_openat2$|__x64_sys_close$|__schedule$|nta_|nua_|tport_|msg_|su_' |
				head -n 30
		} >"$T/profile.blast.txt" 2>&1
		set -o pipefail
		PROF_BLAST_TXT=$(cat "$T/profile.blast.txt")
	fi
	B_HWM[$key]=$(status_kb "$CPMD_PID" VmHWM)
	B_LINE[$key]=$(grep -a '^blast ' "$T/logs/blast.$key.out" | tail -n 1 || true)
	read -r w u s <"$T/blast.$key.time"
	B_WALL[$key]=$w
	ok=$(awk '{print $2}' <<<"${B_LINE[$key]}")
	# the receiver exits by itself after --count files; when some failed it
	# waits for more: stop it once it has what the blaster counted as ok
	wait_until 10 sh -c "[ \$(grep -c -a '^received ' '$T/logs/recv.$user.out') -ge ${ok:-0} ]" || true
	if ! wait_pid "$RECV_PID" 2; then
		for c in $(ps -o pid= --ppid "$RECV_PID"); do kill -TERM "$c" 2>/dev/null || true; done
		wait_pid "$RECV_PID" 10 || true
	fi
	B_SIPDROP[$key]=$(sip_udp_drops | awk '{print $2}')
	u1=$(netstat_val /proc/net/snmp Udp RcvbufErrors) l1=$(netstat_val /proc/net/netstat TcpExt ListenDrops)
	got=$(grep -c -a '^received ' "$T/logs/recv.$user.out" || true)
	B_CPU[$key]=$(fdiv $((t1 - t0)) "$HZ" %.2f)
	B_RATE[$key]=$(awk '{print $8}' <<<"${B_LINE[$key]}")
	B_GOT[$key]=$got
	B_UDPERR[$key]=$((u1 - u0))
	B_LDROP[$key]=$((l1 - l0))
	local ru rs
	read -r _ ru rs <"$T/recv.$user.time"
	B_OTHER[$key]=$(awk -v b="$((b1 - b0))" -v hz="$HZ" -v a="${B_CPU[$key]}" -v u="$u" -v s="$s" -v ru="$ru" -v rs="$rs" \
		'BEGIN {x = b / hz - a - u - s - ru - rs; if (x < 0) x = 0; printf "%.2f", x}')
	say "blast $key: '${B_LINE[$key]}', receiver got $got, cpmd cpu ${B_CPU[$key]} s, VmHWM ${B_HWM[$key]} kB, UDP rcvbuf errors ${B_UDPERR[$key]}, listen drops ${B_LDROP[$key]}, others' cpu ${B_OTHER[$key]} s"
	# received files stay until the end: deleting thousands of files here
	# would slow the next runs' file creation (ext4 recently-deleted inode scan)
}
for par in $BLAST_PAR; do blast_run "p$par" "$par" "$TRANSPORT"; done
for par in $BLAST_TCP_PAR; do blast_run "p$par-tcp" "$par" tcp; done

# cpmd after the blasts: memory and idle wake-ups now and LINGER s later
# (sofia keeps completed SIP transactions for their timers J/K, 32 s on UDP)
idle_wakeups() { # epoll_wait calls of cpmd in one second
	perf stat -x, -e syscalls:sys_enter_epoll_wait -p "$CPMD_PID" -- sleep 1 2>&1 | awk -F, '/epoll_wait/ {print $1}'
}
RSS_AFTER_BLAST=$(status_kb "$CPMD_PID" VmRSS)
WAKE_AFTER_BLAST=n/a WAKE_LATER=n/a RSS_LATER=n/a RSS_AGAIN=n/a
if [ "$PROFILE" = 1 ]; then WAKE_AFTER_BLAST=$(idle_wakeups); fi
if [ "${LINGER:-65}" -gt 0 ] && [ "$SECONDS" -lt "$BUDGET" ]; then
	sleep "${LINGER:-65}"
	RSS_LATER=$(status_kb "$CPMD_PID" VmRSS)
	if [ "$PROFILE" = 1 ]; then WAKE_LATER=$(idle_wakeups); fi
	# the same load once more: does the resident memory grow again (a leak)
	# or is the memory of the first round reused (held by the allocator)?
	for par in $BLAST_TCP_PAR; do blast_run "again-p$par-tcp" "$par" tcp "$([ "$PROFILE" = 1 ] && echo profile)"; done
	RSS_AGAIN=$(status_kb "$CPMD_PID" VmRSS)
fi

# The same small-file load against a second, fresh cpmd whose --data-dir
# (the tee blobs) is on tmpfs: shows what the blob file create/unlink costs.
if [ "${BLAST_TMPFS:-1}" = 1 ] && [ -d /dev/shm ] && [ "$SECONDS" -lt "$BUDGET" ]; then
	SHM=$(mktemp -d /dev/shm/cpm-bench.XXXXXX)
	MAIN_CPMD=("$CPMD_PID" "$SIP_PORT" "$MSRP_PORT" "$CPMD_LOG")
	start_cpmd cpmd-tmpfs "$SHM/data"
	for par in $BLAST_TCP_PAR; do blast_run "tmpfs-p$par-tcp" "$par" tcp; done
	kill -TERM "$CPMD_PID" 2>/dev/null || true
	wait_pid "$CPMD_PID" 10 || true
	rm -rf "$SHM"
	CPMD_PID=${MAIN_CPMD[0]} SIP_PORT=${MAIN_CPMD[1]} MSRP_PORT=${MAIN_CPMD[2]} CPMD_LOG=${MAIN_CPMD[3]}
fi

# --- results ---------------------------------------------------------------
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
mbs_list() { local x o=""; for x in $1; do o+=" $(mbps "$BIG_BYTES" "$x")"; done; echo "${o# }"; }
L_MBS=$(mbps "$BIG_BYTES" "$(median <<<"${BASE[loop]}")")
S_MBS=$(mbps "$BIG_BYTES" "$(median <<<"${BASE[socat]}")")
S2_MBS=$(mbps "$BIG_BYTES" "$(median <<<"${BASE[socat256k]}")")
C64=$(mbps "$BIG_BYTES" "$(median <<<"${R_MSRP[65536]}")")
C10=$(mbps "$BIG_BYTES" "$(median <<<"${R_MSRP[10240]}")")
GIB=$(fdiv "$BIG_MIB" 1024 %.6f)
us_per() { awk -v c="$1" -v n="$2" 'BEGIN { if (n + 0 == 0) print "n/a"; else printf "%.0f", c / n * 1e6 }'; }
{
	echo "cpmd benchmarks — $DATE — cpmd $GITREV, build $(basename "$BUILD")"
	echo "machine: $MACHINE; sha_ni: $SHA_NI"
	echo "load average at start: $LOAD_START; at end: $(loadavg)"
	echo "other processes using >= 5% CPU (top, 1 s) at start: ${BG_START:-none}"
	echo "   and after each round of big transfers:"
	printf '%s' "$BG_ROUNDS"
	echo "command: bench/run.sh $(basename "$BUILD")  (BIG_MIB=$BIG_MIB MID_MIB=$MID_MIB REPS=$REPS" \
		"BLAST_COUNT=$BLAST_COUNT BLAST_PAR=\"$BLAST_PAR\" BLAST_TCP_PAR=\"$BLAST_TCP_PAR\" transport=$TRANSPORT)"
	echo "MB/s = 10^6 bytes/s; the MB/s column is the median run; every run is listed"
	echo
	echo "1. ${BIG_MIB} MiB over loopback TCP"
	printf '   %-46s %6s %9s  %s\n' "path" "MB/s" "vs socat" "runs (MB/s)"
	printf '   %-46s %6s %9s  %s\n' "pump -> sink (loopback limit)" "$L_MBS" "" "$(mbs_list "${BASE[loop]}")"
	printf '   %-46s %6s %9s  %s\n' "pump -> socat (default -b 8192) -> sink" "$S_MBS" "1.00" "$(mbs_list "${BASE[socat]}")"
	printf '   %-46s %6s %9s  %s\n' "pump -> socat -b 262144 -> sink" "$S2_MBS" "$(fdiv "$S2_MBS" "$S_MBS" %.2f)" "$(mbs_list "${BASE[socat256k]}")"
	printf '   %-46s %6s %9s  %s\n' "cpm send -> cpmd -> cpm receive, 64 KiB chunks" "$C64" "$(fdiv "$C64" "$S_MBS" %.2f)" "$(mbs_list "${R_MSRP[65536]}")"
	printf '   %-46s %6s %9s  %s\n' "cpm send -> cpmd -> cpm receive, 10 KiB chunks" "$C10" "$(fdiv "$C10" "$S_MBS" %.2f)" "$(mbs_list "${R_MSRP[10240]}")"
	echo "   CPU s of pump/socat/sink per run: loopback:${BCPU[loop]}; socat:${BCPU[socat]}; socat -b 262144:${BCPU[socat256k]}"
	echo "   cpmd/socat(default) per round (same round's socat run), 64 KiB/10 KiB:$ROUND_RATIO"
	echo "   cpmd/socat(default): 64 KiB $(fdiv "$C64" "$S_MBS" %.2f), 10 KiB $(fdiv "$C10" "$S_MBS" %.2f) (target >= 0.7);" \
		"cpmd/socat -b 262144: 64 KiB $(fdiv "$C64" "$S2_MBS" %.2f), 10 KiB $(fdiv "$C10" "$S2_MBS" %.2f);" \
		"cpmd/loopback: 64 KiB $(fdiv "$C64" "$L_MBS" %.2f), 10 KiB $(fdiv "$C10" "$L_MBS" %.2f)"
	echo "   cpmd MSRP phase = cpmd log 'branch N ... accepted' -> 'delivered' (ms timestamps), in s:" \
		"64 KiB:${R_MSRP[65536]}; 10 KiB:${R_MSRP[10240]}"
	echo "   whole 'cpm send' wall (s): 64 KiB:${R_WALL[65536]}; 10 KiB:${R_WALL[10240]};" \
		"the same send declined (603: hash + SIP, no MSRP):${PREP:- n/a};" \
		"openssl dgst -sha1 of the file alone: wall ${HASH_WALL} s, cpu ${HASH_CPU} s"
	if [ -n "$PREP" ]; then
		PM=$(median <<<"$PREP")
		echo "   second estimate, MB/s from (send wall - declined send wall):" \
			"64 KiB $(mbps "$BIG_BYTES" "$(awk -v a="$(median <<<"${R_WALL[65536]}")" -v b="$PM" 'BEGIN {print a - b}')")," \
			"10 KiB $(mbps "$BIG_BYTES" "$(awk -v a="$(median <<<"${R_WALL[10240]}")" -v b="$PM" 'BEGIN {print a - b}')")"
	fi
	echo "   INVITE in -> branch accepted (s): ${R_INV[65536]}${R_INV[10240]}"
	echo
	echo "2. CPU seconds (utime+stime) for one ${BIG_MIB} MiB transfer, median of the runs, every run listed"
	printf '   %-8s %11s %9s %9s %9s %12s  %s\n' "chunk" "cpmd s/GiB" "cpmd s" "cpm send" "cpm recv" "others+steal" "cpmd runs / others runs"
	for c in 65536 10240; do
		cm=$(median <<<"${R_CPU[$c]}")
		printf '   %-8s %11s %9s %9s %9s %12s  %s\n' "$((c / 1024)) KiB" "$(fdiv "$cm" "$GIB" %.2f)" "$cm" \
			"$(median <<<"${R_SCPU[$c]}")" "$(median <<<"${R_RCPU[$c]}")" "$(median <<<"${R_OTHER[$c]}")" \
			"${R_CPU[$c]# } /${R_OTHER[$c]}"
	done
	echo "   cpmd CPU / MSRP phase wall (% of one core): 64 KiB:${R_UTIL[65536]}; 10 KiB:${R_UTIL[10240]}"
	echo "   machine busy during the whole send (all CPUs, %): 64 KiB:${R_BUSY[65536]}; 10 KiB:${R_BUSY[10240]}"
	echo "   ('others' = CPU busy on the whole machine during the transfer minus cpmd, cpm send and cpm receive:" \
		"other users' processes, kernel writeback, steal; the machine has $(nproc) CPUs)"
	echo
	echo "3. cpmd memory (kB)"
	echo "   after start: VmRSS $RSS_START, VmHWM $HWM_START"
	echo "   VmHWM during the ${MID_MIB} MiB transfer (64 KiB chunks): $MID_HWM (relay ${MID_MSRP} s)"
	echo "   VmHWM during the ${BIG_MIB} MiB transfers: 64 KiB chunks:${R_HWM[65536]}; 10 KiB chunks:${R_HWM[10240]}"
	echo "   (VmHWM reset with 'echo 5 > /proc/PID/clear_refs' before every transfer; the 1 GiB runs come after the 100 MiB one)"
	echo
	echo "4. small files: cpm blast --count $BLAST_COUNT --size $BLAST_SIZE -> cpmd -> one cpm receive --count $BLAST_COUNT"
	printf '   %-15s %11s %8s %7s %8s %8s %9s %9s %8s %7s %s\n' "parallel" "transfers/s" "received" "wall s" \
		"cpmd s" "us/xfer" "VmHWM kB" "udp drops" "lst drop" "others" "cpmd sip drops"
	for key in $BLAST_RUNS; do
		ok=$(awk '{print $2}' <<<"${B_LINE[$key]}")
		printf '   %-15s %11s %8s %7s %8s %8s %9s %9s %8s %7s %s\n' "$key" "${B_RATE[$key]:-n/a}" "${B_GOT[$key]}" \
			"${B_WALL[$key]}" "${B_CPU[$key]}" "$(us_per "${B_CPU[$key]}" "${ok:-0}")" "${B_HWM[$key]}" \
			"${B_UDPERR[$key]}" "${B_LDROP[$key]}" "${B_OTHER[$key]}" "${B_SIPDROP[$key]:-n/a}"
	done
	for key in $BLAST_RUNS; do echo "   $key: ${B_LINE[$key]:-no blast line}"; done
	echo "   (us/xfer = cpmd CPU / successful transfers; VmHWM reset before each run; udp drops = UdpRcvbufErrors," \
		"lst drop = TcpExt ListenDrops, machine-wide deltas; others = other CPU on the machine, s;" \
		"cpmd sip drops = datagrams dropped so far on cpmd's SIP UDP socket, cumulative, whose receive buffer is $(sip_udp_drops | awk '{print $1}') bytes)"
	echo "   cpmd after the blasts: VmRSS $RSS_AFTER_BLAST kB, epoll_wait calls in 1 s idle: $WAKE_AFTER_BLAST;" \
		"${LINGER:-65} s later: VmRSS $RSS_LATER kB, epoll_wait in 1 s: $WAKE_LATER;" \
		"after one more blast (again-...): VmRSS $RSS_AGAIN kB"
	if [ -n "$PROF_BLAST_TXT" ]; then
		sed 's/^/   /' <<<"$PROF_BLAST_TXT"
	fi
	if [ -n "$PROF_TXT" ]; then
		echo
		echo "5. profile of cpmd during one ${BIG_MIB} MiB transfer, 64 KiB chunks (run after the others, before the blasts)"
		sed 's/^/   /' <<<"$PROF_TXT"
	fi
	echo
	if [ ${#FAILS[@]} -gt 0 ]; then
		echo "FAILED transfers (each was tried again once; the numbers above are from the successful tries):"
		printf '   %s\n' "${FAILS[@]}"
	else
		echo "failed transfers: none"
	fi
	echo "total bench time: $SECONDS s"
} >"$T/table.txt"
cp "$T/table.txt" "$RESULTS/latest.txt"
cat "$T/table.txt"
