#!/usr/bin/env bash
# The start-up sweep runs a page of saved registrations per loop turn (src/pf/pf_start.c,
# docs/internals/pf.md "Start-up sweep"): with 30,000 saved registrations, cpmd serves SIP while
# the sweep still kicks them, and every user with something waiting is kicked all the same,
# across every page boundary.
#  - cpmd #1: two messages for dave are stored (no device); zoe's phone registers over UDP (its
#    binding outlives a restart) and stays up. Beside the idle cpmd (SQLite's WAL takes a second
#    writer) the store gets 30,000 bindings of users bulk0..bulk29999 (sqlite3; contact: a closed
#    UDP port), a stored message for each of bulk0..bulk5999 and two for zoe (bench/sf_fill):
#    nobody is kicked for them now.
#  - cpmd #2 on the same data directory; dave's phone registers at once.
# Checked by the order of cpmd's log lines, not by time:
#  1) dave's REGISTER was answered before the sweep's end line, and before zoe's messages were
#     pushed (zoe sorts after every other user: her kick is in the last page; the push line comes
#     once its attempt is recorded): SIP was served while the sweep ran. A sweep run before the
#     loop (the old one) answers it only after it kicked zoe;
#  2) the sweep's end line, "start-up sweep: N registrations in X ms": the 30,001 saved ones, and
#     dave's when his binding was saved before the sweep's walk passed his key;
#  3) each of the 6,000 bulk users with a message got exactly one push; zoe's phone printed her
#     two messages; dave's phone printed each of his exactly once (kicked by his REGISTER, then
#     by the sweep: a double kick starts nothing twice).
#  4) cpmd #3 stopped (SIGTERM) as soon as it is ready, while its sweep runs (the 6,000 bulk
#     messages still wait): the sweep stops where it is, and cpmd exits 0 (the ASan pass checks
#     that nothing of the sweep is used after pf is gone).
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "sqlite3 missing (scripts/setup.sh installs it)"
SF_FILL=${SF_FILL:-$CPM_BUILD/sf_fill}
need_bin "$SF_FILL"
CPM_TRANSPORT=udp
NREGS=30000 NITEMS=6000
# a failed push (the bulk users' closed port) is not tried again while the test runs
OPTS=(--message-timeout 2 --delivery-retry 300:600)

start_cpmd "${OPTS[@]}"
dave_ids=()
for i in 1 2; do
	send_message "d$i" alice dave "for dave $i"
	expect_message_result "d$i" 0 stored
	dave_ids+=("$MSG_ID")
done
start_receiver zoe zoe phone --timeout 300

"$SF_FILL" "$CPMD_DATA" "$NITEMS" "$NITEMS" "$DOMAIN" zoe 2 0 message >"$LOGDIR/sf_fill.out" 2>&1 ||
	fail "sf_fill: exit $? ($(tail -n 3 "$LOGDIR/sf_fill.out"))"
sqlite3 "$CPMD_DATA/cpmd.db" "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < $NREGS - 1)
	INSERT INTO reg SELECT 'bulk' || i || '@$DOMAIN', '<urn:uuid:00000000-0000-0000-0001-' || printf('%012d', i) || '>',
	'<sip:bulk' || i || '@127.0.0.1:9>', '', 0, (strftime('%s', 'now') + 3600) * 1000 FROM c;" ||
	fail "cannot fill the reg table"
[ "$(sqlite3 "$CPMD_DATA/cpmd.db" 'SELECT COUNT(*) FROM reg')" = $((NREGS + 1)) ] || fail "the reg table does not hold $((NREGS + 1)) rows"

restart_cpmd TERM "${OPTS[@]}"
start_receiver dave dave phone --timeout 300
zoe_push="pushing message item u0{30}[01] \([0-9]+ bytes\) from [^ ]+ to zoe@$DOMAIN"
wait_for 240 "the sweep to push zoe's messages" grep -qE "$zoe_push" "$CPMD_LOG"

# 1) the order of the lines
reg_line=$(grep -n -m1 -E "register dave@$DOMAIN device=" "$CPMD_LOG" | cut -d: -f1)
zoe_line=$(grep -n -m1 -E "$zoe_push" "$CPMD_LOG" | cut -d: -f1)
[ -n "$reg_line" ] || fail "no REGISTER of dave in cpmd's log"
[ "$reg_line" -lt "$zoe_line" ] ||
	fail "dave's REGISTER (line $reg_line) was answered only after the sweep's last page (zoe's push, line $zoe_line): SIP waited for the sweep"
wait_for 240 "the sweep's end line" grep -qE 'start-up sweep: [0-9]+ registrations in [0-9]+ ms' "$CPMD_LOG"
end_line=$(grep -n -m1 -E 'start-up sweep: [0-9]+ registrations in' "$CPMD_LOG" | cut -d: -f1)
log "log lines: dave's REGISTER $reg_line, zoe's push $zoe_line, end of the sweep $end_line: $(sed -n "${end_line}p" "$CPMD_LOG")"
[ "$reg_line" -lt "$end_line" ] || fail "dave's REGISTER (line $reg_line) after the end of the sweep (line $end_line)"
# 2) the end line counts every saved registration (and dave's new one, if its key was still ahead)
assert_grep "$CPMD_LOG" "start-up sweep: ($((NREGS + 1)) registrations in [0-9]+ ms \($((NREGS + 1))|$((NREGS + 2)) registrations in [0-9]+ ms \($((NREGS + 2))) users, [0-9]+ pages\)" \
	"the sweep's end line does not count the $((NREGS + 1)) saved registrations"

# 3) every user with an item was kicked once, none skipped at a page boundary
pushes=$(grep -oE "pushing message item m[0-9]{31} \([0-9]+ bytes\) from [^ ]+ to bulk[0-9]+@" "$CPMD_LOG" | sed 's/.* to //')
n_all=$(printf '%s\n' "$pushes" | grep -c . || true)
n_users=$(printf '%s\n' "$pushes" | sort -u | grep -c . || true)
log "pushes to bulk users: $n_all lines, $n_users users"
[ "$n_users" = "$NITEMS" ] || fail "$n_users of the $NITEMS bulk users with a message got a push"
[ "$n_all" = "$NITEMS" ] || fail "$n_all pushes to bulk users, $NITEMS expected (one each)"
for i in 0 1; do
	n=$((5000000 + i))
	wait_for 60 "zoe's message m$n" grep -qE "^message [^ ]+ m$n benchmark message number $n\$" "${RECV_OUT[zoe]}"
done
for i in 1 2; do
	id=${dave_ids[$((i - 1))]}
	wait_for 60 "dave's message $i" grep -q -x -F "message sip:alice@$DOMAIN $id for dave $i" "${RECV_OUT[dave]}"
done
sleep 1
for i in 1 2; do
	id=${dave_ids[$((i - 1))]}
	n=$(count_lines "${RECV_OUT[dave]}" "message sip:alice@$DOMAIN $id for dave $i")
	[ "$n" = 1 ] || fail "dave's phone printed message $i $n times"
done
n=$(grep -cE "pushing message item [0-9a-f]{32} \([0-9]+ bytes\) from [^ ]+ to dave@$DOMAIN" "$CPMD_LOG" || true)
[ "$n" = 2 ] || fail "$n pushes of dave's 2 messages (one each expected: the sweep's kick after his REGISTER's starts none)"
cpmd_alive

# 4) a stop while the sweep runs
restart_cpmd TERM "${OPTS[@]}"
stop_cpmd
assert_grep "$CPMD_LOG" 'start-up sweep stopped by the shutdown after [0-9]+ registrations' \
	"cpmd #3's sweep did not stop at the shutdown"
assert_no_grep "$CPMD_LOG" 'start-up sweep: [0-9]+ registrations in' "cpmd #3's sweep ran to its end after the stop"
