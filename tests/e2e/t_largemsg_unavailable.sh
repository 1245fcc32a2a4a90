#!/usr/bin/env bash
# Large Message Mode, the other answers (docs/internals/messaging.md §2-3): bob's only device
# answers 480 (there but unavailable): cpmd stores the message (`stored`), as for a file; a
# device that declines (603) is the user's answer: `rejected: 603 ...`, nothing stored.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_largemsg.sh"

start_cpmd
gen_text "$T_DIR/a.txt" 4000
start_receiver busy bob phone --answer unavailable --timeout 60
send_message a alice bob "$T_DIR/a.txt" --large
[ "$MSG_RC" -eq 0 ] && [ "$MSG_LAST" = stored ] ||
	fail "expected 'stored' when the device answers 480; got exit $MSG_RC, '$MSG_LAST'"
assert_grep "$CPMD_LOG" 'deferred \(no-answer\)' "cpmd did not log the no-answer deferral"
assert_no_grep "${RECV_OUT[busy]}" '^message ' "the unavailable device printed a message"
stop_pid "${RECV_PID[busy]}" 5

start_receiver no carol phone --answer decline --timeout 60
send_message b alice carol "$T_DIR/a.txt" --large
[ "$MSG_RC" -ne 0 ] && [ "${MSG_LAST#rejected: 603 }" != "$MSG_LAST" ] ||
	fail "expected 'rejected: 603 ...' when the device declines; got exit $MSG_RC, '$MSG_LAST'"
n=$(files_in "$CPMD_DATA/blobs" | grep -v -c '/blobs/tmp/' || true)
[ "$n" -eq 1 ] || fail "expected 1 blob (bob's message), found $n: $(files_in "$CPMD_DATA/blobs")"
cpmd_alive
