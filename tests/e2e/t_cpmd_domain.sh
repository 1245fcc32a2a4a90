#!/usr/bin/env bash
# cpmd's --domain takes host names and IP literals only (comma-separated,
# blanks around them ignored): "bad domain!" used to be accepted and split in
# two domains ("bad" and "domain!"); now it is cpmd_refused with a clear error, on
# the command line and in a config file (FILE:LINE), and cpmd does not start.
# A valid list still works, every domain of it.
. "$(dirname "$0")/lib.sh"

cpmd_refused space-and-bang '"bad domain!" is not a domain name' --domain 'bad domain!'
cpmd_refused empty-entry 'an empty name' --domain 'a.example,,b.example'
cpmd_refused bad-label '"-x.example" is not a domain name' --domain 'ok.example, -x.example'
cpmd_refused twice 'listed twice' --domain 'a.example, A.example'
cpmd_refused shell-chars 'is not a domain name' --domain 'a.example;rm'
printf '# cpmd\ndomain = cpm.test, bad domain!   # a typo\n' >"$T_DIR/bad.conf"
cpmd_refused in-config "$T_DIR/bad.conf:2: invalid value for domain" --config "$T_DIR/bad.conf"

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
