#!/usr/bin/env bash
# Slowloris on both ports (issue 10 §4, docs/security.md), with short timeouts for the test:
#  a) MSRP (--msrp-idle-timeout 2): a connection that sends the start of a request and then a
#     byte every 0.5 s never completes a request: closed within ~2 s of opening, whatever the
#     bytes (the bound counts from the connection's opening, not from its last byte).
#  b) SIP over TCP (--sip-tcp-timeout 2, sofia's TPTAG_TIMEOUT): the start of an INVITE, then
#     a byte every 3 s (the "byte a minute" peer, scaled down): closed after 2 s of silence
#     inside the incomplete message.
#  c) cpmd still serves a transfer afterwards.
. "$(dirname "$0")/lib.sh"

start_cpmd --msrp-idle-timeout 2 --sip-tcp-timeout 2
ATT="$CPM_SRC/tests/e2e/slowloris.py"

out=$(python3 "$ATT" slow "$MSRP_PORT" 'MSRP a786hjs2 SEND\r\nTo-Path: msrp://127.0.0.1/x;tcp\r\n' 0.5 8) ||
	fail "a) MSRP: the slow connection was not closed: $out"
log "a) MSRP: $out"
s=$(echo "$out" | sed -n 's/^closed after \([0-9]*\)\..*/\1/p')
[ -n "$s" ] && [ "$s" -ge 1 ] && [ "$s" -le 4 ] || fail "a) MSRP: closed after ${s:-?} s, expected about 2"
assert_grep "$CPMD_LOG" 'no complete request in 2 s \(msrp-idle-timeout\)' "a) cpmd did not log the MSRP timeout"

out=$(python3 "$ATT" slow "$SIP_PORT" 'INVITE sip:bob@cpm.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKslow\r\n' 3 12) ||
	fail "b) SIP TCP: the slow connection was not closed: $out"
log "b) SIP: $out"
s=$(echo "$out" | sed -n 's/^closed after \([0-9]*\)\..*/\1/p')
[ -n "$s" ] && [ "$s" -ge 1 ] && [ "$s" -le 6 ] || fail "b) SIP: closed after ${s:-?} s, expected about 2"

gen_file "$T_DIR/after.bin" 50000
start_receiver bob bob phone --count 1 --timeout 30
send_file c alice bob "$T_DIR/after.bin"
expect_delivered
assert_received bob "$T_DIR/after.bin"
cpmd_alive
