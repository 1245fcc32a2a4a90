#!/usr/bin/env bash
# cpmd started on a port someone else holds (the MSRP TCP port; the SIP UDP
# port; the SIP TCP port) must exit by itself, non-zero and not by a signal
# (no abort), within 10 s, with a message naming the address, and never print
# `cpmd: ready`.
. "$(dirname "$0")/lib.sh"

# hold KIND PORT: a process holding 127.0.0.1:PORT (tcp: listening, udp: bound).
hold() {
	python3 -c '
import socket, sys, time
k, p = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if k == "tcp" else socket.SOCK_DGRAM)
s.bind(("127.0.0.1", p))
if k == "tcp":
    s.listen()
print("held", flush=True)
time.sleep(60)' "$1" "$2" >"$LOGDIR/hold.$1.$2" 2>&1 &
	PIDS+=("$!")
	wait_for 10 "a $1 socket on port $2" grep -q held "$LOGDIR/hold.$1.$2"
}

# try NAME HELD_PORT cpmd-options...: cpmd must fail cleanly.
try() {
	local name=$1 port=$2 rc=0
	shift 2
	timeout -k 2 10 "$CPMD" --domain "$DOMAIN" --data-dir "$T_DIR/data.$name" "$@" \
		</dev/null >"$LOGDIR/cpmd.$name.log" 2>&1 || rc=$?
	[ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$name: cpmd still running 10 s after failing to bind port $port"
	[ $rc -ne 0 ] || fail "$name: cpmd exited 0 although port $port is taken"
	[ $rc -lt 128 ] || fail "$name: cpmd died by signal $((rc - 128)) (exit $rc) instead of exiting with an error: $(tail -n 3 "$LOGDIR/cpmd.$name.log" | tr '\n' ' ')"
	assert_no_grep "$LOGDIR/cpmd.$name.log" 'cpmd: ready' "$name: cpmd said ready although port $port is taken"
	assert_grep "$LOGDIR/cpmd.$name.log" "127\\.0\\.0\\.1:$port|:$port\\b" "$name: the error does not name the address 127.0.0.1:$port"
	log "$name: exit $rc: $(grep -m1 -i -E 'error|cannot|in use' "$LOGDIR/cpmd.$name.log")"
}

s1=$(pick_port); m1=$(pick_port)
hold tcp "$m1"
try msrp-taken "$m1" --sip "$HOST:$s1" --msrp "$HOST:$m1"
s2=$(pick_port); m2=$(pick_port)
hold udp "$s2"
try sip-udp-taken "$s2" --sip "$HOST:$s2" --msrp "$HOST:$m2"
s3=$(pick_port); m3=$(pick_port)
hold tcp "$s3"
try sip-tcp-taken "$s3" --sip "$HOST:$s3" --msrp "$HOST:$m3"
