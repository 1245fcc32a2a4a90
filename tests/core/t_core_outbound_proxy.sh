#!/usr/bin/env bash
# cpm --outbound-proxy: every request but REGISTER goes to the proxy, REGISTER to --server.
# With --server on a port where nothing listens and the core as outbound proxy, `cpm
# message` and `cpm send` work (they never register), and `cpm receive` fails naming
# --server (its REGISTER went there, not to the proxy). A proxy URI whose transport
# contradicts --transport, or without a port, is a usage error.
. "$(dirname "$0")/lib_core.sh"

start_core_pair
start_receiver alice alice phone --timeout 60
start_receiver bob bob phone --timeout 60
dead=$(pick_port)
USED_PORTS="$USED_PORTS$dead "
via=(--server "$HOST:$dead" --outbound-proxy "sip:$HOST:$KAM_UA_PORT;lr" --user "sip:alice@$DOMAIN")

rc=0
timeout -k 5 30 "$CPM" "${via[@]}" message bob "via the proxy" </dev/null >"$LOGDIR/ob.msg.out" 2>"$LOGDIR/ob.msg.err" || rc=$?
[ $rc -eq 0 ] && [ "$(tail -n 1 "$LOGDIR/ob.msg.out")" = sent ] ||
	fail "message via --outbound-proxy: exit $rc, '$(tail -n 1 "$LOGDIR/ob.msg.out")' ('sent' expected)"
wait_for 10 "bob's message" grep -q -a -F " via the proxy" "${RECV_OUT[bob]}"

gen_file "$T_DIR/a.bin" 100000
rc=0
timeout -k 5 30 "$CPM" "${via[@]}" send bob "$T_DIR/a.bin" --no-resume </dev/null >"$LOGDIR/ob.send.out" 2>"$LOGDIR/ob.send.err" || rc=$?
[ $rc -eq 0 ] && [ "$(tail -n 1 "$LOGDIR/ob.send.out")" = delivered ] ||
	fail "send via --outbound-proxy: exit $rc, '$(tail -n 1 "$LOGDIR/ob.send.out")' ('delivered' expected)"
wait_for 10 "bob's file" grep -q -a '^received ' "${RECV_OUT[bob]}"
assert_received bob "$T_DIR/a.bin"

# REGISTER goes to --server (dead): receive fails naming it
rc=0
timeout -k 5 60 "$CPM" "${via[@]}" receive --dir "$T_DIR/r" --timeout 40 </dev/null >"$LOGDIR/ob.recv.out" 2>"$LOGDIR/ob.recv.err" || rc=$?
[ $rc -eq 1 ] || fail "receive with a dead registrar: exit $rc (1 expected)"
assert_grep "$LOGDIR/ob.recv.out" "^failed: no answer from the server at $HOST:$dead \\(udp\\)\$" \
	"receive did not fail on --server ($HOST:$dead)"

# usage errors
for bad in "sip:$HOST:$KAM_UA_PORT;transport=tcp" "sip:$HOST" "http://$HOST:1" "sip:$HOST:$KAM_UA_PORT;maddr=x"; do
	rc=0
	"$CPM" "${via[@]}" --outbound-proxy "$bad" message bob x </dev/null >"$LOGDIR/ob.bad.out" 2>"$LOGDIR/ob.bad.err" || rc=$?
	[ $rc -eq 2 ] || fail "--outbound-proxy '$bad': exit $rc (2, usage, expected)"
	assert_grep "$LOGDIR/ob.bad.err" 'outbound-proxy' "the usage error for '$bad' does not name the option"
done
cpmd_alive
kam_alive
