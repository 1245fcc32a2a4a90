#!/usr/bin/env bash
# Chat sessions against their limits (docs/internals/messaging.md §5):
#   - a chat message over the a=max-size cpmd advertised (--max-chat-size 4096): MSRP 413,
#     never forwarded, and the session goes on (the next message arrives, replies come back);
#   - a session INVITE flood from one user (--max-sessions-per-user 3): beyond three live
#     sessions every INVITE gets 486 "Too Many Sessions"; another user is not affected; the
#     room comes back when the flooder's sessions end; cpmd stays up;
#   - session INVITEs whose offer is not a chat (sendonly, no message/cpim): 488, clear phrase.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat_lib.sh"

start_cpmd --max-chat-size 4096 --max-sessions-per-user 3
start_receiver phone bob phone --reply ok

# 1. a message over max-size
start_chat a alice bob --conversation-id conv-big
chat_wait_up a
chat_say a "small one"
wait_lines 20 "${RECV_OUT[phone]}" '^chat sip:alice@[^ ]+ conv-big small one$' 1
big=$(head -c 10000 /dev/zero | tr '\0' x)
chat_say a "$big"
chat_say a "after the big one"
wait_lines 20 "${RECV_OUT[phone]}" '^chat sip:alice@[^ ]+ conv-big after the big one$' 1
wait_lines 20 "${CHAT_OUT[a]}" '^chat sip:bob@[^ ]+ conv-big ok$' 2
mapfile -t ids < <(chat_ids a)
[ "${#ids[@]}" -eq 3 ] || fail "${#ids[@]} message-ids printed, 3 expected"
wait_lines 20 "${CHAT_ERR[a]}" "^cpm: message ${ids[1]} refused: MSRP 413" 1
assert_no_grep "${RECV_OUT[phone]}" 'xxxxxxxxxx' "the message over max-size reached the device"
assert_grep "$CPMD_LOG" '413 to leg A: Byte-Range total beyond it \(max-size 4096\)'
for i in 0 2; do wait_lines 20 "${CHAT_OUT[a]}" "^notification delivered ${ids[$i]}\$" 1; done
assert_no_grep "${CHAT_OUT[a]}" "^notification [a-z]+ ${ids[1]}\$" "a report for the refused message"
chat_eof a
chat_exit a 20
[ "$WAIT_RC" = 0 ] || fail "cpm chat exit $WAIT_RC after a refused message (0 expected: the session ended normally)"

# 2. a flood of session INVITEs from alice to a user whose device only rings
start_receiver ring erin phone --answer ignore
for i in 1 2 3 4 5 6 7 8; do start_chat "f$i" alice erin; done
rejected() {
	local n=0 i
	for i in 1 2 3 4 5 6 7 8; do
		grep -q '^rejected: 486 Too Many Sessions$' "${CHAT_OUT[f$i]}" 2>/dev/null && n=$((n + 1))
	done
	echo $n
}
enough() { [ "$(rejected)" -ge 5 ]; }
wait_for 30 "5 of the 8 session INVITEs to be refused with 486 ($(rejected) so far)" enough
ringing=()
for i in 1 2 3 4 5 6 7 8; do
	if grep -q '^rejected: 486' "${CHAT_OUT[f$i]}"; then
		chat_exit "f$i" 10
		[ "$WAIT_RC" = 4 ] || fail "chat f$i: exit $WAIT_RC after 486, 4 expected"
	else
		kill -0 "${CHAT_PID[f$i]}" || fail "chat f$i neither refused nor ringing"
		ringing+=("f$i")
	fi
done
[ "${#ringing[@]}" -eq 3 ] || fail "${#ringing[@]} sessions left ringing, 3 expected (--max-sessions-per-user)"
[ "$(grep -c 'rejected: 486 Too Many Sessions' "$CPMD_LOG")" -eq 5 ] || fail "cpmd logged $(grep -c 'rejected: 486 Too Many Sessions' "$CPMD_LOG") refusals, 5 expected"
cpmd_alive
# another user is not affected by alice's flood
start_chat c carol bob --conversation-id conv-carol
chat_wait_up c
chat_say c "carol here"
wait_lines 20 "${RECV_OUT[phone]}" '^chat sip:carol@[^ ]+ conv-carol carol here$' 1
chat_eof c
chat_exit c 20
[ "$WAIT_RC" = 0 ] || fail "carol's chat exit $WAIT_RC"
# alice's ringing sessions end (she gives up: CANCEL): she has room again
for f in "${ringing[@]}"; do kill -TERM "${CHAT_PID[$f]}"; done
cancelled() { [ "$(grep -c 'the inviter cancelled' "$CPMD_LOG")" -ge 3 ]; }
wait_for 20 "cpmd to see the three CANCELs" cancelled
start_chat a2 alice bob --conversation-id conv-again
chat_wait_up a2
chat_eof a2
chat_exit a2 20
[ "$WAIT_RC" = 0 ] || fail "alice's chat after her flood ended: exit $WAIT_RC"

# 3. session INVITEs whose offer is no chat
invite() { # invite CALLID DIRECTION ACCEPT_TYPES: a session INVITE over TCP, its answer on stdout
	local sdp body
	sdp=$(printf 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\na=%s\r\na=accept-types:%s\r\na=path:msrp://127.0.0.1:9/mallory01;tcp\r\na=setup:active\r\n' "$2" "$3")
	body=$(printf 'INVITE sip:bob@%s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-%s;rport\r\nMax-Forwards: 70\r\nFrom: <sip:mallory@%s>;tag=m1\r\nTo: <sip:bob@%s>\r\nCall-ID: %s@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:mallory@127.0.0.1:9;transport=tcp>\r\nP-Preferred-Service: urn:urn-7:3gpp-service.ims.icsi.oma.cpm.session\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s' \
		"$DOMAIN" "$1" "$DOMAIN" "$DOMAIN" "$1" "${#sdp}" "$sdp")
	printf '%s' "$body" | python3 "$E2E_DIR/wire.py" tcp "$HOST" "$SIP_PORT" - --expect 'SIP/2.0 [2-6][0-9][0-9] [^\r]*' --timeout 10 2>>"$LOGDIR/wire.err"
}
invite bad1 sendonly message/cpim >"$LOGDIR/wire.1"
assert_grep "$LOGDIR/wire.1" '^SIP/2.0 488 Chat Session Offer Must Be sendrecv'
invite bad2 sendrecv text/plain >"$LOGDIR/wire.2"
assert_grep "$LOGDIR/wire.2" '^SIP/2.0 488 Chat Session Must Accept message/cpim'
assert_no_grep "${RECV_OUT[phone]}" 'mallory' "a refused session reached the device"
cpmd_alive
