#!/usr/bin/env bash
# Message store benchmarks (issue 11): FT history writes per second to Dovecot, and cpmd's
# memory during a 1 GiB history write, each next to a peer in the same run. See
# docs/BENCHMARKS.md "The users' message store (issue 11)".
#
#   bench/mss_bench.sh BUILD_DIR     (BUILD_DIR has cpmd and cpm, Release)
#
# 1. rate: `cpm blast --count COUNT --parallel PAR --size SIZE` to bob (registered, history=on,
#    --mss-workers WORKERS): every live transfer becomes an FT history that cpmd's writers store
#    in bob's mailbox (one IMAP connection, login, CREATE, UID SEARCH and APPEND per object).
#    Rate = histories stored per second between the first and the last "ft-history stored" line
#    of cpmd's log. Peer: Python's imaplib APPENDing the same number of objects of the same size
#    (one of cpmd's, its Message-ID changed) to the same Dovecot over WORKERS connections that
#    log in once: the server's own rate for these objects, without cpmd's per-object session.
# 2. big: one BIG_MIB MiB file live to bob; cpmd's resident memory (VmRSS) sampled every 100 ms
#    from the transfer's start until its history is stored, and its peak (VmHWM); the history's
#    write time (the "queued"/tee commit to "stored") next to tests/mss/mss_store (the project's
#    IMAP client alone, no cpmd) storing the same file, with its own VmHWM.
# Knobs: SKIP ("rate big"), COUNT (500), PAR (16), SIZE (4096), WORKERS (2), BIG_MIB (1024).
set -euo pipefail
BUILD=$(cd "${1:?usage: bench/mss_bench.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export CPM_SRC=$ROOT CPM_BUILD=$BUILD CPMD=$BUILD/cpmd CPM=$BUILD/cpm
export TMPDIR=${TMPDIR:-/var/tmp} # the ext4 root, like the other benches (tmpfs would flatter)
SKIP=${SKIP:-}
COUNT=${COUNT:-500}
PAR=${PAR:-16}
SIZE=${SIZE:-4096}
WORKERS=${WORKERS:-2}
BIG_MIB=${BIG_MIB:-1024}

# shellcheck source=../tests/e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=../tests/lib_dovecot.sh
. "$ROOT/tests/lib_dovecot.sh"
say() { echo "mss_bench: $*" >&2; }
skip() { [[ " $SKIP " == *" $1 "* ]]; }
# log_s LINE: the seconds (with ms) of a cpmd log line's timestamp
log_s() { sed -n 's/^[0-9-]*T\([0-9]*\):\([0-9]*\):\([0-9.]*\)Z.*/\1 \2 \3/p' <<<"$1" | awk '{printf "%.3f", $1 * 3600 + $2 * 60 + $3}'; }
need_bin "$BUILD/mss_store"
chmod o+x "$T_DIR"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), $(uname -r); dovecot $(dovecot --version | cut -d' ' -f1), $(curl --version | sed -n 1p | cut -d" " -f1-2)"
echo "command: bench/mss_bench.sh $1  (COUNT=$COUNT PAR=$PAR SIZE=$SIZE WORKERS=$WORKERS BIG_MIB=$BIG_MIB SKIP=\"$SKIP\"); load average at start: $(loadavg)"

MSS_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$MSS_PORT "
dovecot_start "$T_DIR/dovecot" "$MSS_PORT"
MSS=(--mss "imap://127.0.0.1:$MSS_PORT" --mss-master-user admin --mss-master-password adminpass
	--mss-workers "$WORKERS" --user-pref "bob@$DOMAIN:history=on")

if ! skip rate; then
	start_cpmd "${MSS[@]}"
	start_receiver bob bob phone --count "$COUNT" --timeout 600
	mapfile -t base < <(_cpm_base alice blaster)
	"$CPM" "${base[@]}" blast "sip:bob@$DOMAIN" --count "$COUNT" --parallel "$PAR" --size "$SIZE" </dev/null \
		>"$LOGDIR/blast.out" 2>"$LOGDIR/blast.err" || say "cpm blast exited with $?"
	echo "1. $(grep -a '^blast ' "$LOGDIR/blast.out" | tail -n 1) (load average $(loadavg))"
	t_blast_end=$(date +%s.%N)
	stored_n() { [ "$(grep -c 'ft-history stored in bob@' "$CPMD_LOG")" -ge "$COUNT" ]; }
	wait_for 600 "$COUNT histories stored" stored_n
	first=$(grep -m 1 'ft-history stored in bob@' "$CPMD_LOG")
	last=$(grep -m "$COUNT" 'ft-history stored in bob@' "$CPMD_LOG" | tail -n 1)
	t=$(awk -v a="$(log_s "$first")" -v b="$(log_s "$last")" 'BEGIN {printf "%.3f", b - a}')
	rate=$(awk -v n="$COUNT" -v t="$t" 'BEGIN {printf "%.1f", (n - 1) / t}')
	echo "   cpmd: $COUNT FT histories of $SIZE-byte files stored in $t s (first to last) = $rate histories/s with $WORKERS writers; retries logged: $(grep -c 'not stored (attempt' "$CPMD_LOG" || true)"
	folder=$(dovecot_folders bob | grep -m 1 '^CPM/Conversations/')
	n_mbox=0
	while read -r f; do
		case "$f" in CPM/*) n_mbox=$((n_mbox + $(dovecot_count bob "$f"))) ;; esac
	done < <(dovecot_folders bob)
	echo "   bob's mailbox holds $n_mbox objects (want $COUNT)"
	dovecot_fetch bob "$folder" "$T_DIR/one" >/dev/null 2>&1 || true
	sample=$(find "$T_DIR/one" -name '*.eml' -print -quit)
	stop_cpmd
	# the peer: imaplib, WORKERS connections logged in once, the same object re-APPENDed
	peer=$(python3 - "$sample" "$MSS_PORT" "$COUNT" "$WORKERS" <<'PY'
import imaplib, sys, threading, time
obj = open(sys.argv[1], "rb").read().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
port, count, workers = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def run(k, n):
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login("bob*admin", "adminpass")
    c.create("CPM/Peer")
    for i in range(n):
        c.append("CPM/Peer", None, None, obj.replace(b"Message-ID: <", b"Message-ID: <peer%d.%d." % (k, i), 1))
    c.logout()
t0 = time.time()
ts = [threading.Thread(target=run, args=(k, count // workers)) for k in range(workers)]
[t.start() for t in ts]
[t.join() for t in ts]
dt = time.time() - t0
print("%d %.3f %.1f %d" % (count // workers * workers, dt, count // workers * workers / dt, len(obj)))
PY
)
	read -r pn pt prate psize <<<"$peer"
	echo "   peer (Python imaplib, $WORKERS connections, one login each): $pn APPENDs of the same $psize-byte object in $pt s = $prate objects/s"
	echo "   cpmd / peer: $(awk -v a="$rate" -v b="$prate" 'BEGIN {printf "%.2f", a / b}')"
fi

if ! skip big; then
	start_cpmd "${MSS[@]}"
	start_receiver big bob phone --count 1 --timeout 900
	size=$((BIG_MIB * 1024 * 1024))
	head -c "$size" /dev/urandom >"$T_DIR/big.bin"
	mapfile -t base < <(_cpm_base alice laptop)
	rss_max=0
	"$CPM" "${base[@]}" send "sip:bob@$DOMAIN" "$T_DIR/big.bin" </dev/null >"$LOGDIR/big.out" 2>"$LOGDIR/big.err" &
	spid=$!
	t0=$(date +%s.%N)
	while ! grep -q 'ft-history stored in bob@' "$CPMD_LOG"; do
		r=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$CPMD_PID/status")
		[ "${r:-0}" -gt "$rss_max" ] && rss_max=$r
		sleep 0.1
		[ "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {print (b - a > 900)}')" = 0 ] || { say "timeout"; break; }
	done
	wait "$spid" || say "cpm send exited with $?"
	hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$CPMD_PID/status")
	done_line=$(grep -m 1 'ft-history stored in bob@' "$CPMD_LOG")
	deliv_line=$(grep 'ft .*: delivered ' "$CPMD_LOG" | tail -n 1)
	tw=$(awk -v a="$(log_s "$deliv_line")" -v b="$(log_s "$done_line")" 'BEGIN {printf "%.2f", b - a}')
	echo "2. one $BIG_MIB MiB file, live to bob, then its FT history to his mailbox (load average $(loadavg))"
	echo "   cpm send: $(tail -n 1 "$LOGDIR/big.out"); history stored $tw s after the transfer ended ($(awk -v m="$BIG_MIB" -v t="$tw" 'BEGIN {printf "%.0f", m / t}') MiB/s of file)"
	echo "   cpmd resident memory: sampled peak VmRSS $((rss_max / 1024)) MiB, VmHWM $((hwm / 1024)) MiB over the whole run"
	rm -rf "${RECV_DIR[big]:?}"/*
	stop_cpmd
	t1=$(date +%s.%N)
	out=$("$BUILD/mss_store" store --url "imap://127.0.0.1:$MSS_PORT" --master admin --password adminpass \
		--user bob --kind ft --id peer-big --file "$T_DIR/big.bin" --name big.bin --from "sip:alice@$DOMAIN" \
		--to "sip:bob@$DOMAIN" 2>>"$LOGDIR/mss_store.err")
	t2=$(date +%s.%N)
	phwm=$(sed -n 's/^vmhwm-kib=//p' <<<"$out")
	pt=$(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.2f", b - a}')
	echo "   peer (tests/mss/mss_store, the same client alone): $pt s ($(awk -v m="$BIG_MIB" -v t="$pt" 'BEGIN {printf "%.0f", m / t}') MiB/s), VmHWM $((phwm / 1024)) MiB; $(grep '^result=' <<<"$out")"
	echo "   cpmd / peer write time: $(awk -v a="$tw" -v b="$pt" 'BEGIN {printf "%.2f", a / b}')"
fi
echo "load average at the end: $(loadavg)"
exit 0
