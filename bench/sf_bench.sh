#!/usr/bin/env bash
# Store-and-forward benchmarks (issue #3), see docs/BENCHMARKS.md "Store-and-forward (issue 3)".
#
#   bench/sf_bench.sh BUILD_DIR     (BUILD_DIR has cpmd, cpm, store_bench and sf_fill, Release)
#
# 1. store: bench/store_bench (group commit; store_item_update with many in flight).
# 2. upload to the store: a BIG_MIB file, `cpm send` to a user who never registered (cpmd
#    defers, writes the blob, fsyncs, renames, commits the item, then acks `stored`), timed end
#    to end, next to `fio` sequential write + end fsync of the same size on the same
#    filesystem, REPS rounds (fio then cpm in each round, `sync` before each); cpmd's CPU
#    (utime+stime) and peak RSS (VmHWM, reset before each send); the store's own fsync + commit
#    after the last byte; and fio with O_DIRECT (what cpmd's blob writes are) as a second reference.
# 3. REGISTER -> first delivery INVITE: for each N in ITEM_COUNTS, a data dir with N stored
#    items over N/10 users (cached in SF_CACHE, filled once by sf_fill) plus TEST_ITEMS items
#    of the test user with real blobs; cpmd (--delivery-retry 3600:3600) starts on it, then
#    bench/sf_ua.py does CYCLES register / answer 480 / unregister cycles (480 keeps the items),
#    timed by the UA and from a tshark capture of the UA's port on loopback; cpmd's start-up
#    time and RSS after start, after the cycles and LINGER s later.
# Knobs (environment): SF_CACHE (/var/tmp/cpmd-sf-bench), BIG_MIB (1024), REPS (3),
# ITEM_COUNTS ("0 100000 1000000"), CYCLES (200), TEST_ITEMS (3), TEST_SIZE (65536),
# LINGER (35), SKIP ("store upload reg": parts to skip), BUILD_B (part 2: a second build's cpmd
# in the same rounds, for before/after), STORE_N (100000), KIND (file, or
# message: part 3 with stored pager-mode messages instead of files, delivered by MESSAGE —
# issue 8's "1,000,000 deferred messages, REGISTER -> first delivery").
# Ports: random free ones in 20000-32767 (bench/lib.sh). Installs fio with apt-get if it is missing.
set -euo pipefail
BUILD=$(cd "${1:?usage: bench/sf_bench.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SF_CACHE=${SF_CACHE:-/var/tmp/cpmd-sf-bench}
BIG_MIB=${BIG_MIB:-1024}
REPS=${REPS:-3}
ITEM_COUNTS=${ITEM_COUNTS:-0 100000 1000000}
CYCLES=${CYCLES:-200}
TEST_ITEMS=${TEST_ITEMS:-3}
TEST_SIZE=${TEST_SIZE:-65536}
LINGER=${LINGER:-35}
SKIP=${SKIP:-}
KIND=${KIND:-file}
STORE_N=${STORE_N:-100000}
DOMAIN=bench.test
CPMD=$BUILD/cpmd CPM=$BUILD/cpm
for b in "$CPMD" "$CPM" "$BUILD/store_bench" "$BUILD/sf_fill"; do
	[ -x "$b" ] || { echo "sf_bench: $b missing (cmake --build $BUILD --target cpmd cpm store_bench sf_fill)" >&2; exit 2; }
done
if ! command -v fio >/dev/null; then
	echo "sf_bench: installing fio" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y fio >/dev/null
fi
mkdir -p "$SF_CACHE"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
bench_tmp "$SF_CACHE/run.XXXXXX" # same filesystem as the cached data dirs
export CPMD_READY_S=120 # start-up with 1M stored items (reconcile) on a cold cache
say() { echo "sf_bench: $*" >&2; }

# start_cpmd DATA_DIR LOG: sets CPMD_PID SIP_PORT; STARTUP_S = exec -> "cpmd: ready"
start_cpmd() {
	bench_start_cpmd "$1" "$2" --delivery-retry 3600:3600 --log-level info
	STARTUP_S=$CPMD_START_S
}

DATE=$(utc_date)
GITREV=$(git_rev "$ROOT")
DIRTY=$(git_dirty "$ROOT")
FS=$(df -T "$SF_CACHE" | awk 'NR == 2 {print $1 " " $2}')
echo "sf_bench — $DATE — HEAD $GITREV (tracked files modified in the work tree: $DIRTY), build $(basename "$BUILD") (cpmd binary of $(date -u -r "$CPMD" '+%H:%M UTC'))"
echo "machine: $(machine_desc)"
echo "data filesystem: $SF_CACHE on $FS; load average at start: $(loadavg); processes >= 5% CPU at start: $(busy_others)"
echo "command: bench/sf_bench.sh $(basename "$BUILD")  (BIG_MIB=$BIG_MIB REPS=$REPS ITEM_COUNTS=\"$ITEM_COUNTS\" CYCLES=$CYCLES TEST_ITEMS=$TEST_ITEMS TEST_SIZE=$TEST_SIZE LINGER=$LINGER)"
echo

# --- 1. store ---------------------------------------------------------------
if [[ " $SKIP " != *" store "* ]]; then
	echo "1. store_bench $T/sb $STORE_N 2000 (synchronous=FULL, same filesystem)"
	mkdir -p "$T/sb"
	"$BUILD/store_bench" "$T/sb" "$STORE_N" 2000 2>/dev/null | grep -v '^database:' | sed 's/^/   /'
	rm -rf "$T/sb"
	echo
fi

# --- 2. upload to the store vs fio -------------------------------------------
# BUILD_B (a second build dir): its cpmd is measured in the same rounds, right after or before
# the first (the order alternates), next to the same fio runs: before/after in one run.
if [[ " $SKIP " != *" upload "* ]]; then
	BIG=$T/big.bin
	BYTES=$((BIG_MIB * 1048576))
	head -c "${BIG_MIB}M" /dev/urandom >"$BIG"
	start_cpmd "$T/updata" "$T/cpmd-upload.log"
	UP_PID[0]=$CPMD_PID UP_SIP[0]=$SIP_PORT UP_LOG[0]=$T/cpmd-upload.log UP_DATA[0]=$T/updata UP_TAG[0]=A
	UP_CPM[0]=$CPM
	NB=1
	if [ -n "${BUILD_B:-}" ]; then
		CPMD_A=$CPMD
		CPMD=$(cd "$BUILD_B" && pwd)/cpmd
		start_cpmd "$T/updata.b" "$T/cpmd-upload.b.log"
		CPMD=$CPMD_A
		UP_PID[1]=$CPMD_PID UP_SIP[1]=$SIP_PORT UP_LOG[1]=$T/cpmd-upload.b.log UP_DATA[1]=$T/updata.b UP_TAG[1]=B
		# each build's own client: a change of cpm send is part of "the upload" too
		UP_CPM[1]=$CPM
		[ -x "$BUILD_B/cpm" ] && UP_CPM[1]=$(cd "$BUILD_B" && pwd)/cpm
		NB=2
		echo "   A = $BUILD, B = $(cd "$BUILD_B" && pwd) (cpmd binary of $(date -u -r "$BUILD_B/cpmd" '+%H:%M UTC'); each build's cpmd with its own cpm send)"
	fi
	echo "2. ${BIG_MIB} MiB upload to the store (cpm send to a never-registered user: deferred, blob fsync + rename + commit, then 'stored') vs fio"
	echo "   fio --name=seq --rw=write --bs=1M --size=${BIG_MIB}M --end_fsync=1 --directory=$T/fio (MB/s = bytes / fio's job runtime, which includes the end fsync)"
	declare -A C_L P_L R_L Q_L X_L Y_L RX_L RY_L D_L
	F_L="" G_L=""
	mkdir -p "$T/fio"
	run_fio() { # [fio options] -> MB/s of one fio run (bytes / job runtime incl. the end fsync)
		sync
		fio --name=seq --rw=write --bs=1M --size="${BIG_MIB}M" --end_fsync=1 --directory="$T/fio" "$@" \
			--output-format=json >"$T/fio.json" 2>"$T/fio.err"
		python3 -c "import json,sys; j=json.load(open(sys.argv[1]))['jobs'][0]; print('%.0f' % (j['write']['io_bytes'] / (j['job_runtime'] / 1e3) / 1e6))" "$T/fio.json"
		rm -f "$T/fio"/*
	}
	# upload_one ROUND INDEX: one cpm send to cpmd INDEX; sets cmbs pmbs cpu hwm phase wall rc last
	upload_one() {
		local r=$1 i=$2 pid=${UP_PID[$2]} log=${UP_LOG[$2]} to="away$1x$2@$DOMAIN" c0 c1 t0 t1 l0 l1 le
		sync
		echo 5 >"/proc/$pid/clear_refs"
		c0=$(cpu_ticks "$pid")
		t0=$(now)
		rc=0
		"${UP_CPM[$i]}" --server "127.0.0.1:${UP_SIP[$i]}" --user "sip:up$r@$DOMAIN" send "sip:$to" "$BIG" \
			</dev/null >"$T/send.$r.$i.out" 2>"$T/send.$r.$i.err" || rc=$?
		t1=$(now)
		c1=$(cpu_ticks "$pid")
		last=$(tail -n 1 "$T/send.$r.$i.out")
		wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
		cmbs=$(awk -v b="$BYTES" -v w="$wall" 'BEGIN {printf "%.0f", b / w / 1e6}')
		hwm=$(status_kb "$pid" VmHWM)
		cpu=$(fdiv $((c1 - c0)) "$HZ" %.2f)
		rm -f "${UP_DATA[$i]}/blobs/"[0-9a-f]* 2>/dev/null || true # the stored copy (disk space)
		# cpmd's own phase: "deferred" (INVITE answered) -> "stored ... durable" (then the 200/REPORT)
		l0=$(grep -a ': deferred (' "$log" | grep -a "for $to as item" | head -n 1 || true)
		l1=$(grep -a "stored for $to" "$log" | head -n 1 || true)
		# the last byte written and hashed ("file received and checked"): what follows is the
		# store's own durability (the blob's fsync, rename, commit)
		le=$(awk -v to="for $to as item" 'index($0, to) {on = 1} on && /file received and checked/ {print; exit}' "$log")
		phase=n/a pmbs=n/a durable=n/a
		if [ -n "$l0" ] && [ -n "$l1" ]; then
			phase=$(fdiv $(($(log_ms "$l1") - $(log_ms "$l0"))) 1000 %.3f)
			pmbs=$(awk -v b="$BYTES" -v w="$phase" 'BEGIN {printf "%.0f", b / w / 1e6}')
			[ -n "$le" ] && durable=$(fdiv $(($(log_ms "$l1") - $(log_ms "$le"))) 1000 %.3f)
		fi
		[ "$rc" = 0 ] && [ "$last" = stored ] || { echo "   round $r ${UP_TAG[$i]}: cpm send FAILED (rc $rc, last line '$last')"; cmbs=0; }
	}
	echo "   each round: fio, cpm send (to each cpmd, alternating which goes first), fio again, fio O_DIRECT ('sync' before each); the ratio is against the mean of the round's two buffered fio runs"
	for ((r = 1; r <= REPS; r++)); do
		fa=$(run_fio)
		order="0"
		[ "$NB" = 2 ] && { [ $((r % 2)) = 1 ] && order="0 1" || order="1 0"; }
		line=""
		for i in $order; do
			upload_one "$r" "$i"
			say "round $r ${UP_TAG[$i]}: cpm send rc=$rc last='$last' wall $wall s = $cmbs MB/s, cpmd cpu $cpu s, VmHWM $hwm kB, deferred->stored $phase s (load $(loadavg))"
			C_L[$i]+=" $cmbs" P_L[$i]+=" $cpu" R_L[$i]+=" $hwm" Q_L[$i]+=" $pmbs"
			line+=$(printf ' | %s: cpm send %4s MB/s (wall %s s) | in cpmd (deferred -> stored %s s, of them fsync+commit %s s) %4s MB/s | cpmd CPU %s s, VmHWM %s kB' \
				"${UP_TAG[$i]}" "$cmbs" "$wall" "$phase" "$durable" "$pmbs" "$cpu" "$hwm")
			D_L[$i]+=" $durable"
			X_L[$i]+=" $cmbs" Y_L[$i]+=" $pmbs"
		done
		fb=$(run_fio)
		# what cpmd does: O_DIRECT writes of 512 KiB from one thread, then an fsync
		fd=$(run_fio --direct=1 --bs=512k --ioengine=psync)
		G_L+=" $fd"
		fmbs=$(awk -v a="$fa" -v b="$fb" 'BEGIN {printf "%.0f", (a + b) / 2}')
		F_L+=" $fmbs"
		printf '   round %d (load %s): fio %4s/%4s MB/s (O_DIRECT %4s)%s\n' "$r" "$(loadavg)" "$fa" "$fb" "$fd" "$line"
		for i in $order; do
			RX_L[$i]+=" $(fdiv "$(awk '{print $NF}' <<<"${X_L[$i]}")" "$fmbs" %.3f)"
			RY_L[$i]+=" $(fdiv "$(awk '{print $NF}' <<<"${Y_L[$i]}")" "$fmbs" %.3f)"
		done
	done
	FM=$(median <<<"$F_L")
	for ((i = 0; i < NB; i++)); do
		CM=$(median <<<"${C_L[$i]}") QM=$(median <<<"${Q_L[$i]}")
		echo "   ${UP_TAG[$i]} median: fio $FM MB/s, cpm send -> cpmd store $CM MB/s: ratio of medians $(fdiv "$CM" "$FM" %.2f), median of the per-round ratios $(median <<<"${RX_L[$i]}");" \
			"inside cpmd (deferred -> stored) $QM MB/s = $(fdiv "$QM" "$FM" %.2f) x fio (per-round ratios: median $(median <<<"${RY_L[$i]}"));" \
			"cpmd CPU $(median <<<"${P_L[$i]}") s per ${BIG_MIB} MiB, VmHWM median $(median <<<"${R_L[$i]}") kB (VmRSS now $(status_kb "${UP_PID[$i]}" VmRSS) kB);" \
			"the store's fsync + commit after the last byte: median $(median <<<"${D_L[$i]}") s; fio O_DIRECT (512 KiB writes + fsync) median $(median <<<"$G_L") MB/s = cpm send $(fdiv "$CM" "$(median <<<"$G_L")" %.2f) x"
	done
	sha=$( (time -p openssl dgst -sha1 "$BIG" >/dev/null) 2>&1 | awk '/^real/ {print $2}')
	echo "   (cpm send hashes the whole file before its INVITE: openssl dgst -sha1 of it alone takes $sha s)"
	for pid in "${UP_PID[@]}"; do
		CPMD_PID=$pid
		bench_stop_cpmd
	done
	rm -f "$BIG"
	rm -rf "$T/updata" "$T/updata.b"
	echo
fi

# --- 3. REGISTER -> first delivery INVITE -------------------------------------
if [[ " $SKIP " != *" reg "* ]]; then
	DLV=INVITE
	[ "$KIND" = message ] && DLV=MESSAGE
	echo "3. REGISTER -> first delivery $DLV ($CYCLES register/480/unregister cycles per store size; test user bob with $TEST_ITEMS stored $KIND items$([ "$KIND" = file ] && echo " of $TEST_SIZE bytes"))"
	for n in $ITEM_COUNTS; do
		D=$SF_CACHE/items-$n
		[ "$KIND" = message ] && D=$SF_CACHE/messages-$n
		"$BUILD/sf_fill" "$D" "$n" $((n / 10)) "$DOMAIN" bob "$TEST_ITEMS" "$TEST_SIZE" "$KIND" 2>/dev/null | sed 's/^/   /' >&2
		start_cpmd "$D" "$T/cpmd-reg-$n.log"
		st_cpu=$(fdiv "$(cpu_ticks "$CPMD_PID")" "$HZ" %.2f)
		rss0=$(status_kb "$CPMD_PID" VmRSS) hwm0=$(status_kb "$CPMD_PID" VmHWM)
		bench_port UAP
		tshark -i lo -f "udp port $UAP" -w "$T/reg-$n.pcap" -q >"$T/tshark-$n.out" 2>&1 &
		TSP=$!
		PIDS+=("$TSP")
		for ((i = 0; i < 200; i++)); do grep -q 'Capturing on' "$T/tshark-$n.out" && break; sleep 0.05; done
		sleep 0.5
		c0=$(cpu_ticks "$CPMD_PID")
		ua=$(python3 "$HERE/sf_ua.py" --server "127.0.0.1:$SIP_PORT" --user "bob@$DOMAIN" --port "$UAP" \
			--cycles "$CYCLES" --gap 0.02 --method "$DLV" --out "$T/ua-$n.txt" || true)
		c1=$(cpu_ticks "$CPMD_PID")
		sleep 0.5
		kill -INT "$TSP" 2>/dev/null || true
		wait "$TSP" 2>/dev/null || true
		rss1=$(status_kb "$CPMD_PID" VmRSS) hwm1=$(status_kb "$CPMD_PID" VmHWM)
		# on the wire: each REGISTER with Expires 3600 -> the next INVITE to the UA
		wire=$(python3 "$HERE/wire_latency.py" "$T/reg-$n.pcap" "$UAP" "$DLV")
		rss2=n/a
		if [ "$LINGER" -gt 0 ]; then
			sleep "$LINGER"
			rss2=$(status_kb "$CPMD_PID" VmRSS)
		fi
		echo "   $n stored items over $((n / 10)) users (+ $TEST_ITEMS for bob): cpmd start-up (exec -> ready, includes the reconcile) $STARTUP_S s, CPU $st_cpu s"
		echo "      UA:   ${ua#ua: }"
		echo "      $wire"
		echo "      cpmd CPU during the cycles: $(fdiv $((c1 - c0)) "$HZ" %.2f) s ($(awk -v c=$((c1 - c0)) -v hz="$HZ" -v n="$CYCLES" 'BEGIN {printf "%.0f", c / hz / n * 1e6}') us per cycle: 2 REGISTERs, $TEST_ITEMS INVITE/480/ACK)"
		echo "      cpmd RSS kB: after start VmRSS $rss0 (VmHWM $hwm0); after the cycles VmRSS $rss1 (VmHWM $hwm1); ${LINGER} s later VmRSS $rss2"
		bench_stop_cpmd
	done
fi
echo
echo "processes >= 5% CPU at the end: $(busy_others); load average $(loadavg)"
echo "total: $SECONDS s"
