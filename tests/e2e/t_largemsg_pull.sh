#!/usr/bin/env bash
# Large Message Mode, pull (docs/internals/messaging.md §3): carol is a pull user. alice's
# large message to her is stored; `cpm list` shows it as `deferred ID SENDER message SIZE`;
# `cpm fetch ID` (the RFC 5547 pull by Cpm-Item-Id) prints it as one `message SENDER ID
# TEXT` line, byte-identical, and saves no file; then the list is empty and the blob gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_largemsg.sh"

start_cpmd --user-pref "carol@$DOMAIN:method=pull"
gen_text "$T_DIR/text.txt" 200000
send_message m alice carol "$T_DIR/text.txt" --large
[ "$MSG_RC" -eq 0 ] && [ "$MSG_LAST" = stored ] ||
	fail "expected exit 0 and last line 'stored'; got exit $MSG_RC, last line '$MSG_LAST'"
item=$(sed -n 's/^cpm: stored by the server as item \(.*\)$/\1/p' "$MSG_ERR" | head -n 1)

mapfile -t base < <(_cpm_base carol)
"$CPM" "${base[@]}" list >"$LOGDIR/list1.out" 2>"$LOGDIR/list1.err" || fail "cpm list failed: $(cat "$LOGDIR/list1.out")"
line=$(grep -a "^deferred $item " "$LOGDIR/list1.out" || true)
[ -n "$line" ] || fail "cpm list shows no 'deferred $item ...': $(cat "$LOGDIR/list1.out")"
size=$(stat -c %s "$CPMD_DATA/blobs/$item")
[ "$line" = "deferred $item sip:alice@$DOMAIN message $size" ] ||
	fail "list line '$line', expected 'deferred $item sip:alice@$DOMAIN message $size'"

mkdir -p "$T_DIR/fetch"
rc=0
timeout -k 10 60 "$CPM" "${base[@]}" fetch "$item" --dir "$T_DIR/fetch" >"$LOGDIR/fetch.out" 2>"$LOGDIR/fetch.err" || rc=$?
[ "$rc" -eq 0 ] || fail "cpm fetch exit $rc: $(tail -n 1 "$LOGDIR/fetch.out")"
RECV_OUT[fetch]="$LOGDIR/fetch.out"
assert_message fetch "sip:alice@$DOMAIN" "$MSG_ID" "$T_DIR/text.txt"
[ -z "$(files_in "$T_DIR/fetch")" ] || fail "fetch of a message saved files: $(files_in "$T_DIR/fetch")"
wait_for 20 "the blob to be removed" bash -c '[ ! -e "$1" ]' _ "$CPMD_DATA/blobs/$item"
"$CPM" "${base[@]}" list >"$LOGDIR/list2.out" 2>"$LOGDIR/list2.err" || fail "second cpm list failed"
[ ! -s "$LOGDIR/list2.out" ] || fail "the item is still listed after the fetch: $(cat "$LOGDIR/list2.out")"
cpmd_alive
