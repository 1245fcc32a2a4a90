#!/usr/bin/env bash
# The operator's policy over a user's XDM document (issue 11 §3, design §6: "precedence to
# service provider policies over CPM User preferences"; docs/internals/xdm.md): bob's document
# (a real XCAP server, tests/lib_xcap.sh) says defer=true, and cpmd runs with --defer off: a
# file to bob while he is offline is refused (480), nothing is stored. The send comes after
# cpmd logged the document's values (fetched when bob's device registered), so the refusal is
# the operator's switch over a document cpmd holds, not a document it did not have yet.
. "$(dirname "$0")/lib.sh"
# shellcheck source=../lib_xcap.sh
. "$CPM_SRC/tests/lib_xcap.sh"

xcap_start "$T_DIR/xcap" "$(pick_port)"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<cpm-prefs xmlns="urn:cpmd:params:xml:ns:cpm-prefs">%s</cpm-prefs>\n' \
	'<defer>true</defer><delivery>pull</delivery>' >"$T_DIR/defer.xml"
etag=$(xcap_put "sip:bob@$DOMAIN" "$T_DIR/defer.xml")
[ -n "$etag" ] || fail "xcap_put printed no ETag"
start_cpmd --xdms "$XCAP_ROOT" --xdms-auid "$XCAP_AUID" --xdms-refresh 1 --defer off
gen_file "$T_DIR/f.bin" 30000

# bob's device registers: cpmd fetches his document first, then he leaves
start_receiver probe bob probe --timeout 2
wait_for 10 "cpmd to fetch bob's document" grep -q -F "xdm: preferences of bob@$DOMAIN (ETag $etag): defer=true delivery=pull" "$CPMD_LOG"
wait_exit "${RECV_PID[probe]}" 15
wait_for 5 "bob's probe to unregister" grep -q -F "unregister bob@$DOMAIN device=" "$CPMD_LOG"

send_file f alice bob "$T_DIR/f.bin"
[ "$SEND_RC" -eq 4 ] && [[ "$SEND_LAST" == "rejected: 480 "* ]] ||
	fail "--defer off must win over the document's defer=true: expected exit 4 'rejected: 480 ...', got exit $SEND_RC '$SEND_LAST'"
assert_dir_empty "$CPMD_DATA/blobs" "a file was stored although the operator switched deferral off"
cpmd_alive
