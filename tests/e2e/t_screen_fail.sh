#!/usr/bin/env bash
# Content screening: pager messages and a clamd that cannot scan (issue 11 §4;
# docs/internals/screening.md).
#  1) an EICAR pager message to a screened recipient (bob, device registered): 403 naming the
#     signature, bob's device prints nothing; the same as a large message (MSRP): refused
#     naming it; a clean message passes (scanned).
#  2) EICAR to an offline screened recipient (carol): refused the same, nothing stored
#     (`cpm list` as carol is empty).
#  3) clamd stopped, --screen-fail closed (the default): a file to bob fails with
#     "Content Screening Unavailable" (MSRP 400 on the last chunk), a message gets 503; bob
#     gets neither, nothing is left in blobs/.
#  4) cpmd restarted with --screen-fail open, clamd still stopped: the same file and message
#     are delivered (unscanned, logged).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib_clamd.sh
. "$CPM_SRC/tests/lib_clamd.sh"
command -v clamd >/dev/null || fail "clamd is not installed (scripts/setup.sh: clamav-daemon)"

clamd_start "$T_DIR/clamd"
SCREEN=(--clamd "$CLAMD_TCP" --user-pref "bob@$DOMAIN:screening=on" --user-pref "carol@$DOMAIN:screening=on")
start_cpmd "${SCREEN[@]}"
start_receiver bob bob phone --timeout 120
eicar_write "$T_DIR/eicar.txt"
EICAR=$(cat "$T_DIR/eicar.txt")

# --- 1) EICAR message, clean message ---------------------------------------------------------
send_message m1 alice bob "$EICAR"
[ "$MSG_RC" != 0 ] || fail "m1: the EICAR message was accepted: '$MSG_LAST'"
assert_grep "$MSG_OUT" "403 Malware Found \\(${CLAMD_SIG//./\\.}\\)" "m1: the reason does not name the signature"
send_message m1l alice bob "$EICAR" --large # Large Message Mode: taken in and scanned like a file
[ "$MSG_RC" != 0 ] || fail "m1l: the EICAR large message was accepted: '$MSG_LAST'"
assert_grep "$MSG_OUT" "Malware Found \\(${CLAMD_SIG//./\\.}\\)" "m1l: the reason does not name the signature"
send_message m2l alice bob "a clean large hello" --large
[ "$MSG_RC" = 0 ] || fail "m2l: the clean large message: exit $MSG_RC '$MSG_LAST'"
wait_for 15 "bob's device to print the clean large message" grep -q -a 'a clean large hello' "${RECV_OUT[bob]}"
send_message m2 alice bob "a clean hello"
[ "$MSG_RC" = 0 ] || fail "m2: the clean message: exit $MSG_RC '$MSG_LAST'"
wait_for 10 "bob's device to print the clean message" grep -q -a 'a clean hello' "${RECV_OUT[bob]}"
assert_no_grep "${RECV_OUT[bob]}" 'EICAR' "bob's device printed the EICAR message"
assert_grep "$CPMD_LOG" 'msg .*: clamd: clean' "the clean message was not scanned"

# --- 2) EICAR message to an offline recipient --------------------------------------------------
send_message m3 alice carol "$EICAR"
[ "$MSG_RC" != 0 ] || fail "m3: the EICAR message to carol was accepted: '$MSG_LAST'"
assert_grep "$MSG_OUT" "403 Malware Found" "m3: no reason"
base=()
mapfile -t base < <(_cpm_base carol lister)
timeout -k 5 40 "$CPM" "${base[@]}" list </dev/null >"$LOGDIR/list.carol" 2>&1 || fail "cpm list as carol failed"
assert_no_grep "$LOGDIR/list.carol" 'deferred' "carol's list shows the refused message"

# --- 3) clamd stopped, fail closed ---------------------------------------------------------------
clamd_stop
gen_file "$T_DIR/doc.bin" 200000
send_file f1 alice bob "$T_DIR/doc.bin"
[ "$SEND_RC" -ne 0 ] || fail "f1: delivered without a scan under --screen-fail closed"
case "$SEND_LAST" in
*"MSRP 400 Content Screening Unavailable"*) ;;
*) fail "f1: the reason is not given: '$SEND_LAST'" ;;
esac
send_message m4 alice bob "unscanned hello"
[ "$MSG_RC" != 0 ] || fail "m4: accepted without a scan under --screen-fail closed"
assert_grep "$MSG_OUT" "503 Content Screening Unavailable" "m4: the reason is not given"
wait_for 10 "the refused upload to be removed" bash -c '[ -z "$(find "$1" -mindepth 1 -type f)" ]' _ "$CPMD_DATA/blobs"
sleep 0.5
assert_no_grep "${RECV_OUT[bob]}" "^received .* $(sha1 "$T_DIR/doc.bin")\$" "bob got the unscanned file"
assert_no_grep "${RECV_OUT[bob]}" 'unscanned hello' "bob got the unscanned message"

# --- 4) fail open ------------------------------------------------------------------------------------
stop_cpmd
start_cpmd "${SCREEN[@]}" --screen-fail open
assert_grep "$CPMD_LOG" 'clamd at .* does not answer yet' "cpmd did not warn that clamd is down"
kill "${RECV_PID[bob]}" 2>/dev/null || true # it registered with the first cpmd (other ports)
start_receiver bob2 bob phone2 --timeout 120
send_file f2 alice bob "$T_DIR/doc.bin"
[ "$SEND_RC" -eq 0 ] || fail "f2: --screen-fail open: exit $SEND_RC '$SEND_LAST'"
wait_for 30 "bob to receive the file" grep -q -a "^received .* $(sha1 "$T_DIR/doc.bin")\$" "${RECV_OUT[bob2]}"
assert_received bob2 "$T_DIR/doc.bin"
send_message m5 alice bob "open hello"
[ "$MSG_RC" = 0 ] || fail "m5: --screen-fail open: exit $MSG_RC '$MSG_LAST'"
wait_for 10 "bob to print the message" grep -q -a 'open hello' "${RECV_OUT[bob2]}"
assert_grep "$CPMD_LOG" 'passed unscanned \(--screen-fail open\)' "the unscanned pass was not logged"
cpmd_alive
