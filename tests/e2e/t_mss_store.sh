#!/usr/bin/env bash
# cpmd writes to the users' Message Storage Server (issue 11, docs/internals/mss.md), a real
# Dovecot with a master user, read back with Python's email package (tests/mss/mss_check.py):
#  a) a live transfer alice -> bob, both with history=on: an FT history in each mailbox (bob's
#     "in", alice's "out"), its file part byte-identical to the file sent, the transfer's
#     identifiers in its headers; the items leave cpmd's store once written;
#  b) carol keeps files in her MSS instead of her device (keep=instead): the file is stored,
#     never offered to her registered device, and lands in her CPM/Files as a kept-file;
#  c) dave's expired item (on-expiry=keep) lands in his CPM/Files as an expired-file;
#  d) Dovecot stopped during a history write: cpmd retries (--mss-retry 1:2) and, once Dovecot
#     is back, the history is stored exactly once; a restart of cpmd in between loses nothing.
. "$(dirname "$0")/lib.sh"
. "$CPM_SRC/tests/lib_dovecot.sh"
MSS_CHECK="$CPM_SRC/tests/mss/mss_check.py"

MSS_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$MSS_PORT "
dovecot_start "$T_DIR/dovecot" "$MSS_PORT"
printf 'carol:{PLAIN}carolpass\ndave:{PLAIN}davepass\n' >>"$T_DIR/dovecot/etc/users"

MSS_OPTS=(--mss "imap://127.0.0.1:$MSS_PORT" --mss-master-user admin --mss-master-password adminpass
	--mss-retry 1:2 --store-max-expiry 3600 --store-default-expiry 3600
	--user-pref "bob@$DOMAIN:history=on" --user-pref "alice@$DOMAIN:history=on"
	--user-pref "carol@$DOMAIN:keep=instead" --user-pref "dave@$DOMAIN:on-expiry=keep")
start_cpmd "${MSS_OPTS[@]}"

# mss_objects USER OUTDIR: every object in USER's CPM/* folders, fetched into OUTDIR/FOLDER/UID.eml
mss_objects() {
	local user=$1 out=$2 f
	rm -rf "$out"
	mkdir -p "$out"
	while read -r f; do
		case "$f" in CPM/*) dovecot_fetch "$user" "$f" "$out/$(echo "$f" | tr / _)" ;; esac
	done < <(dovecot_folders "$user")
}
mss_total() { # USER: objects in all of USER's CPM/* folders
	local n=0 f
	while read -r f; do
		case "$f" in CPM/*) n=$((n + $(dovecot_count "$1" "$f"))) ;; esac
	done < <(dovecot_folders "$1" 2>/dev/null)
	echo "$n"
}
only_one_eml() { # DIR: the one .eml under DIR (fails otherwise)
	local all
	all=$(find "$1" -name '*.eml')
	[ "$(echo "$all" | grep -c .)" -eq 1 ] || fail "expected one object under $1, found: $all"
	echo "$all"
}
# items waiting for the message store in cpmd's store (state 8, STORE_ITEM_TO_MSS)
items_left() {
	# (a plain connection with a busy timeout: a read-only one cannot recover a WAL that cpmd
	# is checkpointing, and reported nothing under load)
	python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1], timeout=10).execute("SELECT count(*) FROM item WHERE state=8").fetchone()[0])' "$CPMD_DATA/cpmd.db" 2>>"$LOGDIR/items_left.err" || echo "?"
}
queue_empty() { [ "$(items_left)" = 0 ]; }
both_histories() { [ "$(mss_total bob)" -ge 1 ] && [ "$(mss_total alice)" -ge 1 ]; }
count_is() { [ "$(dovecot_count "$1" "$2")" = "$3" ]; } # USER FOLDER N
total_is() { [ "$(mss_total "$1")" -eq "$2" ]; }       # USER N

# --- a) FT histories of a live transfer -------------------------------------------------
start_receiver bob bob phone --timeout 120
gen_file "$T_DIR/a.bin" 300001
send_file a alice bob "$T_DIR/a.bin"
expect_delivered
assert_received bob "$T_DIR/a.bin"
wait_for 20 "bob's and alice's FT histories in the MSS" both_histories
mss_objects bob "$T_DIR/mss.bob"
mss_objects alice "$T_DIR/mss.alice"
eml=$(only_one_eml "$T_DIR/mss.bob")
python3 "$MSS_CHECK" "$eml" --part "file@cpm.mss=$T_DIR/a.bin" --filename a.bin \
	--hdr "X-CPM-Kind=ft-history" --hdr "X-CPM-Direction=in" --hdr "X-CPM-Disposition=delivered" \
	--hdr "X-CPM-File-Size=300001" --hdr "X-CPM-Sender=<sip:alice@$DOMAIN>" ||
	fail "a) bob's FT history does not hold the file or its identifiers"
eml_a=$(only_one_eml "$T_DIR/mss.alice")
python3 "$MSS_CHECK" "$eml_a" --part "file@cpm.mss=$T_DIR/a.bin" --hdr "X-CPM-Kind=ft-history" \
	--hdr "X-CPM-Direction=out" || fail "a) alice's FT history"
grep -qi '^Conversation-ID: .' "$eml" || fail "a) the FT history has no Conversation-ID"
wait_for 10 "the written items to leave cpmd's store" queue_empty
[ -z "$(find "$CPMD_DATA/blobs" -maxdepth 1 -type f)" ] || fail "a) blobs left after the histories were written"

# --- b) carol keeps files in her MSS instead of her device -----------------------------
start_receiver carol carol tablet --timeout 120
gen_file "$T_DIR/b.bin" 120000
send_file b alice carol "$T_DIR/b.bin"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] || fail "b) expected 'stored', got rc $SEND_RC '$SEND_LAST'"
wait_for 20 "carol's kept file in CPM/Files" count_is carol CPM/Files 1
dovecot_fetch carol CPM/Files "$T_DIR/mss.carol"
python3 "$MSS_CHECK" "$(only_one_eml "$T_DIR/mss.carol")" --part "file@cpm.mss=$T_DIR/b.bin" \
	--hdr "X-CPM-Kind=kept-file" || fail "b) carol's kept file"
sleep 1
assert_no_grep "${RECV_OUT[carol]}" '^received ' "b) carol's device received a file she keeps in her MSS"

# --- c) dave's expired item --------------------------------------------------------------
gen_file "$T_DIR/c.bin" 50000
send_file c alice dave "$T_DIR/c.bin" --expires 2
[ "$SEND_LAST" = stored ] || fail "c) expected 'stored', got '$SEND_LAST'"
wait_for 20 "dave's expired item in CPM/Files" count_is dave CPM/Files 1
dovecot_fetch dave CPM/Files "$T_DIR/mss.dave"
python3 "$MSS_CHECK" "$(only_one_eml "$T_DIR/mss.dave")" --part "file@cpm.mss=$T_DIR/c.bin" \
	--hdr "X-CPM-Kind=expired-file" --hdr "X-CPM-Disposition=expired" || fail "c) dave's expired item"
[ ! -d "$CPMD_DATA/mss" ] || assert_dir_empty "$CPMD_DATA/mss" "c) the local hand-off was used with --mss"

# --- d) the MSS down during a write: retried, stored once, across a restart of cpmd -------
before_bob=$(mss_total bob)
dovecot_stop
gen_file "$T_DIR/d.bin" 70000
send_file d alice bob "$T_DIR/d.bin"
expect_delivered
wait_for 20 "cpmd to report the MSS down and retry" grep -q 'not stored (attempt' "$CPMD_LOG"
n=$(items_left)
[ "$n" != "?" ] && [ "$n" -ge 1 ] || fail "d) nothing waits in cpmd's store while the MSS is down ($n): $(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1], timeout=10).execute("SELECT id, state, mss_obj, mss_attempts FROM item").fetchall())' "$CPMD_DATA/cpmd.db")"
data=$CPMD_DATA
stop_cpmd
start_cpmd "${MSS_OPTS[@]}" --data-dir "$data" # the same store: what waited goes on
CPMD_DATA=$data
dovecot_start "$T_DIR/dovecot" "$MSS_PORT"
wait_for 30 "bob's second history after the MSS came back" total_is bob $((before_bob + 1))
wait_for 10 "the queue to empty" queue_empty
sleep 3 # a duplicate would come with the next retry
[ "$(mss_total bob)" -eq $((before_bob + 1)) ] || fail "d) bob has $(mss_total bob) objects, want $((before_bob + 1))"
exit 0
