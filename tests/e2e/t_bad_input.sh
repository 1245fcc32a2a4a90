#!/usr/bin/env bash
# Garbage on every port cpmd listens on (SIP/UDP, SIP/TCP, MSRP/TCP): random
# bytes, malformed and truncated SIP, an overlong MSRP line, MSRP for an
# unknown session (must get 481). cpmd must stay up after each case and still
# relay a file at the end. The wire cases live in tests/data/wire/.
. "$(dirname "$0")/lib.sh"

WIRE="python3 $E2E_DIR/wire.py"
W="$DATA_DIR/wire"
start_cpmd
subst=(--subst "MSRP_PORT=$MSRP_PORT" --subst "DOMAIN=$DOMAIN")
step() { log "case: $*"; }

step "random datagrams on SIP/UDP"
for i in $(seq 1 20); do
	head -c $((RANDOM % 1400 + 1)) /dev/urandom | $WIRE udp $HOST "$SIP_PORT" - 2>>"$LOGDIR/wire.err"
done
head -c 60000 /dev/urandom | $WIRE udp $HOST "$SIP_PORT" - 2>>"$LOGDIR/wire.err"
cpmd_alive

step "malformed SIP over UDP"
$WIRE udp $HOST "$SIP_PORT" "$W/sip_truncated_invite.sip" --crlf "${subst[@]}" 2>>"$LOGDIR/wire.err"
$WIRE udp $HOST "$SIP_PORT" "$W/sip_garbage_headers.sip" --crlf "${subst[@]}" 2>>"$LOGDIR/wire.err"
{ printf 'INVITE sip:bob@%s SIP/2.0\r\nX: ' "$DOMAIN"; head -c 60000 /dev/zero | tr '\0' A; printf '\r\n\r\n'; } |
	$WIRE udp $HOST "$SIP_PORT" - 2>>"$LOGDIR/wire.err"
cpmd_alive

step "random bytes and malformed SIP over TCP"
head -c 262144 /dev/urandom | $WIRE tcp $HOST "$SIP_PORT" - --timeout 2 >/dev/null 2>>"$LOGDIR/wire.err" || true
$WIRE tcp $HOST "$SIP_PORT" "$W/sip_huge_content_length.sip" --crlf "${subst[@]}" --timeout 2 >/dev/null 2>>"$LOGDIR/wire.err" || true
$WIRE tcp $HOST "$SIP_PORT" "$W/sip_garbage_headers.sip" --crlf "${subst[@]}" --timeout 2 >/dev/null 2>>"$LOGDIR/wire.err" || true
cpmd_alive

step "random bytes on MSRP"
head -c 65536 /dev/urandom | $WIRE tcp $HOST "$MSRP_PORT" - --timeout 2 >/dev/null 2>>"$LOGDIR/wire.err" || true
cpmd_alive

step "MSRP SEND for an unknown session -> 481"
$WIRE tcp $HOST "$MSRP_PORT" "$W/msrp_unknown_session.msrp" --crlf "${subst[@]}" \
	--expect '^MSRP a1b2c3d4 481' --timeout 10 >"$LOGDIR/wire.481.out" 2>>"$LOGDIR/wire.err" ||
	fail "no 'MSRP a1b2c3d4 481' response to a SEND for an unknown session; got: $(head -c 300 "$LOGDIR/wire.481.out")"
cpmd_alive

step "overlong MSRP line -> error or close within 10 s"
{ cat "$W/msrp_overlong_line.msrp"; head -c 1048576 /dev/zero | tr '\0' a; } |
	$WIRE tcp $HOST "$MSRP_PORT" - "${subst[@]}" --expect-close --timeout 10 >"$LOGDIR/wire.long.out" 2>>"$LOGDIR/wire.err" ||
	grep -q -E '^MSRP e5f6g7h8 4[0-9][0-9]' "$LOGDIR/wire.long.out" ||
	fail "cpmd neither answered an error nor closed the connection within 10 s of a 1 MiB MSRP header line"
cpmd_alive

step "many half-open connections (opened, a partial line, closed)"
fds=()
for i in $(seq 1 50); do
	exec {fd}<>"/dev/tcp/$HOST/$MSRP_PORT" || fail "cannot connect to the MSRP port (connection $i)"
	printf 'MSRP ' >&$fd
	fds+=("$fd")
	exec {fd}<>"/dev/tcp/$HOST/$SIP_PORT" || fail "cannot connect to the SIP port (connection $i)"
	printf 'INV' >&$fd
	fds+=("$fd")
done
for fd in "${fds[@]}"; do exec {fd}>&-; done
cpmd_alive

step "a real transfer still works"
gen_file "$T_DIR/after.bin" 100000
start_receiver bob bob phone --count 1 --timeout 60
send_file after alice bob "$T_DIR/after.bin"
expect_delivered
wait_exit "${RECV_PID[bob]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received bob "$T_DIR/after.bin"
