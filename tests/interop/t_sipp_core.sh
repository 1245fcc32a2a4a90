#!/usr/bin/env bash
# cpmd in AS mode seen from the SIP core's side (docs/internals/sipua.md "AS mode"): SIPp plays
# the core (S-CSCF) from 127.0.0.1 (--core-trust), and an outsider from 127.0.0.2.
#   1. third-party REGISTER with the user's REGISTER as message/sip: 200, bob's device (its
#      +sip.instance) bound, shown in cpmd's log;
#   2. the same device de-registered (Expires 0): unbound;
#   3. third-party REGISTER without a body: 200, the pseudo-device "core" bound; Expires 0
#      without a body: every binding of the user removed;
#   4. malformed message/sip body, an INVITE as body, a text/plain body, no user in To: 400
#      each, with a phrase naming the problem;
#   5. Expires 0 for a binding nobody has: 200, nothing breaks;
#   6. a NOTIFY reginfo (outside any subscription) with three contacts: 200, two bound, one
#      unbound; a NOTIFY of another event package: 489;
#   7. from 127.0.0.2 (not the core): REGISTER, MESSAGE and OPTIONS get 403 "Not From The
#      Core", nothing bound, nothing handed to pf;
# and after each step the core's OPTIONS still gets 200 (cpmd is up).
. "$(dirname "$0")/../e2e/lib.sh"

CORE_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$CORE_PORT "
start_cpmd --mode as --core "sip:$HOST:$CORE_PORT" --core-trust "$HOST"
alive_n=0
core_alive() { # the core's OPTIONS gets 200
	alive_n=$((alive_n + 1))
	run_sipp "options.$alive_n" -sf "$SIPP_DIR/core_options.xml" -t u1 -m 1 "$HOST:$SIP_PORT"
	[ "$SIPP_RC" = 0 ] || fail "OPTIONS from the core after $1: no 200 (SIPp exit $SIPP_RC)"
	cpmd_alive
}
core_alive start

# --- 1, 2: with body ------------------------------------------------------
inst=$(cat /proc/sys/kernel/random/uuid)
run_sipp 3p-body -sf "$SIPP_DIR/core_3preg.xml" -t u1 -m 1 -s bob -key domain "$DOMAIN" -key expires 600 \
	-key instance "$inst" "$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "third-party REGISTER with body: no 200 (SIPp exit $SIPP_RC)"
wait_for 5 "bob's device bound" grep -q -F "register bob@$DOMAIN device=<urn:uuid:$inst> contact=sip:bob@192.0.2.7:5082;transport=tcp flow=(core) expires=600" "$CPMD_LOG"
core_alive "a third-party REGISTER"
run_sipp 3p-body-0 -sf "$SIPP_DIR/core_3preg.xml" -t u1 -m 1 -s bob -key domain "$DOMAIN" -key expires 0 \
	-key instance "$inst" "$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "third-party de-REGISTER with body: no 200 (SIPp exit $SIPP_RC)"
wait_for 5 "bob's device unbound" grep -q -F "unregister bob@$DOMAIN device=<urn:uuid:$inst>" "$CPMD_LOG"
log "1, 2: third-party REGISTER with body: bound, then unbound"

# --- 3: without body -----------------------------------------------------
run_sipp 3p-nobody -sf "$SIPP_DIR/core_3preg_nobody.xml" -t u1 -m 1 -s carol -key domain "$DOMAIN" \
	-key expires 300 "$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "third-party REGISTER without body: no 200 (SIPp exit $SIPP_RC)"
wait_for 5 "carol's pseudo-device bound" grep -q -F "register carol@$DOMAIN device=core contact=sip:carol@$DOMAIN flow=(core) expires=300" "$CPMD_LOG"
run_sipp 3p-nobody-0 -sf "$SIPP_DIR/core_3preg_nobody.xml" -t u1 -m 1 -s carol -key domain "$DOMAIN" \
	-key expires 0 "$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "third-party REGISTER Expires 0 without body: no 200 (SIPp exit $SIPP_RC)"
wait_for 5 "carol's bindings removed" grep -q -F "register carol@$DOMAIN: all devices removed" "$CPMD_LOG"
core_alive "third-party REGISTERs without body"
log "3: without body: pseudo-device bound, Expires 0 removed every binding"

# --- 4: malformed ----------------------------------------------------------
run_sipp 3p-bad -sf "$SIPP_DIR/core_3preg_bad.xml" -t u1 -m 1 -s dave -key domain "$DOMAIN" "$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "malformed third-party REGISTERs: not each answered 400 as expected (SIPp exit $SIPP_RC)"
sipp_clean 3p-bad
for i in 1 2 3 4; do assert_grep "$LOGDIR/sipp.3p-bad.log" "CORE-BAD-$i SIP/2.0 400"; done
assert_no_grep "$CPMD_LOG" "info: (un)?register dave@$DOMAIN"
core_alive "malformed third-party REGISTERs"
log "4: malformed bodies and a REGISTER without a user: 400 each, nothing bound"

# --- 5: Expires 0 for nobody ------------------------------------------------
run_sipp 3p-unknown -sf "$SIPP_DIR/core_3preg.xml" -t u1 -m 1 -s nobody -key domain "$DOMAIN" -key expires 0 \
	-key instance "$(cat /proc/sys/kernel/random/uuid)" "$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "Expires 0 for an unknown binding: no 200 (SIPp exit $SIPP_RC)"
core_alive "Expires 0 for an unknown binding"
log "5: Expires 0 for an unknown binding: 200"

# --- 6: NOTIFY reginfo -----------------------------------------------------
run_sipp notify -sf "$SIPP_DIR/core_notify.xml" -t u1 -m 1 -s erin -key domain "$DOMAIN" "$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "NOTIFY reginfo: not 200 then 489 (SIPp exit $SIPP_RC)"
assert_grep "$CPMD_LOG" "register erin@$DOMAIN device=<urn:uuid:aaaa-0001> contact=sip:erin@192.0.2.10:5060 flow=\(core\) expires=600"
assert_grep "$CPMD_LOG" "register erin@$DOMAIN device=sip:erin@192.0.2.11:5060;transport=tcp contact=sip:erin@192.0.2.11:5060;transport=tcp flow=\(core\) expires=[0-9]+"
# the third contact is terminated and was never bound: nothing to remove, never bound
assert_no_grep "$CPMD_LOG" "register erin@$DOMAIN device=sip:erin@192.0.2.12:5060" "a terminated contact was bound"
core_alive "NOTIFY reginfo"
log "6: NOTIFY reginfo: two contacts bound, the terminated one not; another event: 489"

# --- 7: not from the core -----------------------------------------------------
run_sipp outsider -sf "$SIPP_DIR/core_outsider.xml" -t u1 -m 1 -s frank -key domain "$DOMAIN" -i 127.0.0.2 \
	"$HOST:$SIP_PORT"
[ "$SIPP_RC" = 0 ] || fail "requests from 127.0.0.2: not each 403 Not From The Core (SIPp exit $SIPP_RC)"
sipp_clean outsider
assert_grep "$CPMD_LOG" "REGISTER from 127\.0\.0\.2:[0-9]+ refused: not from the core"
assert_grep "$CPMD_LOG" "MESSAGE from 127\.0\.0\.2:[0-9]+ refused: not from the core"
assert_no_grep "$CPMD_LOG" "info: (un)?register frank@$DOMAIN"
core_alive "requests from outside the core"
log "7: REGISTER, MESSAGE, OPTIONS from 127.0.0.2: 403 each"
cpmd_alive
