#!/usr/bin/env bash
# cpmscreen when clamd cannot answer: stopped (connection refused / no socket) is an ERROR at
# once, frozen (SIGSTOP: the kernel still accepts, nobody replies) is an ERROR after the reply
# timeout, not a hang; a wrong address is an ERROR; PING says the same; once clamd is back
# (SIGCONT, or a restart) the next call works without anything to reset.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=tests/lib_clamd.sh
. "$CPM_SRC/tests/lib_clamd.sh"
PROBE=${CLAMD_PROBE:-$CPM_BUILD/clamd_probe}
need_bin "$PROBE"

# expect ADDR WANT_REGEX MIN_MS MAX_MS ARGS...: the line must match, and the call must take
# between MIN_MS and MAX_MS.
expect() {
	local addr=$1 want=$2 lo=$3 hi=$4 out ms
	shift 4
	out=$("$PROBE" "$addr" "$@") || true
	[[ "$out" =~ $want ]] || fail "clamd_probe $addr $*: got '$out', want /$want/"
	ms=${out##*ms=}
	if [ "$ms" -lt "$lo" ] || [ "$ms" -gt "$hi" ]; then fail "clamd_probe $addr $*: took $ms ms, want $lo..$hi"; fi
	log "$* -> $out"
}

F="$T_DIR/files"
mkdir -p "$F"
eicar_write "$F/eicar"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$F/clean4m"
SIG="^INFECTED ${CLAMD_SIG//./\\.} ms="

clamd_start "$T_DIR/clamd"
expect "$CLAMD_UNIX" "^PONG ms=" 0 2000 ping
expect "$CLAMD_TCP" "^PONG ms=" 0 2000 ping

# frozen: connects, sends what the socket buffers take, then waits for the reply timeout
kill -STOP "$CLAMD_PID"
expect "$CLAMD_UNIX" "^ERROR clamd: no reply within 700 ms ms=" 650 3000 --reply-ms 700 file "$F/eicar"
expect "$CLAMD_TCP" "^ERROR clamd: no reply within 700 ms ms=" 650 3000 --reply-ms 700 buf "$F/eicar"
# 4 MiB do not fit the socket buffers of a frozen peer: the send side times out too
expect "$CLAMD_UNIX" "^ERROR clamd: timed out after 700 ms sending ms=" 650 3000 --reply-ms 700 file "$F/clean4m"
expect "$CLAMD_UNIX" "^NOPONG clamd: no reply within 500 ms ms=" 450 3000 --reply-ms 500 ping
kill -CONT "$CLAMD_PID"
# thawed: the same calls work again
expect "$CLAMD_UNIX" "$SIG" 0 5000 file "$F/eicar"
expect "$CLAMD_TCP" "^CLEAN ms=" 0 5000 file "$F/clean4m"

# stopped: no socket file, nobody on the port: ERROR within a few ms, whatever the timeouts
sock=$CLAMD_SOCK port=$CLAMD_PORT
clamd_stop
[ ! -e "$sock" ] || fail "clamd left its socket $sock behind"
expect "unix:$sock" "^ERROR clamd: connect to unix:.*: No such file or directory ms=" 0 500 --reply-ms 30000 file "$F/eicar"
expect "127.0.0.1:$port" "^ERROR clamd: connect to 127\\.0\\.0\\.1:$port: Connection refused ms=" 0 500 --reply-ms 30000 buf "$F/eicar"
expect "unix:$sock" "^NOPONG clamd: connect to unix:" 0 500 ping
# a unix socket file nobody listens on (clamd killed hard leaves one)
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$F/dead.sock"
expect "unix:$F/dead.sock" "^ERROR clamd: connect to unix:.*: Connection refused ms=" 0 500 file "$F/eicar"
# a wrong address is an error, not a crash
expect "no-port-here" "^ERROR clamd: bad address" 0 500 file "$F/eicar"
expect "unix:" "^ERROR clamd: bad socket path" 0 500 file "$F/eicar"

# back: a fresh clamd answers the next call
clamd_start "$T_DIR/clamd2"
expect "$CLAMD_UNIX" "$SIG" 0 5000 file "$F/eicar"
clamd_stop
