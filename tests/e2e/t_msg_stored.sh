#!/usr/bin/env bash
# Deferred standalone messages, push, and a crash (docs/internals/messaging.md §3):
#  1) carol has no device: `cpm message` prints `stored` (exit 0; stderr names the
#     item, `cpm: stored by the server as item ID`), for three messages; the
#     sender's answer came after the item was durable: cpmd is killed with
#     SIGKILL at once and started again on the same data directory.
#  2) carol's two devices register together with the new cpmd: every message is
#     printed by at least one of them and by none twice (the push is a MESSAGE
#     fork from the original sender: From = alice, Referred-By: alice); alice's
#     device gets exactly one `notification delivered ID` per message (carol's
#     devices' own reports, forwarded once); the store holds no item after.
#  3) cpmd killed and restarted once more, carol's devices still registered:
#     nothing is pushed again, nobody prints anything twice.
#  4) a device that is gone (dave registered, then killed): its branch fails
#     (no answer within --message-timeout, or our stack's own 503) and the
#     message is stored all the same.
. "$(dirname "$0")/lib.sh"

CPM_TRANSPORT=udp # bindings outlive a cpmd crash (restored from the store)
start_cpmd --message-timeout 3
start_receiver alice alice laptop --timeout 90

# --- 1) stored, then a crash -----------------------------------------------------
ids=()
for i in 1 2 3; do
	send_message "s$i" alice carol "stored message $i"
	expect_message_result "s$i" 0 stored
	assert_grep "$MSG_ERR" '^cpm: stored by the server as item [0-9a-f]{32}$' "s$i: no item id on stderr"
	ids+=("$MSG_ID")
done
restart_cpmd_kill9 --message-timeout 3
assert_grep "$CPMD_LOG" 'items failed 0' "the restart found a failed item"

# --- 2) two devices register together ------------------------------------------------
for dev in phone tablet; do
	mkdir -p "$T_DIR/recv.carol-$dev"
	mapfile -t base < <(_cpm_base carol "$dev")
	"$CPM" "${base[@]}" receive --dir "$T_DIR/recv.carol-$dev" --timeout 60 </dev/null \
		>"$LOGDIR/recv.carol-$dev.out" 2>"$LOGDIR/recv.carol-$dev.err" &
	RECV_PID[carol-$dev]=$! RECV_OUT[carol-$dev]="$LOGDIR/recv.carol-$dev.out"
	PIDS+=("${RECV_PID[carol-$dev]}")
done
outs=("${RECV_OUT[carol-phone]}" "${RECV_OUT[carol-tablet]}")
for i in 1 2 3; do
	id=${ids[$((i - 1))]}
	wait_for 20 "message $i at one of carol's devices" \
		grep -q -x -F "message sip:alice@$DOMAIN $id stored message $i" "${outs[@]}"
	wait_for 10 "alice's 'notification delivered $id'" grep -q -x -F "notification delivered $id" "${RECV_OUT[alice]}"
done
sleep 2
check_once() { # check_once WHEN
	local i id n dev
	for i in 1 2 3; do
		id=${ids[$((i - 1))]}
		for dev in phone tablet; do
			n=$(count_lines "${RECV_OUT[carol-$dev]}" "message sip:alice@$DOMAIN $id stored message $i")
			[ "$n" -le 1 ] || fail "$1: carol's $dev printed message $i $n times"
		done
		n=$(count_lines "${RECV_OUT[alice]}" "notification delivered $id")
		[ "$n" -eq 1 ] || fail "$1: alice got $n 'notification delivered $id', exactly 1 expected"
	done
	[ "$(cat "${outs[@]}" | grep -c '^message ')" -le 6 ] || fail "$1: more message lines than messages x devices"
}
check_once "after the push"
assert_no_grep "${RECV_OUT[alice]}" '^notification failed' "alice got a failed notification"
assert_grep "$CPMD_LOG" "pushing message item [0-9a-f]{32} \([0-9]+ bytes\) from sip:alice@$DOMAIN to carol@$DOMAIN"
mapfile -t base < <(_cpm_base carol)
"$CPM" "${base[@]}" list >"$LOGDIR/list.out" 2>"$LOGDIR/list.err" || fail "cpm list: exit $?"
[ ! -s "$LOGDIR/list.out" ] || fail "carol's list is not empty after delivery: $(cat "$LOGDIR/list.out")"

# --- 3) another crash: nothing comes twice -----------------------------------------
restart_cpmd_kill9 --message-timeout 3
sleep 3
check_once "after the second restart"
assert_no_grep "$CPMD_LOG" 'pushing message item' "a delivered message was pushed again"

# --- 4) a device that is gone: stored ------------------------------------------------
start_receiver dave dave phone --timeout 60
kill -KILL "${RECV_PID[dave]}"
wait "${RECV_PID[dave]}" 2>/dev/null || true
send_message gone alice dave "are you there"
expect_message_result gone 0 stored
cpmd_alive
