#!/usr/bin/env bash
# Digest authentication in standalone mode (issue 10 §1-2, docs/security.md): with --users,
# a REGISTER or a MESSAGE without credentials or with a wrong password is refused; the right
# password (CPM_PASSWORD) works over UDP and TCP and a file goes through; the stored item of
# bob cannot be listed/fetched by alice with her own valid login (the authenticated identity,
# never From, picks the items); SIGHUP reloads the list.
. "$(dirname "$0")/lib.sh"

cat >"$T_DIR/users" <<USERS
# test subscribers
alice@$DOMAIN s3cret-a
bob@$DOMAIN s3cret-b
carol@$DOMAIN md5:$(printf 'carol:%s:s3cret-c' "$DOMAIN" | md5sum | cut -d' ' -f1)
USERS
start_cpmd --users "$T_DIR/users" --user-pref "sip:bob@$DOMAIN:method=pull"
assert_grep "$CPMD_LOG" 'subscriber list .*: 3 subscriber' "the list was not loaded"

run_cpm() { # NAME USER [cpm args...]: exit status in RC
	local name=$1 user=$2
	shift 2
	mapfile -t base < <(_cpm_base "$user")
	RC=0
	timeout 20 "$CPM" "${base[@]}" "$@" >"$LOGDIR/$name.out" 2>"$LOGDIR/$name.err" || RC=$?
}

# 1. no credentials: REGISTER (list registers first) and MESSAGE are refused
unset CPM_PASSWORD
run_cpm nopw-list alice list
[ "$RC" -ne 0 ] || fail "list without a password succeeded"
assert_grep "$LOGDIR/nopw-list.out" '40[17]' "no challenge for a request without credentials"
run_cpm nopw-msg alice message "sip:bob@$DOMAIN" hello
[ "$RC" -ne 0 ] || fail "message without a password succeeded"
assert_grep "$LOGDIR/nopw-msg.out" '407' "no 407 for a MESSAGE without credentials"

# 2. wrong password: 403
CPM_PASSWORD=wrong run_cpm bad-list alice list
[ "$RC" -ne 0 ] || fail "list with a wrong password succeeded"
assert_grep "$LOGDIR/bad-list.out" '403' "no 403 for a wrong password"
# a user not in the list, whatever the password
CPM_PASSWORD=s3cret-a run_cpm stranger mallory list
[ "$RC" -ne 0 ] || fail "a user not in the list registered"

# 3. the right password over UDP and TCP, plain and md5:HA1 secrets
CPM_PASSWORD=s3cret-a run_cpm ok-udp alice --transport udp list
[ "$RC" -eq 0 ] || fail "alice, right password, UDP: exit $RC: $(cat "$LOGDIR/ok-udp.out")"
CPM_PASSWORD=s3cret-a run_cpm ok-tcp alice --transport tcp list
[ "$RC" -eq 0 ] || fail "alice, right password, TCP: exit $RC: $(cat "$LOGDIR/ok-tcp.out")"
CPM_PASSWORD=s3cret-c run_cpm ok-md5 carol --password s3cret-c list
[ "$RC" -eq 0 ] || fail "carol (md5:HA1), right password: exit $RC: $(cat "$LOGDIR/ok-md5.out")"

# 4. a file to bob (pull: stored), sent by alice with her login
gen_file "$T_DIR/f.bin" 20000
CPM_PASSWORD=s3cret-a send_file s alice bob "$T_DIR/f.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send: exit $SEND_RC, '$SEND_LAST'"
item=$(sed -n 's/^cpm: stored by the server as item //p' "$SEND_ERR" | head -n1)
[ -n "$item" ] || fail "no item id"

# 5. alice, valid login, asks for bob's item: never
CPM_PASSWORD=s3cret-a run_cpm a-list alice list
[ "$RC" -eq 0 ] && ! grep -q "$item" "$LOGDIR/a-list.out" || fail "alice sees bob's item: $(cat "$LOGDIR/a-list.out")"
mkdir -p "$T_DIR/got"
CPM_PASSWORD=s3cret-a run_cpm a-fetch alice fetch "$item" --dir "$T_DIR/got"
[ "$RC" -ne 0 ] || fail "alice fetched bob's item"
assert_dir_empty "$T_DIR/got" "alice got bob's file"
# 6. bob with his own password sees and fetches it, the sender is alice (the proven identity)
CPM_PASSWORD=s3cret-b run_cpm b-list bob list
grep -q "^deferred $item sip:alice@$DOMAIN " "$LOGDIR/b-list.out" || fail "bob's list: $(cat "$LOGDIR/b-list.out")"
CPM_PASSWORD=s3cret-b run_cpm b-fetch bob fetch "$item" --dir "$T_DIR/got"
[ "$RC" -eq 0 ] || fail "bob's fetch: exit $RC: $(cat "$LOGDIR/b-fetch.out")"
cmp -s "$T_DIR/f.bin" "$T_DIR/got/f.bin" || fail "fetched file differs"

# 7. SIGHUP reload: dave added, can log in afterwards
echo "dave@$DOMAIN s3cret-d" >>"$T_DIR/users"
kill -HUP "$CPMD_PID"
wait_for 5 "the reload" grep -q 'subscriber list .*: 4 subscriber' "$CPMD_LOG"
CPM_PASSWORD=s3cret-d run_cpm ok-dave dave list
[ "$RC" -eq 0 ] || fail "dave after the reload: exit $RC"
log "ok"
