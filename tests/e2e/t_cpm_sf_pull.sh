#!/usr/bin/env bash
# Pull delivery against the real cpmd (store-and-forward §4): bob prefers
# pull. A file alice sends while bob is away is stored; when bob's device
# registers it prints `deferred ID SENDER NAME SIZE`; `cpm list` prints the
# same line; `cpm fetch ID` retrieves the byte-identical file; an unknown id
# is `failed: no such item ID` (exit 4); afterwards the list is empty.
. "$(dirname "$0")/lib.sh"

start_cpmd --user-pref "sip:bob@$DOMAIN:method=pull"
gen_file "$T_DIR/my notes.txt" 250000
send_file s alice bob "$T_DIR/my notes.txt"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "send: exit $SEND_RC, '$SEND_LAST' ('stored' expected)"
item=$(sed -n 's/^cpm: stored by the server as item //p' "$SEND_ERR" | head -n1)
[ -n "$item" ] || fail "no item id on the sender's stderr"

start_receiver bob bob phone --timeout 40
want="deferred $item sip:alice@$DOMAIN my%20notes.txt 250000"
wait_for 15 "bob's device to print '$want'" grep -q -x -F "$want" "${RECV_OUT[bob]}"

mapfile -t base < <(_cpm_base bob laptop)
rc=0
timeout 20 "$CPM" "${base[@]}" list >"$LOGDIR/list.out" 2>"$LOGDIR/list.err" || rc=$?
[ $rc -eq 0 ] || fail "cpm list: exit $rc"
[ "$(cat "$LOGDIR/list.out")" = "$want" ] || fail "cpm list printed: $(cat "$LOGDIR/list.out")"

mkdir -p "$T_DIR/got"
rc=0
timeout 20 "$CPM" "${base[@]}" fetch nosuchitem --dir "$T_DIR/got" >"$LOGDIR/f404.out" 2>"$LOGDIR/f404.err" || rc=$?
[ $rc -eq 4 ] && [ "$(tail -n1 "$LOGDIR/f404.out")" = "failed: no such item nosuchitem" ] ||
	fail "fetch of an unknown id: exit $rc, $(cat "$LOGDIR/f404.out")"
rc=0
timeout 30 "$CPM" "${base[@]}" fetch "$item" --dir "$T_DIR/got" >"$LOGDIR/f.out" 2>"$LOGDIR/f.err" || rc=$?
[ $rc -eq 0 ] || fail "cpm fetch $item: exit $rc: $(cat "$LOGDIR/f.out")"
h=$(sha1 "$T_DIR/my notes.txt")
[ "$(tail -n1 "$LOGDIR/f.out")" = "received $T_DIR/got/my notes.txt 250000 $h" ] || fail "fetch printed: $(cat "$LOGDIR/f.out")"
cmp -s "$T_DIR/my notes.txt" "$T_DIR/got/my notes.txt" || fail "the fetched file differs"
sleep 0.5
rc=0
timeout 20 "$CPM" "${base[@]}" list >"$LOGDIR/list2.out" 2>"$LOGDIR/list2.err" || rc=$?
[ $rc -eq 0 ] && [ ! -s "$LOGDIR/list2.out" ] || fail "list after the fetch: exit $rc, $(cat "$LOGDIR/list2.out")"
