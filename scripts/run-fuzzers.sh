#!/usr/bin/env bash
# Runs every libFuzzer driver fuzz/fuzz_<name>.c (built by -DCPM_FUZZ=ON) for
# SECONDS on a temporary copy of its seed corpus fuzz/corpus/<name>/ (the
# checked-in corpus is never modified). A crash, leak, timeout or OOM fails.
#
#   scripts/run-fuzzers.sh BUILD_DIR [SECONDS]     (env FUZZ_JOBS: parallel runs, default 2)
#
# Prints `PASS fuzz_<name> ...` or `FAIL fuzz_<name> ...` per driver, then
# `fuzz: N passed, N failed`. Crash inputs are kept in BUILD_DIR/fuzz-artifacts/.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:?usage: run-fuzzers.sh BUILD_DIR [SECONDS]}
SECS=${2:-${FUZZ_SECONDS:-30}}
JOBS=${FUZZ_JOBS:-2}
BUILD=$(cd "$BUILD" && pwd) || exit 2
ART="$BUILD/fuzz-artifacts"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cpm-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$ART"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

run_one() { # run_one NAME -> writes $WORK/NAME.result
	local name=$1 bin="$BUILD/$1" short=${1#fuzz_} res="$WORK/$1.result" log="$WORK/$1.log"
	local corpus="$WORK/corpus.$short" seeds="$ROOT/fuzz/corpus/$short" extra=""
	if [ ! -x "$bin" ]; then
		echo "FAIL $name (binary $bin missing)" >"$res"
		return
	fi
	mkdir -p "$corpus" "$WORK/art.$name"
	if [ -d "$seeds" ]; then
		cp -r "$seeds"/. "$corpus"/
	else
		extra=" (no seed corpus fuzz/corpus/$short)"
	fi
	local rc=0
	(cd "$WORK/art.$name" && "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$WORK/art.$name/" "$corpus") >"$log" 2>&1 || rc=$?
	local runs cov
	runs=$(sed -n -E 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n1)
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n1 | sed -n -E 's/.*cov: ([0-9]+).*/\1/p')
	if [ $rc -eq 0 ] && ! grep -q -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
		echo "PASS $name (${runs:-?} runs, cov ${cov:-?}, ${SECS}s)$extra" >"$res"
	else
		cp "$WORK/art.$name"/* "$ART"/ 2>/dev/null || true
		{
			echo "FAIL $name (exit $rc; artifacts in $ART)$extra"
			grep -E -A25 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:' "$log" | head -n 60 | sed 's/^/    /'
			tail -n 5 "$log" | sed 's/^/    /'
		} >"$res"
	fi
}

mapfile -t drivers < <(cd "$ROOT/fuzz" 2>/dev/null && ls fuzz_*.c 2>/dev/null | sed 's/\.c$//')
if [ ${#drivers[@]} -eq 0 ]; then
	echo "FAIL fuzz_drivers (no fuzz/fuzz_*.c found)"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi
echo "fuzz: ${#drivers[@]} drivers, ${SECS} s each, $JOBS at a time"
running=0
for d in "${drivers[@]}"; do
	run_one "$d" &
	running=$((running + 1))
	if [ $running -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
pass=0 failc=0
for d in "${drivers[@]}"; do
	cat "$WORK/$d.result"
	if head -n1 "$WORK/$d.result" | grep -q '^PASS'; then pass=$((pass + 1)); else failc=$((failc + 1)); fi
done
echo "fuzz: $pass passed, $failc failed"
[ $failc -eq 0 ]
