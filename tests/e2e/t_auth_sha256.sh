#!/usr/bin/env bash
# Digest authentication seen by a raw client that prefers SHA-256 (tests/e2e/digest_client.py,
# RFC 8760), over UDP and TCP: SHA-256 and MD5 offered, SHA-256 first; a replayed
# Authorization is refused with stale=true while the next nonce-count of the same nonce works;
# a wrong password and a REGISTER of someone else's To get 403; MESSAGE and INVITE without
# credentials get 407, MESSAGE with MD5 credentials goes through. (cpm prefers SHA-256 too:
# t_auth_digest; SIPp 3.6.1 knows MD5 only: tests/interop/t_sipp_auth.sh.)
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 missing (scripts/setup.sh installs it)"
printf 'alice@%s pw-alice\nbob@%s pw-bob\n' "$DOMAIN" "$DOMAIN" >"$T_DIR/users"
start_cpmd --users "$T_DIR/users"
for tr in udp tcp; do
	timeout 30 python3 "$E2E_DIR/digest_client.py" "$HOST" "$SIP_PORT" "$tr" "$DOMAIN" alice pw-alice \
		>"$LOGDIR/client.$tr.out" 2>&1 || fail "$tr: $(tail -n 3 "$LOGDIR/client.$tr.out")"
	assert_grep "$LOGDIR/client.$tr.out" '^OK$' "$tr: the client did not finish"
done
assert_grep "$CPMD_LOG" 'refused: wrong response' "the wrong password is not logged"
log "ok"
