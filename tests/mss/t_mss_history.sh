#!/usr/bin/env bash
# Histories in a real Dovecot, read back with Python's email package: a
# standalone message (its CPIM body byte-identical) and a chat session history
# built from records appended while the session ran: two messages and two
# disposition notifications, in order, each body byte-identical.
source "$(dirname "$0")/../e2e/lib.sh"
source "$CPM_SRC/tests/mss/lib_mss.sh"

dovecot_start "$MSS_DIR" "$MSS_PORT"

printf 'From: <sip:alice@cpm.test>\r\nTo: <sip:bob@cpm.test>\r\nDateTime: 2023-11-14T22:13:20Z\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: m1\r\n\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob, ça va?\n\0binary\r\n' >"$T_DIR/cpim"
mss_expect 0 "message history" --kind message --id msg-77 --body "$T_DIR/cpim" --body-type message/cpim \
	--conv conv-M --contrib contrib-M --from sip:alice@cpm.test --to sip:bob@cpm.test --direction in \
	--disposition displayed
dovecot_fetch bob CPM/Conversations/conv-M "$T_DIR/msg"
python3 "$MSS_CHECK" "$T_DIR/msg/1.eml" --body "$T_DIR/cpim" --hdr "X-CPM-Kind=message-history" \
	--hdr "X-CPM-Content-Type=message/cpim" --hdr "Message-ID=<message-history.msg-77@cpm.mss>" \
	--hdr "Conversation-ID=conv-M" --hdr "Contribution-ID=contrib-M" --hdr "X-CPM-Disposition=displayed" ||
	fail "message history"

# the session: records appended as it runs (one file per session, the caller's)
rec="$T_DIR/session.rec"
printf 'Content-Type: text/plain\r\n\r\nhi bob' >"$T_DIR/b1"
printf 'Content-Type: text/plain\r\n\r\nhi alice \xe2\x98\x83' >"$T_DIR/b2"
printf '<?xml version="1.0"?><imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>s1</message-id><delivery-notification><status><delivered/></status></delivery-notification></imdn>' >"$T_DIR/n1"
printf '<?xml version="1.0"?><imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>s2</message-id><display-notification><status><displayed/></status></display-notification></imdn>' >"$T_DIR/n2"
"$MSS_STORE" record "$rec" message sip:alice@cpm.test sip:bob@cpm.test s1 - message/cpim "$T_DIR/b1" || fail "record 1"
"$MSS_STORE" record "$rec" notification sip:bob@cpm.test sip:alice@cpm.test s1 delivered message/imdn+xml "$T_DIR/n1" || fail "record 2"
"$MSS_STORE" record "$rec" message sip:bob@cpm.test sip:alice@cpm.test s2 - message/cpim "$T_DIR/b2" || fail "record 3"
"$MSS_STORE" record "$rec" notification sip:alice@cpm.test sip:bob@cpm.test s2 displayed message/imdn+xml "$T_DIR/n2" || fail "record 4"
mss_expect 0 "session history" --kind session --id sess-5 --records "$rec" --conv conv-M \
	--contrib contrib-S --from sip:alice@cpm.test --to sip:bob@cpm.test
[ "$(dovecot_count bob CPM/Conversations/conv-M)" = 2 ] || fail "conv-M should hold the message and the session"
dovecot_fetch bob CPM/Conversations/conv-M "$T_DIR/sess"
python3 "$MSS_CHECK" "$T_DIR/sess/2.eml" --hdr "X-CPM-Kind=session-history" \
	--hdr "Message-ID=<session-history.sess-5@cpm.mss>" --hdr "Contribution-ID=contrib-S" \
	--records "message:$T_DIR/b1,notification:$T_DIR/n1,message:$T_DIR/b2,notification:$T_DIR/n2" ||
	fail "session history"
grep -c '^X-CPM-Disposition: delivered' "$T_DIR/sess/2.eml" | grep -qx 1 || fail "notification disposition missing"

# no conversation id: CPM/History
mss_expect 0 "history without conversation" --kind message --id msg-78 --body "$T_DIR/b1" --body-type text/plain
[ "$(dovecot_count bob CPM/History)" = 1 ] || fail "CPM/History"
exit 0
