#!/usr/bin/env bash
# A chat session's history in the users' message stores (issue 11 §2, docs/internals/mss.md),
# real Dovecot: alice and bob keep histories; alice chats with bob (two messages, bob replies to
# each, delivered and displayed notifications inside the session). When the session ends, each
# has one session-history object whose records (decoded with Python's email package) hold the
# four messages — their texts included — and the notifications exchanged, in order of the
# session. carol keeps histories too but has no device: alice's invitation to her is missed,
# and carol's mailbox still gets the session's history, marked missed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat_lib.sh"
. "$CPM_SRC/tests/lib_dovecot.sh"

MSS_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$MSS_PORT "
dovecot_start "$T_DIR/dovecot" "$MSS_PORT"
printf 'carol:{PLAIN}carolpass\n' >>"$T_DIR/dovecot/etc/users"
start_cpmd --mss "imap://127.0.0.1:$MSS_PORT" --mss-master-user admin --mss-master-password adminpass \
	--user-pref "alice@$DOMAIN:history=on" --user-pref "bob@$DOMAIN:history=on" \
	--user-pref "carol@$DOMAIN:history=on" --invite-timeout 3

# session_objects USER OUT: the session-history objects of USER's CPM/* folders into OUT
session_objects() {
	local f
	rm -rf "$2"
	mkdir -p "$2"
	while read -r f; do
		case "$f" in CPM/*) dovecot_fetch "$1" "$f" "$2/$(echo "$f" | tr / _)" ;; esac
	done < <(dovecot_folders "$1" 2>/dev/null)
	grep -l -r -i '^X-CPM-Kind: session-history' "$2" 2>/dev/null || true
}
has_session() { [ -n "$(session_objects "$1" "$T_DIR/probe.$1")" ]; }

# --- a session both keep ------------------------------------------------------------------
start_receiver bob bob phone --answer accept --read --reply "hi alice, got it"
conv=conv-hist-$RANDOM$RANDOM
start_chat a alice bob --conversation-id "$conv"
chat_wait_up a
chat_round_trip a bob "sip:alice@$DOMAIN" "sip:bob@$DOMAIN" "$conv" "hi alice, got it"
wait_for 20 "bob's session history in his message store" has_session bob
wait_for 10 "alice's session history in hers" has_session alice
for u in bob alice; do
	objs=$(session_objects "$u" "$T_DIR/mss.$u")
	[ "$(echo "$objs" | grep -c .)" -eq 1 ] || fail "$u: expected one session history, got: $objs"
	python3 - "$objs" "$conv" <<'PY' || fail "$u's session history does not hold the conversation"
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
fails = []
if m["Conversation-ID"] != sys.argv[2]: fails.append(f"Conversation-ID {m['Conversation-ID']}")
if m["X-CPM-Disposition"] != "ended": fails.append(f"X-CPM-Disposition {m['X-CPM-Disposition']}")
recs = [p for p in m.walk() if p.get("X-CPM-Record")]
kinds = [p["X-CPM-Record"] for p in recs]
bodies = [p.get_payload(decode=True) for p in recs]
texts = b"\n".join(bodies)
msgs = [b for k, b in zip(kinds, bodies) if k == "message"]
notes = [k for k in kinds if k == "notification"]
if len(msgs) != 4: fails.append(f"{len(msgs)} message records, want 4 ({kinds})")
if len(notes) < 2: fails.append(f"{len(notes)} notification records, want at least 2 ({kinds})")
for t in (b"hello 1", b"hello 2", b"hi alice, got it"):
    if t not in texts: fails.append(f"no record holds {t!r}")
if msgs and b"hello 1" not in msgs[0]: fails.append("the first record is not alice's first message")
for f in fails: print("FAIL", f)
sys.exit(1 if fails else 0)
PY
done

# --- a missed invitation --------------------------------------------------------------------
start_chat m alice carol --conversation-id "missed-$conv"
wait_exit "${CHAT_PID[m]}" 30
[ "$WAIT_RC" != 0 ] || fail "the chat with carol (no device) succeeded"
wait_for 20 "carol's history of the missed session" has_session carol
obj=$(session_objects carol "$T_DIR/mss.carol")
grep -q -i '^X-CPM-Disposition: missed' "$obj" || fail "carol's session history is not marked missed"
exit 0
