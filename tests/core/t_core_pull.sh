#!/usr/bin/env bash
# list and fetch behind Kamailio: bob's only device answers 480 (so cpmd keeps what it
# stores for him), alice's file is stored; bob's `cpm list` (a MESSAGE to his own AOR,
# originating through the core) shows it and `cpm fetch ID` (an INVITE to his own AOR)
# retrieves it, byte-identical.
. "$(dirname "$0")/lib_core.sh"

start_core_pair
start_receiver alice alice phone --timeout 60
start_receiver busy bob phone --timeout 60 --answer unavailable
gen_file "$T_DIR/report.pdf" 250000
send_file s alice bob "$T_DIR/report.pdf"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"
id=$(sed -n 's/^cpm: stored by the server as item //p' "$SEND_ERR" | head -n 1)
[ -n "$id" ] || fail "no item id on the sender's stderr"

cpm_cmd list bob list
[ "$CMD_RC" = 0 ] || fail "cpm list through the core: exit $CMD_RC ($CMD_LAST)"
assert_grep "$CMD_OUT" "^deferred $id sip:alice@$DOMAIN report.pdf 250000\$" "cpm list did not show item $id"
mkdir -p "$T_DIR/fetched"
cpm_cmd fetch bob fetch "$id" --dir "$T_DIR/fetched"
[ "$CMD_RC" = 0 ] || fail "cpm fetch through the core: exit $CMD_RC ($CMD_LAST)"
RECV_OUT[fetch]=$CMD_OUT RECV_DIR[fetch]=$T_DIR/fetched
assert_received fetch "$T_DIR/report.pdf"
assert_grep "$KAM_LOG" "MESSAGE sip:bob@$DOMAIN from sip:bob@$DOMAIN .* -> cpmd \\(orig\\)" "the list query did not reach cpmd through the core"
assert_grep "$KAM_LOG" "INVITE sip:bob@$DOMAIN from sip:bob@$DOMAIN .* -> cpmd \\(orig\\)" "the fetch did not reach cpmd through the core"
cpmd_alive
kam_alive
