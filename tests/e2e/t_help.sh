#!/usr/bin/env bash
# Command-line surface: `cpmd --help` lists every documented option; `cpm
# --help` works and, with the subcommands' help, lists every client option;
# unknown options and bad values exit non-zero with a message naming them.
. "$(dirname "$0")/lib.sh"

rc=0
"$CPMD" --help >"$LOGDIR/cpmd.help" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "cpmd --help exited $rc"
for o in --domain --sip --msrp --data-dir --max-file-size --invite-timeout --message-timeout --max-pager-size \
	--config --help; do
	grep -q -e "$o\b" "$LOGDIR/cpmd.help" || fail "cpmd --help does not mention $o"
done

rc=0
"$CPM" --help >"$LOGDIR/cpm.help" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "cpm --help exited $rc"
[ -s "$LOGDIR/cpm.help" ] || fail "cpm --help printed nothing"
for w in send receive message --server --user; do
	grep -q -e "$w\b" "$LOGDIR/cpm.help" || fail "cpm --help does not mention '$w'"
done
# Subcommand options may be documented in the main help or in `cpm CMD --help`.
{ cat "$LOGDIR/cpm.help"; "$CPM" send --help 2>&1 || true; "$CPM" receive --help 2>&1 || true
  "$CPM" message --help 2>&1 || true; } >"$LOGDIR/cpm.allhelp"
for o in --device --transport --thumbnail --dir --count --timeout --answer --answer-delay --read --no-report \
	--expires; do
	grep -q -e "$o\b" "$LOGDIR/cpm.allhelp" || fail "no help text of cpm mentions $o"
done

# bad_cmd DESCRIPTION WORD_EXPECTED_IN_MESSAGE CMD...: must exit non-zero (not
# by a signal) and say something on stderr mentioning WORD.
bad_cmd() {
	local what=$1 word=$2 rc=0
	shift 2
	timeout 10 "$@" </dev/null >"$LOGDIR/bad.out" 2>"$LOGDIR/bad.err" || rc=$?
	[ $rc -ne 0 ] || fail "$what: exited 0"
	[ $rc -lt 124 ] || fail "$what: exit status $rc (timeout or signal)"
	grep -q -i -F -e "$word" "$LOGDIR/bad.err" "$LOGDIR/bad.out" ||
		fail "$what: the message does not mention '$word': $(cat "$LOGDIR/bad.err" "$LOGDIR/bad.out" | head -3)"
	log "$what -> exit $rc: $(head -n1 "$LOGDIR/bad.err")"
}
p=$(pick_port)
d="$T_DIR/d"
bad_cmd "cpmd --no-such-option" no-such-option "$CPMD" --no-such-option
bad_cmd "cpmd --sip with a bad port" notaport "$CPMD" --sip 127.0.0.1:notaport --msrp "127.0.0.1:$p" --data-dir "$d"
bad_cmd "cpmd --max-file-size abc" max-file-size "$CPMD" --sip "127.0.0.1:$p" --max-file-size abc --data-dir "$d"
bad_cmd "cpmd --config missing file" nonexistent.conf "$CPMD" --config "$T_DIR/nonexistent.conf"
bad_cmd "cpm --no-such-option" no-such-option "$CPM" --no-such-option
bad_cmd "cpm frobnicate (unknown command)" frobnicate "$CPM" --server "127.0.0.1:$p" --user sip:a@b frobnicate
bad_cmd "cpm send --no-such-option" no-such-option "$CPM" --server "127.0.0.1:$p" --user sip:a@b send sip:b@b /etc/hostname --no-such-option
bad_cmd "cpm receive --answer maybe" maybe "$CPM" --server "127.0.0.1:$p" --user sip:a@b receive --dir "$d" --answer maybe
bad_cmd "cpm send missing file" nonexistent "$CPM" --server "127.0.0.1:$p" --user sip:a@b send sip:b@b "$T_DIR/nonexistent"

# the messaging options of cpmd: in range or refused (exit 2, the option named)
cpmd_refused msgtimeout0 message-timeout --message-timeout 0
cpmd_refused msgtimeout31 message-timeout --message-timeout 31
cpmd_refused pager0 max-pager-size --max-pager-size 0
cpmd_refused pager-big max-pager-size --max-pager-size 20481
