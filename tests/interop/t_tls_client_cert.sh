#!/usr/bin/env bash
# Mutual TLS (issue 10: "a client with an untrusted certificate is refused", docs/security.md):
# cpmd with --sip-tls, --msrp-tls and --tls-verify-clients on, --tls-ca = the CA that signed the
# good client certificate. (a) cpm with that certificate (--cert/--key) registers over TLS and a
# file goes over SIP+MSRP TLS (msrps) byte-identical; (b) cpm without a certificate and (c) cpm
# with a certificate of another CA are refused (no registration, a line that says why); (d) on
# the MSRP TLS port itself (openssl s_client) a handshake with the rogue certificate or none is
# refused, each with one line in cpmd's log, while the good certificate gets through to the
# MSRP parser. And --tls-verify-clients on without --tls-ca does not start.
. "$(dirname "$0")/../e2e/lib.sh"
. "$CPM_SRC/tests/lib_tls.sh"

CERTS="$T_DIR/certs"
tls_setup "$CERTS"
for f in client.pem client.key rogue-client.pem rogue-client.key; do
	[ -s "$CERTS/$f" ] || fail "mk-test-certs.sh made no $f"
done

# the option needs the CAs to check clients against: a start-up error, not a silent "off"
cpmd_refused noca "--tls-verify-clients on needs --tls-ca" --sip-tls "$HOST:$(pick_port)" \
	--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" --tls-verify-clients on
cpmd_refused badval "--tls-verify-clients" --tls-verify-clients maybe

SIPS_PORT=$(pick_port)
MSRPS_PORT=$(pick_port)
start_cpmd --sip-tls "$HOST:$SIPS_PORT" --msrp-tls "$HOST:$MSRPS_PORT" \
	--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" \
	--tls-ca "$CERTS/server-ca.pem" --tls-verify-clients on
grep -q "clients need a certificate of $CERTS/server-ca.pem" "$CPMD_LOG" ||
	fail "cpmd's MSRP TLS listener does not say it checks client certificates"
SIP_PORT=$SIPS_PORT
CPM_TRANSPORT=tls
GOOD="--ca $CERTS/server-ca.pem --cert $CERTS/client.pem --key $CERTS/client.key"

# (a) the good certificate: registration, then a file over SIP and MSRP TLS
CPM_GLOBAL_OPTS="$GOOD --chunk-size 16384"
start_receiver bob bob phone --count 1 --timeout 60
gen_file "$T_DIR/file.bin" 300000
send_file f1 alice bob "$T_DIR/file.bin"
expect_delivered
wait_exit "${RECV_PID[bob]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received bob "$T_DIR/file.bin"
[ "$(grep -c 'connected (TLS)' "$CPMD_LOG")" -ge 2 ] || fail "the sender's and the device's MSRP should both be TLS"
assert_no_grep "$CPMD_LOG" "TLS handshake refused" "cpmd refused a TLS client with the good certificate"
log "good client certificate: registered, file delivered over TLS"

# (b), (c): no certificate, or one of the rogue CA: no registration, and cpm says why
refused_register() { # NAME USER [cpm global options...]
	local name=$1 user=$2 before rc=0 out="$LOGDIR/refused.$1.out"
	shift 2
	before=$(reg_count "$user")
	timeout -k 2 60 "$CPM" --server "$HOST:$SIP_PORT" --user "sip:$user@$DOMAIN" --device "$name" \
		--transport tls "$@" receive --dir "$T_DIR/recv.$name" --timeout 5 </dev/null >"$out" \
		2>"$LOGDIR/refused.$name.err" || rc=$?
	[ "$rc" = 1 ] || fail "$name: cpm receive exit $rc, 1 expected: $(tail -n 1 "$out")"
	[ "$(reg_count "$user")" = "$before" ] || fail "$name: cpmd registered $user over an untrusted TLS connection"
	grep -q "registered" "$LOGDIR/refused.$name.err" && fail "$name: cpm says it registered"
	REFUSED_LAST=$(tail -n 1 "$out")
	log "$name: refused: $REFUSED_LAST"
}
refused_register nocert carol --ca "$CERTS/server-ca.pem"
case "$REFUSED_LAST" in *"over TLS"*"client certificate"*) ;; *) fail "nocert: the refusal does not name the client certificate: '$REFUSED_LAST'" ;; esac
refused_register rogue dave --ca "$CERTS/server-ca.pem" --cert "$CERTS/rogue-client.pem" --key "$CERTS/rogue-client.key"
case "$REFUSED_LAST" in *"over TLS"*"--cert $CERTS/rogue-client.pem"*) ;; *) fail "rogue: the refusal does not name our --cert: '$REFUSED_LAST'" ;; esac
grep -q "cpm test client rogue-client" "$CPMD_LOG" || fail "cpmd's log does not name the refused SIP client certificate"
# and the good certificate still registers afterwards (the refusals broke nothing)
CPM_GLOBAL_OPTS="$GOOD"
start_receiver carol carol phone --timeout 10

# (d) the MSRP TLS port directly: the rogue certificate and none fail their handshake, each
# with one line; the good one reaches the MSRP parser (a garbage request: "unparseable")
probe() { # NAME [s_client options...]: one connection that sends a line of garbage
	local name=$1
	shift
	(
		printf 'MSRP x SEND\r\n'
		sleep 1
	) | timeout -k 2 10 openssl s_client -connect "$HOST:$MSRPS_PORT" -CAfile "$CERTS/server-ca.pem" \
		-verify_return_error "$@" >"$LOGDIR/probe.$name.out" 2>&1 || true
}
refused() { grep -c "TLS handshake refused: client certificate" "$CPMD_LOG" || true; }
parsed() { grep -c "unparseable stream" "$CPMD_LOG" || true; }
r0=$(refused) p0=$(parsed)
probe rogue -cert "$CERTS/rogue-client.pem" -key "$CERTS/rogue-client.key"
wait_for 5 "cpmd to log the refused rogue certificate" test "$(refused)" -gt "$r0"
[ "$(refused)" = $((r0 + 1)) ] || fail "the rogue handshake: $(($(refused) - r0)) refusal lines, 1 expected"
grep -q "TLS handshake refused: client certificate: unable to get local issuer certificate" "$CPMD_LOG" ||
	fail "cpmd's line does not say the rogue certificate is not chained to --tls-ca"
grep -q -i "alert unknown ca" "$LOGDIR/probe.rogue.out" || fail "s_client with the rogue certificate saw no 'unknown ca' alert"
[ "$(parsed)" = "$p0" ] || fail "bytes from the rogue client reached the MSRP parser"
probe none
wait_for 5 "cpmd to log the handshake without a certificate" test "$(refused)" -gt $((r0 + 1))
grep -q "TLS handshake refused: client certificate: none shown" "$CPMD_LOG" ||
	fail "cpmd's line does not say the client showed no certificate"
grep -q -i "alert certificate required\|alert handshake failure" "$LOGDIR/probe.none.out" ||
	fail "s_client without a certificate saw no alert"
[ "$(parsed)" = "$p0" ] || fail "bytes from a client without a certificate reached the MSRP parser"
probe good -cert "$CERTS/client.pem" -key "$CERTS/client.key"
wait_for 5 "cpmd to parse the good client's bytes" test "$(parsed)" -gt "$p0"
[ "$(refused)" = $((r0 + 2)) ] || fail "the good certificate was refused on the MSRP TLS port"
grep -q -i "alert" "$LOGDIR/probe.good.out" && fail "s_client with the good certificate got an alert"
log "MSRP TLS port: rogue certificate and none refused, the good one accepted"
