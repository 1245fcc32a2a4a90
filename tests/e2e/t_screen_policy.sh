#!/usr/bin/env bash
# Content screening, the checks at offer time (issue 11 §4; docs/internals/screening.md),
# without clamd: the lists apply with or without a malware scan.
#  1) a blocked sender (--user-pref bob:block=mallory@DOMAIN): mallory's file and pager
#     message to bob get 403 naming mallory; alice's pass. The block holds although bob is
#     not screened (blocked senders apply to every recipient who has some).
#  2) a denied MIME type (--screen-deny-types application/zip) for a screened recipient
#     (carol): a .zip file gets 415 naming the type, nothing reaches carol's device or the
#     store; a .txt passes; bob (not screened) still gets a .zip.
#  3) --screen-allow-types image/*,text/plain: a pager message (text/plain) to carol passes.
#  4) the recipient's own max-size (--user-pref dave:max-size=1000): 413 naming the limit for
#     a 5000-byte file, a 900-byte one passes.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_cpmd --screen-deny-types "application/zip, application/x-msdownload" \
	--screen-allow-types "image/*,text/plain,application/octet-stream" \
	--user-pref "bob@$DOMAIN:block=mallory@$DOMAIN" --user-pref "carol@$DOMAIN:screening=on" \
	--user-pref "dave@$DOMAIN:max-size=1000"

start_receiver bob bob phone --timeout 120
start_receiver carol carol phone --timeout 120
start_receiver dave dave phone --timeout 120
rejected() { # NAME CODE TEXT: the last send was rejected with CODE and a phrase holding TEXT
	[ "$SEND_RC" -eq 4 ] || fail "$1: cpm send exit $SEND_RC (4: rejected expected), last line '$SEND_LAST'"
	case "$SEND_LAST" in
	"rejected: $2 "*"$3"*) ;;
	*) fail "$1: expected 'rejected: $2 ...$3...', got '$SEND_LAST'" ;;
	esac
}

# --- 1) blocked sender ---------------------------------------------------------------------
gen_file "$T_DIR/note.bin" 2000
send_file b1 mallory bob "$T_DIR/note.bin"
rejected b1 403 "Sender Blocked By Recipient (mallory@$DOMAIN)"
send_message b2 mallory bob "hello from mallory"
[ "$MSG_RC" != 0 ] || fail "b2: mallory's message to bob was accepted: '$MSG_LAST'"
assert_grep "$MSG_OUT" "403 Sender Blocked By Recipient \\(mallory@$DOMAIN\\)" "b2: the reason is not shown"
send_file b3 alice bob "$T_DIR/note.bin"
expect_delivered
assert_received bob "$T_DIR/note.bin"
sleep 0.5
assert_no_grep "${RECV_OUT[bob]}" 'hello from mallory' "bob's device got mallory's message"
[ "$(grep -c -a '^received ' "${RECV_OUT[bob]}")" -eq 1 ] || fail "bob received more than alice's file"

# --- 2) denied type for a screened recipient ------------------------------------------------
gen_file "$T_DIR/archive.zip" 4000
send_file t1 alice carol "$T_DIR/archive.zip"
rejected t1 415 "Unsupported Media Type (application/zip)"
send_file t2 alice bob "$T_DIR/archive.zip" # bob is not screened: the type lists do not apply
expect_delivered
assert_received bob "$T_DIR/archive.zip"
printf 'plain text\n' >"$T_DIR/readme.txt"
send_file t3 alice carol "$T_DIR/readme.txt"
expect_delivered
assert_received carol "$T_DIR/readme.txt"
gen_file "$T_DIR/clip.mp4" 3000 # not in --screen-allow-types
send_file t4 alice carol "$T_DIR/clip.mp4"
rejected t4 415 "Unsupported Media Type (video/mp4)"
[ "$(grep -c -a '^received ' "${RECV_OUT[carol]}")" -eq 1 ] || fail "carol received a refused file"
[ -z "$(files_in "$CPMD_DATA/blobs")" ] || fail "a refused file left something in the store: $(files_in "$CPMD_DATA/blobs")"

# --- 3) a pager message's CPIM content type (text/plain) is allowed --------------------------
send_message m1 alice carol "screened hello"
[ "$MSG_RC" = 0 ] || fail "m1: alice's message to carol: exit $MSG_RC '$MSG_LAST'"
wait_for 10 "carol's device to print the message" grep -q -a 'screened hello' "${RECV_OUT[carol]}"

# --- 4) the recipient's max-size ----------------------------------------------------------
gen_file "$T_DIR/big.bin" 5000
send_file s1 alice dave "$T_DIR/big.bin"
rejected s1 413 "Too Large For Recipient (max-size 1000 bytes)"
gen_file "$T_DIR/small.bin" 900
send_file s2 alice dave "$T_DIR/small.bin"
expect_delivered
assert_received dave "$T_DIR/small.bin"
[ "$(grep -c -a '^received ' "${RECV_OUT[dave]}")" -eq 1 ] || fail "dave received the file over his max-size"
cpmd_alive
