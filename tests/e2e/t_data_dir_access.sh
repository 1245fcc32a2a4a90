#!/usr/bin/env bash
# A data directory cpmd may not write is reported with the real path and
# errno ("Permission denied"), never as "No such file or directory" (what
# the SQLite store turns any can't-open into), and cpmd exits non-zero
# without becoming ready. Cases: the directory itself belongs to someone
# else; the directory is ours but cpmd.db (left by a run as another user)
# is not; a blob directory is not; the path goes through a regular file.
# Permissions mean nothing to root, so as root the cases run as `nobody`
# (setpriv); they are skipped when that is impossible.
. "$(dirname "$0")/lib.sh"

as_user=()
if [ "$(id -u)" = 0 ]; then
	if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 &&
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups test -x "$CPMD"; then
		as_user=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
	else
		log "SKIP the permission cases: root, and cannot run $CPMD as nobody"
	fi
fi
chmod 755 "$T_DIR"

# try NAME DATA_DIR EXPECTED_REGEX: cpmd must exit non-zero with that message.
try() {
	local name=$1 dir=$2 want=$3 rc=0 s m
	s=$(pick_port)
	USED_PORTS="$USED_PORTS$s "
	m=$(pick_port)
	USED_PORTS="$USED_PORTS$m "
	timeout -k 2 10 "${as_user[@]}" "$CPMD" --domain "$DOMAIN" --sip "$HOST:$s" --msrp "$HOST:$m" \
		--data-dir "$dir" </dev/null >"$LOGDIR/cpmd.$name.log" 2>&1 || rc=$?
	[ $rc -ne 0 ] && [ $rc -lt 124 ] || fail "$name: cpmd exited $rc (an error exit expected)"
	assert_no_grep "$LOGDIR/cpmd.$name.log" 'cpmd: ready' "$name: cpmd said ready"
	assert_no_grep "$LOGDIR/cpmd.$name.log" 'No such file or directory' "$name: misleading errno"
	assert_grep "$LOGDIR/cpmd.$name.log" "$want" "$name: expected /$want/ in: $(grep -m1 error "$LOGDIR/cpmd.$name.log")"
	log "$name: exit $rc: $(grep -m1 error "$LOGDIR/cpmd.$name.log")"
}

if [ "$(id -u)" != 0 ] || [ ${#as_user[@]} -gt 0 ]; then
	owner=() # files "someone else" owns: root's when we run as nobody, else made read-only
	[ ${#as_user[@]} -gt 0 ] && owner=(chown root:root)
	other=$T_DIR/other
	mkdir -p "$other/data/blobs/tmp"
	chmod 755 "$other" "$other/data"
	[ ${#as_user[@]} -gt 0 ] || chmod 555 "$other/data"
	try dir-not-ours "$other/data" "$other/data.*Permission denied"

	ours=$T_DIR/ours
	mkdir -p "$ours/blobs/tmp"
	: >"$ours/cpmd.db"
	chmod 644 "$ours/cpmd.db"
	if [ ${#as_user[@]} -gt 0 ]; then
		chown -R nobody "$ours"
		chown root:root "$ours/cpmd.db"
	else
		chmod 444 "$ours/cpmd.db"
	fi
	try db-not-ours "$ours" "store file $ours/cpmd\\.db is not writable by this user: Permission denied"

	blobs=$T_DIR/blobs
	mkdir -p "$blobs/blobs/tmp"
	if [ ${#as_user[@]} -gt 0 ]; then
		chown nobody "$blobs" "$blobs/blobs"
		chmod 755 "$blobs/blobs" "$blobs/blobs/tmp"
	else
		chmod 555 "$blobs/blobs/tmp"
	fi
	try blobs-not-ours "$blobs" "$blobs/blobs/tmp is not writable by this user: Permission denied"
fi

touch "$T_DIR/plainfile"
try through-a-file "$T_DIR/plainfile/data" "cpmd: error: cannot create data directory $T_DIR/plainfile/data.*: Not a directory"
