#!/usr/bin/env bash
# The XDM preferences client with the XDMS's credentials, against Kamailio's xcap_server with
# HTTP digest authentication (tests/lib_xcap.sh XCAP_AUTH=1): the right credentials fetch the
# document, and a conditional GET through the challenge is "not modified"; no credentials or
# a wrong password is an error (401), another subscriber's credentials too (403).
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=../lib_xcap.sh
. "$(dirname "$0")/../lib_xcap.sh"

XCAP_GET=${XCAP_GET:-$CPM_BUILD/xcap_get}
[ -x "$XCAP_GET" ] || fail "xcap_get not built ($XCAP_GET)"
ALICE=sip:alice@example.com

get() { # OUT [options...] AOR
	local out=$T_DIR/$1 rc=0
	shift
	"$XCAP_GET" --auid "$XCAP_AUID" --file "$XCAP_DOC_FILE" "${@:1:$#-1}" "$XCAP_ROOT" "${@: -1}" \
		>"$out" 2>>"$LOGDIR/xcap_get.err" || rc=$?
	echo "rc $rc" >>"$out"
}
val() { sed -n "s/^$2 //p" "$T_DIR/$1" | head -n 1; }
expect() {
	local v
	v=$(val "$1" "$2")
	[ "$v" = "$3" ] || { cat "$T_DIR/$1" >&2; fail "$1: $2 is '$v', expected '$3'"; }
}

XCAP_AUTH=1
xcap_user "$T_DIR/xcap" alice 's3cret'
xcap_user "$T_DIR/xcap" bob other
xcap_start "$T_DIR/xcap" "$(pick_port)"
XCAP_CRED='alice:s3cret'
etag=$(xcap_put "$ALICE" "$CPM_SRC/tests/xdm/docs/alice-1.xml")
[ -n "$etag" ] || fail "no ETag on the authenticated PUT"

get a1 --user alice --password 's3cret' "$ALICE"
expect a1 result fetched
expect a1 etag "$etag"
expect a1 defer true
get a2 --user alice --password 's3cret' --etag "$etag" "$ALICE"
expect a2 result not-modified
log "digest: fetched and not-modified through the challenge"

get a3 "$ALICE"
expect a3 result error
expect a3 why "XDMS answered HTTP 401"
get a4 --user alice --password wrong "$ALICE"
expect a4 result error
expect a4 why "XDMS answered HTTP 401"
get a5 --user bob --password other "$ALICE"
expect a5 result error
expect a5 why "XDMS answered HTTP 403"
log "ok"
