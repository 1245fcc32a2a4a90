#!/usr/bin/env bash
# bench/speed_bench.sh [BUILD_DIR] — issue 12's matrix: big files through cpmd next to socat
# relaying the same bytes between the same kind of endpoints, and the loopback limit.
#
# For every chunk size (CHUNKS) and number of simultaneous transfers (PARS), alternated within
# each round (ROUNDS), on the same file (SIZE_MIB, random bytes, in the page cache):
#   loop    N x pump -> sink                     plain TCP, the loopback limit
#   socat   N x pump -> socat -> sink            a plain TCP relay (one socat per transfer)
#   rawsocat N x msrp_raw send -> socat -> msrp_raw sink: socat between the endpoints raw uses
#   raw     N x msrp_raw send -> cpmd -> msrp_raw sink (bench/raw_ua.py sets each up over SIP;
#           MB/s over the MSRP part: first connect to last REPORT, so no SIP or Python start-up):
#           MSRP endpoints that neither hash nor write, so the bytes measure cpmd
#   cpm     N x cpm send -> cpmd -> cpm receive  the real clients (hash, part file, sha-1 check)
# pump writes CHUNK bytes per write() so that every path moves the same write sizes.
# For each: aggregate MB/s (10^6 B/s: N x size over the wall time of the slowest), the relay's
# CPU seconds per GiB (cpmd's, or the socats'), and for cpmd its peak RSS above its RSS before
# the case, per transfer (VmHWM after clear_refs). cpmd runs with --workers W for each W in
# WORKERS (empty: no --workers flag, cpmd's default), a fresh --data-dir per case. After a cpm
# row, a comment line gives the clients' own CPU s/GiB (all senders, all receivers: bash's time).
#
# Knobs: SIZE_MIB (256), CHUNKS ("65536 10240 1048576"), PARS ("1 4 16"), ROUNDS (2),
# MODES ("loop socat rawsocat raw cpm"), WORKERS (""), CPMD_ARGS (extra cpmd options), OUT (results
# file; default bench/results/speed-DATE.txt).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build-rel}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
SIZE_MIB=${SIZE_MIB:-256}
CHUNKS=${CHUNKS:-"65536 10240 1048576"}
PARS=${PARS:-"1 4 16"}
ROUNDS=${ROUNDS:-2}
MODES=${MODES:-"loop socat rawsocat raw cpm"}
WORKERS=${WORKERS:-}
CPMD_ARGS=${CPMD_ARGS:-}
DOMAIN=speed.test
STAMP=$(date -u +%Y-%m-%d-%H%M)
OUT=${OUT:-$SRC/bench/results/$STAMP-speed-$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo nogit).txt}
# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"

say() { printf '[speed %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	say "FAILED: $*"
	exit 1
}
for b in cpmd cpm msrp_raw; do [ -x "$BUILD/$b" ] || die "missing $BUILD/$b (cmake --build $BUILD)"; done
command -v socat >/dev/null || die "socat missing (apt-get install socat)"

bench_tmp /var/tmp/cpmd-speed.XXXXXX
# the sinks, pumps and clients of a case are not in PIDS (each case waits for its own); after an
# abort they are found by the temp dir in their command lines
bench_cleanup_hook() {
	pkill -f "$T/" 2>/dev/null
	wait 2>/dev/null
}
cc -O2 -Wall -Wextra -o "$T/pump" "$SRC/bench/tools/pump.c"
cc -O2 -Wall -Wextra -o "$T/sink" "$SRC/bench/tools/sink.c"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$T/f.bin"
SHA1=$(sha1sum "$T/f.bin" | cut -c1-40)
BYTES=$((SIZE_MIB << 20))
mkdir -p "$T/state"
export XDG_STATE_HOME="$T/state" # cpm's hash cache: the sender reuses the file's sha-1 after its first send

CPMD=$BUILD/cpmd # for bench_start_cpmd
CPMD_PID= SIP_PORT= CPMD_LOG=
start_cpmd() { # start_cpmd WORKERS
	rm -rf "$T/d"
	CPMD_LOG="$T/cpmd.log"
	local wopt=()
	[ -n "$1" ] && wopt=(--workers "$1")
	# shellcheck disable=SC2086 # CPMD_ARGS: several options
	bench_start_cpmd "$T/d" "$CPMD_LOG" "${wopt[@]}" $CPMD_ARGS
}

registered() { grep -c "register $1@$DOMAIN" "$CPMD_LOG" || true; }

# Each case prints "MBPS CPU_S_PER_GIB RSS_KB_PER_TRANSFER" (RSS: - for no cpmd).
case_loop() { # N CHUNK
	local n=$1 chunk=$2 i ps=() t0 t1
	for i in $(seq "$n"); do
		bench_port "ps[$i]"
		"$T/sink" "${ps[i]}" "$T/ready.$i" >/dev/null &
	done
	for i in $(seq "$n"); do while [ ! -e "$T/ready.$i" ]; do sleep 0.01; done; done
	t0=$(now)
	for i in $(seq "$n"); do "$T/pump" 127.0.0.1 "${ps[i]}" "$T/f.bin" "$chunk" >/dev/null & done
	wait
	t1=$(now)
	rm -f "$T"/ready.*
	echo "$(fdiv "$((n * BYTES))" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) * 1e6}')" %.0f) - -"
}

case_socat() { # N CHUNK
	local n=$1 chunk=$2 i ps=() rs=() t0 t1
	for i in $(seq "$n"); do
		bench_port "ps[$i]"
		bench_port "rs[$i]"
		"$T/sink" "${ps[i]}" "$T/ready.$i" >/dev/null &
		# -b CHUNK: socat moves pieces of the size the MSRP paths use
		(
			TIMEFORMAT='%U %S'
			time socat -b "$chunk" "TCP-LISTEN:${rs[i]},bind=127.0.0.1,reuseaddr" "TCP:127.0.0.1:${ps[i]}" 2>/dev/null
		) 2>"$T/socat.$i.time" &
	done
	for i in $(seq "$n"); do
		while [ ! -e "$T/ready.$i" ]; do sleep 0.01; done
		while ! ss -Hltn "sport = :${rs[i]}" | grep -q .; do sleep 0.01; done
	done
	t0=$(now)
	for i in $(seq "$n"); do "$T/pump" 127.0.0.1 "${rs[i]}" "$T/f.bin" "$chunk" >/dev/null & done
	wait
	t1=$(now)
	rm -f "$T"/ready.*
	echo "$(fdiv "$((n * BYTES))" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) * 1e6}')" %.0f)" \
		"$(cat "$T"/socat.*.time | awk -v g="$((n * SIZE_MIB))" '{s += $1 + $2} END {printf "%.3f", s / (g / 1024)}')" -
	rm -f "$T"/socat.*.time
}

# socat between the raw MSRP endpoints: what `raw` compares with (the issue's "the same kind of
# endpoints": msrp_raw parses every byte it receives, pump/sink do not). The sink dials socat's
# first address, the sender its second; socat moves the bytes both ways (the bind SEND, the
# REPORT) without looking at them.
case_rawsocat() { # N CHUNK
	local n=$1 chunk=$2 i as=() bs=() t0 t1
	for i in $(seq "$n"); do
		bench_port "as[$i]"
		bench_port "bs[$i]"
		(
			TIMEFORMAT='%U %S'
			time socat -b "$chunk" "TCP-LISTEN:${as[i]},bind=127.0.0.1,reuseaddr" \
				"TCP-LISTEN:${bs[i]},bind=127.0.0.1,reuseaddr" 2>/dev/null
		) 2>"$T/socat.$i.time" &
	done
	for i in $(seq "$n"); do
		while ! ss -Hltn "sport = :${as[i]}" | grep -q .; do sleep 0.01; done
		"$BUILD/msrp_raw" sink 127.0.0.1 "${as[i]}" "msrp://127.0.0.1:${as[i]}/rawsnd$i;tcp" \
			"msrp://127.0.0.1:${as[i]}/rawsink$i;tcp" >"$T/rsink.$i.out" &
		while ! ss -Hltn "sport = :${bs[i]}" | grep -q .; do sleep 0.01; done
	done
	t0=$(now)
	for i in $(seq "$n"); do
		"$BUILD/msrp_raw" send 127.0.0.1 "${bs[i]}" "msrp://127.0.0.1:${bs[i]}/rawsink$i;tcp" \
			"msrp://127.0.0.1:${bs[i]}/rawsnd$i;tcp" "$T/f.bin" "$chunk" >"$T/rsend.$i.out" &
	done
	wait
	t1=$(now)
	if [ "$(cat "$T"/rsend.*.out | awk '$5 == 200' | wc -l)" -ne "$n" ]; then
		echo "fail - -"
	else
		echo "$(fdiv "$((n * BYTES))" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) * 1e6}')" %.0f)" \
			"$(cat "$T"/socat.*.time | awk -v g="$((n * SIZE_MIB))" '{s += $1 + $2} END {printf "%.3f", s / (g / 1024)}')" -
	fi
	rm -f "$T"/socat.*.time "$T"/rsend.*.out "$T"/rsink.*.out
}

cpmd_case() { # MODE N CHUNK: raw or cpm through the running cpmd
	local mode=$1 n=$2 chunk=$3 i rpids=() t0 t1 c0 c1 rss0 hwm
	# a previous case's outputs must not take part: the raw timing below spans every send.*.out
	# (stale send.2-4.out of a 4-transfer case made the next 1-transfer case look 6x slower)
	rm -f "$T"/send.*.out "$T"/recv.*.out
	for i in $(seq "$n"); do
		bench_port P
		if [ "$mode" = raw ]; then
			python3 "$SRC/bench/raw_ua.py" recv --server "127.0.0.1:$SIP_PORT" --user "r$i@$DOMAIN" --port "$P" \
				--msrp-raw "$BUILD/msrp_raw" >"$T/recv.$i.out" 2>&1 &
		else
			rm -rf "$T/out.$i"
			( # the client's own CPU (user, system), for the clients' line below the case
				TIMEFORMAT='%U %S'
				time "$BUILD/cpm" --server "127.0.0.1:$SIP_PORT" --user "sip:c$i@$DOMAIN" receive --dir "$T/out.$i" \
					--count 1 >"$T/recv.$i.out" 2>&1
			) 2>"$T/crecv.$i.time" &
		fi
		rpids[i]=$!
	done
	local who=r
	[ "$mode" = cpm ] && who=c
	for i in $(seq "$n"); do
		for _ in $(seq 200); do [ "$(registered "$who$i")" -gt 0 ] && break; sleep 0.02; done
	done
	# the store's bookkeeping of the previous case settles first
	sleep 0.3
	rss0=$(status_kb "$CPMD_PID" VmRSS)
	echo 5 >"/proc/$CPMD_PID/clear_refs"
	c0=$(cpu_ticks "$CPMD_PID")
	t0=$(now)
	local spids=()
	for i in $(seq "$n"); do
		bench_port P
		if [ "$mode" = raw ]; then
			python3 "$SRC/bench/raw_ua.py" send --server "127.0.0.1:$SIP_PORT" --user "s$i@$DOMAIN" --port "$P" \
				--to "r$i@$DOMAIN" --file "$T/f.bin" --sha1 "$SHA1" --chunk "$chunk" --msrp-raw "$BUILD/msrp_raw" \
				>"$T/send.$i.out" 2>&1 &
		else
			(
				TIMEFORMAT='%U %S'
				time "$BUILD/cpm" --server "127.0.0.1:$SIP_PORT" --user "sip:s$i@$DOMAIN" --chunk-size "$chunk" \
					send "sip:c$i@$DOMAIN" "$T/f.bin" >"$T/send.$i.out" 2>&1
			) 2>"$T/csend.$i.time" &
		fi
		spids[i]=$!
	done
	local fail=0
	for i in $(seq "$n"); do wait "${spids[i]}" || fail=$((fail + 1)); done
	t1=$(now)
	c1=$(cpu_ticks "$CPMD_PID")
	hwm=$(status_kb "$CPMD_PID" VmHWM)
	for i in $(seq "$n"); do wait "${rpids[i]}" || fail=$((fail + 1)); done
	if [ "$mode" = cpm ]; then
		for i in $(seq "$n"); do
			cmp -s "$T/f.bin" "$T/out.$i/f.bin" || fail=$((fail + 1))
			rm -rf "$T/out.$i"
		done
		# CPU s/GiB of the senders and of the receivers (SIP, hashing, the file, MSRP)
		local g=$((n * SIZE_MIB))
		echo "$(cat "$T"/csend.*.time | awk -v g="$g" '{s += $1 + $2} END {printf "%.3f", s / (g / 1024)}')" \
			"$(cat "$T"/crecv.*.time | awk -v g="$g" '{s += $1 + $2} END {printf "%.3f", s / (g / 1024)}')" >"$T/clients"
		rm -f "$T"/csend.*.time "$T"/crecv.*.time
	fi
	if [ "$fail" -gt 0 ]; then
		say "$mode n=$n chunk=$chunk: $fail transfer(s) failed; last logs:"
		tail -3 "$T"/send.*.out "$T"/recv.*.out >&2 || true
		echo "fail fail fail"
		return
	fi
	# raw: the MSRP part only (first connect to last REPORT, CLOCK_MONOTONIC of the senders);
	# cpm: the whole `cpm send` (SIP, its hash, MSRP), as a user sees it
	local secs
	if [ "$mode" = raw ]; then
		secs=$(awk '$1 == "raw_ua" && $5 == "msrp" {if (!lo || $6 < lo) lo = $6; if ($7 > hi) hi = $7} END {print hi - lo}' "$T"/send.*.out)
	else
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
	fi
	echo "$(fdiv "$((n * BYTES))" "$(awk -v s="$secs" 'BEGIN {print s * 1e6}')" %.0f)" \
		"$(fdiv "$((c1 - c0))" "$((HZ * n * SIZE_MIB / 1024))" %.3f)" \
		"$(((hwm > rss0 ? hwm - rss0 : 0) / n))"
}

{
	echo "# bench/speed_bench.sh $(date -u +%Y-%m-%dT%H:%MZ), cpmd $(git -C "$SRC" describe --always --dirty 2>/dev/null)"
	echo "# $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); kernel $(uname -r)"
	echo "# SIZE_MIB=$SIZE_MIB CHUNKS='$CHUNKS' PARS='$PARS' ROUNDS=$ROUNDS MODES='$MODES' WORKERS='$WORKERS' CPMD_ARGS='$CPMD_ARGS'"
	echo "# load before: $(loadavg); busy: $(busy_others)"
	echo "# round mode workers n chunk MB/s cpu-s/GiB rss-kB/transfer"
} | tee "$OUT"
RAW="$T/rows"
: >"$RAW"
for r in $(seq "$ROUNDS"); do
	for chunk in $CHUNKS; do
		for n in $PARS; do
			for mode in $MODES; do
				case $mode in
				loop | socat | rawsocat)
					res=$("case_$mode" "$n" "$chunk")
					line="$r $mode - $n $chunk $res"
					echo "$line" | tee -a "$OUT"
					echo "$line" >>"$RAW"
					;;
				raw | cpm)
					for w in ${WORKERS:-default}; do
						start_cpmd "$([ "$w" = default ] || echo "$w")"
						rm -f "$T/clients"
						res=$(cpmd_case "$mode" "$n" "$chunk")
						bench_stop_cpmd
						line="$r $mode $w $n $chunk $res"
						echo "$line" | tee -a "$OUT"
						echo "$line" >>"$RAW"
						if [ -s "$T/clients" ]; then
							read -r cs cr <"$T/clients"
							echo "# ^ cpu-s/GiB of the clients: cpm send $cs, cpm receive $cr" | tee -a "$OUT"
						fi
					done
					;;
				esac
			done
		done
	done
done

{
	echo "# load after: $(loadavg)"
	echo "# medians over the rounds; x socat = MB/s over socat's at the same n and chunk (raw: over rawsocat's, if it ran)"
	echo "# mode workers n chunk MB/s x-loop x-socat cpu-s/GiB rss-kB/transfer"
	awk '
	function med(s,   a, k, i, j, t) { k = split(s, a, " "); for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
	$6 != "fail" { key = $2 " " $3 " " $4 " " $5; if (!(key in seen)) { order[++nk] = key; seen[key] = 1 }
		mb[key] = mb[key] " " $6; cpu[key] = cpu[key] " " $7; rss[key] = rss[key] " " $8 }
	END { for (i = 1; i <= nk; i++) { key = order[i]; split(key, f, " ")
		m = med(mb[key]); lk = "loop - " f[3] " " f[4]; sk = "socat - " f[3] " " f[4]
		if (f[1] == "raw" && (("rawsocat - " f[3] " " f[4]) in mb)) sk = "rawsocat - " f[3] " " f[4]
		lm = (lk in mb) ? med(mb[lk]) : 0; sm = (sk in mb) ? med(mb[sk]) : 0
		printf "%s %.0f %s %s %s %s\n", key, m, lm ? sprintf("%.2f", m / lm) : "-", sm ? sprintf("%.2f", m / sm) : "-",
			cpu[key] ~ /-/ ? "-" : sprintf("%.3f", med(cpu[key])), rss[key] ~ /-/ ? "-" : med(rss[key]) } }' "$RAW"
} | tee -a "$OUT"
say "results: $OUT"
