#!/usr/bin/env bash
# Keep in MSS from the user's XDM document, changed without a restart (issue 11 §3;
# docs/internals/xdm.md): a real XCAP server (tests/lib_xcap.sh) and a real Dovecot
# (tests/lib_dovecot.sh), cpmd with --mss and --xdms ... --xdms-refresh 1, no --user-pref.
#  1. carol's document says keep-files=instead-of-device: a file to her, although her tablet is
#     registered, is stored and lands in her CPM/Files as a kept-file; her tablet gets nothing.
#  2. the document changes to keep-files=off: once cpmd has the new document (a device of hers
#     registering fetches it), the next file goes to her tablet, and nothing more to her MSS.
. "$(dirname "$0")/lib.sh"
# shellcheck source=../lib_xcap.sh
. "$CPM_SRC/tests/lib_xcap.sh"
. "$CPM_SRC/tests/lib_dovecot.sh"
MSS_CHECK="$CPM_SRC/tests/mss/mss_check.py"

doc() { # NAME SETTINGS
	printf '<?xml version="1.0" encoding="UTF-8"?>\n<cpm-prefs xmlns="urn:cpmd:params:xml:ns:cpm-prefs">%s</cpm-prefs>\n' \
		"$2" >"$T_DIR/$1.xml"
}
wait_etag() { # ETAG
	[ -n "$1" ] || fail "xcap_put printed no ETag"
	wait_for 10 "cpmd to fetch carol's document $1" grep -q -F "xdm: preferences of carol@$DOMAIN (ETag $1)" "$CPMD_LOG"
}
count_is() { [ "$(dovecot_count "$1" "$2")" = "$3" ]; } # USER FOLDER N

MSS_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$MSS_PORT "
dovecot_start "$T_DIR/dovecot" "$MSS_PORT"
printf 'carol:{PLAIN}carolpass\n' >>"$T_DIR/dovecot/etc/users"
xcap_start "$T_DIR/xcap" "$(pick_port)"
doc instead '<keep-files>instead-of-device</keep-files>'
doc off '<keep-files>off</keep-files>'
e1=$(xcap_put "sip:carol@$DOMAIN" "$T_DIR/instead.xml")
start_cpmd --mss "imap://127.0.0.1:$MSS_PORT" --mss-master-user admin --mss-master-password adminpass \
	--mss-retry 1:2 --xdms "$XCAP_ROOT" --xdms-auid "$XCAP_AUID" --xdms-refresh 1

# 1. keep instead of the device: her tablet's registration fetched the document first
start_receiver carol carol tablet --timeout 120
wait_etag "$e1"
gen_file "$T_DIR/b.bin" 120000
send_file b alice carol "$T_DIR/b.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
	fail "1: keep-files=instead-of-device: expected 'stored', got rc $SEND_RC '$SEND_LAST'"
wait_for 20 "carol's kept file in CPM/Files" count_is carol CPM/Files 1
dovecot_fetch carol CPM/Files "$T_DIR/mss.carol"
python3 "$MSS_CHECK" "$(find "$T_DIR/mss.carol" -name '*.eml' | head -n 1)" --part "file@cpm.mss=$T_DIR/b.bin" \
	--hdr "X-CPM-Kind=kept-file" || fail "1: carol's kept file"
sleep 1
assert_no_grep "${RECV_OUT[carol]}" '^received ' "1: carol's tablet received a file her document keeps in her MSS"

# 2. keep off: no restart; a second device of hers registering makes cpmd fetch it first
e2=$(xcap_put "sip:carol@$DOMAIN" "$T_DIR/off.xml")
sleep 1.2
n_unreg=$(grep -c -F "unregister carol@$DOMAIN device=" "$CPMD_LOG" || true)
start_receiver probe carol probe --timeout 2
wait_etag "$e2"
wait_exit "${RECV_PID[probe]}" 15
wait_for 5 "carol's probe to unregister" bash -c '[ "$(grep -c -F "unregister carol@'"$DOMAIN"' device=" "$1")" -gt "$2" ]' _ "$CPMD_LOG" "$n_unreg"
gen_file "$T_DIR/c.bin" 60000
send_file c alice carol "$T_DIR/c.bin"
expect_delivered
wait_for 10 "carol's tablet to receive c.bin" grep -q -a '^received .*c\.bin ' "${RECV_OUT[carol]}"
sleep 2 # a kept copy would be written right after
count_is carol CPM/Files 1 || fail "2: keep-files=off: carol's CPM/Files has $(dovecot_count carol CPM/Files) objects, 1 expected"
cpmd_alive
