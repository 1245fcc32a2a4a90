#!/usr/bin/env bash
# A 1-1 chat session behind Kamailio: alice's session INVITE goes to cpmd (orig), cpmd's
# to the core, the core forks it to bob's device; messages both ways over MSRP (straight
# to cpmd), delivered reports in the session, EOF ends it on both sides.
. "$(dirname "$0")/lib_core.sh"
. "$CPM_SRC/tests/e2e/chat_lib.sh"

start_core_pair
start_receiver alice alice laptop --timeout 60
start_receiver bob bob phone --answer accept --reply "hi alice, via the core"
conv=conv-core-$RANDOM$RANDOM
start_chat a alice bob --conversation-id "$conv"
chat_wait_up a
chat_round_trip a bob "sip:alice@$DOMAIN" "sip:bob@$DOMAIN" "$conv" "hi alice, via the core"
assert_grep "$KAM_LOG" "INVITE sip:bob@$DOMAIN from sip:alice@$DOMAIN .* -> cpmd \\(orig\\)" "alice's INVITE did not reach cpmd as originating"
assert_grep "$KAM_LOG" "cpmd's INVITE to sip:bob@$DOMAIN -> devices" "cpmd's session INVITE did not go through the core"
cpmd_alive
kam_alive
