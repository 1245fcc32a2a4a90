#!/usr/bin/env bash
# A 1-1 chat session across two home domains: alice@example.com's cpmd anchors her leg and
# connects out to example.net's cpmd (a=setup:active: two passive relays would never meet),
# which anchors bob's. Before anyone types, the active end's empty bind SEND has bound the
# connection at example.net (else its bind timer would end a silent session). Messages both
# ways, delivered reports in the session, EOF ends it on both sides.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domains.sh"
. "$(dirname "$0")/chat_lib.sh"

domains_start "" ""
use_domain net
start_receiver bob bob phone --answer accept --reply "hi alice, from example.net"
use_domain com
conv=conv-domains-$RANDOM$RANDOM
start_chat a alice bob@example.net --conversation-id "$conv"
chat_wait_up a
assert_grep "${D_LOG[com]}" 'connected out for session' "example.com did not connect out to example.net"
wait_for 10 "example.net to bind our connection before any message" \
	bash -c "grep -c 'bound to session' '${D_LOG[net]}' | grep -qx 2"
chat_round_trip a bob sip:alice@example.com sip:bob@example.net "$conv" "hi alice, from example.net"
domains_alive
