#!/usr/bin/env bash
# The cost of content screening (issue 11 §4): one file of BIG_MIB MiB sent by cpm to a
# registered device, to a screened recipient (bob: --user-pref screening=on, --clamd: the file
# is taken in whole, scanned by clamd on pf's worker, acknowledged, stored, then pushed to the
# device) and to an unscreened one (dave: cut through live), REPS rounds each, alternated, in
# one cpmd. See docs/BENCHMARKS.md "Content screening (issue 11)".
#
#   bench/screen_bench.sh BUILD_DIR     (BUILD_DIR has cpmd and cpm, Release)
#
# Per round: the sender's wall time (cpm send: `stored` for bob, `delivered` for dave), the
# time until the device printed `received` (end to end), the scan time cpmd logs ("clamd:
# clean, N bytes in M ms"), cpmd's and clamd's CPU. Reported: medians, and the cost of
# screening per MiB = (screened - unscreened end to end) / MiB, and the scan alone per MiB.
# clamd: tests/lib_clamd.sh (its one-signature test database: a real deployment's full
# database scans slower; the clamd CPU column says how much of the cost is clamd's).
# Knobs: BIG_MIB (128), REPS (3).
set -euo pipefail
BUILD=$(cd "${1:?usage: bench/screen_bench.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export CPM_SRC=$ROOT CPM_BUILD=$BUILD CPMD=$BUILD/cpmd CPM=$BUILD/cpm
export TMPDIR=${TMPDIR:-/var/tmp} # the ext4 root, like the other benches (tmpfs would flatter)
export DOMAIN=bench.test
BIG_MIB=${BIG_MIB:-128}
REPS=${REPS:-3}
export CLAMD_STREAM_MAX=$(((BIG_MIB + 16) * 1024 * 1024))

# shellcheck source=../tests/e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=../tests/lib_clamd.sh
. "$ROOT/tests/lib_clamd.sh"
say() { echo "screen_bench: $*" >&2; }

echo "screen_bench — $(utc_date) — HEAD $(git_rev "$ROOT") (tracked files modified: $(git_dirty "$ROOT")), build $(basename "$BUILD")"
echo "machine: $(machine_desc); $(clamd --version 2>/dev/null | head -1); load $(loadavg)"
echo "file: $BIG_MIB MiB random, REPS=$REPS, data dir on $(df -T "$TMPDIR" | awk 'NR == 2 {print $2}')"

clamd_start "$T_DIR/clamd"
start_cpmd --log-level info --clamd "$CLAMD_UNIX" --user-pref "bob@$DOMAIN:screening=on" --max-file-size 0
start_receiver bob bob phone --timeout 3600
start_receiver dave dave phone --timeout 3600
F=$T_DIR/big.bin
gen_file "$F" $((BIG_MIB * 1024 * 1024))
H=$(sha1 "$F")

# one ROUND: USER LABEL → prints "LABEL send_s e2e_s scan_ms cpmd_cpu_s clamd_cpu_s"
round() {
	local user=$1 label=$2 t0 t1 t2 c0 c1 k0 k1 before scan i
	before=$(grep -c -a "^received .* $H\$" "${RECV_OUT[$user]}" || true)
	c0=$(cpu_ticks "$CPMD_PID")
	k0=$(cpu_ticks "$CLAMD_PID")
	t0=$(now)
	send_file "$label" alice "$user" "$F" --no-resume
	t1=$(now)
	[ "$SEND_RC" -eq 0 ] || fail "$label: cpm send exit $SEND_RC: $SEND_LAST"
	for ((i = 0; i < 6000; i++)); do
		[ "$(grep -c -a "^received .* $H\$" "${RECV_OUT[$user]}" || true)" -gt "$before" ] && break
		sleep 0.02
	done
	t2=$(now)
	c1=$(cpu_ticks "$CPMD_PID")
	k1=$(cpu_ticks "$CLAMD_PID")
	scan=0
	[ "$user" = bob ] && scan=$(grep -a 'clamd: clean' "$CPMD_LOG" | tail -n 1 | sed -n 's/.* in \([0-9]*\) ms$/\1/p')
	rm -f "${RECV_DIR[$user]}"/* # the next round's file lands under the same name
	echo "$label $(fdiv "$(awk -v a="$t1" -v b="$t0" 'BEGIN {print a - b}')" 1) $(fdiv "$(awk -v a="$t2" -v b="$t0" 'BEGIN {print a - b}')" 1) $scan $(fdiv $((c1 - c0)) "$HZ" %.2f) $(fdiv $((k1 - k0)) "$HZ" %.2f)"
}

echo
echo "round            send_s   e2e_s  scan_ms  cpmd_cpu_s  clamd_cpu_s"
S=() U=()
for ((r = 1; r <= REPS; r++)); do
	for who in bob dave; do
		line=$(round "$who" "${who}_$r")
		printf '%-14s %8s %7s %8s %11s %12s\n' $line
		[ "$who" = bob ] && S+=("$line") || U+=("$line")
	done
done
col() { printf '%s\n' "$@" | awk -v c="$COL" '{print $c}' | median; }
COL=3; se=$(col "${S[@]}"); ue=$(col "${U[@]}")
COL=2; ss=$(col "${S[@]}"); us=$(col "${U[@]}")
COL=4; sc=$(col "${S[@]}")
COL=5; scpu=$(col "${S[@]}"); ucpu=$(col "${U[@]}")
COL=6; kcpu=$(col "${S[@]}")
echo
echo "medians: screened send ${ss} s, end to end ${se} s (cpmd CPU ${scpu} s, clamd CPU ${kcpu} s, scan ${sc} ms);" \
	"unscreened send ${us} s, end to end ${ue} s (cpmd CPU ${ucpu} s)"
echo "throughput end to end: screened $(fdiv "$BIG_MIB" "$se" %.1f) MiB/s, unscreened $(fdiv "$BIG_MIB" "$ue" %.1f) MiB/s"
echo "cost of screening per MiB: $(awk -v a="$se" -v b="$ue" -v m="$BIG_MIB" 'BEGIN {printf "%.1f", (a - b) * 1000 / m}') ms end to end (screened - unscreened);" \
	"the clamd scan alone $(awk -v a="$sc" -v m="$BIG_MIB" 'BEGIN {printf "%.1f", a / m}') ms/MiB (it runs after the last byte, before the sender's ack;" \
	"the intake upload with no device behind it is faster than the live cut-through, which hides part of it)"
echo "load after: $(loadavg)"
