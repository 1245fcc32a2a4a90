#!/usr/bin/env bash
# The config file of the README, inline comments and all, runs as written:
# cpmd starts, every value is the one before its comment (the data directory
# is the path itself, not "path   # comment"; max-file-size is enforced), and
# a '#' glued to an unquoted value is refused with FILE:LINE instead of being
# silently kept. A quoted value keeps its '#'.
DOMAIN=example.com
. "$(dirname "$0")/lib.sh"

# cpmd_conf NAME CONF: cpmd --config CONF in the background; sets CPMD_PID and
# CPMD_LOG, waits for "cpmd: ready" (returns 1 if cpmd exits first).
cpmd_conf() {
	local name=$1 conf=$2 i
	CPMD_LOG="$LOGDIR/cpmd.$name.log"
	(cd "$T_DIR/cwd" && exec "$CPMD" --config "$conf") </dev/null >"$LOGDIR/cpmd.$name.stdout" 2>"$CPMD_LOG" &
	CPMD_PID=$!
	PIDS+=("$CPMD_PID")
	for ((i = 0; i < 150; i++)); do
		grep -q 'cpmd: ready' "$CPMD_LOG" && return 0
		if ! kill -0 "$CPMD_PID" 2>/dev/null; then
			wait "$CPMD_PID" 2>/dev/null || true
			CPMD_PID=""
			return 1
		fi
		sleep 0.1
	done
	fail "$name: cpmd neither ready nor gone after 15 s"
}
mkdir -p "$T_DIR/cwd"

# 1. The README's example, with this test's ports, paths and a small size limit
# (the value changes, its comment stays).
sed -n '/^# \/etc\/cpmd.conf$/,/^```$/p' "$CPM_SRC/README.md" | sed '$d' >"$T_DIR/readme.conf"
grep -q '^max-file-size = [0-9]* *#' "$T_DIR/readme.conf" ||
	fail "the README's config example has no max-file-size with an inline comment any more: update this test"
SIP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$SIP_PORT "
MSRP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$MSRP_PORT "
data="$T_DIR/data"
sed -E -e "s|^sip = [^ ]*|sip = $HOST:$SIP_PORT|" -e "s|^msrp = [^ ]*|msrp = $HOST:$MSRP_PORT|" \
	-e "s|^msrp-advertise = [^ ]*|msrp-advertise = $HOST|" -e "s|^data-dir = [^ ]*|data-dir = $data|" \
	-e "s|^max-file-size = [0-9]*|max-file-size = 5000|" "$T_DIR/readme.conf" >"$T_DIR/cpmd.conf"
ARTIFACTS+=("$T_DIR/cpmd.conf")
log "config: $(grep -c . "$T_DIR/cpmd.conf") lines, $(grep -c ' #' "$T_DIR/cpmd.conf") with an inline comment"
cpmd_conf readme "$T_DIR/cpmd.conf" ||
	fail "cpmd refused the README's config example: $(grep -v '^$' "$CPMD_LOG" | tail -n 2 | tr '\n' ' ')"
assert_grep "$CPMD_LOG" "cpmd: ready domain=example.com .*data-dir=$data\$" "the ready line does not show data-dir=$data"
[ -f "$data/cpmd.db" ] || fail "no $data/cpmd.db: the data directory is not the configured path"
odd=$(find "$T_DIR" -name '*#*' -print)
[ -z "$odd" ] || fail "a file or directory named after a comment was created: $odd"

start_receiver carol carol phone --timeout 60
gen_file "$T_DIR/small.bin" 3000
gen_file "$T_DIR/big.bin" 5001
send_file small alice carol "$T_DIR/small.bin"
expect_delivered
assert_received carol "$T_DIR/small.bin"
send_file big alice carol "$T_DIR/big.bin"
[ "$SEND_RC" -ne 0 ] && [[ "$SEND_LAST" == "rejected: 488 "*"5000"* ]] ||
	fail "max-file-size = 5000 (with its comment) not in effect: exit $SEND_RC, '$SEND_LAST'"
stop_cpmd

# 2. A '#' glued to an unquoted value: refused, with FILE:LINE, before anything is created.
printf 'domain = example.com   # ours\nsip = %s:%s\n\ndata-dir = %s/glued#1\n' "$HOST" "$(pick_port)" "$T_DIR" \
	>"$T_DIR/glued.conf"
rc=0
timeout 10 "$CPMD" --config "$T_DIR/glued.conf" </dev/null >"$LOGDIR/cpmd.glued.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -lt 124 ] || fail "cpmd with data-dir = .../glued#1: exit $rc (an error exit expected)"
assert_grep "$LOGDIR/cpmd.glued.log" "$T_DIR/glued\\.conf:4: .*'#'" "the error does not name glued.conf:4 and the '#'"
assert_no_grep "$LOGDIR/cpmd.glued.log" 'cpmd: ready'
[ ! -e "$T_DIR/glued#1" ] && [ ! -e "$T_DIR/glued" ] || fail "cpmd created a data directory from the refused value"
log "glued '#': exit $rc: $(head -n 1 "$LOGDIR/cpmd.glued.log")"

# 3. Quoted, the '#' belongs to the value; a comment may follow the quotes.
SIP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$SIP_PORT "
MSRP_PORT=$(pick_port)
printf 'sip = %s:%s\t# tab before the comment\nmsrp = %s:%s\ndata-dir = "%s/quoted #2"   # "a comment"\n' \
	"$HOST" "$SIP_PORT" "$HOST" "$MSRP_PORT" "$T_DIR" >"$T_DIR/quoted.conf"
cpmd_conf quoted "$T_DIR/quoted.conf" || fail "cpmd refused a quoted data-dir with '#': $(tail -n 2 "$CPMD_LOG")"
[ -f "$T_DIR/quoted #2/cpmd.db" ] || fail "the quoted data-dir \"$T_DIR/quoted #2\" was not used"
stop_cpmd
