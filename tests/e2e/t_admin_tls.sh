#!/usr/bin/env bash
# HTTPS and client certificates on the admin port (issue 13 §1; docs/internals/admin.md "TLS"):
# cpmd --admin-tls-cert/-key serves the API over HTTPS, --admin-tls-ca makes every request need a
# client certificate of that CA (403 + JSON error + one log line otherwise), and a non-loopback
# --admin starts with a token OR a client CA. curl and cpmctl (--cacert/--cert/--key) as clients;
# the certificates come from scripts/mk-test-certs.sh (tests/lib_tls.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_admin.sh"
. "$CPM_SRC/tests/lib_tls.sh"

C="$T_DIR/certs"
tls_setup "$C"
admin_setup
TLS=(--admin-tls-cert "$C/server.pem" --admin-tls-key "$C/server.key")

# start_fails NAME WORDS cpmd-options...: cpmd stops before "ready" (exit status not 0) and its
# error says WORDS (fixed string)
start_fails() {
	local name=$1 word=$2 rc=0 log
	log="$LOGDIR/cpmd.$1.log"
	shift 2
	timeout -k 2 20 "$CPMD" --domain "$DOMAIN" --sip "$HOST:$(pick_port)" --msrp "$HOST:$(pick_port)" \
		--data-dir "$T_DIR/data.$name" "$@" </dev/null >"$log" 2>&1 || rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "$name: cpmd exit $rc, an error expected: $(tail -n 3 "$log")"
	assert_no_grep "$log" 'cpmd: ready'
	grep -q -F -e "$word" "$log" || fail "$name: the error does not say '$word': $(tail -n 3 "$log")"
	log "$name: $(grep -F -e "$word" "$log" | head -n 1)"
}

# --- start-up: what cpmd refuses, and says why
P=$(pick_port)
start_fails open "--admin-token or --admin-tls-ca (client certificates) is required" --admin "0.0.0.0:$P"
# HTTPS alone authenticates nobody
start_fails https-only "--admin-token or --admin-tls-ca" --admin "0.0.0.0:$P" "${TLS[@]}"
start_fails missing "admin: --admin-tls-cert $T_DIR/nothing.pem: No such file or directory" \
	--admin "$HOST:$P" --admin-tls-cert "$T_DIR/nothing.pem" --admin-tls-key "$C/server.key"
printf 'not a key\n' >"$T_DIR/garbage.key"
start_fails garbage "admin: --admin-tls-key $T_DIR/garbage.key: not an unencrypted PEM private key" \
	--admin "$HOST:$P" --admin-tls-cert "$C/server.pem" --admin-tls-key "$T_DIR/garbage.key"
start_fails mismatch "admin: --admin-tls-cert $C/server.pem and --admin-tls-key $C/rogue.key:" \
	--admin "$HOST:$P" --admin-tls-cert "$C/server.pem" --admin-tls-key "$C/rogue.key"
start_fails cadir "admin: --admin-tls-ca $C: not a regular file" --admin "$HOST:$P" "${TLS[@]}" --admin-tls-ca "$C"
if [ "$(id -u)" != 0 ]; then # root reads a file of mode 000
	cp "$C/server.key" "$T_DIR/locked.key"
	chmod 000 "$T_DIR/locked.key"
	start_fails unreadable "admin: --admin-tls-key $T_DIR/locked.key: Permission denied" \
		--admin "$HOST:$P" --admin-tls-cert "$C/server.pem" --admin-tls-key "$T_DIR/locked.key"
fi
cpmd_refused ca-alone "--admin-tls-ca (client certificates) needs HTTPS" --admin "$HOST:$P" \
	--admin-tls-ca "$C/server-ca.pem"
cpmd_refused cert-alone "--admin-tls-cert FILE and --admin-tls-key FILE go together" --admin "$HOST:$P" \
	--admin-tls-cert "$C/server.pem"

# --- a client CA and no token, on every address (not loopback: the CA is enough)
start_cpmd --admin "0.0.0.0:$ADMIN_PORT" "${TLS[@]}" --admin-tls-ca "$C/server-ca.pem"
assert_grep "$CPMD_LOG" "cpmd: admin=https://0.0.0.0:$ADMIN_PORT" "cpmd did not announce its https admin address"
assert_grep "$CPMD_LOG" "listening on https://0.0.0.0:$ADMIN_PORT \\(client certificate required\\)" "no listening line"
URL="https://$HOST:$ADMIN_PORT"
GOOD=(--cacert "$C/server-ca.pem" --cert "$C/client.pem" --key "$C/client.key")

start_receiver alice alice laptop --timeout 120
gen_file "$T_DIR/x.bin" 4321
send_file s1 alice carol "$T_DIR/x.bin"
[ "$SEND_LAST" = stored ] || fail "s1: stored expected, got $SEND_LAST"
item=$(sed -n 's/^cpm: stored by the server as item //p' "$SEND_ERR" | head -n 1)
[ -n "$item" ] || fail "s1: no item id"

# https_get NAME PATH curl-options...: sets CODE (000: no HTTP answer) and BODY
https_get() {
	local name=$1 path=$2 out
	out="$LOGDIR/curl.$1.out"
	shift 2
	CODE=$(curl -s -o "$out" -w '%{http_code}' "$@" "$URL$path" 2>"$LOGDIR/curl.$name.err") || true
	BODY=$(cat "$out" 2>/dev/null || true)
	log "$name: GET $path -> $CODE"
}

https_get good-deferred /api/v1/deferred "${GOOD[@]}"
[ "$CODE" = 200 ] || fail "a good client certificate: 200 expected on /api/v1/deferred, got $CODE: $BODY"
[ "$(printf '%s' "$BODY" | jq -r '.items[0].id')" = "$item" ] || fail "the stored item is not listed: $BODY"
https_get good-metrics /metrics "${GOOD[@]}"
[ "$CODE" = 200 ] || fail "a good client certificate: 200 expected on /metrics, got $CODE"
grep -q '^cpmd_transfers_total{outcome="stored"} 1$' "$LOGDIR/curl.good-metrics.out" || fail "/metrics: no stored transfer"

https_get nocert /api/v1/deferred --cacert "$C/server-ca.pem"
[ "$CODE" = 403 ] || fail "no client certificate: 403 expected, got $CODE: $BODY"
printf '%s' "$BODY" | jq -e '.error | test("client certificate")' >/dev/null || fail "no JSON error: $BODY"
https_get nocert-metrics /metrics --cacert "$C/server-ca.pem"
[ "$CODE" = 403 ] || fail "/metrics without a client certificate: 403 expected, got $CODE"
https_get nocert-console / --cacert "$C/server-ca.pem"
[ "$CODE" = 403 ] || fail "the console without a client certificate: 403 expected, got $CODE"
https_get rogue /api/v1/deferred --cacert "$C/server-ca.pem" --cert "$C/rogue-client.pem" --key "$C/rogue-client.key"
[ "$CODE" = 403 ] || fail "a rogue CA's client certificate: 403 expected, got $CODE: $BODY"
assert_grep "$CPMD_LOG" "admin: GET /api/v1/deferred from 127\\.0\\.0\\.1 refused: no client certificate\$" \
	"no log line for the request without a certificate"
assert_grep "$CPMD_LOG" "admin: GET /api/v1/deferred from 127\\.0\\.0\\.1 refused: client certificate refused: .*NOT trusted" \
	"no log line for the rogue certificate"
[ "$(grep -c 'refused: ' "$CPMD_LOG")" = 4 ] || fail "one log line per refused request expected (4): $(grep 'refused: ' "$CPMD_LOG")"
# cpmd's certificate is checked too: not one of the system's CAs
https_get nocacert /api/v1/health "${GOOD[@]:2}"
[ "$CODE" = 000 ] || fail "curl without --cacert: the server certificate should not verify, got $CODE"
# plain HTTP to the TLS port: no HTTP answer at all
CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://$HOST:$ADMIN_PORT/api/v1/health" 2>/dev/null) || true
[ "$CODE" = 000 ] || fail "plain http to the TLS port answered $CODE"
log "plain http: no answer"
cpmd_alive

# --- cpmctl over https with a client certificate
run_ctl() {
	local name=$1
	shift
	CTL_OUT="$LOGDIR/ctl.$name.out" CTL_ERR="$LOGDIR/ctl.$name.err" CTL_RC=0
	"$CPMCTL" "$@" >"$CTL_OUT" 2>"$CTL_ERR" || CTL_RC=$?
	log "cpmctl $*: exit $CTL_RC"
}
expect_rc() { [ "$CTL_RC" = "$1" ] || fail "cpmctl: expected exit $1, got $CTL_RC: $(cat "$CTL_OUT" "$CTL_ERR")"; }
A=(--admin "$URL" "${GOOD[@]}")
run_ctl list "${A[@]}" deferred list
expect_rc 0
assert_grep "$CTL_OUT" "^$item sip:alice@$DOMAIN carol@$DOMAIN x\\.bin 4321 " "deferred list: the item's line"
alice_listed() { run_ctl users "${A[@]}" users && grep -q "^alice@$DOMAIN 1\$" "$CTL_OUT"; }
wait_for 10 "cpmctl users: alice with 1 binding" alice_listed
run_ctl nocert --admin "$URL" --cacert "$C/server-ca.pem" users
expect_rc 4
assert_grep "$CTL_ERR" "forbidden \\(403\\)" "cpmctl without a certificate: no 'forbidden'"
run_ctl rogue --admin "$URL" --cacert "$C/server-ca.pem" --cert "$C/rogue-client.pem" --key "$C/rogue-client.key" users
expect_rc 4
run_ctl plain --admin "$HOST:$ADMIN_PORT" "${GOOD[@]}" users
expect_rc 2
assert_grep "$CTL_ERR" "need an https:// --admin address" "cpmctl: --cert over http not refused"
stop_cpmd

# --- both a token and a client CA: both are required
start_cpmd --admin "$HOST:$ADMIN_PORT" --admin-token "$ADMIN_TOKEN" "${TLS[@]}" --admin-tls-ca "$C/server-ca.pem"
https_get both-nothing /api/v1/health "${GOOD[@]}"
[ "$CODE" = 401 ] || fail "certificate without the token: 401 expected, got $CODE"
https_get both-notcert /api/v1/health --cacert "$C/server-ca.pem" -H "Authorization: Bearer $ADMIN_TOKEN"
[ "$CODE" = 403 ] || fail "token without a certificate: 403 expected, got $CODE"
https_get both-ok /api/v1/health "${GOOD[@]}" -H "Authorization: Bearer $ADMIN_TOKEN"
[ "$CODE" = 200 ] || fail "token and certificate: 200 expected, got $CODE: $BODY"
run_ctl both "${A[@]}" --token "$ADMIN_TOKEN" health
expect_rc 0
cpmd_alive
