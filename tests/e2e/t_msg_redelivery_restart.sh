#!/usr/bin/env bash
# A stored message delivered again after a crash (cpmd died between the device's 200 and its
# own commit, so it pushes the message once more after its restart) is shown ONCE by a device,
# even when the device's cpm itself restarted meanwhile: cpm receive recognises the repeat by
# its imdn.Message-ID and the sha-1 of its CPIM body in the receive log it keeps for files
# (recv_log.c), answers it 200 and sends no second report (docs/internals/messaging.md §3).
# The repeat is made exact on the wire: the same MESSAGE bytes (same Message-ID, same CPIM
# body; only the SIP transaction differs) sent to cpmd twice while bob is offline, so that
# cpmd stores it and pushes it (with Referred-By, as after a crash) each time bob's device
# comes back — the second time after the device's cpm restarted with the same user, device
# and --dir.
. "$(dirname "$0")/lib.sh"

start_cpmd
msgid=redeliver$RANDOM$RANDOM
# mk_message CALL_ID FILE: one pager MESSAGE from alice to bob, the CPIM body always the same
mk_message() {
	python3 - "$1" "$2" "$DOMAIN" "$msgid" "$HOST" <<'PY'
import sys
call, out, dom, mid, host = sys.argv[1:]
cpim = ("From: <sip:alice@%s>\r\nTo: <sip:bob@%s>\r\nNS: imdn <urn:ietf:params:imdn>\r\n"
        "imdn.Message-ID: %s\r\nDateTime: 2026-12-03T10:00:00.000Z\r\n"
        "imdn.Disposition-Notification: positive-delivery\r\n\r\n"
        "Content-Type: text/plain;charset=UTF-8\r\n\r\nsaid once, shown once" % (dom, dom, mid)).encode()
head = ("MESSAGE sip:bob@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:9;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"
        "From: <sip:alice@%s>;tag=t%s\r\nTo: <sip:bob@%s>\r\nCall-ID: %s\r\nCSeq: 1 MESSAGE\r\n"
        "Content-Type: message/cpim\r\nContent-Length: %d\r\n\r\n" % (dom, host, call, dom, call, dom, call, len(cpim))).encode()
open(out, "wb").write(head + cpim)
PY
}
mk_message "c1-$msgid" "$T_DIR/m1.sip"
python3 "$E2E_DIR/wire.py" udp "$HOST" "$SIP_PORT" "$T_DIR/m1.sip"
stored() { [ "$(grep -c "stored as item .* for bob@$DOMAIN .*durable" "$CPMD_LOG")" -ge "$1" ]; }
wait_for 10 "cpmd to store the message for offline bob" stored 1
start_receiver bob bob phone --timeout 60
want="^message sip:alice@$DOMAIN $msgid said once, shown once\$"
wait_for 10 "bob to print the message" grep -q "$want" "${RECV_OUT[bob]}"
kill -TERM "${RECV_PID[bob]}"
wait_exit "${RECV_PID[bob]}" 10
cp "${RECV_OUT[bob]}" "$LOGDIR/recv.bob.first.out"

before=$(grep -c "delivered (push)" "$CPMD_LOG" || true)
mk_message "c2-$msgid" "$T_DIR/m2.sip"
python3 "$E2E_DIR/wire.py" udp "$HOST" "$SIP_PORT" "$T_DIR/m2.sip"
wait_for 10 "cpmd to store it again (bob is offline)" stored 2
start_receiver bob bob phone --timeout 60 # same user, device and --dir: a restarted device
pushed() { [ "$(grep -c "delivered (push)" "$CPMD_LOG")" -gt "$before" ]; }
wait_for 10 "cpmd to push the repeat to bob's device" pushed
wait_for 10 "bob's cpm to recognise the repeat" grep -q "was received already" "${RECV_ERR[bob]}"
assert_no_grep "${RECV_OUT[bob]}" "^message " "the restarted device showed the repeated message again"
log "repeat of $msgid after a device restart: acknowledged, not shown again"
cpmd_alive
