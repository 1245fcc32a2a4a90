#!/usr/bin/env bash
# Two home domains over TLS (docs/security.md "Between two PFs", docs/deployment.md §3):
# example.com and example.net route to each other with --route ...;transport=tls, and every
# device registers over TLS.
#   1. a file from alice@example.com to bob@example.net arrives byte-identical; example.com's
#      SIP to example.net is TLS and so is the MSRP leg between the PFs (example.com connects
#      out with TLS); a capture of every port of both cpmd holds no byte of the file, no MSRP
#      and no SIP in clear, and nothing on their plain ports;
#   2. example.net's MSRP certificate does not name the host of its a=path (it advertises
#      127.0.0.2, its certificate names 127.0.0.1): example.com's TLS handshake fails with a
#      logged reason, exactly as a refused connection: example.com keeps the file (alice hears
#      `stored`) and retries later, failing the same way; no byte of the file reaches
#      example.net;
#   3. example.net shows a certificate of the rogue CA (example.com trusts only server-ca):
#      sofia refuses the SIP connection (logged: the certificate's issuer and the reason), the
#      INVITE never reaches example.net. sofia-sip 1.12.11 does not fail the transaction on
#      the refused handshake (it waits for Timer B, 32 s), so the transfer ends when its
#      sender leg's bind timeout (--msrp-idle-timeout, 8 s here) runs out: alice hears
#      `rejected: 500 Transfer Failed`; nothing is stored on either side.
. "$(dirname "$0")/lib.sh"
. "$CPM_SRC/tests/lib_tls.sh"
. "$CPM_SRC/tests/lib_tshark.sh"
. "$(dirname "$0")/lib_domains.sh"

D_CERTS="$T_DIR/certs"
tls_setup "$D_CERTS" capture

# a TLS route without --sip-tls/--msrp-tls is refused at start-up, with the reason
if "$CPMD" --domain example.com --sip "$HOST:$(pick_port)" --msrp "$HOST:$(pick_port)" \
	--data-dir "$T_DIR/refused" --route "example.net=$HOST:5061;transport=tls" </dev/null >/dev/null \
	2>"$LOGDIR/refused.log"; then
	fail "cpmd started with a TLS route and no --sip-tls"
fi
grep -q 'transport=tls needs --sip-tls' "$LOGDIR/refused.log" || fail "no reason for refusing a TLS route: $(cat "$LOGDIR/refused.log")"

domains_start "--msrp-idle-timeout 8" ""
ports=""
for k in com net; do
	for p in "${D_SIP[$k]}" "${D_MSRP[$k]}" "${D_SIPS[$k]}" "${D_MSRPS[$k]}"; do
		ports="${ports:+$ports or }tcp port $p"
	done
done
tls_capture_start "$ports or udp port ${D_SIP[com]} or udp port ${D_SIP[net]}"

marker="FILE-PLAINTEXT-$RANDOM$RANDOM"
for ((i = 0; i < 20000; i++)); do echo "$marker line $i of the secret file"; done >"$T_DIR/secret.txt"

# 1. across the domains over TLS
use_domain net
start_receiver bob bob phone --timeout 90
use_domain com
send_file live alice bob@example.net "$T_DIR/secret.txt"
expect_delivered
assert_received bob "$T_DIR/secret.txt"
assert_grep "${D_LOG[com]}" "branch [0-9]+ -> sip:bob@example.net via sip:127.0.0.1:${D_SIPS[net]};transport=tls" \
	"example.com did not send the INVITE over its TLS route"
assert_grep "${D_LOG[com]}" "127.0.0.1:${D_MSRPS[net]}: connected out \(TLS\) for session" \
	"example.com did not connect to example.net's MSRP over TLS"
sleep 0.5
kill -INT "$CAP"
wait_exit "$CAP" 10
grep -q -E '^[1-9][0-9]* packets dropped' "$LOGDIR/tshark.capture" && fail "the capture dropped packets"
cap="$T_DIR/tls.pcapng"
plain() { # the plain SIP/MSRP ports of domain $1, with data
	echo "(tcp.port == ${D_SIP[$1]} || tcp.port == ${D_MSRP[$1]} || udp.port == ${D_SIP[$1]}) && (tcp.len > 0 || udp)"
}
tshark_counts "$cap" -d "tcp.port==${D_SIPS[com]},tls" -d "tcp.port==${D_SIPS[net]},tls" \
	-d "tcp.port==${D_MSRPS[net]},tls" -d "tcp.port==${D_MSRPS[com]},tls" -- \
	"tcp.port == ${D_MSRPS[net]} && tls.app_data" \
	"tcp.srcport == ${D_SIPS[net]} && tcp.dstport != ${D_SIPS[com]} && tls.app_data && ip.src == 127.0.0.1" \
	"$(plain com)" "$(plain net)" # tests/lib_tshark.sh
appdata=${COUNTS[0]}
log "TLS application-data frames on example.net's MSRP TLS port: $appdata"
[ "$appdata" -ge 20 ] || fail "$appdata TLS application-data frames on example.net's MSRP TLS port: the file did not go there"
pfsip=${COUNTS[1]}
log "TLS application-data frames from example.net's SIP TLS port: $pfsip"
i=2
for k in com net; do
	n=${COUNTS[$i]}
	i=$((i + 1))
	[ "$n" -eq 0 ] || fail "$n packets with data on ${D_NAME[$k]}'s plain SIP/MSRP ports: a leg was not TLS"
done
[ "$(tshark -r "$cap" -Y 'msrp || sip' 2>/dev/null | wc -l)" -eq 0 ] || fail "tshark decodes MSRP or SIP in clear"
for s in "$marker" "of the secret file" "MSRP " "msrp://" "msrps://" "Byte-Range" "SIP/2.0" "INVITE sip:"; do
	if grep -a -q -F -- "$s" "$cap"; then fail "'$s' is in clear in the capture"; fi
done
log "no byte of the file, no MSRP and no SIP in clear between the PFs"
kill "${RECV_PID[bob]}" 2>/dev/null || true

# 2. example.net's MSRP certificate does not name its a=path host: the handshake fails
domain_stop net
D_MSRPS_HOST[net]=0.0.0.0
D_OPTS[net]="--msrp-advertise 127.0.0.2"
domain_start net
use_domain com
send_file badname alice carol@example.net "$T_DIR/secret.txt"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
	fail "expected 'stored' (kept by example.com); got exit $SEND_RC, '$SEND_LAST'"
assert_grep "${D_LOG[com]}" "127.0.0.2:${D_MSRPS[net]}: TLS: the peer's certificate is not trusted \(IP address mismatch\)" \
	"example.com did not log why it refused example.net's MSRP certificate"
assert_grep "${D_LOG[com]}" 'item [0-9a-f]+ stored for carol@example.net' "example.com did not keep the file"
# the retry (pf_deliver: a push toward example.net) meets the same check
wait_for 20 "example.com's delivery attempt to fail" grep -q -E 'to carol@example.net failed: .*next attempt|deliveries to carol@example.net: next attempt' "${D_LOG[com]}"
[ "$(grep -c "127.0.0.2:${D_MSRPS[net]}: TLS: the peer's certificate is not trusted" "${D_LOG[com]}")" -ge 2 ] ||
	fail "the delivery attempt did not go through the same certificate check"
if grep -r -a -q -F -- "$marker" "${D_DATA[net]}"; then fail "example.net got bytes of the file"; fi

# 3. example.net shows a rogue certificate: the SIP connection is refused, the file stays here
domain_stop net
D_MSRPS_HOST[net]="" D_OPTS[net]="" D_CERT[net]=rogue
domain_start net
use_domain com
send_file rogue alice bob@example.net "$T_DIR/secret.txt"
[ "$SEND_RC" -ne 0 ] && [ "$SEND_LAST" = "rejected: 500 Transfer Failed" ] ||
	fail "expected the transfer to fail when example.net is not trusted; got exit $SEND_RC, '$SEND_LAST'"
assert_grep "${D_LOG[com]}" 'sofia tport:   issuer   = /CN=cpmd test CA rogue' "example.com did not log the untrusted issuer"
assert_grep "${D_LOG[com]}" 'err 20:unable to get local issuer certificate' "example.com did not log why it refused"
if grep -q -E 'ft [A-Za-z0-9]+: .*-> bob@example.net' "${D_LOG[net]}"; then fail "example.net got the INVITE over an untrusted connection"; fi
if grep -q 'cpmd takes the file for bob@example.net' "${D_LOG[com]}"; then fail "example.com stored a file it should have failed"; fi
if grep -r -a -q -F -- "$marker" "${D_DATA[net]}"; then fail "example.net got bytes of the file"; fi
domains_alive
