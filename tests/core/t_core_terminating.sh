#!/usr/bin/env bash
# The terminating case behind Kamailio: another network's server (SIPp on 127.0.0.2, its
# user sip:carol@example.org) sends a pager MESSAGE (message/cpim) for bob to the core's user
# port. The core routes it to cpmd without `orig` (route TO_AS_TERM) and without an identity
# of its own; cpmd serves bob, the terminating user:
#  1. bob online: cpmd sends it on through the core, bob's device prints it (sender = the
#     foreign user, from From), the foreign server gets 200;
#  2. the same server straight to cpmd: 403 Not From The Core, nothing reaches bob;
#     through the core for a user of a domain the core does not serve: 403 from the core,
#     cpmd never sees it;
#  3. bob offline (de-registered): 202 with Cpm-Stored, no attempt toward bob; when bob
#     registers again the message is pushed to his device, exactly once.
. "$(dirname "$0")/lib_core.sh"

command -v sipp >/dev/null || fail "sipp not installed (scripts/setup.sh installs sip-tester)"
FOREIGN_IP=127.0.0.2
FOREIGN=carol@example.org
CRLF='(\\r\\n)?' # SIPp ends the scenario's text line with CRLF; cpm prints it escaped

# foreign NAME HOST:PORT USER DOMAIN TEXT: one MESSAGE from the foreign server; sets
# FOREIGN_STATUS (its final answer), FOREIGN_MSGID and FOREIGN_TRACE (SIPp's message trace).
foreign() {
	local name=$1 to=$2 user=$3 dom=$4 text=$5 p rc=0
	p=$(pick_port)
	USED_PORTS="$USED_PORTS$p "
	FOREIGN_MSGID="foreign$RANDOM$RANDOM"
	FOREIGN_TRACE="$LOGDIR/sipp.foreign.$name.messages"
	(cd "$T_DIR" && exec timeout -k 5 30 sipp "$to" -i "$FOREIGN_IP" -p "$p" -nostdin -m 1 \
		-sf "$CPM_SRC/tests/core/sipp/foreign_message.xml" -s "$user" -key domain "$dom" \
		-key from "${FOREIGN%@*}" -key from_domain "${FOREIGN#*@}" -key text "$text" -key msgid "$FOREIGN_MSGID" \
		-trace_msg -message_file "$FOREIGN_TRACE" -trace_err -error_file "$LOGDIR/sipp.foreign.$name.errors" \
		</dev/null >"$LOGDIR/sipp.foreign.$name.stdout" 2>&1) || rc=$?
	FOREIGN_STATUS=$(grep -a -o -E '^SIP/2.0 [2-6][0-9][0-9]' "$FOREIGN_TRACE" 2>/dev/null | tail -n 1 | cut -c9-)
	log "foreign $name -> $user@$dom via $to: SIPp exit $rc, answer ${FOREIGN_STATUS:-none}"
	[ $rc -eq 0 ] || fail "foreign $name: SIPp exit $rc (see sipp.foreign.$name.*)"
}
to_bob() { grep -a -c -F "cpmd's MESSAGE to sip:bob@$DOMAIN -> devices" "$KAM_LOG" || true; }
term_routed() { grep -a -c -E "MESSAGE sip:bob@$DOMAIN from sip:$FOREIGN \\(udp:$FOREIGN_IP:[0-9]+\\) -> cpmd \\(term\\)" "$KAM_LOG" || true; }

start_core_pair
start_receiver bob bob phone --timeout 60

# 1. live
foreign live "$HOST:$KAM_UA_PORT" bob "$DOMAIN" "hello from another network"
[ "$FOREIGN_STATUS" = 200 ] || fail "live: the foreign server got '$FOREIGN_STATUS', 200 expected"
[ "$(term_routed)" -eq 1 ] || fail "the core did not route the foreign MESSAGE to cpmd as terminating (no 'orig')"
wait_for 10 "bob's device to print the foreign message" grep -q -a -F " $FOREIGN_MSGID hello from another network" "${RECV_OUT[bob]}"
assert_grep "${RECV_OUT[bob]}" "^message sip:$FOREIGN $FOREIGN_MSGID hello from another network$CRLF\$" "bob's line does not name the foreign sender"
[ "$(to_bob)" -eq 1 ] || fail "cpmd did not send the message on to bob through the core"
assert_grep "$CPMD_LOG" "MESSAGE $FOREIGN_MSGID from $FOREIGN to bob@$DOMAIN" "cpmd did not take the foreign user (From) as the sender"

# 2. refused: straight to cpmd; through the core for a domain it does not serve
routed=$(term_routed)
foreign direct "$HOST:$SIP_PORT" bob "$DOMAIN" "let me in"
[ "$FOREIGN_STATUS" = 403 ] || fail "straight to cpmd: '$FOREIGN_STATUS', 403 expected"
assert_grep "$FOREIGN_TRACE" '^SIP/2.0 403 Not From The Core' "cpmd's 403 does not say 'Not From The Core'"
assert_grep "$CPMD_LOG" "MESSAGE from $FOREIGN_IP:[0-9]+ refused: not from the core" "cpmd did not log the refusal"
foreign relay "$HOST:$KAM_UA_PORT" dave example.net "relay me"
[ "$FOREIGN_STATUS" = 403 ] || [ "$FOREIGN_STATUS" = 404 ] ||
	fail "a user of another domain through the core: '$FOREIGN_STATUS', 403 or 404 expected"
assert_no_grep "$FOREIGN_TRACE" '^User-Agent: cpmd' "the refusal for another domain came from cpmd, not from the core"
assert_no_grep "$CPMD_LOG" "dave@example.net" "the request for another domain reached cpmd"
[ "$(term_routed)" -eq "$routed" ] || fail "a refused request was routed to cpmd"
sleep 0.5
assert_no_grep "${RECV_OUT[bob]}" "(let me in|relay me)" "a refused message reached bob"

# 3. offline: stored, pushed when bob is back
z0=$(tpr_zero_count bob)
stop_pid "${RECV_PID[bob]}" 5
[ "$STOP_RC" = 0 ] || fail "bob's device exit status $STOP_RC after SIGTERM"
wait_tpr_zero bob $((z0 + 1)) 10
wait_for 10 "cpmd's answer to bob's Expires 0" _tpr_answered bob
tries=$(to_bob)
foreign stored "$HOST:$KAM_UA_PORT" bob "$DOMAIN" "kept while you were away"
[ "$FOREIGN_STATUS" = 202 ] || fail "bob offline: the foreign server got '$FOREIGN_STATUS', 202 expected"
assert_grep "$FOREIGN_TRACE" '^Cpm-Stored: [0-9a-f]+' "cpmd's 202 has no Cpm-Stored"
[ "$(term_routed)" -eq 2 ] || fail "the stored message did not reach cpmd as terminating"
[ "$(to_bob)" -eq "$tries" ] || fail "cpmd tried bob through the core although he is offline"
stored_id=$FOREIGN_MSGID
start_receiver bob2 bob phone --timeout 60
wait_for 20 "bob's device to get the stored foreign message" grep -q -a -F " $stored_id kept while you were away" "${RECV_OUT[bob2]}"
assert_grep "${RECV_OUT[bob2]}" "^message sip:$FOREIGN $stored_id kept while you were away$CRLF\$" "the stored message's line is wrong"
sleep 1
n=$(grep -a -c -F " $stored_id " "${RECV_OUT[bob2]}" || true)
[ "$n" -eq 1 ] || fail "the stored message was printed $n times, once expected"
cpmd_alive
kam_alive
