#!/usr/bin/env bash
# `cpm receive` against a scripted server (cpm_fake_server.py, SIP/UDP +
# MSRP/TCP) playing cpmd's store-and-forward side:
#  - IMDN MESSAGEs print `notification delivered|failed ID` (200); a bad
#    message/cpim body gets 400, another body type 415;
#  - a deferred-list MESSAGE prints `deferred ID SENDER NAME SIZE` per item;
#  - an INVITE with a=file-range and no kept partial gets 488;
#  - a transfer cut by a connection reset keeps .NAME.cpm-part + .meta;
#  - the rest offered with a=file-range:A-SIZE is appended to it (Byte-Range
#    within the range), the whole file's sha-1 checked, `received` printed,
#    the success REPORT covers the range, and the partial files are gone.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "python3 needed"
SIP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$SIP_PORT "
MP=$(pick_port)
USED_PORTS="$USED_PORTS$MP "
gen_file "$T_DIR/doc.bin" 500000
dir="$T_DIR/recv"
mkdir -p "$dir"
python3 "$E2E_DIR/cpm_fake_server.py" "$SIP_PORT" "$MP" "$T_DIR/doc.bin" \
	imdn ftid-1 delivered imdn ftid-2 failed badcpim plain deferred range488 1001 \
	partial 300000 resume 200001 >"$LOGDIR/fake.out" 2>&1 &
FAKE=$!
PIDS+=("$FAKE")
sleep 0.3
"$CPM" --server "$HOST:$SIP_PORT" --user "sip:bob@$DOMAIN" --transport udp receive --dir "$dir" --count 1 \
	--timeout 50 </dev/null >"$LOGDIR/recv.out" 2>"$LOGDIR/recv.err" &
RP=$!
PIDS+=("$RP")
wait_exit "$FAKE" 50
[ "$WAIT_RC" = 0 ] || fail "fake server: $WAIT_RC: $(tail -n2 "$LOGDIR/fake.out")"
assert_grep "$LOGDIR/fake.out" '^OK$'
wait_exit "$RP" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
out="$LOGDIR/recv.out"
assert_grep "$out" '^notification delivered ftid-1$'
assert_grep "$out" '^notification failed ftid-2$'
assert_grep "$out" '^deferred item1 sip:alice@cpm.test holiday%20photo.jpg 123456$'
assert_grep "$out" '^deferred item-2_b sip:carol@cpm.test a%0Ab.txt 7$'
assert_grep "$LOGDIR/recv.err" '488 No Partial File' "no 488 note for the range without a partial"
assert_grep "$out" '^failed: doc.bin MSRP ' "the reset transfer printed no failed line"
assert_grep "$LOGDIR/recv.err" 'kept the partial file .*\.doc\.bin\.cpm-part \(300000 of 500000 bytes\)'
h=$(sha1 "$T_DIR/doc.bin")
assert_grep "$out" "^received $dir/doc.bin 500000 $h\$" "no received line for the resumed file"
cmp -s "$T_DIR/doc.bin" "$dir/doc.bin" || fail "the resumed file differs"
[ "$(files_in "$dir" | wc -l)" -eq 1 ] || fail "files left in --dir: $(files_in "$dir" | tr '\n' ' ')"
