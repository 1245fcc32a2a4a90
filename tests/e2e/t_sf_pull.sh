#!/usr/bin/env bash
# Store-and-forward, pull delivery (docs/internals/store-and-forward.md §4, §7):
# cpmd --user-pref bob@DOMAIN:method=pull.
#  - a file stored for bob is NOT pushed when bob registers; his `cpm receive`
#    prints `deferred ID SENDER NAME SIZE` (from cpmd's deferred-list MESSAGE);
#  - `cpm list` prints the same line;
#  - hostile: mallory fetching bob's ID gets 404 (`failed: no such item ID`,
#    or `rejected: 404 ...`; exit 4) and nothing is delivered; an unknown id
#    gets the same answer; mallory's `cpm list` shows nothing;
#  - `cpm fetch ID --dir D` gets the file (`received ...`, identical); alice
#    gets exactly one `notification delivered FTID`; the item is gone
#    (blob removed, `cpm list` prints nothing, a second fetch is 404).
. "$(dirname "$0")/lib.sh"

# cpm_cmd NAME USER DEVICE ARGS...: run a one-shot cpm command (fetch, list);
# sets CMD_RC, CMD_OUT, CMD_ERR.
cpm_cmd() {
	local name=$1 user=$2 dev=$3 base
	shift 3
	CMD_OUT="$LOGDIR/$name.out" CMD_ERR="$LOGDIR/$name.err"
	mapfile -t base < <(_cpm_base "$user" "$dev")
	CMD_RC=0
	timeout -k 5 40 "$CPM" "${base[@]}" "$@" </dev/null >"$CMD_OUT" 2>"$CMD_ERR" || CMD_RC=$?
	log "cpm $*: rc=$CMD_RC out: $(tr '\n' '|' <"$CMD_OUT")"
}

for c in fetch list; do
	"$CPM" "$c" --help >/dev/null 2>&1 || fail "this cpm has no '$c' command yet (pull delivery cannot be tested)"
done

start_cpmd --user-pref "bob@$DOMAIN:method=pull"
gen_file "$T_DIR/holiday photo.jpg" 345678
start_receiver alice alice laptop --timeout 60

send_file p alice bob "$T_DIR/holiday photo.jpg"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
	fail "expected exit 0 and last line 'stored'; got exit $SEND_RC, last line '$SEND_LAST'"
ftid=$(sed -n 's/^cpm: file-transfer-id //p' "$SEND_ERR" | head -n 1)
[ -n "$ftid" ] || fail "no file-transfer-id on cpm send's stderr"

# bob registers: a deferred line, no push.
start_receiver bob bob phone --timeout 40
wait_for 10 "bob's 'deferred' line" grep -q -a '^deferred ' "${RECV_OUT[bob]}"
line=$(grep -a -m1 '^deferred ' "${RECV_OUT[bob]}")
read -r _ id sender name size rest <<<"$line"
log "deferred line: $line"
[ -z "$rest" ] || fail "deferred line has more than 4 fields: '$line'"
[[ "$id" =~ ^[A-Za-z0-9_-]{1,32}$ ]] || fail "item id '$id' is not [A-Za-z0-9_-]{1,32}"
[ "$sender" = "sip:alice@$DOMAIN" ] || fail "deferred line sender '$sender', expected sip:alice@$DOMAIN"
[ "$name" = "holiday%20photo.jpg" ] || fail "deferred line name '$name', expected holiday%20photo.jpg"
[ "$size" = 345678 ] || fail "deferred line size '$size', expected 345678"
[ -f "$CPMD_DATA/blobs/$id" ] || log "NOTE: no blobs/$id (blob named otherwise?): $(files_in "$CPMD_DATA/blobs")"
sleep 1.5 # a (wrong) push would come right after the REGISTER
assert_no_grep "$CPMD_LOG" 'pushing item' "cpmd pushed an item to a pull user"
assert_no_grep "${RECV_OUT[bob]}" '^received ' "the pull user's device received a pushed file"
n=$(grep -c -a '^deferred ' "${RECV_OUT[bob]}" || true)
[ "$n" -eq 1 ] || fail "bob's device printed $n deferred lines, 1 expected"

# cpm list: the same line.
cpm_cmd list1 bob lister list
[ "$CMD_RC" -eq 0 ] || fail "cpm list exited $CMD_RC"
[ "$(cat "$CMD_OUT")" = "$line" ] || fail "cpm list printed '$(cat "$CMD_OUT")', expected '$line'"

# Hostile: mallory asks for bob's item, and anyone for an unknown id.
mkdir -p "$T_DIR/mallory" "$T_DIR/fetch"
for who in "mallory:$id" "bob:nosuchitem0123"; do
	u=${who%%:*} i=${who#*:}
	cpm_cmd "fetch-$u" "$u" thief fetch "$i" --dir "$T_DIR/mallory"
	[ "$CMD_RC" -eq 4 ] || fail "$u fetching '$i': exit $CMD_RC, expected 4"
	last=$(tail -n 1 "$CMD_OUT")
	[[ "$last" == "failed: no such item"* || "$last" == "rejected: 404"* ]] ||
		fail "$u fetching '$i': last line '$last', expected 'failed: no such item ...' or 'rejected: 404 ...'"
done
assert_dir_empty "$T_DIR/mallory" "a refused fetch wrote files"
cpm_cmd list-mallory mallory thief list
[ "$CMD_RC" -eq 0 ] || fail "mallory's cpm list exited $CMD_RC"
[ ! -s "$CMD_OUT" ] || fail "mallory's cpm list shows another user's items: $(cat "$CMD_OUT")"
assert_no_grep "${RECV_OUT[alice]}" '^notification ' "alice got a notification before bob fetched"
[ -n "$(files_in "$CPMD_DATA/blobs")" ] || fail "the item's blob is gone after refused fetches"

# bob fetches it.
cpm_cmd fetch bob phone2 fetch "$id" --dir "$T_DIR/fetch"
[ "$CMD_RC" -eq 0 ] || fail "cpm fetch $id exited $CMD_RC: $(tail -n 3 "$CMD_ERR")"
RECV_OUT[fetch]=$CMD_OUT RECV_DIR[fetch]="$T_DIR/fetch"
assert_received fetch "$T_DIR/holiday photo.jpg"
wait_for 15 "alice's 'notification delivered $ftid'" grep -q -x -F "notification delivered $ftid" "${RECV_OUT[alice]}"
wait_for 10 "the fetched item's blob to be removed" bash -c '[ -z "$(find "$1" -mindepth 1 -type f)" ]' _ "$CPMD_DATA/blobs"

# The item is gone: nothing listed, a second fetch is 404.
cpm_cmd list2 bob lister list
[ "$CMD_RC" -eq 0 ] || fail "cpm list (after the fetch) exited $CMD_RC"
[ ! -s "$CMD_OUT" ] || fail "cpm list still lists an item after the fetch: $(cat "$CMD_OUT")"
mkdir -p "$T_DIR/again"
cpm_cmd fetch-again bob phone2 fetch "$id" --dir "$T_DIR/again"
[ "$CMD_RC" -eq 4 ] || fail "fetching $id a second time: exit $CMD_RC, expected 4"
sleep 1
n=$(grep -c -a '^notification ' "${RECV_OUT[alice]}" || true)
[ "$n" -eq 1 ] || fail "alice got $n notifications, exactly 1 expected: $(cat "${RECV_OUT[alice]}")"
assert_no_grep "${RECV_OUT[bob]}" '^received ' "bob's receiving device got a pushed copy too"
cpmd_alive
