#!/usr/bin/env bash
# Trust in AS mode: cpmd serves only requests that come from the core's address
# (--core-trust 127.0.0.1). A stranger on 127.0.0.2 that sends cpmd a MESSAGE, an INVITE or
# a REGISTER straight (forging a P-Asserted-Identity) gets 403 for each, and nothing
# reaches bob. The core itself refuses a sender of its domain that is not registered.
. "$(dirname "$0")/lib_core.sh"

start_core_pair
start_receiver bob bob phone --timeout 60
command -v sipp >/dev/null || fail "sipp not installed (scripts/setup.sh installs sip-tester)"
for m in MESSAGE INVITE REGISTER; do
	p=$(pick_port)
	USED_PORTS="$USED_PORTS$p "
	rc=0
	sed "s/@METHOD@/$m/g" "$CPM_SRC/tests/core/sipp/stranger.xml" >"$T_DIR/stranger.$m.xml"
	(cd "$T_DIR" && exec timeout -k 5 30 sipp 127.0.0.1:"$SIP_PORT" -i 127.0.0.2 -p "$p" -nostdin -m 1 \
		-sf "$T_DIR/stranger.$m.xml" -s bob -key domain "$DOMAIN" \
		-trace_msg -message_file "$LOGDIR/sipp.stranger.$m.messages" \
		-trace_err -error_file "$LOGDIR/sipp.stranger.$m.errors" \
		</dev/null >"$LOGDIR/sipp.stranger.$m.stdout" 2>&1) || rc=$?
	[ $rc -eq 0 ] || fail "stranger's $m: SIPp exit $rc (403 from cpmd expected; see sipp.stranger.$m.*)"
	assert_grep "$LOGDIR/sipp.stranger.$m.messages" '^SIP/2.0 403' "cpmd did not answer the stranger's $m with 403"
	log "stranger's $m: 403"
	cpmd_alive
done
sleep 0.5
assert_no_grep "${RECV_OUT[bob]}" '^(message|received|chat) ' "something of the stranger reached bob"
# the core refuses an unregistered sender of its own domain
send_message unreg mallory bob "let me in"
[ "$MSG_RC" = 4 ] && [[ "$MSG_LAST" == "rejected: 403 "* ]] ||
	fail "unregistered mallory through the core: exit $MSG_RC, '$MSG_LAST' ('rejected: 403 ...' expected)"
cpmd_alive
kam_alive
