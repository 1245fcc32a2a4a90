#!/usr/bin/env bash
# Store-and-forward keeps the thumbnail: a file sent with --thumbnail to an
# offline recipient is stored (`stored`), and the push delivery INVITE carries
# the thumbnail again (multipart, a=file-icon), with the original sender in
# Referred-By (and, with --push-asserted-identity on, P-Asserted-Identity) and
# the original Conversation-ID: the device saves an identical thumbnail next
# to the file.
. "$(dirname "$0")/lib.sh"

start_cpmd --push-asserted-identity on
thumb="$DATA_DIR/thumb.png"
[ -s "$thumb" ] || fail "missing test data $thumb"
gen_file "$T_DIR/photo.jpg" 65536
send_file photo alice bob "$T_DIR/photo.jpg" --thumbnail "$thumb" --conversation-id conv-sf-thumb-1
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"

mkdir -p "$T_DIR/recv.bob"
mapfile -t base < <(_cpm_base bob phone)
TPORT_LOG=1 "$CPM" "${base[@]}" receive --dir "$T_DIR/recv.bob" --count 1 --timeout 30 </dev/null \
	>"$LOGDIR/recv.bob.out" 2>"$LOGDIR/recv.bob.err" &
p=$!
PIDS+=("$p")
RECV_OUT[bob]="$LOGDIR/recv.bob.out"
RECV_DIR[bob]="$T_DIR/recv.bob"
wait_exit "$p" 30
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received bob "$T_DIR/photo.jpg"
line=$(grep -a '^thumbnail ' "${RECV_OUT[bob]}" | head -n 1 || true)
[ -n "$line" ] || fail "the pushed file came without its thumbnail"
tpath=${line#thumbnail }
tpath=${tpath% *}
cmp -s "$thumb" "$tpath" || fail "pushed thumbnail '$tpath' differs from $thumb"
err="$LOGDIR/recv.bob.err"
assert_grep "$err" 'Referred-By: <sip:alice@' "the push INVITE has no Referred-By with the original sender"
assert_grep "$err" 'Conversation-ID: conv-sf-thumb-1' "the push INVITE lost the original Conversation-ID"
assert_grep "$err" 'a=file-icon:cid:' "the push INVITE has no a=file-icon"
assert_grep "$err" 'P-Asserted-Identity: <sip:alice@' "--push-asserted-identity on: no P-Asserted-Identity of the sender"
cpmd_alive
