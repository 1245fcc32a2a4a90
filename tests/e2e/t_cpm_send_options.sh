#!/usr/bin/env bash
# cpm's store-and-forward surface that needs no server support: the help
# texts name the new commands and options; `send --expires` is validated
# (1 .. 10 years) and becomes `Cpm-Expires: N` on the INVITE; `send` prints
# `cpm: file-transfer-id ID` on stderr, and ID is the INVITE's
# a=file-transfer-id; `fetch`/`list` refuse bad arguments.
. "$(dirname "$0")/lib.sh"

# --- help
{ "$CPM" --help; "$CPM" send --help; "$CPM" receive --help; "$CPM" fetch --help; "$CPM" list --help; } \
	>"$LOGDIR/help" 2>&1 || fail "a --help exited non-zero"
for w in fetch list --expires --journal --no-resume stored 'notification delivered' 'deferred ID SENDER NAME SIZE' \
	'No Partial File' 're-regist' 'failed: no such item'; do
	grep -q -F -e "$w" "$LOGDIR/help" || fail "no help text mentions '$w'"
done

# --- usage errors (exit 2, message names the value), before anything starts
p=$(pick_port)
usage() { # WORD ARGS...
	local word=$1 rc=0
	shift
	timeout 10 "$CPM" --server "127.0.0.1:$p" --user sip:a@b "$@" </dev/null >"$LOGDIR/u.out" 2>"$LOGDIR/u.err" || rc=$?
	[ $rc -eq 2 ] || fail "cpm $*: exit $rc, 2 expected"
	grep -q -F -e "$word" "$LOGDIR/u.err" || fail "cpm $*: message does not mention '$word': $(head -1 "$LOGDIR/u.err")"
}
usage 0 send b /etc/hostname --expires 0
usage -5 send b /etc/hostname --expires -5
usage abc send b /etc/hostname --expires abc
usage 315576001 send b /etc/hostname --expires 315576001
usage 12x send b /etc/hostname --expires=12x
usage '(none)' send b /etc/hostname --expires
usage --journal send b /etc/hostname --journal
usage 'bad item ID' fetch 'a/b' --dir /tmp
usage 'bad item ID' fetch "$(printf 'x%.0s' {1..33})" --dir /tmp
usage 'fetch needs one item ID' fetch --dir /tmp
usage 'fetch needs --dir' fetch abc
usage 'list takes no arguments' list extra

# --- on the wire
start_cpmd
gen_file "$T_DIR/doc.bin" 100000
start_receiver bob bob phone --count 2 --timeout 50
TPORT_LOG=1 send_file exp alice bob "$T_DIR/doc.bin" --expires 315576000 --journal "$T_DIR/journal"
expect_delivered
assert_grep "$SEND_ERR" '^[[:space:]]*Cpm-Expires: 315576000' "no Cpm-Expires header on the INVITE"
id=$(sed -n 's/^cpm: file-transfer-id \([A-Za-z0-9_.-]*\)$/\1/p' "$SEND_ERR" | head -n1)
[ -n "$id" ] || fail "no 'cpm: file-transfer-id ID' line on stderr"
assert_grep "$SEND_ERR" "^[[:space:]]*a=file-transfer-id:$id" "the INVITE's a=file-transfer-id is not the printed id $id"
# without --expires: no header
TPORT_LOG=1 send_file plain alice bob "$T_DIR/doc.bin" --no-resume
expect_delivered
assert_no_grep "$SEND_ERR" '^[[:space:]]*Cpm-Expires' "Cpm-Expires sent without --expires"
assert_grep "$SEND_ERR" '^cpm: file-transfer-id ' "no file-transfer-id line with --no-resume"
wait_exit "${RECV_PID[bob]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
