#!/usr/bin/env bash
# Two home domains (docs/deployment.md §3): alice@example.com's cpmd and bob@example.net's
# cpmd reach each other by static routes.
#   1. live transfer across: delivered, bob has the file;
#   2. recipient offline: the TERMINATING cpmd (example.net) stores it, the sender hears
#      `stored`; carol registers later and gets it; alice gets exactly one `delivered`, routed
#      back across the domains;
#   3. the terminating cpmd is DOWN: the ORIGINATING cpmd (example.com) stores it (`stored`),
#      retries with back-off, and delivers it once example.net is back: bob gets it exactly
#      once, alice exactly one `delivered`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domains.sh"

domains_start "--delivery-retry 1:2" ""
gen_file "$T_DIR/a.bin" 200000
gen_file "$T_DIR/b.bin" 150000
gen_file "$T_DIR/c.bin" 120000

use_domain com
start_receiver alice alice laptop --timeout 90
use_domain net
start_receiver bob bob phone --timeout 90

# 1. live across the domains
use_domain com
send_file live alice bob@example.net "$T_DIR/a.bin"
expect_delivered
assert_received bob "$T_DIR/a.bin"
assert_grep "${D_LOG[com]}" 'branch [0-9]+ -> sip:bob@example.net via sip:127.0.0.1:[0-9]+;transport=tcp' \
	"example.com did not send the INVITE to example.net's route"

# 2. carol@example.net is offline: example.net stores it
send_file offline alice carol@example.net "$T_DIR/b.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
	fail "expected 'stored' from the terminating side; got exit $SEND_RC, '$SEND_LAST'"
ftid_b=$(sed -n 's/^cpm: file-transfer-id \(.*\)$/\1/p' "$SEND_ERR" | head -n 1)
assert_grep "${D_LOG[net]}" 'deferred \(no-device\)' "example.net did not store the file for carol"
assert_grep "${D_LOG[com]}" 'stores it for carol@example.net' "example.com did not see the hand-over"
[ -z "$(files_in "${D_DATA[com]}/blobs")" ] || fail "example.com kept a copy of a file example.net stores"
use_domain net
start_receiver carol carol phone --count 1 --timeout 30
wait_exit "${RECV_PID[carol]}" 30
[ "$WAIT_RC" = 0 ] || fail "carol's receiver exit status $WAIT_RC"
assert_received carol "$T_DIR/b.bin"
wait_for 20 "alice's 'notification delivered $ftid_b'" grep -q -x -F "notification delivered $ftid_b" "${RECV_OUT[alice]}"

# 3. example.net is down: example.com stores it and delivers it later
domain_stop net
use_domain com
send_file down alice bob@example.net "$T_DIR/c.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
	fail "expected 'stored' by the originating side; got exit $SEND_RC, '$SEND_LAST'"
ftid_c=$(sed -n 's/^cpm: file-transfer-id \(.*\)$/\1/p' "$SEND_ERR" | head -n 1)
assert_grep "${D_LOG[com]}" 'cpmd takes the file for bob@example.net' "example.com did not store the file"
[ "$(files_in "${D_DATA[com]}/blobs" | grep -c .)" -eq 1 ] || fail "example.com should hold exactly one blob"
domain_start net
wait_for 40 "bob to get the file stored on example.com" bash -c "grep -q ' $(sha1 "$T_DIR/c.bin")\$' '${RECV_OUT[bob]}'"
assert_received bob "$T_DIR/c.bin"
wait_for 20 "alice's 'notification delivered $ftid_c'" grep -q -x -F "notification delivered $ftid_c" "${RECV_OUT[alice]}"
wait_for 10 "example.com's blob to be removed" bash -c '[ -z "$(find "$1" -mindepth 1 -type f)" ]' _ "${D_DATA[com]}/blobs"
sleep 3 # a retry that would deliver it twice has had time to run
n=$(grep -c -a " $(sha1 "$T_DIR/c.bin")\$" "${RECV_OUT[bob]}" || true)
[ "$n" -eq 1 ] || fail "bob got the file $n times, exactly once expected"
for f in "$ftid_b" "$ftid_c"; do
	n=$(count_lines "${RECV_OUT[alice]}" "notification delivered $f")
	[ "$n" -eq 1 ] || fail "alice got $n 'delivered' for $f, exactly 1 expected"
done
domains_alive
