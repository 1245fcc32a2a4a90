#!/usr/bin/env bash
# `make demo` (scripts/demo.sh) runs the whole story (act 1: store-and-forward of a
# file; act 2: a chat with a file in the middle, a message kept for an offline user) and
# checks each step itself; here it runs on random ports so it can never rot.
. "$(dirname "$0")/lib.sh"

sp=$(pick_port)
USED_PORTS="$USED_PORTS$sp "
mp=$(pick_port)
USED_PORTS="$USED_PORTS$mp "
ip=$(pick_port)
chmod o+x "$T_DIR" # the demo's Dovecot (act 3) runs its mail processes as the dovecot user
DEMO_SIP_PORT=$sp DEMO_MSRP_PORT=$mp DEMO_IMAP_PORT=$ip TMPDIR="$T_DIR" bash "$CPM_SRC/scripts/demo.sh" "$(dirname "$CPMD")" \
	>"$LOGDIR/demo.out" 2>&1 || fail "demo failed: $(tail -n 20 "$LOGDIR/demo.out")"
grep -q "^demo: OK" "$LOGDIR/demo.out" || fail "demo did not finish"
grep -q "^stored$" "$LOGDIR/demo.out" || fail "no 'stored' step"
grep -q "^notification delivered " "$LOGDIR/demo.out" || fail "no notification step"
# act 2: the chat with a file in the middle, and the message kept for Carol
grep -q "^file delivered notes.pdf" "$LOGDIR/demo.out" || fail "act 2: no file inside the chat"
grep -q "^chat sip:alice@localhost .* did the file arrive?" "$LOGDIR/demo.out" || fail "act 2: bob did not get the chat after the file"
grep -q "^message sip:alice@localhost [0-9a-f]* dinner at 8?" "$LOGDIR/demo.out" || fail "act 2: carol did not get the stored message"
# act 3: Bob's FT history in his message store, the file in it byte-identical
grep -q "^mailbox bob: ft-history from <sip:alice@localhost> (delivered): holiday.jpg, 2500000 bytes, byte-identical" \
	"$LOGDIR/demo.out" || fail "act 3: no FT history of holiday.jpg in Bob's mailbox"
log "demo OK"
