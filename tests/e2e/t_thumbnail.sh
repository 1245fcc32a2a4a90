#!/usr/bin/env bash
# A file sent with --thumbnail arrives byte-identical, and so does its
# thumbnail (receiver prints `thumbnail PATH SIZE`).
. "$(dirname "$0")/lib.sh"

start_cpmd
thumb="$DATA_DIR/thumb.png"
[ -s "$thumb" ] || fail "missing test data $thumb"
gen_file "$T_DIR/photo.jpg" 65536
start_receiver bob bob phone --count 1 --timeout 60
send_file photo alice bob "$T_DIR/photo.jpg" --thumbnail "$thumb"
expect_delivered
wait_exit "${RECV_PID[bob]}" 30
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC (expected 0)"
assert_received bob "$T_DIR/photo.jpg"
line=$(grep -a '^thumbnail ' "${RECV_OUT[bob]}" | head -n 1 || true)
[ -n "$line" ] || fail "receiver printed no 'thumbnail PATH SIZE' line"
rest=${line#thumbnail }
tsize=${rest##* }
tpath=${rest% *}
[ "$tsize" = "$(stat -c %s "$thumb")" ] || fail "thumbnail size $tsize printed, $(stat -c %s "$thumb") expected"
[ -f "$tpath" ] || fail "thumbnail path '$tpath' is not a file"
cmp -s "$thumb" "$tpath" || fail "thumbnail '$tpath' differs from $thumb"
case "$(realpath -e -- "$tpath")" in "$(realpath "${RECV_DIR[bob]}")"/*) ;; *) fail "thumbnail '$tpath' is outside --dir" ;; esac
