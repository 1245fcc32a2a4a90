#!/usr/bin/env bash
# Users' preferences from a real XCAP server (Kamailio's xcap_server, tests/lib_xcap.sh) change
# what cpmd does without a restart (issue 11 §3; docs/internals/xdm.md). cpmd runs with
# --xdms ... --xdms-refresh 1 and --delivery-method pull (the operator's default, so that a
# push can only come from the document):
#  1. bob's document says push: a file stored for him is pushed when he registers.
#  2. the document changes to pull (PUT, new ETag): after the refresh, the next stored file is
#     not pushed; his device gets the `deferred` line and `cpm list` shows it.
#  3. the document says defer=false: a file to bob while he is offline is refused (480), not
#     stored.
#  4. carol's document says defer=false too, but cpmd has --user-pref carol:defer=on (the local
#     override): her file is stored.
#  5. the XCAP server stops: bob's last known preferences (defer=false) keep applying; the
#     failure is logged once, not at every retry.
#  6. the XCAP server is back (same port, same documents) and bob's document says push again:
#     when bob registers, cpmd fetches it before it decides, so the file of step 2 is pushed
#     at once (with the stale "pull" it would wait).
# Every fetch the test waits for is seen by its ETag in cpmd's log (one line per new document).
. "$(dirname "$0")/lib.sh"
# shellcheck source=../lib_xcap.sh
. "$CPM_SRC/tests/lib_xcap.sh"

BOB=sip:bob@$DOMAIN CAROL=sip:carol@$DOMAIN
doc() { # NAME SETTINGS: writes $T_DIR/NAME.xml
	printf '<?xml version="1.0" encoding="UTF-8"?>\n<cpm-prefs xmlns="urn:cpmd:params:xml:ns:cpm-prefs">%s</cpm-prefs>\n' \
		"$2" >"$T_DIR/$1.xml"
}
wait_etag() { # ETAG AOR-KEY: cpmd logged that document of that user
	[ -n "$1" ] || fail "xcap_put printed no ETag"
	wait_for 10 "cpmd to fetch $2's document $1" grep -q -F "xdm: preferences of $2 (ETag $1)" "$CPMD_LOG"
}
# probe NAME USER: a device of USER registers (cpmd refreshes a stale document first) and
# leaves again after 2 s; returns once it is unregistered.
probe() {
	start_receiver "$1" "$2" "$1" --timeout 2
	wait_exit "${RECV_PID[$1]}" 15
	wait_for 5 "$2's probe to unregister" grep -q -F "unregister $2@$DOMAIN device=" "$CPMD_LOG"
}
cpm_list() { # NAME USER: `cpm list` of USER into $T_DIR/NAME.list
	local base rc=0
	mapfile -t base < <(_cpm_base "$2" lister)
	timeout -k 5 40 "$CPM" "${base[@]}" list </dev/null >"$T_DIR/$1.list" 2>"$LOGDIR/$1.list.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "cpm list ($2) exited $rc"
}

xcap_start "$T_DIR/xcap" "$(pick_port)"
doc push '<defer>true</defer><delivery>push</delivery>'
doc pull '<defer>true</defer><delivery>pull</delivery>'
doc nodefer '<defer>false</defer><delivery>pull</delivery>'
e1=$(xcap_put "$BOB" "$T_DIR/push.xml")
ec=$(xcap_put "$CAROL" "$T_DIR/nodefer.xml")
start_cpmd --xdms "$XCAP_ROOT" --xdms-auid "$XCAP_AUID" --xdms-refresh 1 --delivery-method pull \
	--user-pref "carol@$DOMAIN:defer=on"
pid0=$CPMD_PID
for n in 1 2 3 4 5 6; do gen_file "$T_DIR/f$n.bin" $((20000 + n)); done

# 1. push from the document (the operator's default is pull)
send_file f1 alice bob "$T_DIR/f1.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "1: expected 'stored', got exit $SEND_RC '$SEND_LAST'"
wait_etag "$e1" "bob@$DOMAIN"
start_receiver bob1 bob phone --count 1 --timeout 20
wait_exit "${RECV_PID[bob1]}" 25
[ "$WAIT_RC" = 0 ] || fail "1: bob's device got no pushed file (exit $WAIT_RC): the document's push was not applied"
assert_received bob1 "$T_DIR/f1.bin"
wait_for 5 "bob's device to unregister" grep -q -F "unregister bob@$DOMAIN device=" "$CPMD_LOG"

# 2. the document changes to pull: no restart, the next stored file waits for a fetch
e2=$(xcap_put "$BOB" "$T_DIR/pull.xml")
[ "$e2" != "$e1" ] || fail "2: the XCAP server gave the changed document the same ETag"
sleep 1.2 # older than --xdms-refresh: the next use of bob's preferences asks again
send_file f2 alice bob "$T_DIR/f2.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "2: expected 'stored', got exit $SEND_RC '$SEND_LAST'"
wait_etag "$e2" "bob@$DOMAIN"
start_receiver bob2 bob phone --timeout 4
wait_for 10 "bob's 'deferred' line" grep -q -a '^deferred ' "${RECV_OUT[bob2]}"
wait_exit "${RECV_PID[bob2]}" 10
assert_no_grep "${RECV_OUT[bob2]}" '^received ' "2: a file was pushed to bob after his document said pull"
line=$(grep -a -m1 '^deferred ' "${RECV_OUT[bob2]}")
[ "$(echo "$line" | awk '{print $4, $5}')" = "f2.bin 20002" ] || fail "2: deferred line '$line' is not f2.bin"
cpm_list l2 bob
[ "$(cat "$T_DIR/l2.list")" = "$line" ] || fail "2: cpm list printed '$(cat "$T_DIR/l2.list")', expected '$line'"
wait_for 5 "bob's device to unregister" bash -c '[ "$(grep -c -F "unregister bob@'"$DOMAIN"' device=" "$1")" -ge 2 ]' _ "$CPMD_LOG"

# 3. defer=false in the document: refused, nothing stored
e3=$(xcap_put "$BOB" "$T_DIR/nodefer.xml")
sleep 1.2
n_unreg=$(grep -c -F "unregister bob@$DOMAIN device=" "$CPMD_LOG")
start_receiver probe3 bob probe3 --timeout 2
wait_etag "$e3" "bob@$DOMAIN"
wait_exit "${RECV_PID[probe3]}" 15
wait_for 5 "bob's probe to unregister" bash -c '[ "$(grep -c -F "unregister bob@'"$DOMAIN"' device=" "$1")" -gt "$2" ]' _ "$CPMD_LOG" "$n_unreg"
send_file f3 alice bob "$T_DIR/f3.bin"
[ "$SEND_RC" -eq 4 ] && [[ "$SEND_LAST" == "rejected: 480 "* ]] ||
	fail "3: defer=false: expected exit 4 'rejected: 480 ...', got exit $SEND_RC '$SEND_LAST'"
cpm_list l3 bob
[ "$(cat "$T_DIR/l3.list")" = "$line" ] || fail "3: bob's list changed: '$(cat "$T_DIR/l3.list")'"

# 4. carol: the same document, but the local --user-pref says defer=on
probe cprobe carol
wait_etag "$ec" "carol@$DOMAIN"
send_file f4 alice carol "$T_DIR/f4.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
	fail "4: --user-pref carol:defer=on must win over her document: got exit $SEND_RC '$SEND_LAST'"

# 5. the XCAP server goes away: the last known preferences stay
xcap_stop
sleep 1.2
send_file f5 alice bob "$T_DIR/f5.bin" # uses the cached defer=false, and starts a fetch that fails
[ "$SEND_RC" -eq 4 ] && [[ "$SEND_LAST" == "rejected: 480 "* ]] ||
	fail "5: XCAP down: expected the last known defer=false (480), got exit $SEND_RC '$SEND_LAST'"
wait_for 10 "cpmd to log the failed fetch" grep -q -F "xdm: bob@$DOMAIN: fetching the preferences failed" "$CPMD_LOG"
sleep 1.2
send_file f6 alice bob "$T_DIR/f6.bin"
[ "$SEND_RC" -eq 4 ] && [[ "$SEND_LAST" == "rejected: 480 "* ]] ||
	fail "5: XCAP still down: expected 480 again, got exit $SEND_RC '$SEND_LAST'"
sleep 1.2 # the retry the last send started has answered (connection refused: at once)
n=$(grep -c -F "xdm: bob@$DOMAIN: fetching the preferences failed" "$CPMD_LOG" || true)
[ "$n" -eq 1 ] || fail "5: the failed fetch was logged $n times, once expected"

# 6. back, and push: the registration waits for the fetch
xcap_start "$T_DIR/xcap" "$XCAP_PORT"
e6=$(xcap_put "$BOB" "$T_DIR/push.xml")
sleep 1.2
start_receiver bob6 bob phone --count 1 --timeout 15
wait_exit "${RECV_PID[bob6]}" 20
[ "$WAIT_RC" = 0 ] || fail "6: the stored file was not pushed on registration (exit $WAIT_RC)"
assert_received bob6 "$T_DIR/f2.bin"
wait_etag "$e6" "bob@$DOMAIN"

[ "$CPMD_PID" = "$pid0" ] && [ "$(grep -c 'cpmd: ready' "$CPMD_LOG")" -eq 1 ] || fail "cpmd was restarted"
cpmd_alive
