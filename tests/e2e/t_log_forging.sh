#!/usr/bin/env bash
# cpmd's log cannot be forged by a peer, and every line of it has one shape:
#   2026-12-03T07:11:54.123Z cpmd: LEVEL: TEXT      (ISO 8601 UTC, then the prefix)
# (plus the one `cpmd: ready ...` line). A file name with an embedded newline
# used to print a line of its own (`cpmd: error: FAKE LINE`); a name with an
# escape sequence reached the operator's terminal. sofia-sip's own output (here
# every SIP message, TPORT_LOG=1) used to bypass the logger; it now comes in
# cpmd lines too ("cpmd: warn: sofia: ...").
. "$(dirname "$0")/lib.sh"

export TPORT_LOG=1
start_cpmd
unset TPORT_LOG
start_receiver bob bob phone --count 2 --timeout 60
mkdir -p "$T_DIR/src/1" "$T_DIR/src/2"
n1=$'x\ncpmd: error: FAKE LINE'
n2=$'esc\e[31mred\r\nZZZ forged\x7f'
gen_file "$T_DIR/src/1/$n1" 100
gen_file "$T_DIR/src/2/$n2" 200
send_file n1 alice bob "$T_DIR/src/1/$n1"
expect_delivered
send_file n2 alice bob "$T_DIR/src/2/$n2"
expect_delivered
wait_exit "${RECV_PID[bob]}" 30
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received bob "$T_DIR/src/1/$n1"
assert_received bob "$T_DIR/src/2/$n2"
stop_cpmd

assert_no_grep "$CPMD_LOG" '^(cpmd: error: )?FAKE|^ZZZ|^red' "a peer's file name forged a log line"
assert_grep "$CPMD_LOG" 'name="x\\ncpmd: error: FAKE LINE"' "the newline of the file name is not shown escaped (\\n)"
assert_grep "$CPMD_LOG" 'name="esc\\x1b\[31mred\\r\\nZZZ forged\\x7f"' "the escape sequence of the file name is not shown escaped"
! grep -q -a $'\e' "$CPMD_LOG" || fail "a raw ESC byte reached cpmd's log"
assert_grep "$CPMD_LOG" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z cpmd: warn: sofia: recv [0-9]+ bytes' \
	"sofia's message log (TPORT_LOG=1) does not come through cpmd's logger"
shape='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z cpmd: (error|warn|info|debug): |^cpmd: ready domain='
bad=$(grep -a -v -c -E "$shape" "$CPMD_LOG" || true)
[ "$bad" = 0 ] || fail "$bad line(s) of cpmd's log without the time stamp and prefix, e.g.: $(grep -a -v -m 3 -E "$shape" "$CPMD_LOG" | cut -c1-120 | tr '\n' '|')"
log "$(wc -l <"$CPMD_LOG") log lines, all shaped; sofia lines: $(grep -c 'cpmd: warn: sofia' "$CPMD_LOG")"
