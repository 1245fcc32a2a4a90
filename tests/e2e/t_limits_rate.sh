#!/usr/bin/env bash
# New requests per second (issue 10 §4, docs/security.md): --max-request-rate 5 (bursts of 10).
#  a) per address: 40 MESSAGEs at once from 127.0.0.2, each from another user: the first ~10
#     are served, the rest get `503 Request Rate Exceeded (max-request-rate 5 per address)`
#     (with Retry-After).
#  b) per user: 40 MESSAGEs at once "from" mallory, spread over 20 source addresses: the rest
#     get `503 Request Rate Exceeded (max-request-rate 5 per user)`.
#  c) carol, from 127.0.0.1, still sends bob a message (stored); after a flood "from" carol
#     elsewhere, her next message is refused and cpm prints the 503 and its phrase.
. "$(dirname "$0")/lib.sh"

start_cpmd --max-request-rate 5
ATT="$CPM_SRC/tests/e2e/slowloris.py"

users=$(seq -f 'u%g' 1 40 | paste -sd,)
out=$(python3 "$ATT" flood "$SIP_PORT" 40 127.0.0.2 "$users")
log "a) $(echo "$out" | tr '\n' ';')"
n=$(echo "$out" | sed -n 's/^\([0-9]*\) 503 Request Rate Exceeded (max-request-rate 5 per address)$/\1/p')
# ~30 when the 40 arrive within a second; a loaded machine spreads them and the bucket refills
# (5/s), so fewer: at least 15 still shows the limit working
[ -n "$n" ] && [ "$n" -ge 15 ] && [ "$n" -le 31 ] || fail "a) expected ~30 of 40 refused per address, got: $out"
assert_no_grep <(echo "$out") 'per user' "a) a per-user refusal for 40 different users"

srcs=$(seq -f '127.0.1.%g' 1 20 | paste -sd,)
out=$(python3 "$ATT" flood "$SIP_PORT" 40 "$srcs" mallory)
log "b) $(echo "$out" | tr '\n' ';')"
n=$(echo "$out" | sed -n 's/^\([0-9]*\) 503 Request Rate Exceeded (max-request-rate 5 per user)$/\1/p')
[ -n "$n" ] && [ "$n" -ge 15 ] && [ "$n" -le 31 ] || fail "b) expected ~30 of 40 refused per user, got: $out"
assert_grep "$CPMD_LOG" 'refused: Request Rate Exceeded \(max-request-rate 5 per (address|user)\)' "cpmd did not log a refusal"

send_message c carol bob "still works"
expect_message_result c 0 stored
# someone floods as carol from elsewhere: her own next message is refused, and cpm says why
# (for 12 s, 100/s: longer than the wait for its first refusal, cpm's start under ASan and the one
# retry its stack makes after Retry-After: 1)
python3 "$ATT" flood "$SIP_PORT" 1200 "$(seq -f '127.0.2.%g' 1 20 | paste -sd,)" carol 0 12 >/dev/null &
FLOOD=$!
PIDS+=("$FLOOD")
# the flood has emptied carol's bucket once cpmd refuses one of its requests (not a fixed sleep:
# a loaded machine starts python late)
refused_before=$(grep -c 'per user)' "$CPMD_LOG" || true)
user_refusals_grew() { [ "$(grep -c 'per user)' "$CPMD_LOG" || true)" -gt "$refused_before" ]; }
wait_for 3 "the flood as carol to be refused" user_refusals_grew
# Up to three tries while the flood runs: on a loaded machine (the ASan pass, two tests at once)
# the flooder can stall for a moment, carol's bucket refills a token and one message goes
# through (seen once in CI); a limit that never refuses a real client still fails all three.
for try in 1 2 3; do
	send_message "c2.$try" carol bob "refused"
	[ "$MSG_RC" = 4 ] && break
	log "c) try $try: exit $MSG_RC, '$MSG_LAST' (the flood may have stalled): again"
done
[ "$MSG_RC" = 4 ] && [ "$MSG_LAST" = "rejected: 503 Request Rate Exceeded (max-request-rate 5 per user)" ] ||
	fail "c) expected cpm to print the rate refusal; got exit $MSG_RC, last line '$MSG_LAST'"
cpmd_alive
