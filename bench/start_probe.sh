#!/usr/bin/env bash
# bench/start_probe.sh CPMD [CPMD_B ...] — the whole start-up sweep of FILL=regs (see
# bench/start_bench.sh: N users, each with a saved binding whose contact cpmd cannot send to and 2
# stored pager messages), not only the first SIP answer: for each binary, when all 2N pushes had
# been started (seconds after `ready`, cpmd's CPU time then), when cpmd went quiet (its CPU time
# unchanged for 2 s), its peak RSS (VmHWM), and the sweep's end line if it logs one. Extra cpmd
# options in OPTS (e.g. OPTS="--delivery-retry 600:600": no retry of the failed pushes while
# the sweep runs). Knobs: N (40000), OPTS, SF_FILL (default: next to the first CPMD).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-40000}
DOMAIN=push.test
# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 CPMD [CPMD_B ...]" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "$0: sqlite3 missing" >&2; exit 1; }
SF_FILL=${SF_FILL:-$(dirname "$1")/sf_fill}
bench_tmp /var/tmp/cpmd-probe.XXXXXX
CPMD=$1
bench_start_cpmd "$T/d" "$T/init.log"
bench_stop_cpmd
"$SF_FILL" "$T/d" $((2 * N)) "$N" "$DOMAIN" test 0 1 message >/dev/null
sqlite3 "$T/d/cpmd.db" "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < $N - 1)
	INSERT INTO reg SELECT 'bulk' || i || '@$DOMAIN', '<urn:uuid:00000000-0000-0000-0001-' || printf('%012d', i) || '>',
	'<sip:bulk' || i || '@127.0.0.1:9>', '', 0, (strftime('%s', 'now') + 3600) * 1000 FROM c;"
cp -a "$T/d" "$T/d.orig"
echo "# bench/start_probe.sh $(utc_date), N=$N OPTS=${OPTS:-}, $(machine_desc); load $(loadavg)"
for CPMD in "$@"; do
	rm -rf "$T/d" && cp -a "$T/d.orig" "$T/d"
	# shellcheck disable=SC2086 # OPTS: options, space-separated
	CPMD_READY_S=300 bench_start_cpmd "$T/d" "$T/cpmd.log" ${OPTS:-}
	t0=$(now) allp="" prev=-1 same=0
	while :; do
		sleep 1
		c=$(cpu_ticks "$CPMD_PID")
		el=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.0f", b - a}')
		np=$(grep -c 'pushing message item' "$T/cpmd.log" || true)
		[ -z "$allp" ] && [ "$np" -ge $((2 * N)) ] && allp="all pushes started at ${el}s cpu $(fdiv "$c" "$HZ" %.1f)s"
		if [ "$c" = "$prev" ]; then same=$((same + 1)); else same=0; fi
		prev=$c
		[ "$same" -ge 2 ] || [ "$el" -gt 400 ] && break
	done
	sw=$(grep -o 'start-up sweep: .*' "$T/cpmd.log" | head -n 1 || true)
	echo "$CPMD: ${allp:-not all pushes started}; quiet at ${el}s cpu $(fdiv "$c" "$HZ" %.1f)s; pushes $np; VmHWM $(status_kb "$CPMD_PID" VmHWM) kB; ${sw:-no sweep line}"
	bench_stop_cpmd
done
