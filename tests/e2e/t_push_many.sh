#!/usr/bin/env bash
# cpmd starts with the 100,000-device bound of remembered push devices in its store and still
# answers (docs/internals/push.md "Memory and lookups"). Every one of them is asleep (no
# registration), so the first sweep looks at each; nothing waits for their users, so no wake-up
# goes to the gateway. With one list for every lookup that sweep was quadratic: cpmd answered
# no SIP for minutes. Here a phone registers right after the start and gets a file; the store's
# rows are loaded whole. Not a timing test: BENCHMARKS "Push: start with 100,000 devices" has
# the figures.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 missing (scripts/setup.sh installs it)"
start_push_gateway
push_opts=(--push-gateway "http://$HOST:$gw_port/wake" --push-retry 1:4)

# the schema is cpmd's own; the rows are what cpmd writes for a device with push parameters
# (written beside the running cpmd, which is idle: SQLite's WAL takes the second writer)
start_cpmd "${push_opts[@]}"
sqlite3 "$CPMD_DATA/cpmd.db" "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100000)
	INSERT INTO push SELECT 'u' || i || '@$DOMAIN', '<urn:uuid:00000000-0000-0000-0000-' || printf('%012d', i) || '>',
	'apns', 'token' || i, 'ABCD1234.com.example.voip', 0 FROM c;" || fail "cannot fill the push table"

restart_cpmd TERM "${push_opts[@]}"
assert_grep "$CPMD_LOG" 'push: 100000 devices with push parameters loaded from the store' \
	"the store's 100,000 devices were not loaded"
# start_receiver waits up to 15 s for cpmd to log the registration (the sweep takes under a
# second, a few under ASan; the quadratic one took minutes)
start_receiver phone bob phone --count 1 --timeout 60
gen_file "$T_DIR/doc.pdf" 300000
send_file doc alice bob "$T_DIR/doc.pdf"
[ "$SEND_RC" = 0 ] && [ "$SEND_LAST" = delivered ] || fail "send: exit $SEND_RC, '$SEND_LAST' (delivered expected)"
wait_exit "${RECV_PID[phone]}" 30
[ "$WAIT_RC" = 0 ] || fail "bob's phone did not get the file (exit $WAIT_RC)"
assert_received phone "$T_DIR/doc.pdf"
[ "$(grep -c '^/wake ' "$posts")" = 0 ] || fail "wake-ups with nothing waiting: $(grep -c '^/wake ' "$posts")"
