#!/usr/bin/env bash
# cpmctl against a running cpmd (issue 13 §2): every command, in table form and with --json, and
# its exit codes: 0 ok, 2 usage, 3 cpmd not reachable, 4 wrong token, 5 not found.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_admin.sh"

# run_ctl NAME cpmctl-args...: sets CTL_RC, CTL_OUT, CTL_ERR (files)
run_ctl() {
	local name=$1
	shift
	CTL_OUT="$LOGDIR/ctl.$name.out" CTL_ERR="$LOGDIR/ctl.$name.err"
	CTL_RC=0
	"$CPMCTL" "$@" >"$CTL_OUT" 2>"$CTL_ERR" || CTL_RC=$?
	log "cpmctl $*: exit $CTL_RC"
}
expect_rc() { [ "$CTL_RC" = "$1" ] || fail "cpmctl: expected exit $1, got $CTL_RC: $(cat "$CTL_OUT" "$CTL_ERR")"; }

gen_file "$T_DIR/x.bin" 12345
admin_setup
A=(--admin "$HOST:$ADMIN_PORT" --token "$ADMIN_TOKEN")

# not reachable (nothing listens yet), then usage errors: no cpmd needed
run_ctl unreachable "${A[@]}" health
expect_rc 3
assert_grep "$CTL_ERR" 'not reachable' "no 'not reachable' message"
run_ctl usage1 "${A[@]}"
expect_rc 2
run_ctl usage2 "${A[@]}" deferred frobnicate
expect_rc 2
run_ctl usage3 "${A[@]}" deferred expire someid yesterday
expect_rc 2
run_ctl help --help
expect_rc 0
assert_grep "$CTL_OUT" 'deferred list' "--help does not list the commands"

start_cpmd "${ADMIN_OPTS[@]}"
run_ctl health "${A[@]}" health
expect_rc 0
[ "$(cat "$CTL_OUT")" = ok ] || fail "health: 'ok' expected: $(cat "$CTL_OUT")"
run_ctl badtoken --admin "$HOST:$ADMIN_PORT" --token wrong health
expect_rc 4
assert_grep "$CTL_ERR" 'unauthorized' "no 'unauthorized' message for a wrong token"
run_ctl notoken --admin "$HOST:$ADMIN_PORT" health
expect_rc 4

start_receiver alice alice laptop --timeout 120
send_file s1 alice carol "$T_DIR/x.bin"
[ "$SEND_LAST" = stored ] || fail "s1: stored expected, got $SEND_LAST"
ftid=$(sed -n 's/^cpm: file-transfer-id //p' "$SEND_ERR" | head -n 1)
item=$(sed -n 's/^cpm: stored by the server as item //p' "$SEND_ERR" | head -n 1)
send_message m1 alice dave "hi dave"
expect_message_result m1 0 stored

# --- deferred list: one line per item: ID SENDER RECIPIENT NAME SIZE EXPIRES
run_ctl list "${A[@]}" deferred list
expect_rc 0
[ "$(grep -c . "$CTL_OUT")" = 2 ] || fail "deferred list: 2 lines expected: $(cat "$CTL_OUT")"
assert_grep "$CTL_OUT" "^$item sip:alice@$DOMAIN carol@$DOMAIN x\\.bin 12345 [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\$" "the file's line"
assert_grep "$CTL_OUT" "^[A-Za-z0-9]+ sip:alice@$DOMAIN dave@$DOMAIN message [0-9]+ [0-9-]+T[0-9:]+Z\$" "the message's line"
run_ctl listf "${A[@]}" deferred list --recipient "carol@$DOMAIN" --kind file --limit 10
[ "$(grep -c . "$CTL_OUT")" = 1 ] || fail "deferred list --recipient: 1 line expected: $(cat "$CTL_OUT")"
run_ctl listj "${A[@]}" --json deferred list
expect_rc 0
[ "$(jq '.items | length' "$CTL_OUT")" = 2 ] || fail "--json deferred list: $(cat "$CTL_OUT")"
run_ctl listbad "${A[@]}" deferred list --kind video
expect_rc 1

# --- show, expire, retry
run_ctl show "${A[@]}" deferred show "$item"
expect_rc 0
assert_grep "$CTL_OUT" "^id: +$item\$" "deferred show: no id line"
assert_grep "$CTL_OUT" "^name: +x\\.bin\$" "deferred show: no name line"
run_ctl expire "${A[@]}" deferred expire "$item" 2000000000
expect_rc 0
run_ctl showj "${A[@]}" --json deferred show "$item"
[ "$(jq .expires "$CTL_OUT")" = 2000000000 ] || fail "deferred expire not applied: $(cat "$CTL_OUT")"
run_ctl expire2 "${A[@]}" deferred expire "$item" 2033-05-18T03:33:20Z
run_ctl showj2 "${A[@]}" --json deferred show "$item"
[ "$(jq .expires "$CTL_OUT")" = 2000000000 ] || fail "deferred expire (ISO time) not applied: $(cat "$CTL_OUT")"
run_ctl retry "${A[@]}" deferred retry "$item"
expect_rc 0
assert_grep "$CTL_OUT" "^retried $item\$" "deferred retry's answer"

# --- transfers, sessions, users
run_ctl transfers "${A[@]}" transfers
expect_rc 0
[ ! -s "$CTL_OUT" ] || fail "transfers: nothing expected: $(cat "$CTL_OUT")"
run_ctl transfersj "${A[@]}" --json transfers
[ "$(jq '.transfers | length' "$CTL_OUT")" = 0 ] || fail "--json transfers: $(cat "$CTL_OUT")"
run_ctl sessions "${A[@]}" sessions
expect_rc 0
run_ctl users "${A[@]}" users
expect_rc 0
assert_grep "$CTL_OUT" "^alice@$DOMAIN 1\$" "users: alice with 1 binding"
run_ctl user "${A[@]}" user "sip:alice@$DOMAIN"
expect_rc 0
assert_grep "$CTL_OUT" "^binding " "user: no binding line"

# --- purge: the sender is told
run_ctl purge "${A[@]}" deferred purge "$item"
expect_rc 0
assert_grep "$CTL_OUT" "^purged $item\$" "deferred purge's answer"
wait_for 15 "alice's 'notification failed $ftid'" grep -q -x -F "notification failed $ftid" "${RECV_OUT[alice]}"
run_ctl show404 "${A[@]}" deferred show "$item"
expect_rc 5
run_ctl purge404 "${A[@]}" deferred purge "$item"
expect_rc 5
cpmd_alive
