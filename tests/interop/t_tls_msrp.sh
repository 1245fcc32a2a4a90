#!/usr/bin/env bash
# MSRP over TLS end to end (issue 10 §3, RFC 4975 §14, docs/security.md): cpmd with --sip-tls and
# --msrp-tls; a device registered over TLS and a sender over TLS. The sender offers an msrps
# path, cpmd answers msrps with TCP/TLS/MSRP and a=fingerprint, and the device gets an msrps
# offer too (it registered over TLS). A capture of both TLS ports must hold TLS records and not
# one byte sequence of the file (it is text with a marker, so a leak would be found), and no
# MSRP or SIP in clear; the same for a file stored for an offline user and pushed to her device
# over TLS later, one fetched over TLS, and a chat session. Then a cpmd whose MSRP address does not match its certificate (the
# a=path host is 127.0.0.2, the certificate names 127.0.0.1) is refused by the client's check.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../e2e/chat_lib.sh"
. "$CPM_SRC/tests/lib_tls.sh"
. "$CPM_SRC/tests/lib_tshark.sh"

CERTS="$T_DIR/certs"
tls_setup "$CERTS" capture
SIPS_PORT=$(pick_port)
MSRPS_PORT=$(pick_port)
start_cpmd --sip-tls "$HOST:$SIPS_PORT" --msrp-tls "$HOST:$MSRPS_PORT" \
	--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key"
grep -q "msrp=tls:$HOST:$MSRPS_PORT" "$CPMD_LOG" || fail "cpmd did not report its MSRP TLS listener"

tls_capture_start "tcp port $SIPS_PORT or tcp port $MSRPS_PORT or tcp port $MSRP_PORT"

SIP_PORT=$SIPS_PORT
CPM_TRANSPORT=tls
CPM_GLOBAL_OPTS="--ca $CERTS/server-ca.pem --chunk-size 16384"
start_receiver bob bob phone --count 1 --timeout 60
# a text file: any piece of it on the wire would show in a grep of the capture
marker="FILE-PLAINTEXT-$RANDOM$RANDOM"
for ((i = 0; i < 20000; i++)); do echo "$marker line $i of the secret file"; done >"$T_DIR/secret.txt"
send_file f1 alice bob "$T_DIR/secret.txt"
expect_delivered
wait_exit "${RECV_PID[bob]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received bob "$T_DIR/secret.txt"
grep -q "connected (TLS)" "$CPMD_LOG" || fail "no MSRP connection over TLS in cpmd's log"
[ "$(grep -c 'connected (TLS)' "$CPMD_LOG")" -ge 2 ] || fail "the sender's and the device's MSRP should both be TLS"
# store-and-forward over TLS: carol is offline, the file is stored; her device registers over
# TLS and gets the stored file pushed over msrps (pf_deliver), still nothing on the plain port
send_file f3 alice carol "$T_DIR/secret.txt"
[ "$SEND_RC" = 0 ] && [ "$SEND_LAST" = stored ] || fail "store for offline carol: exit $SEND_RC, '$SEND_LAST'"
start_receiver carol carol tablet --count 1 --timeout 60
wait_exit "${RECV_PID[carol]}" 30
[ "$WAIT_RC" = 0 ] || fail "carol's receiver exit status $WAIT_RC"
assert_received carol "$T_DIR/secret.txt"
[ "$(grep -c 'connected (TLS)' "$CPMD_LOG")" -ge 4 ] || fail "the stored file's legs were not both TLS"
# ... and fetched (pull, pf_pull.c): dave's device offers msrps, cpmd answers msrps
send_file f4 alice dave "$T_DIR/secret.txt"
[ "$SEND_LAST" = stored ] || fail "store for offline dave: '$SEND_LAST'"
mapfile -t base < <(_cpm_base dave laptop)
"$CPM" "${base[@]}" list >"$LOGDIR/list.out" 2>"$LOGDIR/list.err" || fail "cpm list over TLS failed"
id=$(awk '$1 == "deferred" {print $2; exit}' "$LOGDIR/list.out")
[ -n "$id" ] || fail "dave's list over TLS shows no stored file"
mkdir -p "$T_DIR/fetch.dave"
"$CPM" "${base[@]}" fetch "$id" --dir "$T_DIR/fetch.dave" >"$LOGDIR/fetch.out" 2>"$LOGDIR/fetch.err" ||
	fail "cpm fetch over TLS failed: $(tail -n 1 "$LOGDIR/fetch.out")"
cmp -s "$T_DIR/secret.txt" "$T_DIR/fetch.dave/secret.txt" || fail "the fetched file differs"
[ "$(grep -c 'connected (TLS)' "$CPMD_LOG")" -ge 6 ] || fail "the fetch's MSRP was not TLS"
# a chat session over TLS (session_relay: both legs msrps)
start_receiver erin erin phone --reply "pong-$marker"
start_chat c1 alice erin
chat_wait_up c1
chat_say c1 "chat-$marker"
wait_lines 30 "${RECV_OUT[erin]}" "chat-$marker" 1
wait_lines 30 "${CHAT_OUT[c1]}" "pong-$marker" 1
chat_eof c1
chat_exit c1 20
[ "$(grep -c 'connected (TLS)' "$CPMD_LOG")" -ge 8 ] || fail "the chat's MSRP legs were not both TLS"
sleep 0.5
kill -INT "$CAP"
wait_exit "$CAP" 10
grep -q -E '^[1-9][0-9]* packets dropped' "$LOGDIR/tshark.capture" && fail "the capture dropped packets"

cap="$T_DIR/tls.pcapng"
tshark_counts "$cap" -d "tcp.port==$SIPS_PORT,tls" -d "tcp.port==$MSRPS_PORT,tls" -- \
	"tcp.port == $MSRPS_PORT && tls.app_data" "tcp.port == $MSRP_PORT && tcp.len > 0" # tests/lib_tshark.sh
appdata=${COUNTS[0]}
log "TLS application-data frames on the MSRP TLS port: $appdata"
[ "$appdata" -ge 20 ] || fail "$appdata TLS application-data frames on the MSRP TLS port: the file did not go there"
[ "${COUNTS[1]}" -eq 0 ] || fail "bytes on the plain MSRP port: a leg was not TLS"
[ "$(tshark -r "$cap" -Y 'msrp || sip' 2>/dev/null | wc -l)" -eq 0 ] || fail "tshark decodes MSRP or SIP in clear"
for s in "$marker" "of the secret file" "MSRP " "msrp://" "msrps://" "Byte-Range" "SIP/2.0"; do
	if grep -a -q -F -- "$s" "$cap"; then fail "'$s' is in clear in the capture"; fi
done
log "no byte of the file, no MSRP and no SIP in clear"
stop_cpmd

# The client checks the MSRP server's certificate itself (not only SIP's): an a=path host the
# certificate does not name is refused, and the file is not sent.
SIPS_PORT=$(pick_port)
MSRPS_PORT=$(pick_port)
start_cpmd --sip-tls "$HOST:$SIPS_PORT" --msrp-tls "0.0.0.0:$MSRPS_PORT" --msrp-advertise 127.0.0.2 \
	--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key"
SIP_PORT=$SIPS_PORT
start_receiver bob2 bob phone2 --timeout 20
send_file f2 alice bob "$T_DIR/secret.txt"
[ "$SEND_RC" -ne 0 ] || fail "the sender sent to an MSRP server whose certificate does not name it"
grep -q -i "certificate" "$SEND_OUT" || fail "the sender's failure does not name the certificate: $SEND_LAST"
log "MSRP certificate mismatch refused: $SEND_LAST"
