#!/usr/bin/env bash
# bench/blast_ab.sh CPMD CPM [PARALLEL] [COUNT] [TRANSPORT]
# One `cpm blast` of COUNT 1 KiB files through one fresh cpmd, with cpmd's data dir, the
# receiver's --dir and the client state in a temp dir under $TMPBASE (default /dev/shm: tmpfs,
# so that the filesystem's inode allocation does not dominate; /var/tmp for ext4). Prints the
# blast line and cpmd's CPU. CPMD and CPM may come from different builds, to tell the server's
# share from the client's (docs/BENCHMARKS.md, issue 7). Knobs: LOGLVL (warn), TAG, PERFOUT
# (a perf.data path: perf record -g of cpmd during the blast).
set -u
CPMD=$1 CPM=$2 PAR=${3:-64} N=${4:-3000} TR=${5:-tcp}
DOMAIN=example.com
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_tmp "${TMPBASE:-/dev/shm}/blast.XXXX"
D=$T
bench_start_cpmd "$D/data" "$D/cpmd.log" --log-level "${LOGLVL:-warn}"
CP=$CPMD_PID SP=$SIP_PORT
mkdir -p "$D/r"
export XDG_STATE_HOME=$D/state
"$CPM" --server "127.0.0.1:$SP" --user sip:bob@example.com --device phone --transport "$TR" \
	receive --dir "$D/r" --count "$N" --timeout 120 >"$D/recv.out" 2>"$D/recv.err" &
RP=$!
PIDS+=("$RP")
sleep 1
if [ -n "${PERFOUT:-}" ]; then
	perf record -e cpu-clock -F 2999 -g -p $CP -o "$PERFOUT" 2>/dev/null &
	PP=$!
	sleep 0.3
fi
"$CPM" --server "127.0.0.1:$SP" --user sip:alice@example.com --device pc --transport "$TR" \
	blast sip:bob@example.com --count "$N" --parallel "$PAR" --size 1024 >"$D/blast.out" 2>"$D/blast.err"
if [ -n "${PERFOUT:-}" ]; then
	kill -INT $PP
	wait $PP 2>/dev/null
fi
echo "${TAG:-blast}: $(grep '^blast ' "$D/blast.out" | tail -1); cpmd cpu $(cpu_ms "$CP") ms"
kill $RP $CP 2>/dev/null
wait 2>/dev/null
