#!/usr/bin/env bash
# The man pages (issue 13 §5): cpmd(8), cpm(1), cpmctl(1), cpmd.conf(5) render with `man -l`
# and groff without a warning, and never drift from the binary: cpmd(8) names every option of
# `cpmd --help`, cpmd.conf(5) every key of `cpmd --dump-config`, cpm(1) every command of
# `cpm --help`, cpmctl(1) every command and option of its interface.
. "$(dirname "$0")/lib.sh"

man_dir="$CPM_BUILD/man"
for p in man8/cpmd.8 man1/cpm.1 man1/cpmctl.1 man5/cpmd.conf.5; do
	f="$man_dir/$p"
	[ -s "$f" ] || fail "$f missing (the build generates it: scripts/gen-man.py)"
	groff -man -ww -z "$f" >"$LOGDIR/groff.$(basename "$f")" 2>&1 || fail "groff failed on $p"
	[ ! -s "$LOGDIR/groff.$(basename "$f")" ] || fail "groff warns on $p: $(head -5 "$LOGDIR/groff.$(basename "$f")")"
	MANWIDTH=80 man --warnings -l "$f" >"$LOGDIR/$(basename "$f").txt" 2>"$LOGDIR/man.$(basename "$f").err" ||
		fail "man -l $p failed"
	[ ! -s "$LOGDIR/man.$(basename "$f").err" ] || fail "man --warnings on $p: $(head -5 "$LOGDIR/man.$(basename "$f").err")"
	log "$p: $(wc -l <"$LOGDIR/$(basename "$f").txt") lines rendered"
done
txt="$LOGDIR"
for o in $(sed -n -E 's/^  --([a-z0-9-]+).*/\1/p' < <("$CPMD" --help)); do
	grep -q -e "--$o\b" "$txt/cpmd.8.txt" || fail "cpmd(8) does not document --$o"
done
for k in $(env -u JOURNAL_STREAM "$CPMD" --dump-config | sed -n -E 's/^(# )?([a-z0-9-]+) =.*/\2/p'); do
	grep -q -E "^ +$k = " "$txt/cpmd.conf.5.txt" || fail "cpmd.conf(5) does not document the key $k"
done
for s in SIGNALS SIGHUP SIGTERM FILES 'EXIT STATUS' NOTIFY_SOCKET JOURNAL_STREAM; do
	grep -q "$s" "$txt/cpmd.8.txt" || fail "cpmd(8) has no $s"
done
for c in $("$CPM" --help 2>&1 | sed -n -E '/^commands:/,/^$/s/^  ([a-z]+) .*/\1/p'); do
	grep -q -E "^ +$c\b" "$txt/cpm.1.txt" || fail "cpm(1) does not document the command $c"
done
for w in 'deferred list' 'deferred show' 'deferred purge' 'deferred retry' 'deferred expire' transfers users \
	health --admin --token --json; do
	grep -q -e "$w" "$txt/cpmctl.1.txt" || fail "cpmctl(1) does not document '$w'"
done
