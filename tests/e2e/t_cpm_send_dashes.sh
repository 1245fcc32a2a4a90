#!/usr/bin/env bash
# `cpm send` reads a chunk's bytes for the end-line check only when the file may need it
# (src/client/hash_cache.c, msrp_out.c; RFC 4975 §7.1: the body MUST NOT contain the end-line
# "-------" tid flag). The pass that hashes the file also finds whether it holds a run of seven
# '-': without one no chunk can hold an end-line, whatever the tid, and the chunks leave by
# sendfile() unread; with one, every chunk is read and a tid is drawn that it does not hold.
#  a) random bytes without '-': "chunks go out unread", the cache entry says
#     `seven-dashes no`, and the next send (sha-1 from the cache) sends them unread too;
#  b) text full of seven-dash runs and fake end-lines (other tids, every flag): "checked",
#     `seven-dashes yes`; received byte-identical in 2 KiB chunks;
#  c) a run split by the hash pass's 1 MiB reads (3 dashes before the boundary, 4 after):
#     found; 3 + 3 across it is not a run of seven: unread;
#  d) an entry without the line (an older cpm's): the sha-1 is used, the chunks are checked.
. "$(dirname "$0")/lib.sh"

J="$T_DIR/state"
entry() { grep -l -x "sha1 $(sha1 "$1")" "$J"/hash-*.sha1 2>/dev/null | head -n 1; } # FILE's cache entry
start_cpmd
start_receiver bob bob phone --count 7 --timeout 60

# send_v NAME FILE: a verbose send with 2 KiB chunks that must end delivered
send_v() {
	send_file "$1" alice bob "$2" --verbose --journal "$J"
	expect_delivered
}
unread() { assert_grep "$SEND_ERR" "no run of seven '-' in it: chunks go out unread" "$1"; }
checked() { assert_grep "$SEND_ERR" "chunks are checked for their end-line" "$1"; }
# no_dash_file PATH SIZE: random bytes without any '-'
no_dash_file() {
	tr -d -- '-' </dev/urandom | head -c "$2" >"$1" || true # tr ends by SIGPIPE
	[ "$(stat -c %s "$1")" -eq "$2" ] || fail "could not make $1"
}
# put PATH OFFSET TEXT: overwrite bytes of PATH at OFFSET
put() { printf '%s' "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

CPM_GLOBAL_OPTS="--chunk-size 2048"

# a) random bytes, no '-'
no_dash_file "$T_DIR/a.bin" 300000
touch -d '-1 hour' "$T_DIR/a.bin"
sleep 2.2 # the cache records only a file whose ctime is 2 s old
send_v a "$T_DIR/a.bin"
assert_grep "$SEND_ERR" "sha-1 of .*: read and hashed" "a) not hashed"
unread "a) a file without seven dashes was read for the end-line check"
assert_grep "$(entry "$T_DIR/a.bin")" '^seven-dashes no$' "a) the cache entry does not record the dash-free file"
send_v a_again "$T_DIR/a.bin"
assert_grep "$SEND_ERR" "sha-1 of .*: from the hash cache" "a) the second send hashed again"
unread "a) the cached entry did not keep the dash-free fact"

# b) seven-dash runs and fake end-lines everywhere
for i in $(seq 1 400); do
	printf 'line %d\r\n-------\r\n-------%08d$\r\n-------abcdefgh+\r\n---------------#\r\n' "$i" "$i"
done >"$T_DIR/b.txt"
touch -d '-1 hour' "$T_DIR/b.txt"
sleep 2.2
send_v b "$T_DIR/b.txt"
checked "b) a file with seven-dash runs was sent unread"
assert_grep "$(entry "$T_DIR/b.txt")" '^seven-dashes yes$' "b) the cache entry does not record the dashes"
send_v b_again "$T_DIR/b.txt"
checked "b) the cached entry lost the dashes"

# c) across the 1 MiB reads of the hash pass
M=1048576
no_dash_file "$T_DIR/c7.bin" $((2 * M + 5000))
put "$T_DIR/c7.bin" $((M - 3)) '---'
put "$T_DIR/c7.bin" "$M" '----'
send_v c7 "$T_DIR/c7.bin"
checked "c) a run of seven split 3 + 4 by the hash pass's reads was missed"
no_dash_file "$T_DIR/c6.bin" $((2 * M + 5000))
put "$T_DIR/c6.bin" $((M - 3)) '---'
put "$T_DIR/c6.bin" "$M" '---'
send_v c6 "$T_DIR/c6.bin"
unread "c) 3 + 3 dashes across a read boundary taken for a run of seven"

# d) an entry of an older cpm: no seven-dashes line
sed -i '/^seven-dashes /d' "$(entry "$T_DIR/a.bin")"
send_v d "$T_DIR/a.bin"
assert_grep "$SEND_ERR" "sha-1 of .*: from the hash cache" "d) the older entry was not used for the sha-1"
checked "d) an entry that does not say sent the chunks unread"

wait_exit "${RECV_PID[bob]}" 30
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
for f in a.bin b.txt c7.bin c6.bin; do assert_received bob "$T_DIR/$f"; done
log "ok"
