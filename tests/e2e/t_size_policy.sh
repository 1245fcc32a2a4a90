#!/usr/bin/env bash
# cpmd --max-file-size 1000: a 2000-byte file is rejected with SIP 488 whose
# reason phrase names the limit; a 1000-byte file (exactly the limit) is
# delivered. The recipient's device never sees the rejected offer. Then the
# same limit given in a --config file.
. "$(dirname "$0")/lib.sh"

start_cpmd --max-file-size 1000
gen_file "$T_DIR/big.bin" 2000
gen_file "$T_DIR/ok.bin" 1000
start_receiver bob bob phone --count 1 --timeout 60
send_file big alice bob "$T_DIR/big.bin"
[ "$SEND_RC" -ne 0 ] || fail "2000-byte file: sender exited 0 with --max-file-size 1000"
[[ "$SEND_LAST" == "rejected: 488"* ]] || fail "2000-byte file: last line '$SEND_LAST', expected 'rejected: 488 ...'"
[[ "$SEND_LAST" == *1000* ]] || fail "2000-byte file: the rejection '$SEND_LAST' does not name the limit (1000)"
send_file ok alice bob "$T_DIR/ok.bin"
expect_delivered
wait_exit "${RECV_PID[bob]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC (expected 0)"
assert_received bob "$T_DIR/ok.bin"
n=$(files_in "${RECV_DIR[bob]}" | wc -l)
[ "$n" -eq 1 ] || fail "$n files on the device, 1 expected (the rejected file must not arrive)"

# The same limit from a --config file ("name = value", keys = option names).
stop_cpmd
printf '# cpmd test config\nmax-file-size = 1000\n' >"$T_DIR/cpmd.conf"
start_cpmd --config "$T_DIR/cpmd.conf"
start_receiver bob2 bob phone2 --count 1 --timeout 60
send_file big-conf alice bob "$T_DIR/big.bin"
[[ "$SEND_LAST" == "rejected: 488"* && "$SEND_LAST" == *1000* && "$SEND_RC" -ne 0 ]] ||
	fail "--config max-file-size = 1000: 2000-byte file got exit $SEND_RC, '$SEND_LAST' (expected 'rejected: 488 ... 1000 ...')"
send_file ok-conf alice bob "$T_DIR/ok.bin"
expect_delivered
wait_exit "${RECV_PID[bob2]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC (config run)"
assert_received bob2 "$T_DIR/ok.bin"
