#!/usr/bin/env bash
# `make install`'s rules (issue 13 §5): cmake --install into a DESTDIR, with PREFIX /usr and
# /opt/cpmd: bin/cpm, bin/cpmctl, sbin/cpmd, the four man pages, the operator console (share/cpmd/console), lib/systemd/system/cpmd.service naming the
# installed cpmd and config file, and the example config (/etc/cpmd with /usr, else
# PREFIX/etc/cpmd), which the installed cpmd reads as it is.
. "$(dirname "$0")/lib.sh"

for prefix in /usr /opt/cpmd; do
	dest="$T_DIR/dest${prefix//\//_}"
	DESTDIR="$dest" cmake --install "$CPM_BUILD" --prefix "$prefix" >"$LOGDIR/install.log" 2>&1 ||
		fail "cmake --install --prefix $prefix failed: $(tail -5 "$LOGDIR/install.log")"
	conf=$([ "$prefix" = /usr ] && echo /etc/cpmd || echo "$prefix/etc/cpmd")
	(cd "$dest" && find . -type f | sed 's|^\.||' | sort) >"$LOGDIR/files"
	log "prefix $prefix: $(tr '\n' ' ' <"$LOGDIR/files")"
	for f in "$prefix/bin/cpm" "$prefix/bin/cpmctl" "$prefix/sbin/cpmd" "$prefix/share/cpmd/console/index.html" \
		"$prefix/share/cpmd/console/app.js" "$prefix/share/cpmd/console/style.css" "$prefix/share/man/man8/cpmd.8" "$prefix/share/man/man1/cpm.1" \
		"$prefix/share/man/man1/cpmctl.1" "$prefix/share/man/man5/cpmd.conf.5" \
		"$prefix/lib/systemd/system/cpmd.service" "$conf/cpmd.conf"; do
		grep -q -x -F "$f" "$LOGDIR/files" || fail "prefix $prefix: $f not installed"
	done
	[ "$(grep -c . "$LOGDIR/files")" = 12 ] || fail "prefix $prefix: unexpected files: $(tr '\n' ' ' <"$LOGDIR/files")"
	assert_grep "$dest$prefix/lib/systemd/system/cpmd.service" "^ExecStart=$prefix/sbin/cpmd --config $conf/cpmd.conf " \
		"the installed unit does not start $prefix/sbin/cpmd with $conf/cpmd.conf"
	assert_no_grep "$dest$prefix/lib/systemd/system/cpmd.service" '@[A-Z_]+@' "an unreplaced @VAR@ in the unit"
	"$dest$prefix/sbin/cpmd" --config "$dest$conf/cpmd.conf" --data-dir "$T_DIR/d" --dump-config >/dev/null \
		2>"$LOGDIR/conf.err" || fail "the installed cpmd refuses the installed config: $(cat "$LOGDIR/conf.err")"
	[ "$(stat -c %a "$dest$conf/cpmd.conf")" = 644 ] || fail "cpmd.conf mode $(stat -c %a "$dest$conf/cpmd.conf")"
	"$dest$prefix/sbin/cpmd" --version | grep -q '^cpmd [0-9]' || fail "the installed cpmd has no --version"
done
