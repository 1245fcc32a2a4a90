#!/usr/bin/env bash
# bench/workers_bench.sh BUILD_BASE BUILD_NEW [MIB] [ROUNDS] — several transfers on every core
# (issue 12 §3, `cpmd --workers N`): N simultaneous MIB-MiB transfers (default 256) through one
# cpmd, for N in NS ("1 4 16"), three ways in ONE run, rounds alternated so that all see the
# same background load on this shared machine:
#   base  BUILD_BASE's cpmd (main before --workers; one loop),
#   w1    BUILD_NEW's cpmd --workers 1 (must equal base),
#   w2    BUILD_NEW's cpmd --workers 2.
# Per run: N receivers register, N `cpm send` of the same file start at once (one shared hash
# cache, warmed first, so no sender hashes during the run), SIP over UDP, 64 KiB chunks.
# Measured: aggregate MB/s over the MSRP phase from cpmd's own log (first `branch ... accepted`
# to last `delivered`, ms timestamps, as bench/run.sh does for one transfer), the same over the
# wall time (senders started -> every receiver done), cpmd CPU s/GiB (utime+stime of all its
# threads) and cpmd's peak RSS (VmHWM). Every received file is checked against the sha-1.
# CLIENT=raw: the endpoints are main's bench/tools/msrp_raw.c with bench/raw_ua.py (MSRP peers
# that neither hash nor write: on 2 CPUs the real clients take most of the CPU, so this shows
# what cpmd itself does); cpmd checks each file's sha-1 against the selector, a sender exits 0
# only on the success REPORT.
# Knobs: NS, CONFIGS ("base w1 w2"), CLIENT (cpm), KEEP_TMP. Output: a table on stdout, raw
# lines on stderr.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
BASE=$(cd "$1" && pwd) NEW=$(cd "$2" && pwd)
MIB=${3:-256} ROUNDS=${4:-2}
NS=${NS:-"1 4 16"}
CONFIGS=${CONFIGS:-"base w1 w2"}
CLIENT=${CLIENT:-cpm}
HOST=127.0.0.1 DOMAIN=bench.test
bench_tmp /tmp/workers-bench.XXXXXX
MEDIAN_DEC=2
say() { printf '[workers %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# pport: the next of a block of ports for the raw endpoints, none handed out twice in a run
# (random picks collided: two endpoints of one run got the same free port before binding it)
pport() {
	while :; do
		PP=$((PP + 1))
		[ -z "$(ss -Htuan "( sport = :$PP )" 2>/dev/null)" ] && return
	done
}

F="$T/file.bin"
BYTES=$((MIB * 1048576))
head -c "$BYTES" /dev/urandom >"$F"
sleep 0.1 # the hash cache records only a file whose ctime has settled
SHA=$(openssl dgst -sha1 -r "$F" | cut -d' ' -f1)
STATE="$T/state" # one XDG_STATE_HOME for every sender: the file's hash is cached once
echo "machine: $(cpu_desc), kernel $(uname -r)"
echo "date: $(utc_date); base = $BASE ($(git -C "$BASE/.." rev-parse --short HEAD 2>/dev/null || echo ?)); new = $NEW ($(git -C "$NEW/.." rev-parse --short HEAD 2>/dev/null || echo ?))"
echo "clients: $CLIENT; file: $MIB MiB, 64 KiB chunks, SIP over UDP; N: $NS; rounds: $ROUNDS; load at start: $(loadavg); busy: $(busy_others)"

RUN=0
# run CONFIG N -> "aggMB/s_log aggMB/s_wall cpu_s_per_GiB vmhwm_kB cores" (cores: cpmd's CPU
# seconds over the wall seconds: above 1 only if it runs on more than one core)
run() {
	local cfg=$1 n=$2 bd args=() sp mp log cp i t0 t1 c0 c1 w0 w1 hwm
	case $cfg in
	base) bd=$BASE ;;
	w1) bd=$NEW args=(--workers 1) ;;
	w2) bd=$NEW args=(--workers 2) ;;
	esac
	bench_port sp
	bench_port mp
	PP=$((20000 + RANDOM % 200 * 48)) # (below the ephemeral range; 48 ports per run)
	log="$T/cpmd.$RUN.log"
	"$bd/cpmd" --domain "$DOMAIN" --sip "$HOST:$sp" --msrp "$HOST:$mp" --data-dir "$T/data.$RUN" \
		--max-file-size $((BYTES * 2)) --log-level info "${args[@]}" </dev/null >/dev/null 2>"$log" &
	cp=$!
	PIDS+=("$cp")
	for _ in $(seq 500); do grep -q 'cpmd: ready' "$log" && break; sleep 0.02; done
	local rps=() sps=()
	for ((i = 1; i <= n; i++)); do
		mkdir -p "$T/r.$RUN.$i"
		if [ "$CLIENT" = raw ]; then
			pport
			python3 "$SRC/bench/raw_ua.py" recv --server "$HOST:$sp" --user "bob$i@$DOMAIN" --port "$PP" \
				--timeout 600 --msrp-raw "$NEW/msrp_raw" </dev/null >"$T/recv.$RUN.$i.out" 2>&1 &
		else
			XDG_STATE_HOME="$T/rst.$i" "$bd/cpm" --server "$HOST:$sp" --user "sip:bob$i@$DOMAIN" --device d \
				receive --dir "$T/r.$RUN.$i" --count 1 --timeout 600 </dev/null >"$T/recv.$RUN.$i.out" 2>/dev/null &
		fi
		rps+=($!)
		PIDS+=($!)
	done
	for _ in $(seq 1000); do [ "$(grep -ci 'regist.*bob[0-9]*@' "$log")" -ge "$n" ] && break; sleep 0.02; done
	sleep 0.3
	c0=$(cpu_ticks "$cp")
	w0=$(now)
	for ((i = 1; i <= n; i++)); do
		if [ "$CLIENT" = raw ]; then
			pport
			timeout 600 python3 "$SRC/bench/raw_ua.py" send --server "$HOST:$sp" --user "alice$i@$DOMAIN" \
				--port "$PP" --to "bob$i@$DOMAIN" --file "$F" --sha1 "$SHA" --chunk 65536 \
				--msrp-raw "$NEW/msrp_raw" </dev/null >"$T/send.$RUN.$i.out" 2>&1 &
		else
			XDG_STATE_HOME="$STATE" timeout 600 "$bd/cpm" --server "$HOST:$sp" --user "sip:alice$i@$DOMAIN" \
				send "sip:bob$i@$DOMAIN" "$F" --chunk-size 65536 </dev/null >"$T/send.$RUN.$i.out" 2>/dev/null &
		fi
		sps+=($!)
		PIDS+=($!)
	done
	for p in "${rps[@]}"; do wait "$p" || say "run $RUN: a receiver exited $?"; done
	w1=$(now)
	local bad=0
	for p in "${sps[@]}"; do wait "$p" || { bad=$((bad + 1)); say "run $RUN: a sender exited $?"; }; done
	c1=$(cpu_ticks "$cp")
	hwm=$(status_kb "$cp" VmHWM)
	kill -TERM "$cp"
	wait "$cp" 2>/dev/null || true
	local ok=0
	if [ "$CLIENT" = raw ]; then
		ok=$((n - bad)) # (cpmd checked the sha-1; the sender got the success REPORT)
	else
		for ((i = 1; i <= n; i++)); do grep -q "$SHA" "$T/recv.$RUN.$i.out" && ok=$((ok + 1)); done
	fi
	[ "$ok" = "$n" ] || say "run $RUN ($cfg, N=$n): only $ok of $n files arrived intact"
	[ "$ok" = "$n" ] || return 0 # (kept for a look with KEEP_TMP=1)
	rm -rf "$T"/r."$RUN".* "$T/data.$RUN"
	t0=$(grep ' accepted' "$log" | grep ' branch ' | head -n1)
	t1=$(grep ': delivered ' "$log" | tail -n1)
	local ms=$(($(log_ms "$t1") - $(log_ms "$t0")))
	awk -v ms="$ms" -v b="$BYTES" -v n="$n" -v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN {print b - a}')" \
		-v cpu="$(fdiv $((c1 - c0)) "$HZ")" -v hwm="$hwm" \
		'BEGIN {printf "%.0f %.0f %.2f %d %.2f\n", n * b / ms / 1000, n * b / w / 1e6, cpu * 1073741824 / (n * b), hwm, cpu / w}'
}

# warm the senders' hash cache (not measured)
NS_SAVE=$NS
RUN=$((RUN + 1))
run w2 1 >/dev/null
declare -A R
for ((r = 1; r <= ROUNDS; r++)); do
	for n in $NS_SAVE; do
		if ((r % 2)); then order=$CONFIGS; else order=$(tr ' ' '\n' <<<"$CONFIGS" | tac | tr '\n' ' '); fi
		line="round $r N=$n (load $(loadavg))"
		for c in $order; do
			RUN=$((RUN + 1)) # (here: run is called in a subshell; its logs stay apart)
			out=$(run "$c" "$n")
			R[$c.$n]+="$out"$'\n'
			line+="; $c: $out"
		done
		say "$line"
		echo "$line"
	done
done
echo
echo "medians | N | config | aggregate MB/s (cpmd log) | aggregate MB/s (wall) | cpmd CPU s/GiB | cpmd VmHWM kB | cpmd cores busy | runs (MB/s, log)"
for n in $NS_SAVE; do
	for c in $CONFIGS; do
		printf '| %s | %s' "$n" "$c"
		for col in 1 2 3 4 5; do printf ' | %s' "$(grep . <<<"${R[$c.$n]}" | awk -v k=$col '{print $k}' | median)"; done
		printf ' | %s\n' "$(grep . <<<"${R[$c.$n]}" | awk '{printf "%s ", $1}')"
	done
done
echo "load at end: $(loadavg)"
