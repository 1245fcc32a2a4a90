# shellcheck shell=bash
# Shell helpers shared by the bench scripts (source it; never run it). Nothing here starts a
# process: each script keeps its own PIDS list and EXIT trap.
#
#   cpu_ticks PID        utime+stime of one process (fields 14+15 of /proc/PID/stat), in CLK_TCK
#   tree_cpu_ticks PID   the same summed over PID and its live children (Kamailio's workers are
#                        children of its main process; their time reaches the parent's cutime
#                        only when they are reaped, i.e. never while it runs)
#   status_kb PID KEY    a /proc/PID/status field in kB (VmRSS, VmHWM)
#   tree_status_kb PID KEY   the same summed over PID and its children
#   fdiv A B [FORMAT]    A / B with awk (n/a when B is 0)
#   now                  wall clock, seconds with nanoseconds
#   busy_others          processes at >= 5 % CPU over one second (what else loads the machine)
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
# machine-wide busy CPU ticks (user nice system irq softirq steal of /proc/stat's cpu line)
sys_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# a counter of /proc/net/snmp or /proc/net/netstat: netstat_val FILE PREFIX FIELD
netstat_val() {
	awk -v p="$2:" -v f="$3" '$1 == p { if (!h) { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1 } else { print $c; exit } }' "$1"
}
