#!/usr/bin/env bash
# bench/start_bench.sh CPMD [CPMD_B] — cpmd's start on a big store: how soon it answers SIP.
#
# FILL=push (default): the store holds N devices with RFC 8599 push parameters (table push, as
# cpmd writes it) and no registrations, so every device is "asleep" at start and the first
# sweep looks at each one; cpmd runs with --push-gateway (a port nothing listens on: nothing
# waits for those users, so no wake-up is sent).
# FILL=regs: N users, each with a saved binding (table reg, expiring in an hour, its contact a
# closed UDP port) and 2 stored pager-mode messages (bench/sf_fill ... message): the start-up
# sweep kicks every binding, and each kick starts 2 deliveries, which stay in progress (their
# MESSAGE goes unanswered) while the next users are kicked.
# For each cpmd binary: send one SIP OPTIONS as soon as it says ready and time the answer (how
# long the loop was busy), then wait until its CPU time stops growing; report that CPU time
# and VmRSS (FILL=regs: the CPU time when the OPTIONS was answered; the unanswered MESSAGEs keep
# it growing for their 32 s). FILL=regs also reports how long the start-up sweep took, from its
# end line "start-up sweep: N registrations in X ms" (a binary whose sweep runs in slices between
# loop turns, src/pf/pf_start.c; "-" for one whose sweep ran before the loop: it took about as
# long as the OPTIONS waited). Each binary runs ROUNDS times, alternated, on a copy of the same
# data dir. Knobs: FILL, N (100000), ROUNDS (2), SF_FILL (FILL=regs: the sf_fill binary;
# default next to the first CPMD). Needs sqlite3 and python3.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-100000}
ROUNDS=${ROUNDS:-2}
FILL=${FILL:-push}
DOMAIN=push.test
# shellcheck source=bench/lib.sh
. "$SRC/bench/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 CPMD [CPMD_B]" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "$0: sqlite3 missing (apt-get install sqlite3)" >&2; exit 1; }
bench_tmp /var/tmp/cpmd-start.XXXXXX

options_ms() { # PORT -> ms until cpmd answers one OPTIONS over UDP (or "timeout")
	python3 - "$1" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
lp = s.getsockname()[1]
msg = ("OPTIONS sip:push.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKpb%d\r\n"
       "Max-Forwards: 70\r\nTo: <sip:push.test>\r\nFrom: <sip:bench@push.test>;tag=1\r\n"
       "Call-ID: pb%d@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (lp, lp, lp))
t0 = time.monotonic()
s.settimeout(0.5)
while time.monotonic() - t0 < 180:
    s.sendto(msg.encode(), ("127.0.0.1", port))  # retransmitted as UDP wants
    try:
        s.recv(65535)
        print("%.0f" % ((time.monotonic() - t0) * 1000))
        sys.exit(0)
    except socket.timeout:
        pass
print("timeout")
PY
}

# the schema comes from cpmd itself; then the rows
CPMD=$1
bench_start_cpmd "$T/d" "$T/init.log"
bench_stop_cpmd
opts=()
if [ "$FILL" = push ]; then
	sqlite3 "$T/d/cpmd.db" "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $N)
		INSERT INTO push SELECT 'u' || i || '@$DOMAIN', '<urn:uuid:00000000-0000-0000-0000-' || printf('%012d', i) || '>',
		'apns', 'token' || i, 'param', 0 FROM c;"
	opts=(--push-gateway http://127.0.0.1:9/)
	what="$N devices with push parameters, none registered"
else
	SF_FILL=${SF_FILL:-$(dirname "$1")/sf_fill}
	"$SF_FILL" "$T/d" $((2 * N)) "$N" "$DOMAIN" test 0 1 message >/dev/null
	sqlite3 "$T/d/cpmd.db" "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < $N - 1)
		INSERT INTO reg SELECT 'bulk' || i || '@$DOMAIN', '<urn:uuid:00000000-0000-0000-0001-' || printf('%012d', i) || '>',
		'<sip:bulk' || i || '@127.0.0.1:9>', '', 0, (strftime('%s', 'now') + 3600) * 1000 FROM c;"
	what="$N users with a saved binding and 2 stored messages each"
fi
cp -a "$T/d" "$T/d.orig"

echo "# bench/start_bench.sh $(utc_date), FILL=$FILL: $what, $(machine_desc); load $(loadavg)"
if [ "$FILL" = push ]; then
	echo "# binary round options-answer-ms cpu-s-until-quiet vmrss-kB"
else
	echo "# binary round options-answer-ms cpu-s-at-answer vmrss-kB sweep-ms"
fi
for r in $(seq "$ROUNDS"); do
	for CPMD in "$@"; do
		rm -rf "$T/d" && cp -a "$T/d.orig" "$T/d"
		CPMD_READY_S=120 bench_start_cpmd "$T/d" "$T/cpmd.log" "${opts[@]}"
		ms=$(options_ms "$SIP_PORT")
		prev=-1
		[ "$FILL" = push ] || prev=$(cpu_ticks "$CPMD_PID") # the CPU time at the answer
		for _ in $(seq 300); do
			[ "$FILL" = push ] || break
			c=$(cpu_ticks "$CPMD_PID")
			[ "$c" = "$prev" ] && break
			prev=$c
			sleep 1
		done
		sweep=
		if [ "$FILL" = regs ]; then
			c=$prev
			sweep=-
			if grep -q 'start-up sweep: ' "$CPMD"; then # its sweep ends with a line: wait for it
				for _ in $(seq 600); do
					grep -q 'start-up sweep: [0-9]* registrations in' "$T/cpmd.log" && break
					sleep 0.5
				done
				sweep=$(sed -n 's/.*start-up sweep: [0-9]* registrations in \([0-9]*\) ms.*/\1/p' "$T/cpmd.log" | head -n 1)
			fi
		fi
		echo "$CPMD $r $ms $(fdiv "$c" "$HZ" %.2f) $(status_kb "$CPMD_PID" VmRSS)${sweep:+ $sweep}"
		bench_stop_cpmd
	done
done
