#!/usr/bin/env bash
# SIP over TLS (issue 10 §3, docs/security.md): cpmd listens on --sip-tls with a certificate of
# a test CA; a device registers over TLS (cpm --transport tls --ca CA), a pager MESSAGE reaches
# it over TLS, and a file offer (msrps) to this cpmd without --msrp-tls is refused with 488.
# A capture of the TLS port, decoded by tshark, must show TLS
# records and not one SIP message in clear: no start line, no header, not the message's text.
# A client that does not trust cpmd's certificate (another CA) is refused, with a line that
# says so.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../lib_tshark.sh"
. "$CPM_SRC/tests/lib_tls.sh"

CERTS="$T_DIR/certs"
tls_setup "$CERTS" capture
TLS_PORT=$(pick_port)
# cpmd's own TMPDIR: other TLS tests run in parallel and make their directories in /tmp
CPMD_TMP="$T_DIR/cpmd-tmp"
mkdir -p "$CPMD_TMP"
TMPDIR="$CPMD_TMP" start_cpmd --sip-tls "$HOST:$TLS_PORT" --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key"
grep -q "sip=tls:$HOST:$TLS_PORT" "$CPMD_LOG" || fail "cpmd did not report its TLS listener"
[ -z "$(ls -A "$CPMD_TMP")" ] ||
	fail "cpmd left its certificate directory (with the private key) in its TMPDIR: $(ls -A "$CPMD_TMP")"

tls_capture_start "tcp port $TLS_PORT"

# every cpm of this test talks to the TLS port
SIP_PORT=$TLS_PORT
CPM_TRANSPORT=tls
CPM_GLOBAL_OPTS="--ca $CERTS/server-ca.pem"
start_receiver bob bob phone --count 1 --timeout 60
grep -q 'transport=tls' "$CPMD_LOG" || fail "bob's binding is not a TLS flow"
secret="pager-secret-$RANDOM$RANDOM"
send_message m1 alice bob "$secret"
expect_message_result m1 0 sent
wait_for 10 "bob to print the message" grep -q "$secret" "${RECV_OUT[bob]}"
# a file offer over TLS: the client offers msrps, and this cpmd has no --msrp-tls: it must
# refuse (488, saying why) rather than move the file in clear (t_tls_msrp has the transfer)
gen_file "$T_DIR/small.bin" 2000
send_file f1 alice bob "$T_DIR/small.bin"
[ "$SEND_RC" = 4 ] && [ "$SEND_LAST" = "rejected: 488 msrps (TLS) offered but cpmd has no --msrp-tls" ] ||
	fail "an msrps offer to a cpmd without --msrp-tls: exit $SEND_RC, '$SEND_LAST'"
sleep 0.5
kill -INT "$CAP"
wait_exit "$CAP" 10
grep -q -E '^[1-9][0-9]* packets dropped' "$LOGDIR/tshark.capture" && fail "the capture dropped packets"

cap="$T_DIR/tls.pcapng"
tshark_counts "$cap" -d "tcp.port==$TLS_PORT,tls" -- 'tls.app_data' 'tls.handshake.type == 1' # tests/lib_tshark.sh
records=${COUNTS[0]} handshakes=${COUNTS[1]}
log "TLS application-data frames: $records, ClientHellos: $handshakes"
[ "$handshakes" -ge 3 ] || fail "$handshakes TLS handshakes on the TLS port, at least 3 expected (receiver, message, send)"
[ "$records" -ge 6 ] || fail "$records TLS application-data frames, at least 6 expected"
[ "$(tshark -r "$cap" -Y sip 2>/dev/null | wc -l)" -eq 0 ] || fail "tshark decodes SIP in clear on the TLS port"
# the raw bytes too: no SIP start line, header or the message text anywhere in the capture
for s in "SIP/2.0" "REGISTER sip" "MESSAGE sip" "INVITE sip" "Call-ID:" "$secret"; do
	if grep -a -q -F -- "$s" "$cap"; then fail "'$s' is in clear in the capture of the TLS port"; fi
done
log "no SIP in clear on the TLS port"

# a client that trusts another CA must not talk to this cpmd
CPM_GLOBAL_OPTS="--ca $CERTS/rogue-ca.pem"
send_message m2 alice bob "must not pass"
[ "$MSG_RC" = 1 ] || fail "a client that does not trust cpmd's certificate: exit $MSG_RC, 1 expected"
case "$MSG_LAST" in *"over TLS"*"--ca"*) ;; *) fail "the refusal does not name TLS and --ca: '$MSG_LAST'" ;; esac
grep -q "must not pass" "$CPMD_LOG" && fail "cpmd took a message over an untrusted TLS connection"
log "untrusted certificate refused: $MSG_LAST"
