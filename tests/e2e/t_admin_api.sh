#!/usr/bin/env bash
# The admin HTTP API (issue 13 §1, docs/internals/admin.md), every endpoint with curl against a
# real cpmd, real cpm devices:
#  a) auth and errors: no token / a wrong token → 401 on every route; bad JSON → 400; bad
#     parameters → 400; unknown path → 404; wrong method → 405 with Allow; a body over the
#     limit → 413.
#  b) health, ready, users (alice's binding), users/{aor}, sessions, transfers (empty).
#  c) deferred: items stored for offline carol are listed (filters by recipient, sender, kind,
#     keyset paging with limit/after), shown, their expiry changed (PATCH).
#  d) purge (DELETE) → alice, registered, receives `notification failed FTID`; the item is gone.
#  e) retry now (POST .../retry): bob's device was registered but did not answer (stopped), so
#     the file was stored with a 600 s back-off; after the retry bob receives it at once.
#  f) a live transfer is listed by GET /transfers while it runs, then DELETE /transfers/{id}
#     ends it.
#  g) the console directory: a missing --admin-console is an error that stops cpmd; a missing
#     default one (a copy of cpmd outside the build tree looks under its prefix) is a warning
#     and the API is up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_admin.sh"

stored_send() { # TAG TO FILE [opts]: a send that must end `stored`; sets FTID, ITEM
	local tag=$1 to=$2 file=$3
	shift 3
	send_file "$tag" alice "$to" "$file" "$@"
	[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
		fail "$tag: expected 'stored'; got exit $SEND_RC, last line '$SEND_LAST'"
	FTID=$(sed -n 's/^cpm: file-transfer-id //p' "$SEND_ERR" | head -n 1)
	ITEM=$(sed -n 's/^cpm: stored by the server as item //p' "$SEND_ERR" | head -n 1)
	[ -n "$FTID" ] && [ -n "$ITEM" ] || fail "$tag: no file-transfer-id or item id on cpm send's stderr"
}

gen_file "$T_DIR/x.bin" 30000
admin_setup
start_cpmd "${ADMIN_OPTS[@]}" --invite-timeout 2 --delivery-retry 600:600
assert_grep "$CPMD_LOG" "cpmd: admin=http://$HOST:$ADMIN_PORT" "cpmd did not announce its admin address"

# --- a) auth and errors ---------------------------------------------------------------------
for p in /api/v1/health /api/v1/deferred /api/v1/users /api/v1/transfers /api/v1/sessions /metrics; do
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$HOST:$ADMIN_PORT$p")
	[ "$code" = 401 ] || fail "a) $p without a token: expected 401, got $code"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "http://$HOST:$ADMIN_PORT$p")
	[ "$code" = 401 ] || fail "a) $p with a wrong token: expected 401, got $code"
done
api_expect 404 GET /api/v1/nothing
[ "$(jqr .error)" != null ] || fail "a) a 404 without a JSON error: $API_BODY"
api_expect 405 PUT /api/v1/deferred
api_expect 400 GET '/api/v1/deferred?limit=0'
api_expect 400 GET '/api/v1/deferred?limit=abc'
api_expect 400 GET '/api/v1/deferred?kind=video'
api_expect 400 GET '/api/v1/deferred?recipient=nobody'
api_expect 400 PATCH /api/v1/deferred/abc '{"expires": '
api_expect 400 PATCH /api/v1/deferred/abc '{"expires": "tomorrow"}'
api_expect 400 PATCH /api/v1/deferred/abc '[1,2,3]'
big=$(head -c 8000 /dev/zero | tr '\0' ' ')
api_expect 413 PATCH /api/v1/deferred/abc "{\"expires\": 1$big}"

# --- b) health, users, sessions, transfers --------------------------------------------------
api_expect 200 GET /api/v1/health
[ "$(jqr .status)" = ok ] || fail "b) health: $API_BODY"
api_expect 200 GET /api/v1/ready
[ "$(jqr .ready)" = true ] || fail "b) ready: $API_BODY"
start_receiver alice alice laptop --timeout 120
# a binding is soft state, committed in the store's next batch (docs/internals/store.md): the
# listing (committed state only) shows it a moment after cpmd logged the REGISTER
alice_listed() {
	api_expect 200 GET /api/v1/users
	[ "$(jqr ".users[] | select(.aor == \"alice@$DOMAIN\") | .bindings")" = 1 ]
}
wait_for 10 "b) users: alice with 1 binding" alice_listed
api_expect 200 GET "/api/v1/users/sip:alice@$DOMAIN"
[ "$(jqr '.bindings | length')" = 1 ] || fail "b) users/alice: 1 binding expected: $API_BODY"
api_expect 404 GET "/api/v1/users/nobody@$DOMAIN"
api_expect 200 GET /api/v1/sessions
[ "$(jqr '.sessions | length')" = 0 ] || fail "b) sessions: $API_BODY"
api_expect 200 GET /api/v1/transfers
[ "$(jqr '.transfers | length')" = 0 ] || fail "b) transfers: $API_BODY"
api_expect 404 DELETE /api/v1/transfers/nosuch

# --- c) the deferred queue --------------------------------------------------------------------
ids=()
for i in 1 2 3; do
	stored_send "c$i" carol "$T_DIR/x.bin"
	ids+=("$ITEM")
done
ftid_purge=$FTID item_purge=$ITEM
send_message m1 alice dave "hello dave"
expect_message_result m1 0 stored
api_expect 200 GET "/api/v1/deferred?recipient=carol@$DOMAIN"
[ "$(jqr '.items | length')" = 3 ] || fail "c) 3 items for carol expected: $API_BODY"
[ "$(jqr '.items[0].name')" = x.bin ] && [ "$(jqr '.items[0].size')" = 30000 ] || fail "c) item fields: $API_BODY"
api_expect 200 GET "/api/v1/deferred?sender=alice@$DOMAIN&kind=message"
[ "$(jqr '.items | length')" = 1 ] && [ "$(jqr '.items[0].recipient')" = "dave@$DOMAIN" ] || fail "c) kind=message: $API_BODY"
[ "$(jqr '.items[0].name')" = message ] || fail "c) a message's name is 'message': $API_BODY"
# keyset paging: 4 items in pages of 3 and 1, in id order, no repeat
api_expect 200 GET '/api/v1/deferred?limit=3'
next=$(jqr .next)
page1=$(jqr '.items[].id')
[ "$(echo "$page1" | grep -c .)" = 3 ] && [ "$next" != null ] || fail "c) page 1: $API_BODY"
api_expect 200 GET "/api/v1/deferred?limit=3&after=$next"
page2=$(jqr '.items[].id')
[ "$(echo "$page2" | grep -c .)" = 1 ] && [ "$(jqr .next)" = null ] || fail "c) page 2: $API_BODY"
[ "$(printf '%s\n%s\n' "$page1" "$page2" | sort -u | grep -c .)" = 4 ] || fail "c) pages overlap"
api_expect 200 GET "/api/v1/deferred/${ids[0]}"
[ "$(jqr .id)" = "${ids[0]}" ] && [ "$(jqr .state)" = STORED ] && [ "$(jqr .sender)" = "sip:alice@$DOMAIN" ] || fail "c) show: $API_BODY"
api_expect 404 GET /api/v1/deferred/nosuchitem
api_expect 200 PATCH "/api/v1/deferred/${ids[0]}" '{"expires": 2000000000}'
api_expect 200 GET "/api/v1/deferred/${ids[0]}"
[ "$(jqr .expires)" = 2000000000 ] || fail "c) PATCH expires not applied: $API_BODY"
api_expect 404 PATCH /api/v1/deferred/nosuchitem '{"expires": 2000000000}'

# --- d) purge → the sender is told `failed` -------------------------------------------------------
api_expect 200 DELETE "/api/v1/deferred/$item_purge"
[ "$(jqr .purged)" = "$item_purge" ] || fail "d) purge answer: $API_BODY"
wait_for 15 "alice's 'notification failed $ftid_purge' (purge)" grep -q -x -F "notification failed $ftid_purge" "${RECV_OUT[alice]}"
api_expect 404 GET "/api/v1/deferred/$item_purge"
# one log line per purge (pf_item_remove's), none that calls it an expiry
n=$(grep -c "item $item_purge .*purged by the operator" "$CPMD_LOG" || true)
[ "$n" -eq 1 ] || fail "d) cpmd logged the purge $n times (1 expected)"
assert_no_grep "$CPMD_LOG" "$item_purge expired" "d) the purge was logged as an expiry"
api_expect 404 DELETE "/api/v1/deferred/$item_purge"
api_expect 200 GET "/api/v1/deferred?recipient=carol@$DOMAIN"
[ "$(jqr '.items | length')" = 2 ] || fail "d) 2 items for carol expected after the purge: $API_BODY"

# --- e) retry now ---------------------------------------------------------------------------
start_receiver bob bob phone --timeout 120
kill -STOP "${RECV_PID[bob]}" # registered, but answers nothing: the fork times out (2 s)
stored_send e bob "$T_DIR/x.bin"
item_retry=$ITEM
kill -CONT "${RECV_PID[bob]}"
wait_for 10 "cpmd's back-off for bob" grep -q "deliveries to bob@$DOMAIN: next attempt in 600 s" "$CPMD_LOG"
sleep 1
assert_no_grep "${RECV_OUT[bob]}" '^received ' "e) bob received the file before the retry"
api_expect 200 POST "/api/v1/deferred/$item_retry/retry"
[ "$(jqr .retried)" = "$item_retry" ] || fail "e) retry answer: $API_BODY"
wait_for 15 "bob to receive the retried file" grep -q '^received ' "${RECV_OUT[bob]}"
assert_received bob "$T_DIR/x.bin"
api_expect 404 POST /api/v1/deferred/nosuchitem/retry
api_expect 405 GET "/api/v1/deferred/$item_retry/retry"

# --- f) a live transfer, listed then terminated ---------------------------------------------
gen_file "$T_DIR/big.bin" $((50 * 1024 * 1024))
start_receiver erin erin phone --timeout 120
send_file_bg f alice erin "$T_DIR/big.bin"
# erin's device accepts, then reads nothing (stopped): the relay's flow control holds the sender
throttle_until "${RECV_PID[erin]}" 20 grep -q 'ft [^ ]*: branch [0-9]* (.*) accepted' "$CPMD_LOG" ||
	fail "f) erin's device did not accept the live transfer"
api_expect 200 GET /api/v1/transfers
[ "$(jqr '.transfers | length')" = 1 ] || fail "f) the live transfer is not listed: $API_BODY"
tid=$(jqr '.transfers[0].id')
[ "$(jqr '.transfers[0].name')" = big.bin ] && [ "$(jqr '.transfers[0].mode')" = live ] &&
	[ "$(jqr '.transfers[0].size')" = $((50 * 1024 * 1024)) ] &&
	[ "$(jqr '.transfers[0].recipient')" = "erin@$DOMAIN" ] || fail "f) transfer fields: $API_BODY"
api_expect 200 DELETE "/api/v1/transfers/$tid"
wait_exit "$SEND_PID" 30
[ "$WAIT_RC" != 0 ] && [ "$WAIT_RC" != timeout ] || fail "f) the terminated transfer's sender: exit $WAIT_RC"
kill -CONT "${RECV_PID[erin]}"
assert_grep "$CPMD_LOG" "ft $tid: terminated by the operator" "f) cpmd did not log the termination"
cpmd_alive

# --- g) a missing console directory ---------------------------------------------------------------
rc=0
timeout -k 2 10 "$CPMD" --domain "$DOMAIN" --sip "$HOST:$(pick_port)" --msrp "$HOST:$(pick_port)" \
	--data-dir "$T_DIR/data.noconsole" --admin "$HOST:$(pick_port)" --admin-console "$T_DIR/no-such-console" \
	</dev/null >"$LOGDIR/cpmd.noconsole.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "g) cpmd with a missing --admin-console: exit $rc, a failure expected"
assert_grep "$LOGDIR/cpmd.noconsole.log" "error: admin console: $T_DIR/no-such-console" "g) no error for --admin-console"
assert_no_grep "$LOGDIR/cpmd.noconsole.log" 'cpmd: ready' "g) cpmd started without its --admin-console"
mkdir -p "$T_DIR/elsewhere"
cp "$CPMD" "$T_DIR/elsewhere/cpmd"
admin_setup # a port of its own: the first cpmd still holds its admin port
CPMD="$T_DIR/elsewhere/cpmd" start_cpmd "${ADMIN_OPTS[@]}"
if ! grep -q 'admin console: serving' "$CPMD_LOG"; then # skipped when cpmd is installed under its prefix
	assert_grep "$CPMD_LOG" 'warn: admin console: .*no console: / answers 404' "g) no warning for the default console"
	assert_no_grep "$CPMD_LOG" 'error: admin console' "g) a missing default console logged as an error"
fi
api_expect 200 GET /api/v1/health
cpmd_alive
