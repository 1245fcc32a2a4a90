#!/usr/bin/env bash
# SIGHUP re-reads the --config file (issue 13 §5): lowering max-file-size refuses a new big
# file at once while a transfer already flowing completes intact; each changed key is logged
# (the new value applied, or "needs a restart" with the old value kept); a --user-pref added
# to the file changes that user's behaviour (defer=off: a file for her is refused, not stored);
# a config file that no
# longer parses changes nothing; the command line still wins over the file after a reload.
. "$(dirname "$0")/lib.sh"

conf="$T_DIR/cpmd.conf"
printf 'max-file-size = 0\nmax-devices = 16\nlog-level = info\nmax-transfers = 100\n' >"$conf"
# --max-transfers on the command line: the file's value changes below, the flag must stay
start_cpmd --config "$conf" --max-transfers 50
size=$(big_size 150)
gen_file "$T_DIR/big.bin" "$size"
gen_file "$T_DIR/small.bin" 2000
start_receiver bob bob phone --timeout 180
send_file_bg inflight alice bob "$T_DIR/big.bin"
bg_pid=$SEND_PID bg_out=$SEND_OUT # send_file below sets SEND_*
has_bytes() { [ -n "$(find "${RECV_DIR[bob]}" -type f -size +0 -print -quit)" ]; }
wait_for 30 "the device to write the first bytes of the big file" has_bytes

sed -i -e 's/^max-file-size = 0$/max-file-size = 1000/' -e 's/^max-devices = 16$/max-devices = 4/' \
	-e 's/^log-level = info$/log-level = debug/' -e 's/^max-transfers = 100$/max-transfers = 200/' "$conf"
kill -HUP "$CPMD_PID"
reloaded() { [ "$(grep -c 'reload done' "$CPMD_LOG")" -ge "$1" ]; }
wait_for 10 "cpmd's 'reload done' line" reloaded 1
kill -0 "$bg_pid" 2>/dev/null || fail "the big transfer ended before the reload (too fast for this test?)"
assert_grep "$CPMD_LOG" 'cpmd: info: reload: max-file-size: 0 -> 1000$' "no log line for the new max-file-size"
assert_grep "$CPMD_LOG" 'cpmd: info: reload: log-level: info -> debug$' "no log line for the new log level"
assert_grep "$CPMD_LOG" 'cpmd: warn: reload: max-devices needs a restart: keeps 16 \(new value 4\)' \
	"max-devices (restart only) not reported as needing a restart"
assert_no_grep "$CPMD_LOG" 'reload: max-transfers' "the command line's --max-transfers 50 lost to the file after a reload"
assert_grep "$CPMD_LOG" 'reload done: 2 key\(s\) applied, 1 need a restart' "wrong reload summary"

# the new limit: a new 2000-byte file is refused before any byte moves
send_file small alice bob "$T_DIR/small.bin"
[[ "$SEND_RC" -ne 0 && "$SEND_LAST" == "rejected: 488"* && "$SEND_LAST" == *1000* ]] ||
	fail "after SIGHUP a 2000-byte file got exit $SEND_RC, '$SEND_LAST' (expected 'rejected: 488 ... 1000 ...')"
# the transfer in flight was accepted under the old limit: it completes, intact
wait_exit "$bg_pid" 150
last=$(tail -n 1 "$bg_out")
[ "$WAIT_RC" = 0 ] && [ "$last" = delivered ] || fail "the transfer in flight ended '$last' (exit $WAIT_RC) after the reload"
assert_received bob "$T_DIR/big.bin"
assert_grep "$CPMD_LOG" 'cpmd: debug: ' "log-level debug applied by the reload, but no debug line since"

# preferences: carol (never registered) gets files stored for her; a --user-pref defer=off
# added to the file and reloaded makes cpmd refuse them instead (her stored record changes)
printf 'max-file-size = 0\nmax-devices = 4\nlog-level = debug\nmax-transfers = 200\nuser-pref = carol@%s:defer=off\n' "$DOMAIN" >"$conf"
sed -i 's/^max-file-size = 0$/max-file-size = 1000/' "$conf"
gen_file "$T_DIR/tiny.bin" 500
send_file c1 alice carol "$T_DIR/tiny.bin"
[ "$SEND_LAST" = stored ] || fail "before the reload, a file for the absent carol: '$SEND_LAST' (stored expected)"
kill -HUP "$CPMD_PID"
wait_for 10 "the second reload" reloaded 2
assert_grep "$CPMD_LOG" "cpmd: info: reload: user-pref: \(not set\) -> carol@$DOMAIN:defer=off\$" "no log line for the new user-pref"
assert_grep "$CPMD_LOG" 'reload done: 1 key\(s\) applied, 1 need a restart' \
	"wrong summary of the second reload (max-devices still needs a restart)"
send_file c2 alice carol "$T_DIR/tiny.bin"
[ "$SEND_RC" != 0 ] && [[ "$SEND_LAST" == "rejected: 480"* ]] ||
	fail "after the reload (carol: defer=off) a file for her: exit $SEND_RC, '$SEND_LAST' (rejected: 480 expected)"

# a broken file: logged, nothing changes (the limit stays 1000)
printf 'max-file-size = 5000\nno-such-key = 1\n' >"$conf"
kill -HUP "$CPMD_PID"
bad_logged() { grep -q 'reload: .* is not valid' "$CPMD_LOG"; }
wait_for 10 "the bad config to be reported" bad_logged
assert_grep "$CPMD_LOG" 'unknown setting "no-such-key"' "the bad key is not named"
send_file small2 alice bob "$T_DIR/small.bin"
[[ "$SEND_LAST" == "rejected: 488"* && "$SEND_LAST" == *1000* ]] ||
	fail "after a bad reload the limit is not 1000 any more: '$SEND_LAST'"
cpmd_alive
