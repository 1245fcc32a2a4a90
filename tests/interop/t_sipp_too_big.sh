#!/usr/bin/env bash
# A sender we did not write (SIPp, over UDP and over TCP) offers a file above
# cpmd --max-file-size: the INVITE gets 488 whose reason phrase names the
# limit; the registered device of the recipient never sees the offer.
. "$(dirname "$0")/../e2e/lib.sh"

start_cpmd --max-file-size 1000
start_receiver bob bob phone --count 1 --timeout 60
for tr in u1 t1; do
	run_sipp "big-$tr" -sf "$SIPP_DIR/sender_too_big.xml" -t "$tr" -m 1 -timeout 30s -timeout_error \
		-s bob -key domain "$DOMAIN" -key from alice -key size 2000 "$HOST:$SIP_PORT"
	[ "$SIPP_RC" = 0 ] || fail "SIPp sender over $tr: scenario failed (exit $SIPP_RC; 488 expected)"
	sipp_clean "big-$tr"
	status=$(sed -n 's/.*STATUS //p' "$LOGDIR/sipp.big-$tr.log" | head -n 1)
	log "$tr: $status"
	[[ "$status" == "SIP/2.0 488 "* ]] || fail "$tr: status line '$status', 488 expected"
	[[ "$status" == *1000* ]] || fail "$tr: the reason phrase '$status' does not name the limit (1000)"
done
assert_dir_empty "${RECV_DIR[bob]}" "the device received something"
assert_no_grep "${RECV_OUT[bob]}" '^received ' "the device received a rejected file"
cpmd_alive
