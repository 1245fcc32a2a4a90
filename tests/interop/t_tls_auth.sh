#!/usr/bin/env bash
# Digest authentication over TLS (issue 10 §1 and §3, docs/security.md): with --users and
# --sip-tls/--msrp-tls, no password and a wrong password are refused over TLS as over UDP and TCP
# (t_auth_digest), and the right one registers, sends a MESSAGE and moves a file over TLS.
. "$(dirname "$0")/../e2e/lib.sh"
. "$CPM_SRC/tests/lib_tls.sh"

CERTS="$T_DIR/certs"
tls_setup "$CERTS"
cat >"$T_DIR/users" <<USERS
alice@$DOMAIN s3cret-a
bob@$DOMAIN s3cret-b
USERS
SIPS_PORT=$(pick_port)
MSRPS_PORT=$(pick_port)
start_cpmd --users "$T_DIR/users" --sip-tls "$HOST:$SIPS_PORT" --msrp-tls "$HOST:$MSRPS_PORT" \
	--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key"
SIP_PORT=$SIPS_PORT
CPM_TRANSPORT=tls
CPM_GLOBAL_OPTS="--ca $CERTS/server-ca.pem"

run_cpm() { # NAME USER [cpm args...]: exit status in RC
	local name=$1 user=$2
	shift 2
	mapfile -t base < <(_cpm_base "$user")
	RC=0
	timeout 20 "$CPM" "${base[@]}" "$@" >"$LOGDIR/$name.out" 2>"$LOGDIR/$name.err" || RC=$?
}
unset CPM_PASSWORD
run_cpm nopw alice list
[ "$RC" -ne 0 ] || fail "list over TLS without a password succeeded"
assert_grep "$LOGDIR/nopw.out" '40[17]' "no challenge over TLS for a request without credentials"
CPM_PASSWORD=wrong run_cpm bad alice message "sip:bob@$DOMAIN" hello
[ "$RC" -ne 0 ] || fail "a MESSAGE over TLS with a wrong password succeeded"
assert_grep "$LOGDIR/bad.out" '403' "no 403 over TLS for a wrong password"
CPM_PASSWORD=s3cret-a run_cpm ok alice list
[ "$RC" -eq 0 ] || fail "alice, right password, TLS: exit $RC: $(cat "$LOGDIR/ok.out")"

CPM_PASSWORD=s3cret-b start_receiver bob bob phone --count 1 --timeout 60
grep -q 'transport=tls' "$CPMD_LOG" || fail "bob's binding is not a TLS flow"
gen_file "$T_DIR/f.bin" 300000
CPM_PASSWORD=s3cret-a send_file f alice bob "$T_DIR/f.bin"
expect_delivered
wait_exit "${RECV_PID[bob]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received bob "$T_DIR/f.bin"
[ "$(grep -c 'connected (TLS)' "$CPMD_LOG")" -ge 2 ] || fail "the file's MSRP legs were not TLS"
