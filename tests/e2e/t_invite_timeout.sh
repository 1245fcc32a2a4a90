#!/usr/bin/env bash
# cpmd --invite-timeout 2: the recipient's only device never answers. After
# about 2 s cpmd gives up: it cancels the ringing branch and the sender exits
# non-zero with `rejected: 4xx ...` (480 expected, RFC 3261 §16.7 no-answer) or
# `failed: ...`; nothing reaches the device. Not before 2 s, and not much after.
. "$(dirname "$0")/lib.sh"

# --defer off: this test is about the live path's answer (t_defer_* cover deferral)
start_cpmd --invite-timeout 2 --defer off
gen_file "$T_DIR/a.bin" 2000
start_receiver mute bob tablet --count 1 --timeout 60 --answer ignore
t0=$(date +%s%3N)
SEND_TIMEOUT=30 send_file a alice bob "$T_DIR/a.bin"
ms=$(($(date +%s%3N) - t0))
log "sender finished after $ms ms"
[ "$SEND_RC" -ne 0 ] || fail "sender exited 0 ('$SEND_LAST') although the only device never answered"
[[ "$SEND_LAST" == "rejected: 4"* || "$SEND_LAST" == "failed: "* ]] ||
	fail "sender's last line '$SEND_LAST', expected 'rejected: 4xx ...' (no answer)"
[ "$ms" -ge 1800 ] || fail "the sender gave up after $ms ms, before --invite-timeout 2"
[ "$ms" -le 10000 ] || fail "the sender gave up only after $ms ms with --invite-timeout 2"
assert_no_grep "${RECV_OUT[mute]}" '^received ' "the silent device received the file"
assert_dir_empty "${RECV_DIR[mute]}" "the silent device has files in its --dir"
cancelled() { grep -qi cancel "$CPMD_LOG" || cat "${RECV_OUT[mute]}" "${RECV_ERR[mute]}" | grep -qi cancel; }
wait_for 5 "a CANCEL of the unanswered branch (in cpmd's log or the device's output)" cancelled
cpmd_alive
