#!/usr/bin/env bash
# cpmscreen against a real clamd (tests/lib_clamd.sh): EICAR in a file, at an offset inside a
# larger file and in memory is INFECTED with the database's name; a clean 10 MiB random file is
# CLEAN; the range given is the range scanned; a stream over StreamMaxLength is TOO_BIG (from
# clamd, and at once when the caller knows the limit); a file shorter than the range is an
# ERROR; eight threads scanning at once all get the answer; over the unix socket and TCP.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=tests/lib_clamd.sh
. "$CPM_SRC/tests/lib_clamd.sh"
PROBE=${CLAMD_PROBE:-$CPM_BUILD/clamd_probe}
need_bin "$PROBE"

# expect ADDR WANT_REGEX ARGS...: one probe call whose line must match WANT_REGEX.
expect() {
	local addr=$1 want=$2 out
	shift 2
	out=$("$PROBE" "$addr" --reply-ms 10000 "$@") || fail "clamd_probe $* exited $?: $out"
	[[ "$out" =~ $want ]] || fail "clamd_probe $addr $*: got '$out', want /$want/"
	log "$* -> $out"
}

clamd_start "$T_DIR/clamd"
F="$T_DIR/files"
mkdir -p "$F"
eicar_write "$F/eicar"
[ "$(stat -c %s "$F/eicar")" = 68 ] || fail "the EICAR string is not 68 bytes"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$F/clean10m"
# EICAR at an offset that is not on a 64 KiB chunk boundary, so it straddles two chunks
MB=$((1024 * 1024))
head -c $((MB + 65500)) /dev/urandom >"$F/inside"
cat "$F/eicar" >>"$F/inside"
head -c $MB /dev/urandom >>"$F/inside"
OFF=$((MB + 65500))
SIG="^INFECTED ${CLAMD_SIG//./\\.} ms="

for addr in "$CLAMD_UNIX" "$CLAMD_TCP"; do
	expect "$addr" "$SIG" file "$F/eicar"
	expect "$addr" "^CLEAN ms=" file "$F/clean10m"
	expect "$addr" "$SIG" file "$F/inside"
	expect "$addr" "$SIG" buf "$F/eicar"
	expect "$addr" "^CLEAN ms=" buf "$F/clean10m"
done
# the range is what is scanned: before it, exactly it, one byte short of it, after it
expect "$CLAMD_UNIX" "^CLEAN ms=" file "$F/inside" 0 "$OFF"
expect "$CLAMD_UNIX" "$SIG" file "$F/inside" "$OFF" 68
expect "$CLAMD_UNIX" "$SIG" file "$F/inside" $((OFF - 1000)) 2000
expect "$CLAMD_UNIX" "^CLEAN ms=" file "$F/inside" $((OFF + 1)) 67
expect "$CLAMD_UNIX" "^CLEAN ms=" file "$F/inside" "$OFF" 67
expect "$CLAMD_UNIX" "^CLEAN ms=" file "$F/inside" $((OFF + 68)) "$MB"
# a range past the end of the file: not scanned, and said so
expect "$CLAMD_UNIX" "^ERROR screen: file ends at " file "$F/inside" $((OFF + 68)) $((MB + 1))
# an empty stream is a clean one
: >"$F/empty"
expect "$CLAMD_UNIX" "^CLEAN ms=" file "$F/empty"

# over StreamMaxLength: clamd cuts the stream and says so; the class is TOO_BIG, not ERROR
head -c $((CLAMD_STREAM_MAX + 1)) /dev/urandom >"$F/big"
expect "$CLAMD_UNIX" "^TOO_BIG clamd: INSTREAM size limit exceeded\\. ERROR ms=" file "$F/big"
expect "$CLAMD_TCP" "^TOO_BIG clamd: INSTREAM size limit exceeded\\. ERROR ms=" file "$F/big"
# exactly StreamMaxLength passes
expect "$CLAMD_UNIX" "^CLEAN ms=" file "$F/big" 0 "$CLAMD_STREAM_MAX"
# a caller that knows the limit does not even connect
expect "$CLAMD_UNIX" "^TOO_BIG screen: $((CLAMD_STREAM_MAX + 1)) bytes exceed clamd's StreamMaxLength" \
	--stream-max "$CLAMD_STREAM_MAX" file "$F/big"
# and the same connection limit does not refuse what fits
expect "$CLAMD_UNIX" "$SIG" --stream-max "$CLAMD_STREAM_MAX" file "$F/inside"

# eight threads at once, each its own connection: every one infected, and every one clean
out=$("$PROBE" "$CLAMD_UNIX" threads 8 "$F/inside")
[ "$(grep -c "^INFECTED $CLAMD_SIG " <<<"$out")" = 8 ] || fail "8 threads on EICAR: $out"
out=$("$PROBE" "$CLAMD_TCP" threads 8 "$F/clean10m")
[ "$(grep -c '^CLEAN ' <<<"$out")" = 8 ] || fail "8 threads on a clean file: $out"

# clamd saw every stream (the log is clamd's own: it names what it found)
grep -q "instream(local): $CLAMD_SIG FOUND" "$CLAMD_LOG" || fail "clamd's log does not show the unix detection"
grep -q "instream(127.0.0.1@[0-9]*): $CLAMD_SIG FOUND" "$CLAMD_LOG" || fail "clamd's log does not show the TCP detection"
clamd_stop
