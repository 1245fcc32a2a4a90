#!/usr/bin/env bash
# cpmd's --domain takes host names and IP literals only (comma-separated,
# blanks around them ignored): "bad domain!" used to be accepted and split in
# two domains ("bad" and "domain!"); now it is refused with a clear error, on
# the command line and in a config file (FILE:LINE), and cpmd does not start.
# A valid list still works, every domain of it.
. "$(dirname "$0")/lib.sh"

# refused NAME WORD cpmd-args...: exit 2, a message with WORD, no `ready`.
refused() {
	local name=$1 word=$2 rc=0
	shift 2
	timeout -k 2 10 "$CPMD" --sip "$HOST:$(pick_port)" --data-dir "$T_DIR/data.$name" "$@" \
		</dev/null >"$LOGDIR/cpmd.$name.log" 2>&1 || rc=$?
	[ $rc -eq 2 ] || fail "$name: cpmd exit $rc, 2 (usage) expected: $(head -n 2 "$LOGDIR/cpmd.$name.log")"
	assert_no_grep "$LOGDIR/cpmd.$name.log" 'cpmd: ready'
	grep -q -F -e "$word" "$LOGDIR/cpmd.$name.log" ||
		fail "$name: the error does not say '$word': $(head -n 2 "$LOGDIR/cpmd.$name.log")"
	[ ! -e "$T_DIR/data.$name" ] || fail "$name: cpmd created its data directory"
	log "$name: $(head -n 1 "$LOGDIR/cpmd.$name.log")"
}
refused space-and-bang '"bad domain!" is not a domain name' --domain 'bad domain!'
refused empty-entry 'an empty name' --domain 'a.example,,b.example'
refused bad-label '"-x.example" is not a domain name' --domain 'ok.example, -x.example'
refused twice 'listed twice' --domain 'a.example, A.example'
refused shell-chars 'is not a domain name' --domain 'a.example;rm'
printf '# cpmd\ndomain = cpm.test, bad domain!   # a typo\n' >"$T_DIR/bad.conf"
refused in-config "$T_DIR/bad.conf:2: invalid value for domain" --config "$T_DIR/bad.conf"

# Valid lists still work: blanks around names, an IP literal; both domains are ours.
start_cpmd --domain " $DOMAIN , other.example,127.0.0.1 "
assert_grep "$CPMD_LOG" "cpmd: ready domain=$DOMAIN " "ready line: $(grep 'cpmd: ready' "$CPMD_LOG")"
# reg D: `cpm receive` as dave@D registers (then times out: exit 1), or is refused.
reg() {
	timeout 20 "$CPM" --server "$HOST:$SIP_PORT" --user "sip:dave@$1" receive --dir "$T_DIR" --timeout 1 \
		</dev/null >"$LOGDIR/reg.$1.out" 2>"$LOGDIR/reg.$1.err" || true
}
for d in other.example 127.0.0.1; do
	reg "$d"
	assert_grep "$LOGDIR/reg.$d.err" "registered sip:dave@$d" "dave@$d (a domain of this cpmd) did not register: $(cat "$LOGDIR/reg.$d.out")"
done
reg elsewhere.example
assert_grep "$LOGDIR/reg.elsewhere.example.out" '^failed: REGISTER 403' "dave@elsewhere.example was not refused"
