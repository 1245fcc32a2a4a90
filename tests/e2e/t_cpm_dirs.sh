#!/usr/bin/env bash
# cpm's directories: `receive --dir` and `fetch --dir` create a missing
# directory (mkdir -p; "cpm: created directory DIR" on stderr) so that the
# README's commands run as written; a --dir that cannot be a directory is
# refused with its path and the real errno. The resume journal / state
# directory messages name the real directory and errno (they said "$HOME"
# whatever the path, with a stale errno when $HOME was unset).
. "$(dirname "$0")/lib.sh"

start_cpmd
dir="$T_DIR/not/yet/there"
before=$(reg_count bob)
"$CPM" --server "$HOST:$SIP_PORT" --user "sip:bob@$DOMAIN" receive --dir "$dir" --count 1 --timeout 60 \
	</dev/null >"$LOGDIR/recv.out" 2>"$LOGDIR/recv.err" &
rpid=$!
PIDS+=("$rpid")
registered() {
	kill -0 "$rpid" 2>/dev/null || fail "cpm receive --dir (missing) exited: $(cat "$LOGDIR/recv.out" "$LOGDIR/recv.err")"
	[ "$(reg_count bob)" -gt "$before" ]
}
wait_for 15 "bob registered" registered
[ -d "$dir" ] || fail "cpm receive did not create --dir $dir"
assert_grep "$LOGDIR/recv.err" "^cpm: created directory $dir\$"
gen_file "$T_DIR/a.bin" 5000
send_file a alice bob "$T_DIR/a.bin"
expect_delivered
wait_exit "$rpid" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit $WAIT_RC"
[ "$(sha1 "$dir/a.bin")" = "$(sha1 "$T_DIR/a.bin")" ] || fail "$dir/a.bin differs from what was sent"

# fetch too (nothing to fetch: the directory is made before asking)
rc=0
"$CPM" --server "$HOST:$SIP_PORT" --user "sip:bob@$DOMAIN" fetch noitem --dir "$T_DIR/fetch/here" \
	</dev/null >"$LOGDIR/fetch.out" 2>"$LOGDIR/fetch.err" || rc=$?
[ -d "$T_DIR/fetch/here" ] || fail "cpm fetch did not create --dir"
assert_grep "$LOGDIR/fetch.out" '^failed: no such item noitem$'

# a --dir through a regular file: refused, path and errno, exit 2
touch "$T_DIR/file"
rc=0
"$CPM" --server "$HOST:$SIP_PORT" --user "sip:bob@$DOMAIN" receive --dir "$T_DIR/file/sub" --timeout 5 \
	</dev/null >"$LOGDIR/bad.out" 2>"$LOGDIR/bad.err" || rc=$?
[ $rc -eq 2 ] || fail "receive --dir through a file: exit $rc, 2 expected"
assert_grep "$LOGDIR/bad.err" "cpm: cannot (create|open) directory $T_DIR/file/sub: Not a directory"

# the send journal's directory: the real path and errno
send_file j alice bob "$T_DIR/a.bin" --journal "$T_DIR/file/journal"
assert_grep "$SEND_ERR" "no resume journal \\(cannot use directory $T_DIR/file/journal: Not a directory\\)"
rc=0
env -u HOME -u XDG_STATE_HOME "$CPM" --server "$HOST:$SIP_PORT" --user "sip:alice@$DOMAIN" send bob "$T_DIR/a.bin" \
	</dev/null >"$LOGDIR/nohome.out" 2>"$LOGDIR/nohome.err" || rc=$?
assert_grep "$LOGDIR/nohome.err" 'no resume journal \(no --journal, and neither \$XDG_STATE_HOME nor \$HOME is set\)'
