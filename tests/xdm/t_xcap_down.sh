#!/usr/bin/env bash
# The XDM preferences client when the XCAP server is not there: stopped (connection refused)
# is an error at once; a server that accepts and never answers is an error within the
# client's timeout; restarted on its data, the server knows the document and its ETag again
# (a cached ETag stays valid across an XDMS restart: "not modified").
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=../lib_xcap.sh
. "$(dirname "$0")/../lib_xcap.sh"

XCAP_GET=${XCAP_GET:-$CPM_BUILD/xcap_get}
[ -x "$XCAP_GET" ] || fail "xcap_get not built ($XCAP_GET)"
ALICE=sip:alice@example.com

get() { # OUT ROOT [options...] AOR
	local out=$T_DIR/$1 root=$2 rc=0
	shift 2
	"$XCAP_GET" --auid "$XCAP_AUID" --file "$XCAP_DOC_FILE" "${@:1:$#-1}" "$root" "${@: -1}" \
		>"$out" 2>>"$LOGDIR/xcap_get.err" || rc=$?
	echo "rc $rc" >>"$out"
}
val() { sed -n "s/^$2 //p" "$T_DIR/$1" | head -n 1; }
expect() {
	local v
	v=$(val "$1" "$2")
	[ "$v" = "$3" ] || { cat "$T_DIR/$1" >&2; fail "$1: $2 is '$v', expected '$3'"; }
}

port=$(pick_port)
xcap_start "$T_DIR/xcap" "$port"
etag=$(xcap_put "$ALICE" "$CPM_SRC/tests/xdm/docs/alice-1.xml")
root=$XCAP_ROOT
xcap_stop

# 1. stopped: refused, an error at once (well under the 2 s connect timeout)
get d1 "$root" "$ALICE"
expect d1 result error
expect d1 rc 0
[ "$(val d1 ms)" -lt 1000 ] || fail "d1: refused connection took $(val d1 ms) ms"
get d1b "$root" --etag "$etag" "$ALICE"
expect d1b result error
log "server down: error in $(val d1 ms) ms ($(val d1 why))"

# 2. a server that takes the connection and never answers: error within the timeout
hang_port=$(pick_port)
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); c=[]
while True: c.append(s.accept()[0])' "$hang_port" &
PIDS+=("$!")
for ((i = 0; i < 50; i++)); do
	[ -n "$(ss -Hlnt "( sport = :$hang_port )" 2>/dev/null)" ] && break
	sleep 0.1
done
get d2 "http://127.0.0.1:$hang_port/xcap-root" --timeout-ms 500 "$ALICE"
expect d2 result error
ms=$(val d2 ms)
if [ "$ms" -lt 400 ] || [ "$ms" -ge 2000 ]; then
	fail "d2: a silent server took $ms ms (timeout 500)"
fi
log "silent server: error in $ms ms ($(val d2 why))"

# 3. restarted on the same data: the document and its ETag are back
xcap_start "$T_DIR/xcap" "$port"
get d3 "$XCAP_ROOT" --etag "$etag" "$ALICE"
expect d3 result not-modified
get d3b "$XCAP_ROOT" "$ALICE"
expect d3b result fetched
expect d3b etag "$etag"
expect d3b defer true
log "ok"
