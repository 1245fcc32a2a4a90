#!/usr/bin/env bash
# Pager-mode standalone messages to a user with two devices, live
# (docs/internals/messaging.md §1, §4, §7):
#  1) alice → bob (phone and tablet, both `receive --read`): `cpm message` prints
#     `sent`, exit 0; BOTH devices print `message sip:alice@DOMAIN ID TEXT` once
#     (TEXT with its newline as \n and its backslash as \\); alice's device gets
#     exactly one `notification delivered ID` and exactly one `notification
#     displayed ID`, although both of bob's devices sent both reports (cpmd
#     forwarded one of each and dropped the rest, its log says so).
#  2) --no-report: both devices print it, alice gets no notification for it.
#  3) bob's tablet without --read: a message to carol's one device without
#     --read gets `delivered` only.
#  4) the same over TCP (--transport tcp for every cpm).
. "$(dirname "$0")/lib.sh"

round() { # round TAG
	local tag=$1 dev n
	local text=$'line one\nline two \\ end'
	local want='line one\nline two \\ end'
	send_message "$tag-1" alice bob "$text"
	expect_message_result "$tag-1" 0 sent
	local id=$MSG_ID
	for dev in phone tablet; do
		wait_for 10 "bob's $dev to print the message" \
			grep -q -x -F "message sip:alice@$DOMAIN $id $want" "${RECV_OUT[$tag-bob-$dev]}"
	done
	wait_for 10 "alice's 'notification delivered $id'" grep -q -x -F "notification delivered $id" "${RECV_OUT[$tag-alice]}"
	wait_for 10 "alice's 'notification displayed $id'" grep -q -x -F "notification displayed $id" "${RECV_OUT[$tag-alice]}"

	# 2) no report asked
	send_message "$tag-2" alice bob "quiet please" --no-report
	expect_message_result "$tag-2" 0 sent
	local id2=$MSG_ID
	for dev in phone tablet; do
		wait_for 10 "bob's $dev to print the quiet message" \
			grep -q -x -F "message sip:alice@$DOMAIN $id2 quiet please" "${RECV_OUT[$tag-bob-$dev]}"
	done

	# 3) one device, not --read
	send_message "$tag-3" alice carol "to carol"
	expect_message_result "$tag-3" 0 sent
	local id3=$MSG_ID
	wait_for 10 "carol's device to print it" grep -q -x -F "message sip:alice@$DOMAIN $id3 to carol" "${RECV_OUT[$tag-carol]}"
	wait_for 10 "alice's 'notification delivered $id3'" grep -q -x -F "notification delivered $id3" "${RECV_OUT[$tag-alice]}"

	sleep 2 # any duplicate report would arrive by now
	for dev in phone tablet; do
		n=$(count_lines "${RECV_OUT[$tag-bob-$dev]}" "message sip:alice@$DOMAIN $id $want")
		[ "$n" -eq 1 ] || fail "$tag: bob's $dev printed the message $n times"
		[ "$(grep -c '^message ' "${RECV_OUT[$tag-bob-$dev]}")" -eq 2 ] || fail "$tag: bob's $dev printed other messages"
	done
	n=$(count_lines "${RECV_OUT[$tag-alice]}" "notification delivered $id")
	[ "$n" -eq 1 ] || fail "$tag: alice got $n 'notification delivered $id', exactly 1 expected"
	n=$(count_lines "${RECV_OUT[$tag-alice]}" "notification displayed $id")
	[ "$n" -eq 1 ] || fail "$tag: alice got $n 'notification displayed $id', exactly 1 expected"
	assert_no_grep "${RECV_OUT[$tag-alice]}" "notification [a-z]+ $id2\$" "$tag: a report for a message that asked for none"
	assert_no_grep "${RECV_OUT[$tag-alice]}" "notification displayed $id3\$" "$tag: carol's device is not --read"
	[ "$(grep -c '^notification ' "${RECV_OUT[$tag-alice]}")" -eq 3 ] ||
		fail "$tag: alice got $(grep -c '^notification ' "${RECV_OUT[$tag-alice]}") notifications, 3 expected"
	# both of bob's devices reported both kinds: cpmd dropped one of each
	n=$(grep -c "report .* from bob@$DOMAIN about $id: that report went to the sender already: dropped\|report from bob@$DOMAIN about $id: [a-z]* went to alice@$DOMAIN already: dropped" "$CPMD_LOG" || true)
	[ "$n" -eq 2 ] || fail "$tag: cpmd dropped $n duplicate reports of bob's devices, 2 expected"
}

for tp in udp tcp; do
	CPM_TRANSPORT=$tp
	start_cpmd
	start_receiver "$tp-alice" alice laptop --timeout 60
	start_receiver "$tp-bob-phone" bob phone --timeout 60 --read
	start_receiver "$tp-bob-tablet" bob tablet --timeout 60 --read
	start_receiver "$tp-carol" carol phone --timeout 60
	round "$tp"
	assert_dir_empty "${RECV_DIR[$tp-bob-phone]}" "$tp: a message was saved as a file"
	cpmd_alive
	for who in alice bob-phone bob-tablet carol; do stop_pid "${RECV_PID[$tp-$who]}" 3; done
	stop_cpmd
done
