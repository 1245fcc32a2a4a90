#!/usr/bin/env bash
# Recipient quotas (issue 10 §4, docs/security.md): --quota-bytes and --quota-items bound what
# cpmd holds on one recipient's behalf.
#  a) bytes: bob (offline) may be held 250,000 bytes; two files of 100,000 are stored, a third
#     is refused at the INVITE with `rejected: 486 Recipient Quota Exceeded (bytes)` (cpm exit
#     4): no MSRP connection was made for it, nothing of it is on disk (blobs/, blobs/tmp/).
#  b) items: a small file is stored (3 items), a fourth item is refused with
#     `486 Recipient Quota Exceeded (items)`.
#  c) delivery frees the quota: bob registers and takes the three files; the refused file
#     is then stored.
#  d) expiry frees the quota: carol is held three items that expire after 6 s; a fourth is
#     refused (a file, and a pager message), then stored once they expired. (With 2 s the
#     first item could expire before the message was refused on a loaded machine: three
#     sends and a message took 2.7 s under ASan in a -j6 ctest.)
. "$(dirname "$0")/lib.sh"

# msrp_conns: MSRP connections cpmd accepted so far (its hub logs each).
msrp_conns() { grep -c -a 'msrp.*: connected' "$CPMD_LOG" || true; }

# send_expect TAG TO FILE LAST [options]: a send whose last line must be LAST.
send_expect() {
	local tag=$1 to=$2 file=$3 want=$4
	shift 4
	send_file "$tag" alice "$to" "$file" "$@"
	[ "$SEND_LAST" = "$want" ] || fail "$tag: expected last line '$want'; got exit $SEND_RC, last line '$SEND_LAST'"
}

gen_file "$T_DIR/f1.bin" 100000
gen_file "$T_DIR/f2.bin" 100000
gen_file "$T_DIR/f3.bin" 100000
gen_file "$T_DIR/small.bin" 1000
gen_file "$T_DIR/tiny.bin" 10
start_cpmd --quota-bytes 250000 --quota-items 3

# --- a) bytes ------------------------------------------------------------------------
send_expect a1 bob "$T_DIR/f1.bin" stored
send_expect a2 bob "$T_DIR/f2.bin" stored
before=$(msrp_conns)
send_expect a3 bob "$T_DIR/f3.bin" "rejected: 486 Recipient Quota Exceeded (bytes)"
[ "$SEND_RC" -eq 4 ] || fail "a3: exit $SEND_RC, expected 4 (rejected)"
[ "$(msrp_conns)" = "$before" ] || fail "a3: an MSRP connection was made for a refused upload"
assert_grep "$CPMD_LOG" 'not deferred for bob@.*Recipient Quota Exceeded \(bytes\)' "a3: cpmd did not log the quota refusal"
[ "$(files_in "$CPMD_DATA/blobs" | grep -c .)" -eq 2 ] || fail "a3: expected exactly the 2 stored blobs: $(files_in "$CPMD_DATA/blobs")"
for f in $(files_in "$CPMD_DATA/blobs"); do
	cmp -s "$f" "$T_DIR/f3.bin" && fail "a3: the refused file is on disk ($f)"
done

# --- b) items ------------------------------------------------------------------------
send_expect b1 bob "$T_DIR/small.bin" stored
send_expect b2 bob "$T_DIR/tiny.bin" "rejected: 486 Recipient Quota Exceeded (items)"
[ "$(files_in "$CPMD_DATA/blobs" | grep -c .)" -eq 3 ] || fail "b2: expected 3 blobs: $(files_in "$CPMD_DATA/blobs")"

# --- c) delivery frees it ---------------------------------------------------------------
start_receiver bob bob phone --count 3 --timeout 30
wait_exit "${RECV_PID[bob]}" 30
[ "$WAIT_RC" = 0 ] || fail "c: bob's receiver exit status $WAIT_RC (expected 0 after three files)"
assert_received bob "$T_DIR/f1.bin"
assert_received bob "$T_DIR/small.bin"
wait_for 10 "the delivered blobs to be removed" bash -c '[ -z "$(find "$1" -type f)" ]' _ "$CPMD_DATA/blobs"
send_expect c bob "$T_DIR/f3.bin" stored

# --- d) expiry frees it -------------------------------------------------------------------
for i in 1 2 3; do
	send_expect "d$i" carol "$T_DIR/tiny.bin" stored --expires 6
done
send_expect d4 carol "$T_DIR/small.bin" "rejected: 486 Recipient Quota Exceeded (items)"
# a pager message counts as an item too
send_message dm alice carol "over the quota"
expect_message_result dm 4 "rejected: 486 Recipient Quota Exceeded (items)"
wait_for 25 "carol's items to expire" bash -c "grep -c -a 'expired undelivered' \"\$1\" | grep -q -x 3" _ "$CPMD_LOG"
# the log line comes when the delete is queued; the quota counts committed rows: wait for the
# commit, whose completion removes the blobs (only bob's f3 stays)
wait_for 15 "carol's expired blobs to be removed" bash -c '[ "$(find "$1" -type f | wc -l)" = 1 ]' _ "$CPMD_DATA/blobs"
send_expect d5 carol "$T_DIR/small.bin" stored
cpmd_alive
