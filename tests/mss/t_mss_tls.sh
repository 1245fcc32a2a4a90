#!/usr/bin/env bash
# imaps: the MSS client verifies the server's certificate against the CA it is
# given (stored with the test CA; transient, nothing stored, with a CA that did
# not sign the server's certificate: the operator fixes the configuration).
source "$(dirname "$0")/../e2e/lib.sh"
source "$CPM_SRC/tests/mss/lib_mss.sh"

bash "$CPM_SRC/scripts/mk-test-certs.sh" "$T_DIR/certs"
DOVECOT_TLS_DIR="$T_DIR/certs"
dovecot_start "$MSS_DIR" "$MSS_PORT"
head -c 70000 /dev/urandom >"$T_DIR/f"
tls() {
	MSS_RC=0
	MSS_OUT=$("$MSS_STORE" store --url "imaps://127.0.0.1:$MSS_PORT" --master admin --password adminpass \
		--user bob --ca "$1" --kind ft --id tls-1 --file "$T_DIR/f" --name f.bin 2>>"$LOGDIR/mss_store.err") || MSS_RC=$?
	echo "$MSS_OUT" >>"$LOGDIR/mss_store.out"
}
tls "$T_DIR/certs/rogue-ca.pem"
[ "$MSS_RC" = 2 ] || fail "untrusted certificate: exit $MSS_RC, want 2: $MSS_OUT"
[ "$(dovecot_count bob CPM/History)" = 0 ] || fail "stored over an unverified connection"
tls "$T_DIR/certs/server-ca.pem"
[ "$MSS_RC" = 0 ] || fail "imaps store: exit $MSS_RC: $MSS_OUT"
[ "$(dovecot_count bob CPM/History)" = 1 ] || fail "imaps: $(dovecot_count bob CPM/History) messages"
dovecot_fetch bob CPM/History "$T_DIR/out"
python3 "$MSS_CHECK" "$T_DIR/out/1.eml" --part "file@cpm.mss=$T_DIR/f" || fail "imaps content"
exit 0
