#!/usr/bin/env bash
# The hash cache of `cpm send` (src/client/hash_cache.c): sending an unchanged
# file again takes its sha-1 from the state directory instead of reading the
# file; a file changed in any way since (same size and a restored mtime
# included: its ctime differs) is hashed again, and the INVITE's file-selector
# carries the new hash, never the cached one; a file changed less than 2 s ago
# is not recorded (its next change could share the timestamp); --no-resume
# neither reads nor writes the cache.
. "$(dirname "$0")/lib.sh"

J="$T_DIR/state"
F="$T_DIR/file.bin"
start_cpmd
start_receiver bob bob phone --count 7 --timeout 55

# selector form of a sha-1: AB:CD:... (RFC 5547 / RFC 4572 hash syntax)
sel_hash() { sha1 "$1" | tr a-f A-F | sed 's/../&:/g; s/:$//'; }
entry() { find "$J" -name 'hash-*.sha1' 2>/dev/null; }
# send_v NAME FILE [options]: a verbose send with its SIP trace; must end delivered
send_v() {
	local name=$1 file=$2
	shift 2
	TPORT_LOG=1 send_file "$name" alice bob "$file" --verbose --journal "$J" "$@"
	expect_delivered
	assert_grep "$SEND_ERR" "a=file-selector:.*hash:sha-1:$(sel_hash "$file")" \
		"send $name: the INVITE's selector does not carry the file's own sha-1"
}

gen_file "$F" 300000
touch -d '-1 hour' "$F"
sleep 2.2 # the cache records only a file whose ctime is 2 s old

send_v first "$F"
assert_grep "$SEND_ERR" "sha-1 of .*: read and hashed" "first send: not hashed"
[ "$(entry | wc -l)" -eq 1 ] || fail "first send: $(entry | wc -l) hash cache entries, 1 expected"
assert_grep "$(entry)" "^sha1 $(sha1 "$F")\$" "the entry does not hold the file's sha-1"
assert_grep "$(entry)" "^size 300000\$" "the entry does not hold the file's size"

send_v again "$F"
assert_grep "$SEND_ERR" "sha-1 of .*: from the hash cache" "an unchanged file was hashed again"

# Same path, same size, same mtime (restored), other bytes: the ctime tells.
touch -r "$F" "$T_DIR/stamp"
old=$(sha1 "$F")
printf 'changed' | dd of="$F" bs=1 seek=1000 conv=notrunc status=none
touch -r "$T_DIR/stamp" "$F"
[ "$(stat -c '%s %Y' "$F")" = "$(stat -c '%s %Y' "$T_DIR/stamp" | sed 's/^[0-9]*/300000/')" ] ||
	fail "could not restore size and mtime"
[ "$(sha1 "$F")" != "$old" ] || fail "the change did not change the file"
send_v same_size_mtime "$F"
assert_grep "$SEND_ERR" "sha-1 of .*: read and hashed" "a changed file (same size and mtime) was not hashed again"
assert_no_grep "$SEND_ERR" "hash:sha-1:$(echo "$old" | tr a-f A-F | sed 's/../&:/g; s/:$//')" \
	"the stale sha-1 was sent"
# just changed: not recorded (the entry still describes the old file)
assert_grep "$(entry)" "^sha1 $old\$" "an entry was recorded for a file changed less than 2 s before"

# Right after, again: still hashed (nothing was recorded for the racy file)
send_v racy "$F"
assert_grep "$SEND_ERR" "sha-1 of .*: read and hashed" "a file changed less than 2 s before was taken from the cache"

# Other size (appended), other mtime
printf 'more' >>"$F"
sleep 2.2
send_v appended "$F"
assert_grep "$SEND_ERR" "sha-1 of .*: read and hashed" "an appended file was not hashed again"
assert_grep "$(entry)" "^sha1 $(sha1 "$F")\$" "the entry was not updated for the appended file"
send_v appended_again "$F"
assert_grep "$SEND_ERR" "sha-1 of .*: from the hash cache" "the updated entry was not used"

# --no-resume: no state at all
TPORT_LOG=1 send_file none alice bob "$F" --verbose --journal "$T_DIR/none" --no-resume
expect_delivered
assert_grep "$SEND_ERR" "sha-1 of .*: read and hashed" "--no-resume used a hash cache"
[ -z "$(find "$T_DIR/none" -type f 2>/dev/null)" ] || fail "--no-resume wrote to the state directory"

wait_exit "${RECV_PID[bob]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
[ "$(grep -c '^received ' "${RECV_OUT[bob]}")" -eq 7 ] || fail "receiver: not 7 files received"
assert_received bob "$F"
log "ok"
