#!/usr/bin/env bash
# THE test command (README): on a fresh Debian 12 as root, or in CI (.ci/run).
#
#   1. scripts/setup.sh (apt packages); scripts/check-layers.sh (the layer rules)
#   2. build with gcc and with clang, both -Werror         (build-gcc; clang: build-asan, or
#      build-clang with SKIP_ASAN=1); the gcc build is -O3 like what scripts/run.sh builds
#      (Release), with -g for the backtraces of a failing test. The clang builds of steps 4-6
#      run in the background at nice 19 while the tests of steps 3-4 run (see bg_builds).
#   3. ctest -j6 on the gcc build: unit + e2e + interop
#   4. clang -DCPM_SANITIZE=ON build, whole ctest suite again under ASan+UBSan
#      (CPM_SANITIZE_RUN=1: size-heavy e2e tests use smaller big files)
#   5. clang -DCPM_TSAN=ON build of the unit tests of threaded code (TSAN_TESTS below: the
#      relay's tee worker, workq), run under ThreadSanitizer with halt_on_error=1 (~1 minute)
#   6. clang -DCPM_FUZZ=ON build, every fuzz/fuzz_*.c for FUZZ_SECONDS (10) s
#
# Exit status 0 only if every step passed. The last line is `N passed, N failed`
# (ctest tests of both passes + fuzzers; a failed build counts as a failure).
# Knobs: FUZZ_SECONDS, JOBS (default 2: builds), CTEST_JOBS (default 6), SKIP_SETUP=1, SKIP_ASAN=1,
# SKIP_TSAN=1, SKIP_FUZZ=1
# (the last three are for local iteration only; CI uses none of them).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
JOBS=${JOBS:-2}
# Tests run 6 at a time on the 2 cores: part of a test's time is waiting (timers, peers, a
# Dovecot or Kamailio starting). Measured 2026-12-04 on the gcc pass (228 tests): -j4 375 s with
# the CPU 81 % busy, -j6 334 s at 93 %. Every test picks its own free ports (tests/e2e/lib.sh
# pick_port) and none assumes an idle machine.
CTEST_JOBS=${CTEST_JOBS:-6}
FUZZ_SECONDS=${FUZZ_SECONDS:-10} # 18 drivers, 2 at a time: 1.5 minutes; the suite stays under 15 minutes
export FUZZ_SECONDS
T0=$(date +%s)
PASSED=0
FAILED=0
SUMMARY=()
LOGS="$ROOT/build-logs"
mkdir -p "$LOGS"

note() { printf '\n==== [%4ds] %s\n' $(($(date +%s) - T0)) "$*"; }
record() { # record pass|fail TEXT
	if [ "$1" = pass ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
	SUMMARY+=("$(printf '%-4s %s' "$([ "$1" = pass ] && echo ok || echo FAIL)" "$2")")
}
step_fail() { # a step that is not a test (setup, build) failed
	FAILED=$((FAILED + 1))
	SUMMARY+=("FAIL $1")
}

# build NAME CC [cmake options...]: configures and builds build-NAME (only the targets in
# BUILD_TARGETS, space-separated, if set) and records the result.
build() {
	note "build build-$1 ($2 ${*:3})"
	_build_run "$@"
	build_record "$1"
}
# _build_run NAME CC [cmake options...]: the build itself; writes "STATUS SECONDS DESCRIPTION"
# to build-logs/NAME.result (safe in a background job: it touches no variable of this shell).
_build_run() {
	local name=$1 cc=$2 t=$(date +%s) rc=0
	shift 2
	cmake --fresh -S . -B "build-$name" -DCMAKE_C_COMPILER="$cc" -DCPM_WERROR=ON "$@" >"$LOGS/$name.configure.log" 2>&1 &&
		cmake --build "build-$name" -j"$JOBS" ${BUILD_TARGETS:+--target $BUILD_TARGETS} >"$LOGS/$name.build.log" 2>&1 || rc=1
	echo "$rc $(($(date +%s) - t)) build-$name ($cc $*)" >"$LOGS/$name.result"
	return $rc
}
# build_record NAME: records the result of build NAME (waiting for it if it runs in the
# background); returns its status.
build_record() {
	local name=$1 rc secs what
	while [ ! -s "$LOGS/$name.result" ]; do
		if [ -n "${BG_BUILDS_PID:-}" ] && ! kill -0 "$BG_BUILDS_PID" 2>/dev/null && [ ! -s "$LOGS/$name.result" ]; then
			step_fail "build build-$name: the background builds ended without it (see build-logs/bg-builds.log)"
			return 1
		fi
		sleep 1
	done
	read -r rc secs what <"$LOGS/$name.result"
	if [ "$rc" = 0 ]; then
		SUMMARY+=("ok   build $what in $secs s")
		return 0
	fi
	cat "$LOGS/$name.configure.log" "$LOGS/$name.build.log" | grep -a -E -B2 -A6 'error|Error' | head -n 120
	tail -n 30 "$LOGS/$name.build.log"
	step_fail "build $what: see build-logs/$name.*.log"
	return 1
}

# run_ctest BUILD_DIR LABEL [REGEX [EXCLUDE]]: runs the whole suite (or the tests REGEX matches,
# "" for all), but not those EXCLUDE matches; records every test.
run_ctest() {
	local dir=$1 label=$2 log="$LOGS/ctest.$2.log" t=$(date +%s)
	note "ctest $label ($dir, -j$CTEST_JOBS${3:+, -R $3}${4:+, -E $4})"
	rm -rf "$LOGS/failed-tests.$label"
	(cd "$dir" && CPM_TEST_ARTIFACTS="$LOGS/failed-tests.$label" ctest -j"$CTEST_JOBS" --output-on-failure --timeout 600 ${3:+-R "$3"} ${4:+-E "$4"}) 2>&1 | tee "$log" |
		grep -a -E --line-buffered 'Test +#|tests passed|FAIL \[|PASS \[|Errors while' || true
	local n=0 name res
	while read -r name res; do
		n=$((n + 1))
		if [ "$res" = Passed ]; then record pass "$label $name"; else record fail "$label $name ($res)"; fi
	done < <(sed -n -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) \.*[ *]*([A-Za-z]+( [A-Za-z]+)?).*/\1 \2/p' "$log")
	if [ $n -eq 0 ]; then
		step_fail "$label: ctest ran no tests (see build-logs/ctest.$label.log)"
	fi
	SUMMARY+=("     ctest $label: $n tests in $(($(date +%s) - t)) s")
}

if [ "${SKIP_SETUP:-0}" != 1 ]; then
	note "setup"
	bash scripts/setup.sh || step_fail "scripts/setup.sh"
fi

# The layer rules (docs/ARCHITECTURE.md §2): a script over the tree.
note "layer rules (scripts/check-layers.sh)"
if bash scripts/check-layers.sh 2>&1 | tee "$LOGS/layers.log"; then
	record pass "layers scripts/check-layers.sh"
else
	record fail "layers scripts/check-layers.sh (see build-logs/layers.log)"
fi

# ThreadSanitizer runs on the unit tests of threaded code only (TSan slows everything ~10x and
# knows nothing of the e2e scripts' processes). One test program per line: a new threaded test
# is one more line (its unit/NAME_worker variant runs too). Every test must wait for the
# threads it started (ft_relay_wait_hashers() for the relay's tee workers) before it exits.
TSAN_TESTS=(
	test_common_disk_ring
	test_net_lazy_hash
	test_net_resume
	test_net_relay
	test_net_store_modes
	test_net_workq
	test_net_loop_call
	test_net_mailbox
	test_net_workers
)
# The fuzz build builds the drivers only: the rest of the tree built with the fuzzer's
# instrumentation runs nowhere.
FUZZ_TARGETS=$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//' | tr '\n' ' ')

# 2+3: gcc build and the suite. The gcc build is scripts/run.sh's Release (-O3, which warns
# about more than -O2) plus -g: the suite runs on the optimisation we ship, and one build checks
# both (a separate Release -Werror build cost ~50 s of the budget).
build gcc gcc -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g
GCC_BUILT=$?
# The clang builds (ASan, TSan, the fuzz drivers: ~160 s of a CI run on 2 cores when they ran
# alone) run one after the other in the background at the lowest CPU priority while the gcc
# pass and then the ASan pass run: a pass leaves ~20 % of the CPU idle (its tests wait on
# timers and peers), and a nice-19 compiler gets little more than those cycles (CFS weight 15
# against 1024 of each test process). Each is waited for before its tests run.
rm -f "$LOGS"/*.result
bg_builds() {
	renice -n 19 -p "$BASHPID" >/dev/null
	[ "${SKIP_ASAN:-0}" = 1 ] || _build_run asan clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCPM_SANITIZE=ON
	[ "${SKIP_TSAN:-0}" = 1 ] || BUILD_TARGETS="${TSAN_TESTS[*]}" _build_run tsan clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCPM_TSAN=ON
	[ "${SKIP_FUZZ:-0}" = 1 ] || BUILD_TARGETS="$FUZZ_TARGETS" _build_run fuzz clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCPM_FUZZ=ON
	return 0
}
note "clang builds started in the background (nice 19): asan tsan fuzz"
bg_builds >"$LOGS/bg-builds.log" 2>&1 &
BG_BUILDS_PID=$!
if [ "$GCC_BUILT" = 0 ]; then
	run_ctest build-gcc gcc
fi
# clang -Werror: the ASan build is clang with -Werror at the same optimisation level and
# builds every target, so a separate clang build only runs when the ASan pass is skipped (it
# cost ~40 s of the 15-minute budget for no new warning).
if [ "${SKIP_ASAN:-0}" = 1 ]; then
	build clang clang -DCMAKE_BUILD_TYPE=RelWithDebInfo || true
fi

# 4: sanitizers.
if [ "${SKIP_ASAN:-0}" != 1 ]; then
	note "waiting for build-asan"
	if build_record asan; then
		# The option variants of tests the pass runs anyway are not run again under ASan (~190 s
		# of test time): workers1/ (the transfer tests with --workers 1, the single-loop code);
		# recvdisk1/ (every file through cpm receive's disk worker, whose paths ASan sees in
		# t_cpm_recv_write_error and test_common_disk_ring); auth/ (the main flows with digest
		# authentication: the digest code is under ASan in t_auth_digest, t_auth_sha256 and
		# test_common_auth); teedirect/ (--relay-tee direct: the O_DIRECT tee is under ASan in
		# unit/test_net_store_modes_direct). The gcc pass runs all of them.
		CPM_SANITIZE_RUN=1 \
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			run_ctest build-asan asan "" '^(workers1|recvdisk1|auth|teedirect)/'
	fi
fi

# 5: ThreadSanitizer (TSAN_TESTS above).
if [ "${SKIP_TSAN:-0}" != 1 ]; then
	note "waiting for build-tsan"
	if build_record tsan; then
		TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
			run_ctest build-tsan tsan "^unit/($(IFS='|'; echo "${TSAN_TESTS[*]}"))(_worker|_direct)?\$"
	fi
fi

# 6: fuzzers.
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
	note "waiting for build-fuzz"
	if build_record fuzz; then
		note "fuzzers (${FUZZ_SECONDS} s each)"
		bash scripts/run-fuzzers.sh build-fuzz "$FUZZ_SECONDS" 2>&1 | tee "$LOGS/fuzz.log"
		nf=0
		while read -r res name rest; do
			nf=$((nf + 1))
			if [ "$res" = PASS ]; then record pass "fuzz $name $rest"; else record fail "fuzz $name $rest"; fi
		done < <(grep -E '^(PASS|FAIL) fuzz_' "$LOGS/fuzz.log")
		[ $nf -gt 0 ] || step_fail "fuzz: no fuzzer ran (see build-logs/fuzz.log)"
	fi
fi
wait "$BG_BUILDS_PID" 2>/dev/null || true

note "summary ($(($(date +%s) - T0)) s)"
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
