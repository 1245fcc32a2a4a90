# shellcheck shell=bash
# Shell helpers shared by the bench scripts (source it; never run it). Sourcing it defines
# functions only and starts nothing; a script that runs processes calls bench_tmp first.
# The process helpers carry a bench_ prefix because core_bench, sec_bench and screen_bench also
# source tests/e2e/lib.sh, whose pick_port / start_cpmd / stop_cpmd they use: no name here
# shadows one of those, whichever file is sourced last.
#
# Measuring:
#   cpu_ticks PID        utime+stime of one process (fields 14+15 of /proc/PID/stat), in CLK_TCK
#   cpu_ms PID           the same in ms; 0 when the process is gone
#   ticks_us TICKS N     CPU ticks spent on N items -> µs per item (n/a when N is 0)
#   tree_cpu_ticks PID   the same summed over PID and its live children (Kamailio's workers are
#                        children of its main process; their time reaches the parent's cutime
#                        only when they are reaped, i.e. never while it runs)
#   status_kb PID KEY    a /proc/PID/status field in kB (VmRSS, VmHWM)
#   tree_status_kb PID KEY   the same summed over PID and its children
#   sys_busy             machine-wide busy CPU ticks (user nice system irq softirq steal)
#   netstat_val FILE PREFIX FIELD   a counter of /proc/net/snmp or /proc/net/netstat
#   fdiv A B [FORMAT]    A / B with awk (n/a when B is 0)
#   median               the median of the numbers on stdin (split by blanks and newlines): the
#                        middle one as it is for an odd count, else the mean of the two middle
#                        ones with MEDIAN_DEC decimals (3 unless the script sets it)
#   now                  wall clock, seconds with nanoseconds
#   log_ms LINE          "YYYY-MM-DDTHH:MM:SS.mmmZ" at the start of a cpmd log line -> ms of the day
# The header lines of a result file:
#   utc_date             "YYYY-MM-DD HH:MM UTC"
#   git_rev DIR          short HEAD of the checkout at DIR (unknown outside git)
#   git_dirty DIR        how many tracked files of DIR's work tree are modified
#   cpu_desc             "N CPUs (model)"
#   machine_desc         "N CPUs (model), RAM x GiB, kernel K"
#   loadavg              the 1, 5 and 15 minute load averages
#   busy_others          processes at >= 5 % CPU over one second (what else loads the machine)
# Processes and ports (set -e or not, as the script likes):
#   bench_tmp TEMPLATE   T = a new dir (mktemp -d TEMPLATE), PIDS=(), USED_PORTS empty, and
#                        bench_cleanup as the EXIT trap
#   bench_cleanup        every PID in PIDS and its children TERM, 0.3 s later KILL; then the
#                        script's bench_cleanup_hook if it defines one; T removed unless
#                        KEEP_TMP=1; exits with the status the script had
#   bench_port VAR       VAR = a random port that ss shows unused and this run has not handed
#                        out, in PORT_LO .. PORT_LO+PORT_N-1 (20000-32767); call it as is, not in
#                        $(...), or USED_PORTS forgets the port
#   bench_start_cpmd DATA LOG [cpmd options]   $CPMD with --domain $DOMAIN, --sip and --msrp on
#                        127.0.0.1 at bench_port ports, --data-dir DATA and the options, output
#                        to LOG; waits CPMD_READY_S (30) s for "cpmd: ready", else exits 1 with the
#                        log's tail; sets CPMD_PID SIP_PORT MSRP_PORT CPMD_START_S (exec -> ready)
#   bench_stop_cpmd      TERM to CPMD_PID and wait for it (KILL after 15 s)
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
_tree_pids() { echo "$1"; pgrep -P "$1" || true; }
tree_cpu_ticks() {
	local p s=0 t
	for p in $(_tree_pids "$1"); do
		t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		s=$((s + t))
	done
	echo "$s"
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
tree_status_kb() {
	local p s=0 v
	for p in $(_tree_pids "$1"); do
		v=$(awk -v k="$2:" '$1 == k {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
fdiv() { awk -v a="$1" -v b="$2" -v f="${3:-%.3f}" 'BEGIN { if (b == 0) print "n/a"; else printf f "\n", a / b }'; }
now() { date +%s.%N; }
busy_others() { top -bn2 -d1 | awk '/^top -/ {n++} n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 5 {printf "%s(%s%%) ", $12, $9}'; }
sys_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
netstat_val() {
	awk -v p="$2:" -v f="$3" '$1 == p { if (!h) { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1 } else { print $c; exit } }' "$1"
}
cpu_ms() {
	local t
	t=$(cpu_ticks "$1" 2>/dev/null) || t=0
	echo $((${t:-0} * 1000 / HZ))
}
ticks_us() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN { if (n == 0) print "n/a"; else printf "%.0f", t / hz * 1e6 / n }'; }
median() {
	tr ' ' '\n' | grep -v '^$' | sort -g |
		awk -v f="%.${MEDIAN_DEC:-3}f\n" '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else printf f, (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
log_ms() { awk '{t = $1; sub(/^[0-9-]*T/, "", t); split(t, a, /[:.Z]/); print ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 + a[4]; exit}' <<<"$1"; }

utc_date() { date -u '+%Y-%m-%d %H:%M UTC'; }
git_rev() { git -C "$1" rev-parse --short HEAD 2>/dev/null || echo unknown; }
git_dirty() { git -C "$1" status --porcelain --untracked-files=no 2>/dev/null | wc -l; }
cpu_desc() { echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"; }
machine_desc() { echo "$(cpu_desc), RAM $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

bench_tmp() {
	T=$(mktemp -d "$1") || exit 2
	PIDS=()
	USED_PORTS=" "
	trap bench_cleanup EXIT
}
bench_cleanup() {
	local rc=$? p c
	trap - EXIT
	set +e
	# children first: a PID may be a ( ... ) & wrapper whose child outlives a TERM to it
	for p in "${PIDS[@]}"; do
		for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill -TERM "$c" 2>/dev/null; done
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.3
	for p in "${PIDS[@]}"; do
		for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill -KILL "$c" 2>/dev/null; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	declare -F bench_cleanup_hook >/dev/null && bench_cleanup_hook "$rc"
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
# 20000-32767: below the kernel's ephemeral range (32768-60999), where a client's connect()
# could take the port between our ss check and cpmd's bind
PORT_LO=${PORT_LO:-20000} PORT_N=${PORT_N:-12768}
bench_port() {
	# _-prefixed locals: VAR may name an array element of the caller's, like "ps[$i]"
	local _p _n
	for ((_n = 0; _n < 500; _n++)); do
		_p=$((PORT_LO + (RANDOM * 32768 + RANDOM) % PORT_N))
		case "$USED_PORTS" in *" $_p "*) continue ;; esac
		if [ -z "$(ss -Htuan "( sport = :$_p )" 2>/dev/null)" ]; then
			USED_PORTS="$USED_PORTS$_p "
			printf -v "$1" %s "$_p"
			return 0
		fi
	done
	echo "$(basename "$0"): no free port in $PORT_LO-$((PORT_LO + PORT_N - 1))" >&2
	exit 1
}
bench_start_cpmd() {
	local data=$1 log=$2 t0 i
	shift 2
	bench_port SIP_PORT
	bench_port MSRP_PORT
	t0=$(now)
	"$CPMD" --domain "$DOMAIN" --sip "127.0.0.1:$SIP_PORT" --msrp "127.0.0.1:$MSRP_PORT" --data-dir "$data" \
		"$@" </dev/null >"$log" 2>&1 &
	CPMD_PID=$!
	PIDS+=("$CPMD_PID")
	for ((i = 0; i < ${CPMD_READY_S:-30} * 100; i++)); do
		if grep -q '^cpmd: ready' "$log" 2>/dev/null; then
			# shellcheck disable=SC2034 # for the caller (sf_bench reports it)
			CPMD_START_S=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
			return 0
		fi
		kill -0 "$CPMD_PID" 2>/dev/null || { echo "$(basename "$0"): cpmd died: $(tail -n 5 "$log")" >&2; exit 1; }
		sleep 0.01
	done
	echo "$(basename "$0"): cpmd not ready after ${CPMD_READY_S:-30} s: $(tail -n 5 "$log")" >&2
	exit 1
}
bench_stop_cpmd() {
	local i
	# every step may fail (cpmd gone already), and scripts run with set -e
	kill -TERM "$CPMD_PID" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do kill -0 "$CPMD_PID" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$CPMD_PID" 2>/dev/null || true
	wait "$CPMD_PID" 2>/dev/null || true
}
