#!/usr/bin/env bash
# SIP digest authentication against a client we did not write: SIPp 3.6.1 computes MD5 digest
# ([authentication]) but not SHA-256 and answers only the first challenge, so cpmd offers MD5
# first here (--auth-algorithms MD5,SHA-256). A SIPp device REGISTERs (401, then 200 with
# credentials) and sends a MESSAGE (407, then past authentication), over UDP and TCP; with
# a wrong password it gets 403. SHA-256 with a client that prefers it: t_auth_sha256.sh.
. "$(dirname "$0")/../e2e/lib.sh"

printf 'alice@%s pw-alice\nbob@%s pw-bob\n' "$DOMAIN" "$DOMAIN" >"$T_DIR/users"
start_cpmd --users "$T_DIR/users" --auth-algorithms MD5,SHA-256
printf 'SEQUENTIAL\n%s;alice;pw-alice;bob\n' "$DOMAIN" >"$T_DIR/ok.csv"
printf 'SEQUENTIAL\n%s;alice;wrong;bob\n' "$DOMAIN" >"$T_DIR/bad.csv"
for tr in u1 t1; do
	run_sipp "ok-$tr" -sf "$CPM_SRC/tests/interop/sipp/device_auth_register.xml" -inf "$T_DIR/ok.csv" -t "$tr" \
		-au alice -ap pw-alice -m 1 "$HOST:$SIP_PORT"
	[ "$SIPP_RC" -eq 0 ] || fail "SIPp ($tr) with the right password: exit $SIPP_RC"
	sipp_clean "ok-$tr"
done
run_sipp bad -sf "$CPM_SRC/tests/interop/sipp/device_auth_register.xml" -inf "$T_DIR/bad.csv" -au alice -ap wrong -m 1 "$HOST:$SIP_PORT"
[ "$SIPP_RC" -ne 0 ] || fail "SIPp with a wrong password passed"
grep -a -q 'SIP/2.0 403 Bad Credentials' "$LOGDIR/sipp.bad.messages" || fail "no 403 Bad Credentials for the wrong password"
log "ok"
