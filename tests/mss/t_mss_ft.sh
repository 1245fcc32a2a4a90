#!/usr/bin/env bash
# MSS objects of files in a real Dovecot, read back with Python's email package:
# an FT history (file + thumbnail byte-identical, identifiers in headers, a
# non-ASCII file name through RFC 2047/2231), an expired item and a kept file in
# CPM/Files, and a hostile file name (CR/LF) that cannot add a header.
source "$(dirname "$0")/../e2e/lib.sh"
source "$CPM_SRC/tests/mss/lib_mss.sh"

dovecot_start "$MSS_DIR" "$MSS_PORT"
head -c 300001 /dev/urandom >"$T_DIR/file.bin"
head -c 4000 /dev/urandom >"$T_DIR/thumb.jpg"
: >"$T_DIR/empty"
name='Fête à Noël — résumé.pdf'

mss_expect 0 "FT history" --kind ft --id item-1 --file "$T_DIR/file.bin" --name "$name" \
	--type application/pdf --hash sha-1:0A:1B:2C --thumb "$T_DIR/thumb.jpg" --thumb-type image/jpeg \
	--conv conv-A1 --contrib contrib-9 --from sip:alice@cpm.test --to sip:bob@cpm.test \
	--disposition delivered --direction in
grep -q '^folder=CPM/Conversations/conv-A1$' <<<"$MSS_OUT" || fail "folder: $MSS_OUT"
dovecot_fetch bob CPM/Conversations/conv-A1 "$T_DIR/ft"
[ "$(ls "$T_DIR/ft" | wc -l)" = 1 ] || fail "FT history: $(ls "$T_DIR/ft" | wc -l) messages"
python3 "$MSS_CHECK" "$T_DIR/ft/1.eml" --part "file@cpm.mss=$T_DIR/file.bin" \
	--part "thumbnail@cpm.mss=$T_DIR/thumb.jpg" --filename "$name" \
	--hdr "Message-ID=<ft-history.item-1@cpm.mss>" --hdr "X-CPM-Kind=ft-history" \
	--hdr "Conversation-ID=conv-A1" --hdr "Contribution-ID=contrib-9" \
	--hdr "X-CPM-Sender=<sip:alice@cpm.test>" --hdr "X-CPM-Recipient=<sip:bob@cpm.test>" \
	--hdr "X-CPM-File-Name=$name" --hdr "X-CPM-File-Type=application/pdf" \
	--hdr "X-CPM-File-Size=300001" --hdr "X-CPM-File-Hash=sha-1:0A:1B:2C" \
	--hdr "X-CPM-Disposition=delivered" --hdr "X-CPM-Direction=in" || fail "FT history content"

# expired item kept for the recipient, and a kept file: CPM/Files, kind and state in headers
mss_expect 0 "expired item" --kind expired --id item-2 --file "$T_DIR/file.bin" --name a.bin \
	--conv conv-A1 --from sip:alice@cpm.test --to sip:bob@cpm.test
mss_expect 0 "kept file" --kind kept --id item-2 --file "$T_DIR/empty" --name empty.txt --type text/plain \
	--conv conv-A1 --from sip:alice@cpm.test --to sip:bob@cpm.test --disposition delivered
[ "$(dovecot_count bob CPM/Files)" = 2 ] || fail "CPM/Files holds $(dovecot_count bob CPM/Files), want 2"
dovecot_fetch bob CPM/Files "$T_DIR/files"
python3 "$MSS_CHECK" "$T_DIR/files/1.eml" --part "file@cpm.mss=$T_DIR/file.bin" \
	--hdr "X-CPM-Kind=expired-file" --hdr "X-CPM-Disposition=expired" \
	--hdr "Message-ID=<expired-file.item-2@cpm.mss>" || fail "expired item"
python3 "$MSS_CHECK" "$T_DIR/files/2.eml" --part "file@cpm.mss=$T_DIR/empty" \
	--hdr "X-CPM-Kind=kept-file" --hdr "Message-ID=<kept-file.item-2@cpm.mss>" || fail "kept file"

# hostile values from a peer: CR/LF in the name and ids, a conversation id with a path
mss_expect 0 "hostile names" --kind ft --id $'evil\r\nBcc: x@y.z' --file "$T_DIR/thumb.jpg" \
	--name $'a\r\nBcc: victim@example.com\r\n\r\n--=_cpm_part_=\r\nX: "b".txt' \
	--conv '../../etc' --contrib $'c\nBcc: y@z' --from $'sip:a@b>\r\nBcc: z@z' --to sip:bob@cpm.test
folder=$(sed -n 's/^folder=//p' <<<"$MSS_OUT")
case "$folder" in CPM/Conversations/x-[0-9a-f]*) ;; *) fail "hostile conversation id gave folder $folder" ;; esac
dovecot_fetch bob "$folder" "$T_DIR/evil"
python3 "$MSS_CHECK" "$T_DIR/evil/1.eml" --no-hdr Bcc --no-hdr X --part "file@cpm.mss=$T_DIR/thumb.jpg" \
	--hdr "X-CPM-Kind=ft-history" || fail "hostile names"
[ "$(python3 -c 'import email,sys; m=email.message_from_binary_file(open(sys.argv[1],"rb")); print(len(m.get_payload()))' "$T_DIR/evil/1.eml")" = 1 ] ||
	fail "hostile name added a part"
exit 0
