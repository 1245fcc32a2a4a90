#!/usr/bin/env bash
# Digest authentication seen by a raw client that prefers SHA-256 (tests/e2e/digest_client.py,
# RFC 8760), over UDP and TCP: SHA-256 and MD5 offered, SHA-256 first; a replayed
# Authorization is refused with stale=true while the next nonce-count of the same nonce works;
# a wrong password and a REGISTER of someone else's To get 403; MESSAGE and INVITE without
# credentials get 407, MESSAGE with MD5 credentials goes through. The authenticated identity,
# never From, is the sender: alice logged in with bob in her SIP From gets 403 for a CPIM From
# of bob, and with her own CPIM From the message is stored for carol as alice's (carol's
# `cpm list`). (cpm prefers SHA-256 too:
# t_auth_digest; SIPp 3.6.1 knows MD5 only: tests/interop/t_sipp_auth.sh.)
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 missing (scripts/setup.sh installs it)"
printf 'alice@%s pw-alice\nbob@%s pw-bob\ncarol@%s pw-carol\n' "$DOMAIN" "$DOMAIN" "$DOMAIN" >"$T_DIR/users"
start_cpmd --users "$T_DIR/users"
for tr in udp tcp; do
	timeout 30 python3 "$E2E_DIR/digest_client.py" "$HOST" "$SIP_PORT" "$tr" "$DOMAIN" alice pw-alice \
		>"$LOGDIR/client.$tr.out" 2>&1 || fail "$tr: $(tail -n 3 "$LOGDIR/client.$tr.out")"
	assert_grep "$LOGDIR/client.$tr.out" '^OK$' "$tr: the client did not finish"
done
assert_grep "$CPMD_LOG" 'refused: wrong response' "the wrong password is not logged"
# alice wrote bob in From (twice, once per transport): what carol sees waiting is alice's
mapfile -t base < <(_cpm_base carol)
"$CPM" "${base[@]}" --password pw-carol list >"$LOGDIR/list.out" 2>"$LOGDIR/list.err" || fail "carol's list: exit $?"
n=$(grep -c "^deferred .* sip:alice@$DOMAIN message " "$LOGDIR/list.out" || true)
[ "$n" -eq 2 ] || fail "carol's list shows $n messages from alice, 2 expected: $(cat "$LOGDIR/list.out")"
assert_no_grep "$LOGDIR/list.out" "bob@" "a message is listed as bob's: From decided the sender"
log "ok"
