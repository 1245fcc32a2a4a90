#!/usr/bin/env bash
# Operating cpmd (issue 13): what the admin API costs, and how fast its listing is.
#
#   bench/admin_bench.sh BUILD_DIR > bench/results/DATE-admin-REV.txt
#   (BUILD_DIR has cpmd, cpm and sf_fill; a Release build)
#
# 1. Small transfers per second with a /metrics scrape every second and the console open
#    (CONSOLE=1), next to none, in the same
#    run: ROUNDS rounds, each with one fresh cpmd (--admin on, data dir on /dev/shm) per mode, the
#    two modes alternating (ABAB...) so that the machine's other load hits both alike. A round is
#    one `cpm blast --count N --parallel P --size 1024` (blast's own transfers/s). Target: the
#    median with scrapes within 5 % of the one without.
# 2. The deferred queue with ITEMS (1,000,000) items: sf_fill writes them through the store
#    library (pager messages: a body in the row, no blob file; over USERS recipients), cached in
#    ADMIN_CACHE. cpmd starts on it with --admin (its first start adds the listing indexes), then
#    curl times REPS requests of each listing: the first page (limit=100), a page deep in the
#    queue (after= an id in the middle), filtered by recipient, by sender, by kind, by state,
#    and one scrape of /metrics (which counts the queue). Target: <= 100 ms for a page.
set -uo pipefail
BUILD=$(cd "${1:?usage: admin_bench.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ROUNDS=${ROUNDS:-5} N=${N:-3000} PAR=${PAR:-64}
# CONSOLE=1 (default): the scrape rounds also have the operator console open in headless
# Chromium (tests/e2e/console_drive.py --mode hold: the live transfers view, which polls
# /api/v1/transfers and /metrics every second), as issue 13 asks ("a scrape every second and
# the console open"); Chromium's own CPU shares the machine with the blast, cpmd's CPU is
# reported per round.
CONSOLE=${CONSOLE:-1}
ITEMS=${ITEMS:-1000000} USERS=${USERS:-1000} REPS=${REPS:-20}
ADMIN_CACHE=${ADMIN_CACHE:-/var/tmp/cpmd-admin-bench}
DOMAIN=example.com TOKEN=bench-token
CPMD=$BUILD/cpmd CPM=$BUILD/cpm
for b in "$CPMD" "$CPM" "$BUILD/sf_fill"; do
	[ -x "$b" ] || { echo "admin_bench: $b missing (cmake --build $BUILD --target cpmd cpm sf_fill)" >&2; exit 2; }
done
# shellcheck source=lib.sh
. "$HERE/lib.sh"
bench_tmp /dev/shm/admin-bench.XXXXXX
export CPMD_READY_S=300 # the first start on the filled queue adds the listing indexes

# start_cpmd DATA LOG: sets CPMD_PID SIP_PORT ADMIN (host:port)
start_cpmd() {
	bench_port ADMIN_PORT
	ADMIN=127.0.0.1:$ADMIN_PORT
	bench_start_cpmd "$1" "$2" --admin "$ADMIN" --admin-token "$TOKEN" --log-level warn
}

echo "admin_bench — $(utc_date) — HEAD $(git_rev "$ROOT") (tracked files modified: $(git_dirty "$ROOT")), build $(basename "$BUILD")"
echo "machine: $(machine_desc)"
echo "load average at start: $(loadavg); processes >= 5% CPU at start: $(busy_others)"
echo "command: bench/admin_bench.sh $(basename "$BUILD")  (ROUNDS=$ROUNDS N=$N PAR=$PAR ITEMS=$ITEMS USERS=$USERS REPS=$REPS)"
echo

# --- 1. blast with and without scrapes --------------------------------------------------------
blast_round() { # blast_round MODE(none|scrape) -> prints "transfers/s cpmd-CPU-ms"
	local d="$T/r.$1.$RANDOM" rp sp=""
	mkdir -p "$d/r"
	start_cpmd "$d/data" "$d/cpmd.log"
	XDG_STATE_HOME=$d/state "$CPM" --server "127.0.0.1:$SIP_PORT" --user "sip:bob@$DOMAIN" --device phone --transport tcp \
		receive --dir "$d/r" --count "$N" --timeout 120 >"$d/recv.out" 2>"$d/recv.err" &
	rp=$!
	PIDS+=("$rp")
	sleep 1
	local cp=""
	if [ "$1" = scrape ]; then
		(while :; do curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "http://$ADMIN/metrics"; sleep 1; done) &
		sp=$!
		PIDS+=("$sp")
		if [ "$CONSOLE" = 1 ]; then # the operator console open on its live view (headless Chromium)
			# Debian's python3 (python3-selenium), not a pyenv or venv one first in PATH
			/usr/bin/python3 "$ROOT/tests/e2e/console_drive.py" --mode hold --url "http://$ADMIN/" --token "$TOKEN" \
				--shots "$d/shots" --profile "$d/profile" >"$d/console.out" 2>&1 &
			cp=$!
			PIDS+=("$cp")
			for ((i = 0; i < 600; i++)); do
				grep -q '^ok console open' "$d/console.out" && break
				kill -0 "$cp" 2>/dev/null || break
				sleep 0.1
			done
			if ! grep -q '^ok console open' "$d/console.out"; then
				# this runs in a process substitution: the EXIT trap is the parent's, so stop what
				# this round started here, or the parent waits for cpmd's end of the pipe forever
				echo "console did not open: $(tail -n 3 "$d/console.out")" >&2
				kill "$sp" "$rp" "$cp" 2>/dev/null
				stop_cpmd
				exit 1
			fi
		fi
	fi
	XDG_STATE_HOME=$d/state "$CPM" --server "127.0.0.1:$SIP_PORT" --user "sip:alice@$DOMAIN" --device pc --transport tcp \
		blast "sip:bob@$DOMAIN" --count "$N" --parallel "$PAR" --size 1024 >"$d/blast.out" 2>"$d/blast.err"
	[ -n "$sp" ] && kill "$sp" 2>/dev/null
	local ccpu=0 pid # the browser's CPU over the round: its share of the same two cores
	for pid in $(pgrep -f -- "--user-data-dir=$d/profile"); do ccpu=$((ccpu + $(cpu_ms "$pid"))); done
	if [ -n "$cp" ]; then
		kill -TERM "$cp" 2>/dev/null
		wait "$cp" 2>/dev/null
	fi
	local cpu
	cpu=$(cpu_ms "$CPMD_PID")
	kill "$rp" 2>/dev/null
	wait "$rp" 2>/dev/null
	bench_stop_cpmd
	grep '^blast ' "$d/blast.out" | tail -1 >&2
	echo "$(grep '^blast ' "$d/blast.out" | tail -1 | grep -oE '[0-9.]+ transfers/s' | cut -d' ' -f1) $cpu $ccpu"
	rm -rf "$d"
}
echo "1. cpm blast --count $N --parallel $PAR --size 1024 over TCP, a fresh cpmd per round (--admin on in both modes;"
echo "   the scrape rounds: curl /metrics every 1 s$([ "$CONSOLE" = 1 ] && echo ", and the console open in headless Chromium on its live transfers view"))"
echo "   (cpmd CPU = utime + stime of the round's cpmd over the whole round, scrapes included; the"
echo "   per-round ratio compares two runs seconds apart, so it is the least disturbed by the machine's other load)"
none=() scr=() ratio=() cn=() cs=()
for ((r = 1; r <= ROUNDS; r++)); do
	read -r a ca _ < <(blast_round none 2>>"$T/blast.lines")
	read -r b cb bb < <(blast_round scrape 2>>"$T/blast.lines")
	echo "   round $r: no scrape $a transfers/s (cpmd CPU $ca ms), scrape every 1 s $b transfers/s (cpmd CPU $cb ms$([ "$CONSOLE" = 1 ] && echo "; Chromium CPU $bb ms"))"
	none+=("$a") scr+=("$b") cn+=("$ca") cs+=("$cb")
	ratio+=("$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.4f", b / a}')")
done
sed 's/^/   raw: /' "$T/blast.lines"
mn=$(echo "${none[*]}" | median) ms=$(echo "${scr[*]}" | median)
echo "   median: no scrape $mn, scrape every 1 s $ms transfers/s: difference $(awk -v a="$mn" -v b="$ms" 'BEGIN {printf "%+.1f %%", (b - a) / a * 100}')"
echo "   median of the per-round ratios (scrape / no scrape): $(echo "${ratio[*]}" | median)"
echo "   cpmd CPU per round, median: no scrape $(echo "${cn[*]}" | median) ms, scrape every 1 s $(echo "${cs[*]}" | median) ms"
echo

# --- 2. listing pages with ITEMS items ------------------------------------------------------------
mkdir -p "$ADMIN_CACHE"
DATA=$ADMIN_CACHE/data-$ITEMS
echo "2. deferred listing with $ITEMS stored items over $USERS recipients (pager messages; data on $(df -T "$ADMIN_CACHE" | awk 'NR == 2 {print $2}'))"
t0=$(now)
"$BUILD/sf_fill" "$DATA" "$ITEMS" "$USERS" "$DOMAIN" tester 0 0 message 2>&1 | tail -n 2 | sed 's/^/   sf_fill: /'
echo "   fill: $(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}') s (0 when cached)"
t0=$(now)
start_cpmd "$DATA" "$T/cpmd-1m.log"
echo "   cpmd start on the filled store: $(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}') s (the first start also builds the listing indexes)"
timed() { # timed LABEL PATH: REPS requests, median and max of curl's total time in ms
	local i t all=() code
	for ((i = 0; i < REPS; i++)); do
		read -r code t < <(curl -s -o "$T/page.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" "http://$ADMIN$2")
		[ "$code" = 200 ] || { echo "   $1: HTTP $code $(head -c 200 "$T/page.json")"; return; }
		all+=("$(awk -v t="$t" 'BEGIN {printf "%.2f", t * 1000}')")
	done
	local n
	n=$(jq '.items | length' "$T/page.json" 2>/dev/null || echo -)
	printf '   %-46s median %7.2f ms  max %7.2f ms  (%s items in the page)\n' "$1" "$(echo "${all[*]}" | median)" \
		"$(printf '%s\n' "${all[@]}" | sort -g | tail -1)" "$n"
}
mid=$(curl -s -H "Authorization: Bearer $TOKEN" "http://$ADMIN/api/v1/deferred?limit=1&after=$(printf "m%031u" $((ITEMS / 2)))" | jq -r '.items[0].id')
timed "GET /api/v1/deferred?limit=100" "/api/v1/deferred?limit=100"
timed "... &after=<an id in the middle>" "/api/v1/deferred?limit=100&after=$mid"
timed "... ?recipient=bulk7@$DOMAIN&limit=100" "/api/v1/deferred?recipient=bulk7@$DOMAIN&limit=100"
timed "... ?sender=<the filler's sender>&limit=100" "/api/v1/deferred?sender=$(curl -s -H "Authorization: Bearer $TOKEN" "http://$ADMIN/api/v1/deferred?limit=1" | jq -r '.items[0].sender')&limit=100"
timed "... ?kind=message&limit=100" "/api/v1/deferred?kind=message&limit=100"
timed "... ?state=stored&limit=100" "/api/v1/deferred?state=stored&limit=100"
timed "... ?recipient=...&kind=message&state=stored" "/api/v1/deferred?recipient=bulk7@$DOMAIN&kind=message&state=stored&limit=100"
timed "GET /api/v1/deferred/<id>" "/api/v1/deferred/$mid"
REPS=5 timed "GET /metrics (counts the queue, then cached)" "/metrics"
c0=$(cpu_ms "$CPMD_PID")
for ((i = 0; i < 30; i++)); do
	curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "http://$ADMIN/metrics"
	sleep 1
done
echo "   cpmd CPU over 30 s with a scrape every second: $(($(cpu_ms "$CPMD_PID") - c0)) ms (the count is reused for 20x its cost)"
bench_stop_cpmd
