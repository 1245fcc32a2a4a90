#!/usr/bin/env bash
# bench/hotpath_ab.sh BUILD_A BUILD_B [MIB] [ROUNDS] — the relay's hot path, two builds side by
# side (issue 12 §1): before/after in ONE run, rounds alternated (A then B, then B then A, ...)
# so that both see the same background load on this shared machine.
#
# Per round and build: one file of MIB MiB (default 256) `cpm send -> cpmd -> cpm receive` with
# 64 KiB and with 10 KiB chunks, each through a fresh cpmd under `perf stat` (syscalls by name,
# context switches). Per round also `pump -> socat -> sink` over the same file (the reference
# of docs/BENCHMARKS.md). Measured: the MSRP phase from cpmd's log (branch accepted ->
# delivered, as bench/run.sh), cpmd CPU s/GiB, syscalls per chunk. Load averages are printed
# at the start and per round. Output: a table on stdout; raw logs stay in the temp dir with
# KEEP_TMP=1.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
A=$(cd "$1" && pwd) B=$(cd "$2" && pwd)
MIB=${3:-256} ROUNDS=${4:-4}
CHUNKS=${CHUNKS:-"65536 10240"}
HOST=127.0.0.1 DOMAIN=bench.test
bench_tmp /tmp/hotpath-ab.XXXXXX
MEDIAN_DEC=2
say() { printf '[ab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

cc -O2 -Wall -Wextra -o "$T/pump" "$SRC/bench/tools/pump.c"
cc -O2 -Wall -Wextra -o "$T/sink" "$SRC/bench/tools/sink.c"
F="$T/file.bin"
BYTES=$((MIB * 1048576))
head -c "$BYTES" /dev/urandom >"$F"
SHA=$(openssl dgst -sha1 -r "$F" | cut -d' ' -f1)
echo "machine: $(cpu_desc), kernel $(uname -r)"
echo "date: $(utc_date); A = $A ($(git -C "$A/.." rev-parse --short HEAD 2>/dev/null || echo ?)); B = $B ($(git -C "$B/.." rev-parse --short HEAD 2>/dev/null || echo ?))"
echo "file: $MIB MiB; rounds: $ROUNDS; load at start: $(loadavg); busy: $(busy_others)"

socat_run() { # -> MB/s of pump -> socat (8 KiB) -> sink
	local sp rp spid qp
	bench_port sp
	bench_port rp
	rm -f "$T/ready"
	"$T/sink" "$sp" "$T/ready" >"$T/sink.out" 2>/dev/null &
	spid=$!
	PIDS+=("$spid")
	for _ in $(seq 250); do [ -e "$T/ready" ] && break; sleep 0.02; done
	socat -b 8192 "TCP4-LISTEN:$rp,bind=$HOST,reuseaddr" "TCP4:$HOST:$sp" 2>/dev/null &
	qp=$!
	PIDS+=("$qp")
	for _ in $(seq 250); do ss -Htln "( sport = :$rp )" | grep -q . && break; sleep 0.02; done
	"$T/pump" "$HOST" "$rp" "$F" >/dev/null
	wait "$spid"
	wait "$qp" 2>/dev/null || true
	local _x bytes secs
	read -r _x bytes secs <"$T/sink.out"
	fdiv "$bytes" "$(awk -v s="$secs" 'BEGIN {print s * 1e6}')" %.0f
}

N=0
# xfer BUILD CHUNK N -> "MB/s cpu_s_per_GiB sendmsg/chunk recvfrom/chunk write/chunk epoll_wait/chunk all/chunk cs/chunk"
xfer() {
	local bd=$1 chunk=$2 N=$3 sp mp log cp rp pp
	bench_port sp
	bench_port mp
	log="$T/cpmd.$N.log"
	"$bd/cpmd" --domain "$DOMAIN" --sip "$HOST:$sp" --msrp "$HOST:$mp" --data-dir "$T/data.$N" \
		--max-file-size $((BYTES * 2)) --log-level info </dev/null >/dev/null 2>"$log" &
	cp=$!
	PIDS+=("$cp")
	for _ in $(seq 500); do grep -q 'cpmd: ready' "$log" && break; sleep 0.02; done
	mkdir -p "$T/r.$N"
	XDG_STATE_HOME="$T/st.$N" "$bd/cpm" --server "$HOST:$sp" --user "sip:bob$N@$DOMAIN" --device d$N \
		receive --dir "$T/r.$N" --count 1 --timeout 300 </dev/null >"$T/recv.$N.out" 2>"$T/recv.$N.err" &
	rp=$!
	PIDS+=("$rp")
	for _ in $(seq 500); do grep -qi "regist.*bob$N@" "$log" && break; sleep 0.02; done
	sleep 0.2
	perf stat -x, -e 'syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvfrom,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait,raw_syscalls:sys_enter,context-switches' \
		-p "$cp" -o "$T/perf.$N" &
	pp=$!
	sleep 0.3
	local t0 t1
	t0=$(cpu_ticks "$cp")
	XDG_STATE_HOME="$T/st.$N" timeout 300 "$bd/cpm" --server "$HOST:$sp" --user "sip:alice$N@$DOMAIN" \
		send "sip:bob$N@$DOMAIN" "$F" --chunk-size "$chunk" </dev/null >"$T/send.$N.out" 2>"$T/send.$N.err" ||
		{ say "send $N failed: $(tail -n1 "$T/send.$N.out")"; }
	for _ in $(seq 500); do grep -q ': delivered ' "$log" && break; sleep 0.02; done
	t1=$(cpu_ticks "$cp")
	kill -INT "$pp"
	wait "$pp" 2>/dev/null || true
	wait "$rp" || say "receiver $N exit $?"
	grep -q "$SHA" "$T/recv.$N.out" || say "receiver $N: wrong or no hash"
	kill -TERM "$cp"
	wait "$cp" 2>/dev/null || true
	rm -rf "$T/r.$N" "$T/data.$N"
	local l_del l_acc ft ms chunks
	l_del=$(grep ': delivered ' "$log" | tail -n1)
	ft=$(sed -E 's/.* ft ([^:]+): delivered .*/\1/' <<<"$l_del")
	l_acc=$(grep -F "ft $ft: branch" "$log" | grep ' accepted' | tail -n1)
	ms=$(($(log_ms "$l_del") - $(log_ms "$l_acc")))
	chunks=$(((BYTES + chunk - 1) / chunk))
	awk -F, -v ms="$ms" -v b="$BYTES" -v c="$chunks" -v cpu="$(fdiv $((t1 - t0)) "$HZ")" '
		$3 == "syscalls:sys_enter_sendmsg" {s = $1} $3 == "syscalls:sys_enter_recvfrom" {r = $1}
		$3 == "syscalls:sys_enter_write" {w = $1} $3 == "syscalls:sys_enter_epoll_wait" {e = $1}
		$3 == "raw_syscalls:sys_enter" {a = $1} $3 == "context-switches" {x = $1}
		END {printf "%.0f %.2f %.2f %.2f %.2f %.2f %.2f %.2f\n", b / ms / 1000, cpu * 1073741824 / b,
			s / c, r / c, w / c, e / c, a / c, x / c}' "$T/perf.$N"
}

declare -A R
for ((i = 1; i <= ROUNDS; i++)); do
	if ((i % 2)); then order="A B"; else order="B A"; fi
	s=$(socat_run)
	R[socat]+="$s "
	line="round $i (load $(loadavg)): socat $s MB/s"
	for ch in $CHUNKS; do
		for w in $order; do
			if [ "$w" = A ]; then bd=$A; else bd=$B; fi
			N=$((N + 1))
			out=$(xfer "$bd" "$ch" "$N")
			R[$w.$ch]+="$out"$'\n'
			line+="; $w/$((ch / 1024))K: ${out%% *} MB/s"
		done
	done
	say "$line"
	echo "$line"
done
echo
echo "socat (8 KiB) MB/s: ${R[socat]} -> median $(tr ' ' '\n' <<<"${R[socat]}" | grep . | median)"
echo "medians | MB/s | cpmd CPU s/GiB | sendmsg | recvfrom | write | epoll_wait | all syscalls | ctx switches (per chunk) | MB/s runs"
for ch in $CHUNKS; do
	for w in A B; do
		printf '%s %s KiB' "$w" $((ch / 1024))
		for col in 1 2 3 4 5 6 7 8; do
			printf ' | %s' "$(grep . <<<"${R[$w.$ch]}" | awk -v c=$col '{print $c}' | median)"
		done
		printf ' | %s\n' "$(grep . <<<"${R[$w.$ch]}" | awk '{printf "%s ", $1}')"
	done
done
echo "load at end: $(loadavg)"
