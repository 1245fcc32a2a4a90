#!/usr/bin/env bash
# 1,000 idle connections from one address (issue 10 §4, docs/security.md): an attacker at
# 127.0.0.2 opens 1,000 MSRP connections and sends nothing. --max-msrp-conns-per-addr 50:
# 50 stay open (until --msrp-idle-timeout), the other 950 are closed at accept, and cpmd logs
# the limit by name. Meanwhile alice and bob (127.0.0.1) transfer a file as usual. The same
# attacker's 1,000 idle SIP TCP connections do not stop SIP either (sofia takes them; they
# are closed by TPTAG_IDLE: security.md says what bounds them).
. "$(dirname "$0")/lib.sh"

start_cpmd --max-msrp-conns-per-addr 50 --msrp-idle-timeout 20
ATT="$CPM_SRC/tests/e2e/slowloris.py"
python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
	fail "cannot bind 127.0.0.2 (the attacker's address)"

python3 "$ATT" idle "$MSRP_PORT" 1000 127.0.0.2 30 >"$T_DIR/att_msrp.out" 2>&1 &
PIDS+=("$!")
python3 "$ATT" idle "$SIP_PORT" 1000 127.0.0.2 30 >"$T_DIR/att_sip.out" 2>&1 &
PIDS+=("$!")
wait_for 20 "the MSRP attacker's count" grep -q '^refused' "$T_DIR/att_msrp.out"
wait_for 20 "the SIP attacker's count" grep -q '^refused' "$T_DIR/att_sip.out"
log "MSRP attacker: $(cat "$T_DIR/att_msrp.out"); SIP attacker: $(cat "$T_DIR/att_sip.out")"
grep -q -x 'refused 950 open 50' "$T_DIR/att_msrp.out" ||
	fail "expected 950 of 1000 MSRP connections refused, 50 open: $(cat "$T_DIR/att_msrp.out")"
assert_grep "$CPMD_LOG" '127\.0\.0\.2:[0-9]+: refused: max-msrp-conns-per-addr \(50\) reached' \
	"cpmd did not log the per-address limit"

# Another user keeps working while the 1,050 connections are held.
gen_file "$T_DIR/doc.bin" 200000
start_receiver bob bob phone --count 1 --timeout 30
send_file t alice bob "$T_DIR/doc.bin"
expect_delivered
assert_received bob "$T_DIR/doc.bin"
cpmd_alive
