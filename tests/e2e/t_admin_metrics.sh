#!/usr/bin/env bash
# /metrics (issue 13 §3) after a mixed workload whose counters must equal what the test did:
# 3 live transfers to bob (delivered), 2 files stored for offline carol, 1 file refused (488, over
# --max-file-size), 1 message to bob
# (delivered live). The scrape passes `promtool check metrics` (Prometheus' own linter), the
# counters and gauges match; then carol registers, both stored files are pushed to her, and the
# delivery counters and deferred gauges follow. Last, a message stored for offline dave is pushed
# (by MESSAGE) when he registers, and a file stored for offline erin is declined (603) by her
# only device: one push delivered and one push declined more.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_admin.sh"
command -v promtool >/dev/null || fail "promtool missing (Debian package prometheus; scripts/setup.sh)"

SIZE=40000
scrape() { # scrape NAME: the exposition into $T_DIR/NAME.prom, checked by promtool
	api_expect 200 GET /metrics
	printf '%s\n' "$API_BODY" >"$T_DIR/$1.prom"
	promtool check metrics <"$T_DIR/$1.prom" >"$LOGDIR/promtool.$1.log" 2>&1 ||
		fail "promtool check metrics ($1): $(cat "$LOGDIR/promtool.$1.log")"
}
metric() { # metric NAME SERIES: its value in scrape NAME (the series as printed, labels included)
	awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print "missing" }' "$T_DIR/$1.prom"
}
expect_metric() { # expect_metric NAME SERIES VALUE
	local v
	v=$(metric "$1" "$2")
	[ "$v" = "$3" ] || fail "$1: $2 = $v, expected $3"
}

admin_setup
start_cpmd "${ADMIN_OPTS[@]}" --max-file-size 100000
scrape empty
expect_metric empty 'cpmd_transfers_total{outcome="delivered"}' 0
expect_metric empty cpmd_deferred_items 0

start_receiver bob bob phone --timeout 120
for i in 1 2 3; do
	gen_file "$T_DIR/live$i.bin" $SIZE
	send_file "live$i" alice bob "$T_DIR/live$i.bin"
	expect_delivered
done
for i in 1 2; do
	gen_file "$T_DIR/stored$i.bin" $SIZE
	send_file "stored$i" alice carol "$T_DIR/stored$i.bin"
	[ "$SEND_LAST" = stored ] || fail "stored$i: 'stored' expected, got '$SEND_LAST'"
done
gen_file "$T_DIR/toobig.bin" 200000
send_file toobig alice bob "$T_DIR/toobig.bin"
[[ "$SEND_LAST" == "rejected: 488"* ]] || fail "toobig: 'rejected: 488 ...' expected, got '$SEND_LAST'"
send_message m1 alice bob "hello bob"
expect_message_result m1 0 sent
wait_for 10 "bob's 3 files" bash -c '[ "$(grep -c "^received " "$1")" -ge 3 ]' _ "${RECV_OUT[bob]}"

scrape mixed
expect_metric mixed 'cpmd_transfers_total{outcome="delivered"}' 3
expect_metric mixed 'cpmd_transfers_total{outcome="stored"}' 2
expect_metric mixed 'cpmd_transfers_total{outcome="failed"}' 0
expect_metric mixed 'cpmd_transfers_total{outcome="rejected"}' 1
expect_metric mixed 'cpmd_messages_total{outcome="delivered"}' 1
expect_metric mixed 'cpmd_messages_total{outcome="stored"}' 0
expect_metric mixed cpmd_relayed_bytes_total $((3 * SIZE))
expect_metric mixed cpmd_stored_bytes_total $((2 * SIZE))
expect_metric mixed cpmd_deferred_items 2
expect_metric mixed cpmd_deferred_bytes $((2 * SIZE))
expect_metric mixed cpmd_relay_throughput_bytes_per_second_count 5
expect_metric mixed 'cpmd_deliveries_total{method="push",result="delivered"}' 0
expect_metric mixed cpmd_live_transfers 0
api_expect 200 GET /api/v1/users
bindings=$(jqr '[.users[].bindings] | add')
expect_metric mixed cpmd_registrations "$bindings"
[ "$(metric mixed cpmd_store_commit_seconds_count)" -gt 0 ] || fail "no store commit in the histogram"
[ "$(metric mixed 'cpmd_store_commit_seconds_bucket{le="+Inf"}')" = "$(metric mixed cpmd_store_commit_seconds_count)" ] ||
	fail "the +Inf bucket differs from _count"

start_receiver carol carol phone --timeout 120
wait_for 20 "carol's 2 stored files" bash -c '[ "$(grep -c "^received " "$1")" -ge 2 ]' _ "${RECV_OUT[carol]}"
wait_for 10 "the deferred gauge back to 0" bash -c \
	"curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' http://$HOST:$ADMIN_PORT/metrics | grep -qx 'cpmd_deferred_items 0'"
scrape after
expect_metric after 'cpmd_deliveries_total{method="push",result="delivered"}' 2
expect_metric after 'cpmd_deliveries_total{method="push",result="failed"}' 0
expect_metric after cpmd_deferred_items 0
expect_metric after 'cpmd_transfers_total{outcome="delivered"}' 3

# --- a stored message pushed, a stored file declined -------------------------------
send_message m2 alice dave "hello dave"
expect_message_result m2 0 stored
gen_file "$T_DIR/declined.bin" $SIZE
send_file declined alice erin "$T_DIR/declined.bin"
[ "$SEND_LAST" = stored ] || fail "declined: 'stored' expected, got '$SEND_LAST'"
start_receiver dave dave phone --timeout 120
wait_for 20 "dave's stored message" grep -q -a '^message .* hello dave$' "${RECV_OUT[dave]}"
start_receiver erin erin phone --timeout 120 --answer decline
wait_for 20 "the deferred gauge back to 0 after the decline" bash -c \
	"curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' http://$HOST:$ADMIN_PORT/metrics | grep -qx 'cpmd_deferred_items 0'"
assert_no_grep "${RECV_OUT[erin]}" '^received ' "the declining device received the file"
scrape pushed
expect_metric pushed 'cpmd_messages_total{outcome="stored"}' 1
expect_metric pushed 'cpmd_messages_total{outcome="delivered"}' 1 # the live one: a push is a delivery
expect_metric pushed 'cpmd_transfers_total{outcome="stored"}' 3
expect_metric pushed 'cpmd_deliveries_total{method="push",result="delivered"}' 3
expect_metric pushed 'cpmd_deliveries_total{method="push",result="declined"}' 1
expect_metric pushed 'cpmd_deliveries_total{method="push",result="failed"}' 0
expect_metric pushed 'cpmd_errors_total{kind="store_queue"}' 0
expect_metric pushed 'cpmd_errors_total{kind="store_write"}' 0
cpmd_alive
