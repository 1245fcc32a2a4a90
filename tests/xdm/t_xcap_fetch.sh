#!/usr/bin/env bash
# The XDM preferences client against a real XCAP server (Kamailio's xcap_server,
# tests/lib_xcap.sh): a PUT document is fetched and parsed to its values; a fetch with its
# ETag is "not modified"; a changed document comes back with a new ETag and the new values;
# a user without a document is "no doc"; a document over the caller's buffer is an error, not
# a truncation; a document with a bad value is fetched but refused by the codec; eight threads
# fetching at once get the same answer.
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=../lib_xcap.sh
. "$(dirname "$0")/../lib_xcap.sh"

XCAP_GET=${XCAP_GET:-$CPM_BUILD/xcap_get}
[ -x "$XCAP_GET" ] || fail "xcap_get not built ($XCAP_GET)"
DOCS="$CPM_SRC/tests/xdm/docs"
ALICE=sip:alice@example.com

# get OUT [xcap_get options...] AOR: fetch into $T_DIR/OUT (the driver's key value lines)
get() {
	local out=$T_DIR/$1 rc=0
	shift
	"$XCAP_GET" --auid "$XCAP_AUID" --file "$XCAP_DOC_FILE" "${@:1:$#-1}" "$XCAP_ROOT" "${@: -1}" \
		>"$out" 2>>"$LOGDIR/xcap_get.err" || rc=$?
	echo "rc $rc" >>"$out"
}
val() { # OUT KEY -> the first value of KEY
	sed -n "s/^$2 //p" "$T_DIR/$1" | head -n 1
}
expect() { # OUT KEY VALUE
	local v
	v=$(val "$1" "$2")
	[ "$v" = "$3" ] || { cat "$T_DIR/$1" >&2; fail "$1: $2 is '$v', expected '$3'"; }
}

xcap_start "$T_DIR/xcap" "$(pick_port)"

# 1. PUT, then an unconditional fetch: every value of the document
etag1=$(xcap_put "$ALICE" "$DOCS/alice-1.xml")
[ -n "$etag1" ] || fail "the XCAP server gave no ETag on PUT"
get f1 "$ALICE"
expect f1 result fetched
expect f1 rc 0
expect f1 etag "$etag1"
expect f1 defer true
expect f1 delivery push
expect f1 keep-files off
expect f1 on-expiry discard
expect f1 histories false
expect f1 screening true
expect f1 max-file-size 10485760
expect f1 blocked sip:spam@example.net
expect f1 deny application/x-msdownload
[ -z "$(val f1 accept)" ] || fail "f1: accept types from nowhere"
log "fetched alice's document, ETag $etag1"

# 2. the same ETag: not modified, no body
get f2 --etag "$etag1" "$ALICE"
expect f2 result not-modified
[ -z "$(val f2 defer)" ] || fail "f2: values on a 304"

# 3. a changed document: fetched with a new ETag and the new values
etag2=$(xcap_put "$ALICE" "$DOCS/alice-2.xml")
[ "$etag2" != "$etag1" ] || fail "the ETag did not change on PUT ($etag2)"
get f3 --etag "$etag1" "$ALICE"
expect f3 result fetched
expect f3 etag "$etag2"
expect f3 defer false
expect f3 delivery pull
expect f3 keep-files instead-of-device
expect f3 on-expiry keep
expect f3 histories true
expect f3 screening unset
expect f3 max-file-size unset
[ "$(grep -c '^blocked ' "$T_DIR/f3")" = 2 ] || fail "f3: two blocked senders expected"
grep -qx 'blocked tel:+15550100' "$T_DIR/f3" || fail "f3: tel: URI not blocked"
grep -qx 'accept image/\*' "$T_DIR/f3" || fail "f3: accept image/* expected"
get f3b --etag "$etag2" "$ALICE"
expect f3b result not-modified
log "changed document fetched with the new ETag $etag2"

# 4. no document for bob (and none for alice under another file name)
get f4 sip:bob@example.com
expect f4 result no-doc
get f4b --etag "$etag2" sip:bob@example.com
expect f4b result no-doc

# 5. eight threads at once: one answer
get f5 --threads 8 "$ALICE"
expect f5 result fetched
expect f5 etag "$etag2"
grep -q '^thread-mismatch' "$T_DIR/f5" && fail "threads disagree: $(cat "$T_DIR/f5")"

# 6. a document over the caller's buffer: an error, never a cut document
get f6 --cap 100 "$ALICE"
expect f6 result error
grep -q '^why document over 100 bytes' "$T_DIR/f6" || fail "f6: $(val f6 why)"

# 7. a document with a bad value: fetched, refused whole by the codec
printf '%s\n' '<?xml version="1.0"?>' \
	'<cpm-prefs xmlns="urn:cpmd:params:xml:ns:cpm-prefs"><defer>true</defer><delivery>sometimes</delivery></cpm-prefs>' \
	>"$T_DIR/bad.xml"
xcap_put sip:carol@example.com "$T_DIR/bad.xml" >/dev/null
get f7 sip:carol@example.com
expect f7 result fetched
expect f7 parse-error "invalid preference value"
expect f7 rc 1

# 8. deleted: no document again
xcap_del "$ALICE"
get f8 --etag "$etag2" "$ALICE"
expect f8 result no-doc
log "ok"
