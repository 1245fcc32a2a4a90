#!/usr/bin/env bash
# cpm against an address where no server listens: every command says so,
# `failed: no answer from the server at ADDR:PORT (udp|tcp)`, exit 1 — not
# the `SIP 503 Service Unavailable` that sofia makes up locally when the
# transport fails. A real 503 from cpmd (too many transfers) is still shown
# as received: `rejected: 503 Too Many Transfers`, exit 4.
. "$(dirname "$0")/lib.sh"

dead=$(pick_port)
USED_PORTS="$USED_PORTS$dead "
mkdir -p "$T_DIR/dir"
gen_file "$T_DIR/f.bin" 1000
# run NAME TRANSPORT cpm-args...: expects the no-answer line and exit 1.
run() {
	local name=$1 tp=$2 rc=0 last
	shift 2
	timeout -k 2 30 "$CPM" --server "$HOST:$dead" --transport "$tp" --user "sip:alice@$DOMAIN" "$@" \
		</dev/null >"$LOGDIR/$name.out" 2>"$LOGDIR/$name.err" || rc=$?
	last=$(tail -n 1 "$LOGDIR/$name.out")
	[ "$last" = "failed: no answer from the server at $HOST:$dead ($tp)" ] ||
		fail "$name: last line '$last' (exit $rc), expected 'failed: no answer from the server at $HOST:$dead ($tp)'"
	[ $rc -eq 1 ] || fail "$name: exit $rc, 1 expected"
	assert_no_grep "$LOGDIR/$name.out" '503' "$name: the locally made-up 503 is shown"
	log "$name: $last"
}
for tp in udp tcp; do
	run "send-$tp" "$tp" send bob "$T_DIR/f.bin" --no-resume
	run "receive-$tp" "$tp" receive --dir "$T_DIR/dir" --timeout 20
	run "list-$tp" "$tp" list
	run "fetch-$tp" "$tp" fetch someitem --dir "$T_DIR/dir"
done

# A real 503, from cpmd: one transfer at most, a second one while the first rings
# (nua honours its Retry-After: 5 three times first, so this takes ~15 s).
start_cpmd --max-transfers 1
start_receiver bob bob phone --answer ignore --timeout 60
send_file_bg ringing alice bob "$T_DIR/f.bin" --no-resume
wait_for 15 "the first transfer ringing at bob's device" grep -q 'forking to 1 device' "$CPMD_LOG"
send_file second carol bob "$T_DIR/f.bin" --no-resume
[ "$SEND_RC" -eq 4 ] && [ "$SEND_LAST" = "rejected: 503 Too Many Transfers" ] ||
	fail "cpmd's own 503: exit $SEND_RC, last line '$SEND_LAST' ('rejected: 503 Too Many Transfers', exit 4 expected)"
