#!/usr/bin/env bash
# Issue 12: many kinds of transfer at once through a cpmd with two worker loops (--workers 2,
# or CPMD_WORKERS: CMake's workers1/ copy runs it on the one loop of before). Four live plain
# transfers, one live over TLS (its SSL* moves to the worker with the connection), a file
# stored for an offline user and pushed when she comes, a delivery killed half-way and
# resumed (lib_resume.sh), and a chat, all overlapping; every file must arrive byte-identical
# and the chat must go both ways. With workers, the big transfers' connections must have been
# handed over to a worker loop (cpmd's log says so).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat_lib.sh"
. "$(dirname "$0")/lib_resume.sh"
. "$CPM_SRC/tests/lib_tls.sh"

export CPMD_WORKERS=${CPMD_WORKERS:-2}
export CPM_SMALL_FILES=1 # the resume scenario's file: 40 MiB, next to everything else

CERTS="$T_DIR/certs"
tls_setup "$CERTS"
SIPS_PORT=$(pick_port)
MSRPS_PORT=$(pick_port)
start_cpmd --sip-tls "$HOST:$SIPS_PORT" --msrp-tls "$HOST:$MSRPS_PORT" \
	--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key"
PLAIN_SIP_PORT=$SIP_PORT

# tls_on / tls_off: the cpm commands started in between use SIP and MSRP over TLS
tls_on() { SIP_PORT=$SIPS_PORT CPM_TRANSPORT=tls CPM_GLOBAL_OPTS="--ca $CERTS/server-ca.pem"; }
tls_off() { SIP_PORT=$PLAIN_SIP_PORT CPM_TRANSPORT= CPM_GLOBAL_OPTS=; }

for i in 1 2 3 4; do
	gen_file "$T_DIR/f$i.bin" $((12 * 1048576 + i))
	start_receiver "r$i" "user$i" phone --count 1 --timeout 120
done
gen_file "$T_DIR/tls.bin" $((6 * 1048576 + 7))
tls_on
start_receiver rt tlsuser phone --count 1 --timeout 120
tls_off
gen_file "$T_DIR/stored.bin" $((5 * 1048576 + 3))
start_receiver erin erin phone --reply "pong-mix"

# a file for carol, who is offline: stored now, pushed while the others run
send_file st alice carol "$T_DIR/stored.bin"
[ "$SEND_RC" = 0 ] && [ "$SEND_LAST" = stored ] || fail "store for offline carol: exit $SEND_RC, '$SEND_LAST'"

declare -A SPID=()
for i in 1 2 3 4; do
	send_file_bg "f$i" "sender$i" "user$i" "$T_DIR/f$i.bin"
	SPID[f$i]=$SEND_PID
done
tls_on
send_file_bg tls tlssender tlsuser "$T_DIR/tls.bin"
SPID[tls]=$SEND_PID
tls_off
start_receiver carol carol tablet --count 1 --timeout 120
start_chat c1 alice erin
chat_wait_up c1
chat_say c1 "hello-mix"

# meanwhile: a stored delivery killed half-way and resumed
push_resume_scenario

wait_lines 30 "${RECV_OUT[erin]}" "hello-mix" 1
wait_lines 30 "${CHAT_OUT[c1]}" "pong-mix" 1
for k in f1 f2 f3 f4 tls; do
	wait_exit "${SPID[$k]}" 120
	last=$(tail -n 1 "$LOGDIR/send.$k.out" 2>/dev/null || true)
	[ "$WAIT_RC" = 0 ] && [ "$last" = delivered ] || fail "send $k: exit $WAIT_RC, last line '$last' (expected 0 / delivered)"
done
for i in 1 2 3 4; do
	wait_exit "${RECV_PID[r$i]}" 30
	[ "$WAIT_RC" = 0 ] || fail "receiver r$i: exit status $WAIT_RC"
	assert_received "r$i" "$T_DIR/f$i.bin"
done
wait_exit "${RECV_PID[rt]}" 30
[ "$WAIT_RC" = 0 ] || fail "TLS receiver: exit status $WAIT_RC"
assert_received rt "$T_DIR/tls.bin"
wait_exit "${RECV_PID[carol]}" 60
[ "$WAIT_RC" = 0 ] || fail "carol's receiver: exit status $WAIT_RC"
assert_received carol "$T_DIR/stored.bin"
grep -q "connected (TLS)" "$CPMD_LOG" || fail "no MSRP connection over TLS in cpmd's log"
if [ "$CPMD_WORKERS" -gt 1 ]; then
	n=$(grep -c 'connection handed over' "$CPMD_LOG" || true)
	[ "$n" -ge 10 ] || fail "only $n connections were handed over to a worker loop (10 or more expected)"
	assert_grep "$CPMD_LOG" 'on worker [0-9]+: connection handed over' "no hand-off named its worker"
	log "$n connections handed over to worker loops"
else
	assert_no_grep "$CPMD_LOG" 'handed over' "--workers 1 handed a connection over"
fi
chat_eof c1
cpmd_alive
