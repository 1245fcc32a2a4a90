# shellcheck shell=bash
# Shared helpers for the end-to-end and interop tests (source it; never run it).
#
# Every test is a bash script that starts the real `cpmd` and `cpm` binaries on
# 127.0.0.1. Tests run in parallel (ctest -j2), so nothing here is fixed:
#   - ports are picked at random in 20000-60000 and checked free with `ss`;
#     if cpmd still fails to bind (a race with another test) we retry;
#   - every test works in its own `mktemp -d` directory (data dir, receive
#     dirs, logs), removed at exit unless KEEP_TMP=1 or the test failed with
#     KEEP_FAILED=1;
#   - every process we start is recorded and killed by the EXIT trap.
# At exit every log is searched for sanitizer reports; one report fails the
# test even if all assertions passed. On failure the logs are dumped.
#
# Environment (set by CMake for ctest): CPMD, CPM (binaries), CPM_SRC (source
# tree), CPM_BUILD (build tree). CPM_SANITIZE_RUN=1 is set by scripts/test.sh
# for the ASan pass; CPM_SMALL_FILES=1 makes size-heavy tests use smaller files.
# CPM_TEST_ARTIFACTS=DIR: on failure, logs (and ARTIFACTS) are copied to DIR/<test>/.

set -euo pipefail

T_NAME=$(basename "$0" .sh)
CPM_SRC=${CPM_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CPM_BUILD=${CPM_BUILD:-$CPM_SRC/build}
CPMD=${CPMD:-$CPM_BUILD/cpmd}
CPM=${CPM:-$CPM_BUILD/cpm}
DOMAIN=${DOMAIN:-cpm.test}
HOST=127.0.0.1
E2E_DIR="$CPM_SRC/tests/e2e"
DATA_DIR="$CPM_SRC/tests/data"

T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cpm-$T_NAME.XXXXXX")
LOGDIR="$T_DIR/logs"
mkdir -p "$LOGDIR"

PIDS=()              # every background process we started
ARTIFACTS=()         # extra files copied to $CPM_TEST_ARTIFACTS/<test>/ on failure
CPMD_PID=""
SIP_PORT="" MSRP_PORT=""
CPMD_LOG=""
CPM_TRANSPORT=${CPM_TRANSPORT:-}   # "", udp or tcp: passed to every cpm we start
CPM_GLOBAL_OPTS=${CPM_GLOBAL_OPTS:-} # more global cpm options (e.g. "--chunk-size 2048")
declare -A RECV_PID=() RECV_DIR=() RECV_OUT=() RECV_ERR=()
USED_PORTS=" "
T_START=$EPOCHSECONDS

# The suite's polling loops sleep thousands of times a pass: /bin/sleep is a fork and an exec
# (~6 ms of CPU each on the 2-vCPU test VM, where page faults are dear), bash's loadable sleep
# (package bash-builtins, scripts/setup.sh) none. Same argument syntax for what the tests use.
enable -f /usr/lib/bash/sleep sleep 2>/dev/null || true
# The same for the commands that the tests run most and that bash-builtins has as loadables
# covering the options the tests use (mkdir -p, rm -f/-rf, basename NAME [SUFFIX], dirname,
# cut -c/-d/-f): no exec (a pipeline stage or $(...) still forks, at half the cost).
for _b in mkdir rm basename dirname cut; do enable -f "/usr/lib/bash/$_b" "$_b" 2>/dev/null || true; done
unset _b

# grep: the tests' polls and assertions run `grep -q` about 8000 times a pass (2026-12-04), a
# fork and an exec each. Its common shape, a quiet search of one small text file for a literal
# string (optionally anchored with ^ and $; -F, -x, -s, -a, -E allowed), is answered here
# without either; anything else (other options, a real regular expression, stdin, several
# files, a file of 128 KiB or more) runs grep itself with the same arguments.
GREP_FAST_MAX=131072
grep() {
	local quiet=0 silent=0 fixed=0 ere=0 whole=0 pat="" file nl=$'\n' a
	local -a args=("$@")
	while [ $# -gt 0 ]; do
		case $1 in
		--) shift; break ;;
		-?*)
			[[ $1 =~ ^-[qsaFEx]+$ ]] || { command grep "${args[@]}"; return; }
			[[ $1 == *q* ]] && quiet=1
			[[ $1 == *s* ]] && silent=1
			[[ $1 == *F* ]] && fixed=1
			[[ $1 == *E* ]] && ere=1
			[[ $1 == *x* ]] && whole=1
			shift ;;
		*) break ;;
		esac
	done
	if [ $quiet = 0 ] || [ $# -ne 2 ] || [ -z "$1" ] || [ ! -f "$2" ] || [ ! -r "$2" ]; then
		if [ $quiet = 1 ] && [ $# -eq 2 ] && [ ! -e "$2" ]; then
			[ $silent = 1 ] || echo "grep: $2: No such file or directory" >&2
			return 2
		fi
		command grep "${args[@]}"
		return
	fi
	pat=$1 file=$2
	[[ $pat != *$nl* ]] || { command grep "${args[@]}"; return; } # several patterns
	local head="" tail=""
	if [ $fixed = 0 ]; then
		[[ $pat == ^* ]] && head=$nl pat=${pat#^}
		[[ $pat == *'$' && $pat != *'\$' ]] && tail=$nl pat=${pat%'$'}
		a='[].[*^$\\]'
		[ $ere = 1 ] && a='[].[*^$\\+?(){}|]'
		if [ -z "$pat" ] || [[ $pat =~ $a ]]; then
			command grep "${args[@]}"
			return
		fi
	fi
	[ $whole = 1 ] && head=$nl tail=$nl
	_log_text "$file" || { command grep "${args[@]}"; return; }
	[[ $nl$LOG_TEXT$nl == *"$head$pat$tail"* ]]
}

# _log_text FILE: FILE's text (at most GREP_FAST_MAX characters) into LOG_TEXT, without a fork;
# status 1 if the file is longer (or cannot be read), then LOG_TEXT holds its beginning.
_log_text() {
	LOG_TEXT=""
	[ -r "$1" ] || return 1
	IFS= read -r -d '' -N "$GREP_FAST_MAX" LOG_TEXT <"$1" || true
	[ ${#LOG_TEXT} -lt "$GREP_FAST_MAX" ]
}

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$T_NAME" -1 "$*" >&2; }

dump_logs() {
	local f
	for f in "$LOGDIR"/*; do
		[ -f "$f" ] || continue
		echo "----- $(basename "$f") ($(wc -l <"$f") lines, last 80) -----" >&2
		tail -n 80 "$f" | cut -c1-400 >&2
	done
	echo "----- end of logs -----" >&2
}

# fail MESSAGE: stop the test here; the EXIT trap dumps the logs.
fail() {
	echo "FAIL [$T_NAME]: $*" >&2
	exit 1
}

# stop_pid PID [GRACE_S]: SIGTERM, wait up to GRACE_S, then SIGKILL. Sets
# STOP_RC to the exit status, or "killed". (No command substitution: a
# subshell cannot `wait` for our children.)
stop_pid() {
	local pid=$1 grace=${2:-5} i
	STOP_RC=0
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null || STOP_RC=$?
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		STOP_RC=killed
		return 0
	fi
	wait "$pid" 2>/dev/null || STOP_RC=$?
}

# Sanitizer reports in any log (ASan, LSan, UBSan): prints the files.
sanitizer_reports() {
	grep -l -E 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer' \
		"$LOGDIR"/* 2>/dev/null || true
}

_cleanup() {
	local rc=$? pid st bad
	trap - EXIT
	set +e
	# cpmd last, so that it sees its peers go away first.
	for pid in "${PIDS[@]}"; do
		[ "$pid" = "$CPMD_PID" ] && continue
		stop_pid "$pid" 3
	done
	if [ -n "$CPMD_PID" ]; then
		stop_pid "$CPMD_PID" 10
		st=$STOP_RC
		case "$st" in
		0 | 143) ;;
		killed)
			# design §7: clean shutdown on SIGTERM; and LeakSanitizer only
			# reports on a normal exit, so a hang would hide leaks.
			echo "FAIL [$T_NAME]: cpmd did not exit within 10 s of SIGTERM (killed with SIGKILL)" >&2
			[ $rc -eq 0 ] && rc=1
			;;
		*)
			echo "FAIL [$T_NAME]: cpmd exited with status $st after SIGTERM (crash or sanitizer abort?)" >&2
			[ $rc -eq 0 ] && rc=1
			;;
		esac
	fi
	bad=$(sanitizer_reports)
	if [ -n "$bad" ]; then
		echo "FAIL [$T_NAME]: sanitizer report(s) in: $bad" >&2
		for f in $bad; do
			echo "----- $(basename "$f") (sanitizer report) -----" >&2
			grep -n -A40 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$f" | head -n 120 >&2
		done
		[ $rc -eq 0 ] && rc=1
	fi
	if [ $rc -ne 0 ]; then
		dump_logs
		echo "FAIL [$T_NAME] after $((EPOCHSECONDS - T_START)) s (tmp dir: $T_DIR)" >&2
		if [ -n "${CPM_TEST_ARTIFACTS:-}" ]; then
			local keep="$CPM_TEST_ARTIFACTS/$T_NAME"
			rm -rf "$keep"
			mkdir -p "$keep"
			cp -r "$LOGDIR"/. "$keep"/ 2>/dev/null
			for f in "${ARTIFACTS[@]}"; do cp -r "$f" "$keep"/ 2>/dev/null; done
			echo "logs kept in $keep" >&2
		fi
	else
		echo "PASS [$T_NAME] in $((EPOCHSECONDS - T_START)) s" >&2
	fi
	if [ "${KEEP_TMP:-0}" = 1 ] || { [ $rc -ne 0 ] && [ "${KEEP_FAILED:-0}" = 1 ]; }; then
		echo "kept $T_DIR" >&2
	else
		rm -rf "$T_DIR"
	fi
	[ -z "${CPM_TEST_CPU_LOG:-}" ] || _cpu_log "$rc"
	exit $rc
}
trap _cleanup EXIT

# CPM_TEST_CPU_LOG=FILE: each test appends "NAME RC WALL_S CPU_S", CPU_S being the user + system
# time of the test's shell and of every process it waited for (cpmd, cpm, tshark...): where the
# suite's CPU goes, which is what its duration on 2 cores is made of (docs/TESTING.md).
_cpu_log() {
	local line cpu=0 m s f tf="$CPM_TEST_CPU_LOG.$$"
	times >"$tf" # in this shell: a subshell's `times` would count the subshell's own
	while read -r line; do
		for f in $line; do
			[[ $f =~ ^([0-9]+)m([0-9]+)\.([0-9]+)s$ ]] || continue
			m=${BASH_REMATCH[1]} s=${BASH_REMATCH[2]}
			cpu=$((cpu + m * 60000 + s * 1000 + 10#${BASH_REMATCH[3]}))
		done
	done <"$tf"
	rm -f "$tf"
	printf '%s %s %s %d.%03d\n' "$T_NAME" "$1" "$((EPOCHSECONDS - T_START))" $((cpu / 1000)) $((cpu % 1000)) >>"$CPM_TEST_CPU_LOG"
}
trap 'exit 130' INT TERM

need_bin() {
	local b
	for b in "$@"; do
		[ -x "$b" ] || fail "binary missing or not executable: $b (build first; see docs/TESTING.md)"
	done
}
need_bin "$CPMD" "$CPM"

# _port_busy PORT: a TCP or UDP socket of any state has PORT as its local (or remote) port: what
# `ss -Htuna "( sport = :PORT )"` tells, read from /proc/net in bash (no fork).
_port_busy() {
	local h f t
	printf -v h ':%04X ' "$1"
	for f in /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6; do
		[ -r "$f" ] || continue
		t=$(<"$f")
		[[ $t != *"$h"* ]] || return 0
	done
	return 1
}

# _pick_port: a free port in 20000-60000 (TCP and UDP), never twice in one test, into PORT.
# pick_port prints one, for $(pick_port). Every port handed out is also appended to
# $LOGDIR/.ports (a dot file: not dumped, not scanned): one picked in a subshell, as
# $(pick_port) is, never reaches the shell's USED_PORTS, and a later start_cpmd must not pick
# it again before the test binds it.
_pick_port() {
	local p i used=$USED_PORTS
	[ ! -r "$LOGDIR/.ports" ] || used+=$(<"$LOGDIR/.ports")
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		case "$used " in *" $p "*) continue ;; esac
		if ! _port_busy "$p"; then
			USED_PORTS="$USED_PORTS$p "
			printf ' %s ' "$p" >>"$LOGDIR/.ports"
			PORT=$p
			return 0
		fi
	done
	fail "no free port found"
}
pick_port() {
	_pick_port
	echo "$PORT"
}
pick_port_block() {
	local n=$1 p i j ok used=$USED_PORTS
	[ ! -r "$LOGDIR/.ports" ] || used+=$(<"$LOGDIR/.ports")
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 39990))
		ok=1
		for ((j = 0; j < n; j++)); do
			case "$used " in *" $((p + j)) "*) ok=0 ;; esac
			! _port_busy $((p + j)) || ok=0
		done
		if [ $ok = 1 ]; then
			for ((j = 0; j < n; j++)); do
				USED_PORTS="$USED_PORTS$((p + j)) "
				printf ' %s ' $((p + j)) >>"$LOGDIR/.ports"
			done
			echo "$p"
			return 0
		fi
	done
	fail "no block of $n free ports found"
}

# wait_for TIMEOUT_S DESCRIPTION COMMAND...: poll COMMAND every 0.1 s.
wait_for() {
	local t=$1 what=$2 i
	shift 2
	for ((i = 0; i < t * 10; i++)); do
		if "$@"; then return 0; fi
		sleep 0.1
	done
	fail "timed out after ${t}s waiting for: $what"
}

# start_cpmd [extra cpmd options...]: starts cpmd on fresh ports with its own
# data dir, waits for "cpmd: ready" on stderr (at most CPMD_READY_S, default 15: the
# benchmarks start cpmd on a store of 1M items). Sets SIP_PORT, MSRP_PORT,
# CPMD_PID, CPMD_LOG, CPMD_DATA.
CPMD_N=0
start_cpmd() {
	local attempt i
	for attempt in 1 2 3 4 5; do
		CPMD_N=$((CPMD_N + 1))
		_pick_port
		SIP_PORT=$PORT
		_pick_port
		MSRP_PORT=$PORT
		CPMD_DATA="$T_DIR/cpmd-data.$CPMD_N"
		CPMD_LOG="$LOGDIR/cpmd.$CPMD_N.log"
		mkdir -p "$CPMD_DATA"
		_cpmd_opts
		"$CPMD" --domain "$DOMAIN" --sip "$HOST:$SIP_PORT" --msrp "$HOST:$MSRP_PORT" \
			--data-dir "$CPMD_DATA" "${CPMD_EXTRA[@]}" "$@" </dev/null >"$LOGDIR/cpmd.$CPMD_N.stdout" 2>"$CPMD_LOG" &
		CPMD_PID=$!
		PIDS+=("$CPMD_PID")
		for ((i = 0; i < ${CPMD_READY_S:-15} * 10; i++)); do
			if grep -q 'cpmd: ready' "$CPMD_LOG"; then
				log "cpmd pid $CPMD_PID ready: sip $SIP_PORT msrp $MSRP_PORT data $CPMD_DATA"
				return 0
			fi
			kill -0 "$CPMD_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$CPMD_PID" 2>/dev/null; then
			fail "cpmd (pid $CPMD_PID) did not print 'cpmd: ready' within ${CPMD_READY_S:-15} s"
		fi
		local rc=0
		wait "$CPMD_PID" || rc=$?
		if grep -qiE 'in use|bind' "$CPMD_LOG"; then
			log "cpmd could not bind (attempt $attempt, rc $rc), retrying on other ports"
			continue
		fi
		fail "cpmd exited with status $rc before 'cpmd: ready'"
	done
	fail "cpmd could not bind after 5 attempts"
}

# stop_cpmd: SIGTERM cpmd now (e.g. to start another one in the same test);
# fails unless it exits 0 (or by the signal) within 10 s.
stop_cpmd() {
	[ -n "$CPMD_PID" ] || return 0
	stop_pid "$CPMD_PID" 10
	local st=$STOP_RC
	CPMD_PID=""
	case "$st" in
	0 | 143) ;;
	*) fail "cpmd exit status '$st' after SIGTERM (0 expected)" ;;
	esac
}

# cpmd_alive: fail (with cpmd's exit status) if cpmd is no longer running.
cpmd_alive() {
	[ -n "$CPMD_PID" ] || return 0
	if ! kill -0 "$CPMD_PID" 2>/dev/null; then
		local st=0
		wait "$CPMD_PID" || st=$?
		CPMD_PID=""
		fail "cpmd is not running any more (exit status $st)"
	fi
}

# Options every cpm gets: server, user, transport.
# CPM_AUTH=1 runs a test with digest authentication on (docs/security.md): start_cpmd gives
# cpmd --users $T_DIR/users, and every user a cpm runs as becomes a subscriber (password
# "pw-USER") the first time: appended to the file, then cpmd reloads it (SIGHUP) before the
# cpm starts. The tests registered as auth/* in CMakeLists.txt run this way.
CPM_AUTH=${CPM_AUTH:-}
AUTH_USERS="$T_DIR/users"
_auth_user() { # USER
	local line="$1@$DOMAIN pw-$1" n i
	grep -q -x -F "$line" "$AUTH_USERS" 2>/dev/null && return 0
	printf '%s\n' "$line" >>"$AUTH_USERS"
	n=$(grep -c . "$AUTH_USERS")
	[ -n "$CPMD_PID" ] && kill -0 "$CPMD_PID" 2>/dev/null || return 0
	kill -HUP "$CPMD_PID"
	for ((i = 0; i < 100; i++)); do
		grep -q -F "subscriber list $AUTH_USERS: $n subscriber" "$CPMD_LOG" && return 0
		sleep 0.05
	done
	echo "lib.sh: cpmd did not reload $AUTH_USERS with $n subscribers" >&2
}

# cpmd's options for CPM_AUTH=1 (none otherwise); T_DIR has no blank in its name (mktemp)
# CPMD_WORKERS=N: every cpmd of the test runs with --workers N (issue 12; CMake's workers1/
# tests run the transfer tests with 1, the one-loop cpmd of before; unset: cpmd's default).
# CPMD_RELAY_TEE=direct|cached: --relay-tee (CMake's teedirect/ tests).
# _cpmd_opts: the options every cpmd of the test gets from the environment (CPMD_WORKERS,
# CPMD_RELAY_TEE, CPM_AUTH) into the array CPMD_EXTRA, without a fork (start_cpmd, restarts).
_cpmd_opts() {
	CPMD_EXTRA=()
	[ -z "${CPMD_WORKERS:-}" ] || CPMD_EXTRA+=(--workers "$CPMD_WORKERS")
	[ -z "${CPMD_RELAY_TEE:-}" ] || CPMD_EXTRA+=(--relay-tee "$CPMD_RELAY_TEE")
	if [ -n "$CPM_AUTH" ]; then
		[ -e "$AUTH_USERS" ] || : >"$AUTH_USERS"
		CPMD_EXTRA+=(--users "$AUTH_USERS")
	fi
	return 0
}

# _cpm_args USER [DEVICE]: cpm's global options for USER into the array CPM_ARGS (no fork);
# _cpm_base prints them one per line (for `mapfile -t base < <(_cpm_base USER)`).
_cpm_args() {
	CPM_ARGS=(--server "$HOST:$SIP_PORT" --user "sip:$1@$DOMAIN")
	if [ -n "$CPM_AUTH" ]; then
		_auth_user "$1"
		CPM_ARGS+=(--password "pw-$1")
	fi
	[ -z "${2:-}" ] || CPM_ARGS+=(--device "$2")
	[ -z "$CPM_TRANSPORT" ] || CPM_ARGS+=(--transport "$CPM_TRANSPORT")
	# shellcheck disable=SC2206 # CPM_GLOBAL_OPTS: extra global options, space-separated
	[ -z "$CPM_GLOBAL_OPTS" ] || CPM_ARGS+=($CPM_GLOBAL_OPTS)
	return 0
}
_cpm_base() { # USER [DEVICE]
	_cpm_args "$@"
	printf '%s\n' "${CPM_ARGS[@]}"
}

# Number of registration lines for USER in cpmd's log (grep loosely).
reg_count() {
	grep -i 'regist' "$CPMD_LOG" 2>/dev/null | grep -c -F "$1@$DOMAIN" || true
}

# _reg_mark: where cpmd's log ends now, into REG_MARK ("c:CHARS" while the log is small, else
# "n:REGISTRATION-LINES"); _reg_new USER: a registration line for USER after that mark.
# start_receiver polls this ten times a second: bash only (no fork) while the log is small.
# (tests/core/lib_core.sh redefines both, and _cpm_args, for cpm and cpmd behind Kamailio.)
_reg_mark() {
	if _log_text "$CPMD_LOG"; then
		REG_MARK=c:${#LOG_TEXT}
	else
		REG_MARK=n:$(reg_count "$1")
	fi
}
_reg_new() {
	local u="${1,,}@${DOMAIN,,}" nl=$'\n' new re="[^"$'\n'"]*"
	if [[ $REG_MARK == c:* ]]; then
		if _log_text "$CPMD_LOG"; then
			new=${LOG_TEXT:${REG_MARK#c:}}
			new=${new,,}
			[[ $new =~ regist$re"$u" || $new =~ "$u"${re}regist ]]
			return
		fi
		# the log outgrew what bash reads: the part after the mark, counted (no `grep -q` at the
		# end of a pipeline: under pipefail its early exit fails the pipeline with SIGPIPE)
		new=$(command tail -c +$((${REG_MARK#c:} + 1)) "$CPMD_LOG" | command grep -i regist |
			command grep -c -i -F "$u" || true)
		[ "${new:-0}" -gt 0 ]
		return
	fi
	[ "$(reg_count "$1")" -gt "${REG_MARK#n:}" ]
}

# start_receiver NAME USER DEVICE [receive options...]: starts
# `cpm ... receive --dir DIR ...` and waits until cpmd logged its registration.
start_receiver() {
	local name=$1 user=$2 dev=$3
	shift 3
	local dir="$T_DIR/recv.$name" out="$LOGDIR/recv.$name.out" err="$LOGDIR/recv.$name.err"
	mkdir -p "$dir"
	local cpmd_up
	_reg_mark "$user"
	_cpm_args "$user" "$dev"
	"$CPM" "${CPM_ARGS[@]}" receive --dir "$dir" "$@" </dev/null >"$out" 2>"$err" &
	local pid=$!
	PIDS+=("$pid")
	RECV_PID[$name]=$pid RECV_DIR[$name]=$dir RECV_OUT[$name]=$out RECV_ERR[$name]=$err
	local i
	for ((i = 0; i < 150; i++)); do
		# Whether cpmd runs is looked at BEFORE its log: a test may kill cpmd as soon as a
		# delivery to the new device starts (t_crash_safety), right after the registration line.
		cpmd_up=1
		[ -z "$CPMD_PID" ] || kill -0 "$CPMD_PID" 2>/dev/null || cpmd_up=0
		if _reg_new "$user"; then
			log "receiver $name ($user/$dev, pid $pid) registered"
			sleep 0.1 # let cpmd finish storing the binding after logging it
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			# A receiver with --count can register, take what waited for it and
			# exit between two looks: registered is what counts (its exit status
			# is the caller's to check, e.g. with wait_exit).
			if _reg_new "$user"; then
				log "receiver $name ($user/$dev, pid $pid) registered (and has already exited)"
				return 0
			fi
			local rc=0
			wait "$pid" || rc=$?
			fail "receiver $name exited (status $rc) before registering"
		fi
		[ $cpmd_up = 1 ] || cpmd_alive
		sleep 0.1
	done
	fail "receiver $name ($user/$dev): no registration line for $user@$DOMAIN in cpmd's log within 15 s"
}

# wait_exit PID TIMEOUT_S: sets WAIT_RC to the exit status, or "timeout".
wait_exit() {
	local pid=$1 t=$2 i
	WAIT_RC=0
	for ((i = 0; i < t * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" || WAIT_RC=$?
			return 0
		fi
		[ "$pid" = "$CPMD_PID" ] || cpmd_alive
		sleep 0.1
	done
	WAIT_RC=timeout
	proc_report "$pid"
}

# proc_report PID: what a process that should have exited is doing, on stderr (the test's log):
# its state, each thread's system call, kernel wait channel and CPU over one second (spinning or
# blocked?), and the threads' stacks when gdb is there. For hangs seen once in a full-suite run.
proc_report() {
	local pid=$1 t stat cpu0=() i=0
	if [ ! -r "/proc/$pid/status" ]; then
		echo "----- pid $pid: gone" >&2
		return 0
	fi
	{
		echo "----- pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-300)) is still there"
		grep -E '^(State|Threads):' "/proc/$pid/status"
		for t in /proc/"$pid"/task/*; do
			read -r stat <"$t/stat" || continue
			stat=${stat##*) } # past the command name: field 3 onwards
			read -r -a f <<<"$stat"
			cpu0[i++]=$((f[11] + f[12]))
		done
		sleep 1
		i=0
		for t in /proc/"$pid"/task/*; do
			read -r stat <"$t/stat" || continue
			stat=${stat##*) }
			read -r -a f <<<"$stat"
			echo "thread ${t##*/}: state ${f[0]}, cpu ticks in 1 s $((f[11] + f[12] - cpu0[i++])), wchan $(<"$t/wchan"), syscall $(<"$t/syscall")"
		done
		if command -v gdb >/dev/null; then
			timeout 60 gdb -p "$pid" -batch -nx -ex 'thread apply all bt' 2>&1 | grep -E '^(#|Thread )'
		fi
		echo "----- end of pid $pid"
	} >&2 2>/dev/null || true
}

# The recipient's URI: a user of DOMAIN ("bob"), a user of another domain ("bob@example.net"),
# or a sip: URI as it is.
# _uri ADDR sets URI (no fork); _to_uri ADDR prints it.
_uri() {
	case "$1" in sip:*) URI=$1 ;; *@*) URI=sip:$1 ;; *) URI=sip:$1@$DOMAIN ;; esac
}
_to_uri() {
	_uri "$1"
	echo "$URI"
}

# last_line FILE: FILE's last line into LAST_LINE ("" if none), without a fork (small files:
# the clients' outputs).
last_line() {
	local -a l=()
	LAST_LINE=""
	[ -r "$1" ] && mapfile -t l <"$1"
	[ ${#l[@]} -eq 0 ] || LAST_LINE=${l[-1]}
	return 0
}

# send_file NAME FROM_USER TO_USER FILE [send options...]: runs `cpm send`
# and waits for it (at most SEND_TIMEOUT, default 120 s). Sets SEND_RC,
# SEND_LAST (last stdout line), SEND_OUT, SEND_ERR. Fails the test at once if
# cpmd dies meanwhile; otherwise never fails by itself.
send_file() {
	local name=$1 from=$2 to=$3 file=$4
	shift 4
	SEND_OUT="$LOGDIR/send.$name.out" SEND_ERR="$LOGDIR/send.$name.err"
	local pid i limit=$((${SEND_TIMEOUT:-120} * 10))
	_cpm_args "$from"
	_uri "$to"
	"$CPM" "${CPM_ARGS[@]}" send "$URI" "$file" "$@" </dev/null >"$SEND_OUT" 2>"$SEND_ERR" &
	pid=$!
	PIDS+=("$pid")
	SEND_RC=timeout
	for ((i = 0; i < limit; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			SEND_RC=0
			wait "$pid" || SEND_RC=$?
			break
		fi
		cpmd_alive
		sleep 0.05
	done
	if [ "$SEND_RC" = timeout ]; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		SEND_RC=124
		log "send $name: still running after ${SEND_TIMEOUT:-120} s, killed"
	fi
	last_line "$SEND_OUT"
	SEND_LAST=$LAST_LINE
	log "send $name: rc=$SEND_RC last line: $SEND_LAST"
}

# send_file_bg NAME FROM TO FILE [options...]: same, in the background (SEND_PID).
send_file_bg() {
	local name=$1 from=$2 to=$3 file=$4
	shift 4
	SEND_OUT="$LOGDIR/send.$name.out" SEND_ERR="$LOGDIR/send.$name.err"
	_cpm_args "$from"
	_uri "$to"
	"$CPM" "${CPM_ARGS[@]}" send "$URI" "$file" "$@" </dev/null >"$SEND_OUT" 2>"$SEND_ERR" &
	SEND_PID=$!
	PIDS+=("$SEND_PID")
}

# expect_delivered: the last send printed `delivered` and exited 0.
expect_delivered() {
	[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = delivered ] ||
		fail "expected sender exit 0 and last line 'delivered'; got exit $SEND_RC, last line '$SEND_LAST'"
}

gen_file() { # gen_file PATH SIZE_BYTES (head exits non-zero if it could not write them all)
	head -c "$2" /dev/urandom >"$1" || fail "could not create $1 ($2 bytes)"
}

sha1() { sha1sum <"$1" | cut -d" " -f1; }

# received_line NAME SHA1: the receiver's `received PATH SIZE SHA1` line for
# that hash (PATH may contain spaces: SIZE and SHA1 are the last two fields).
received_line() {
	_received_line "$@"
	[ -z "$RECV_LINE" ] || printf '%s\n' "$RECV_LINE"
}
# _received_line NAME SHA1: the same into RECV_LINE ("" if none), without a fork.
_received_line() {
	local l
	local -a lines=()
	RECV_LINE=""
	[ -r "${RECV_OUT[$1]}" ] && mapfile -t lines <"${RECV_OUT[$1]}"
	for l in "${lines[@]}"; do
		if [[ $l == "received "*" $2" ]]; then
			RECV_LINE=$l
			return 0
		fi
	done
	return 0
}

# assert_received NAME SRC_FILE: receiver NAME printed `received PATH SIZE SHA1`
# for SRC_FILE, PATH is inside its --dir, and the file is byte-identical.
# Sets GOT_PATH.
assert_received() {
	local name=$1 src=$2 h size line rest path rsize rsha real dirreal
	# (a few forks only: this runs ~400 times a pass)
	{ read -r h _ && read -r size; } < <(sha1sum <"$src" && wc -c <"$src") || true
	_received_line "$name" "$h"
	line=$RECV_LINE
	[ -n "$line" ] || fail "receiver $name printed no 'received ... $size $h' line for $(basename "$src")"
	rest=${line#received }
	rsha=${rest##* }
	rest=${rest% *}
	rsize=${rest##* }
	path=${rest% *}
	[ "$rsize" = "$size" ] || fail "receiver $name: size $rsize printed, $size expected ($line)"
	[ "$rsha" = "$h" ] || fail "receiver $name: sha1 $rsha printed, $h expected"
	[ -f "$path" ] || fail "receiver $name: printed path '$path' is not a file"
	{ read -r real && read -r dirreal; } < <(realpath -e -- "$path" "${RECV_DIR[$name]}") || true
	case "$real" in "$dirreal"/*) ;; *) fail "receiver $name: '$real' is outside --dir $dirreal" ;; esac
	# byte-identical to the source, whose sha-1 the line carries (so the file's is the same)
	cmp -s -- "$src" "$path" || fail "receiver $name: '$path' differs from $(basename "$src") (cmp)"
	GOT_PATH=$path
}

assert_grep() { # assert_grep FILE EREGEX [message]
	grep -q -a -E -- "$2" "$1" || fail "${3:-expected /$2/ in $(basename "$1")}"
}
assert_no_grep() {
	! grep -q -a -E -- "$2" "$1" || fail "${3:-unexpected /$2/ in $(basename "$1")}: $(grep -a -m3 -E -- "$2" "$1")"
}
# Files (any kind, recursively) in a directory, one per line.
files_in() { [ -d "$1" ] || return 0; find "$1" -mindepth 1 \( -type f -o -type l \) -print 2>/dev/null; }
assert_dir_empty() { # assert_dir_empty DIR message
	local f
	f=$(files_in "$1")
	[ -z "$f" ] || fail "${2:-$1 not empty}: $(echo "$f" | head -5 | tr '\n' ' ')"
}

# Size of the "big" file in bytes: $1 MiB. CPM_SMALL_FILES=1 divides it by 5
# (for slow machines; scripts/test.sh does not set it: measured on 2 cores,
# the 100 MiB and 200 MiB transfers take ~3 s and ~2 s even under ASan).
big_size() {
	if [ "${CPM_SMALL_FILES:-0}" = 1 ]; then echo $((${1:-100} * 1048576 / 5)); else echo $((${1:-100} * 1048576)); fi
}

# --- SIPp (interop tests) ------------------------------------------------------
SIPP_DIR="$CPM_SRC/tests/interop/sipp"

# N consecutive free ports (SIPp's -mp uses mp..mp+3 for RTP/RTCP).

# Common SIPp options: own ports, no stdin, all traces into $LOGDIR/sipp.NAME.*
# Sets SIPP_ARGS (no subshell, so that USED_PORTS is kept).
_sipp_args() { # NAME
	local n=$1 p mp
	p=$(pick_port)
	USED_PORTS="$USED_PORTS$p "
	mp=$(pick_port_block 4)
	USED_PORTS="$USED_PORTS$mp $((mp + 1)) $((mp + 2)) $((mp + 3)) "
	SIPP_ARGS=(-i "$HOST" -p "$p" -mp "$mp" -nostdin
		-trace_err -error_file "$LOGDIR/sipp.$n.errors"
		-trace_msg -message_file "$LOGDIR/sipp.$n.messages"
		-trace_logs -log_file "$LOGDIR/sipp.$n.log"
		-trace_screen -screen_file "$LOGDIR/sipp.$n.screen")
}

# start_sipp NAME [sipp arguments...]: in the background (SIPP_PID[NAME]).
declare -A SIPP_PID=()
start_sipp() {
	local n=$1
	shift
	command -v sipp >/dev/null || fail "sipp not installed (scripts/setup.sh installs sip-tester)"
	_sipp_args "$n"
	(cd "$T_DIR" && exec sipp "${SIPP_ARGS[@]}" "$@" </dev/null >"$LOGDIR/sipp.$n.stdout" 2>&1) &
	SIPP_PID[$n]=$!
	PIDS+=("${SIPP_PID[$n]}")
	log "sipp $n (pid ${SIPP_PID[$n]}): $*"
}

# run_sipp NAME [sipp arguments...]: in the foreground, bounded; sets SIPP_RC.
run_sipp() {
	local n=$1
	shift
	command -v sipp >/dev/null || fail "sipp not installed (scripts/setup.sh installs sip-tester)"
	_sipp_args "$n"
	SIPP_RC=0
	(cd "$T_DIR" && exec timeout -k 5 90 sipp "${SIPP_ARGS[@]}" "$@" </dev/null >"$LOGDIR/sipp.$n.stdout" 2>&1) || SIPP_RC=$?
	log "sipp $n exited $SIPP_RC"
}

# sipp_clean NAME: SIPp logged no failed <ereg check_it> (in an out-of-call
# scenario such a failure does not fail the call, so look for it here).
sipp_clean() {
	local f="$LOGDIR/sipp.$1.errors"
	[ -f "$f" ] || return 0
	! grep -q -a 'Failed regexp match' "$f" ||
		fail "SIPp $1: $(grep -a -o 'Failed regexp match[^\t]*' "$f" | head -n 3 | cut -c1-300)"
}

# throttle_until PID SECONDS CMD...: run PID in 2 ms slices (SIGCONT, sleep,
# SIGSTOP) until CMD succeeds, and leave it STOPPED. For killing a process at
# a point of a transfer that, on loopback, would otherwise be over between two
# polls (a 40 MB push takes ~60 ms). Returns 1 (process continued) when CMD did
# not succeed within SECONDS or the process is gone.
throttle_until() {
	local pid=$1 secs=$2
	shift 2
	local end=$((SECONDS + secs))
	kill -STOP "$pid" 2>/dev/null || return 1
	while ! "$@"; do
		if [ "$SECONDS" -ge "$end" ]; then
			kill -CONT "$pid" 2>/dev/null
			return 1
		fi
		kill -CONT "$pid" 2>/dev/null || return 1
		sleep 0.002
		kill -STOP "$pid" 2>/dev/null || return 1
	done
	return 0
}

# cpmd_refused NAME WORD cpmd-args...: cpmd exits 2 (usage) with a message holding WORD, never
# says ready, and creates no data directory.
cpmd_refused() {
	local name=$1 word=$2 rc=0
	shift 2
	timeout -k 2 10 "$CPMD" --sip "$HOST:$(pick_port)" --data-dir "$T_DIR/data.$name" "$@" \
		</dev/null >"$LOGDIR/cpmd.$name.log" 2>&1 || rc=$?
	[ $rc -eq 2 ] || fail "$name: cpmd exit $rc, 2 (usage) expected: $(head -n 2 "$LOGDIR/cpmd.$name.log")"
	assert_no_grep "$LOGDIR/cpmd.$name.log" 'cpmd: ready'
	grep -q -F -e "$word" "$LOGDIR/cpmd.$name.log" ||
		fail "$name: the error does not say '$word': $(head -n 2 "$LOGDIR/cpmd.$name.log")"
	[ ! -e "$T_DIR/data.$name" ] || fail "$name: cpmd created its data directory"
	log "$name: $(head -n 1 "$LOGDIR/cpmd.$name.log")"
}

# --- standalone messages (docs/internals/messaging.md) ---------------------------

# send_message NAME FROM TARGET TEXT [message options...]: runs `cpm message` and
# waits for it (at most 60 s). Sets MSG_RC, MSG_LAST (last stdout line), MSG_ID
# (the message-id from stderr), MSG_OUT, MSG_ERR. TARGET: a user of DOMAIN, or a
# sip: URI. Fails the test at once if cpmd dies meanwhile.
send_message() {
	local name=$1 from=$2 to=$3 text=$4 pid i
	shift 4
	MSG_OUT="$LOGDIR/message.$name.out" MSG_ERR="$LOGDIR/message.$name.err"
	_uri "$to"
	to=$URI
	_cpm_args "$from"
	"$CPM" "${CPM_ARGS[@]}" message "$to" "$text" "$@" </dev/null >"$MSG_OUT" 2>"$MSG_ERR" &
	pid=$!
	PIDS+=("$pid")
	MSG_RC=timeout
	for ((i = 0; i < 1200; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			MSG_RC=0
			wait "$pid" || MSG_RC=$?
			break
		fi
		cpmd_alive
		sleep 0.05
	done
	[ "$MSG_RC" = timeout ] && fail "message $name: cpm message still running after 60 s"
	last_line "$MSG_OUT"
	MSG_LAST=$LAST_LINE
	MSG_ID=""
	local l
	[ -r "$MSG_ERR" ] && while IFS= read -r l; do
		[[ $l == "cpm: message-id "* ]] && { MSG_ID=${l#cpm: message-id }; break; }
	done <"$MSG_ERR"
	log "message $name: rc=$MSG_RC last line: $MSG_LAST (id $MSG_ID)"
}

# expect_message_result NAME RC LAST: the last `cpm message` ended so.
expect_message_result() {
	[ "$MSG_RC" = "$2" ] && [ "$MSG_LAST" = "$3" ] ||
		fail "message $1: expected exit $2 and last line '$3'; got exit $MSG_RC, last line '$MSG_LAST'"
	[ -n "$MSG_ID" ] || fail "message $1: no 'cpm: message-id ID' on stderr"
}

# count_lines FILE LINE: how many lines of FILE are exactly LINE.
count_lines() { grep -c -x -F -- "$2" "$1" 2>/dev/null || true; }

# restart_cpmd SIGNAL [cpmd options...]: stop cpmd with SIGNAL (KILL: a crash; TERM: a clean
# stop, waited for), start it again on the same ports and data directory (the options of the
# first start are not repeated). restart_cpmd_kill9 [cpmd options...] = restart_cpmd KILL.
RESTARTS=${RESTARTS:-0}
restart_cpmd() {
	local sig=$1
	shift
	kill -"$sig" "$CPMD_PID"
	wait "$CPMD_PID" 2>/dev/null || true
	RESTARTS=$((RESTARTS + 1))
	log "cpmd killed with SIG$sig; starting it again on the same ports and data dir"
	CPMD_LOG="$LOGDIR/cpmd.restart$RESTARTS.log"
	_cpmd_opts
	"$CPMD" --domain "$DOMAIN" --sip "$HOST:$SIP_PORT" --msrp "$HOST:$MSRP_PORT" --data-dir "$CPMD_DATA" "${CPMD_EXTRA[@]}" "$@" \
		</dev/null >"$LOGDIR/cpmd.restart$RESTARTS.stdout" 2>"$CPMD_LOG" &
	CPMD_PID=$!
	PIDS+=("$CPMD_PID")
	wait_for 15 "the restarted cpmd to be ready" grep -qs 'cpmd: ready' "$CPMD_LOG"
}
restart_cpmd_kill9() { restart_cpmd KILL "$@"; }

# start_push_gateway [push_gateway.py options...]: the test push gateway (tests/e2e/push_gateway.py)
# on a free port; sets gw_port, and posts (the file where it logs every POST it gets).
start_push_gateway() {
	gw_port=$(pick_port)
	posts="$LOGDIR/gateway.posts"
	python3 "$E2E_DIR/push_gateway.py" "$gw_port" "$posts" "$@" &
	PIDS+=($!)
	_gw_up() { grep -q '^listening$' "$posts" 2>/dev/null; }
	wait_for 10 "the test push gateway" _gw_up
}
