#!/usr/bin/env bash
# cpmd in AS mode, SIPp as the core (docs/internals/sipua.md "AS mode"): a stored item is
# pushed once the core says the recipient registered.
#   1. the core routes alice's pager MESSAGE for the originating user (Route ...;orig,
#      P-Asserted-Identity alice) to zoe, who has no binding: 202 (stored);
#   2. the core's third-party REGISTER for zoe (her REGISTER as message/sip): 200;
#   3. cpmd sends the stored MESSAGE to the core (the SIPp core listening on --core's port),
#      Request-URI = zoe's AOR, never to the device's Contact; the core answers 200.
. "$(dirname "$0")/../e2e/lib.sh"

CORE_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$CORE_PORT "
start_cpmd --mode as --core "sip:$HOST:$CORE_PORT" --core-trust "$HOST"
start_sipp core-uas -sf "$SIPP_DIR/core_uas_message.xml" -t u1 -m 1 -p "$CORE_PORT" -timeout 30s -timeout_error
sleep 0.3

run_sipp msg -sf "$SIPP_DIR/core_message_orig.xml" -t u1 -m 1 -s alice -key domain "$DOMAIN" -key target zoe \
	"$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "originating MESSAGE from the core: no 200/202 (SIPp exit $SIPP_RC)"
grep -q "SIP/2.0 202" "$LOGDIR/sipp.msg.messages" || fail "the MESSAGE to offline zoe was not stored (202 expected)"
log "1: MESSAGE for offline zoe: 202"

run_sipp 3p -sf "$SIPP_DIR/core_3preg.xml" -t u1 -m 1 -s zoe -key domain "$DOMAIN" -key expires 600 \
	-key instance "$(cat /proc/sys/kernel/random/uuid)" "$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "third-party REGISTER for zoe: no 200 (SIPp exit $SIPP_RC)"
log "2: third-party REGISTER for zoe: 200"

wait_exit "${SIPP_PID[core-uas]}" 20
[ "$WAIT_RC" = 0 ] || fail "the core got no MESSAGE for sip:zoe@$DOMAIN (SIPp core exit $WAIT_RC)"
sipp_clean core-uas
assert_grep "$LOGDIR/sipp.core-uas.log" "^CORE-GOT-MESSAGE sip:zoe@$DOMAIN Content-Type"
log "3: the stored MESSAGE went to the core with Request-URI sip:zoe@$DOMAIN"
cpmd_alive
