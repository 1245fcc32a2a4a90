#!/usr/bin/env bash
# `make demo`: store-and-forward in one minute, on cpmd's embedded defaults.
#
#   1. cpmd starts (domain localhost, SIP 127.0.0.1:5060, MSRP 127.0.0.1:2855).
#   2. Alice sends a file to Bob, who is offline: cpmd keeps it (`stored`).
#   3. Alice's phone comes online to hear about it later.
#   4. Bob comes online on two devices: cpmd pushes the file (forked to every
#      device registered at that moment; the first to accept takes it, the
#      others are cancelled); exactly one device gets it.
#   5. Alice gets the delivery notification (`notification delivered ID`).
# Act 2 (messages and sessions, issue 8):
#   6. Alice opens a chat with Bob's phone; Bob's phone answers every message;
#      in the middle Alice sends a file inside the conversation (its own
#      INVITE with the chat's Conversation-ID); the chat goes on after it.
#   7. Alice writes to Carol, who is offline: cpmd stores the message
#      (`stored`); Carol comes online, gets it, and Alice is told
#      (`notification delivered ID`).
# Act 3 (the user's message store, issue 11):
#   8. Bob keeps histories (--user-pref bob@localhost:history=on): his mailbox on the
#      demo's own Dovecot (the Message Storage Server, IMAP on 127.0.0.1:10143, master user
#      admin) holds the FT history of holiday.jpg, its file part byte-identical, and the
#      history of the chat. Skipped, with a line saying so, when Dovecot is not installed.
#
# Usage: scripts/demo.sh [BUILD_DIR]   (env DEMO_SIP_PORT / DEMO_MSRP_PORT / DEMO_IMAP_PORT
# to move off 5060/2855/10143, DEMO_KEEP=1 to keep the work directory)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
CPMD="$BUILD/cpmd"
CPM="$BUILD/cpm"
SIP_PORT=${DEMO_SIP_PORT:-5060}
MSRP_PORT=${DEMO_MSRP_PORT:-2855}
IMAP_PORT=${DEMO_IMAP_PORT:-10143}
SERVER="127.0.0.1:$SIP_PORT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cpmd-demo.XXXXXX")
PIDS=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
die() {
	echo "demo: $*" >&2
	echo "--- cpmd log (last 30 lines) ---" >&2
	tail -n 30 "$WORK/cpmd.log" >&2 || true
	exit 1
}
wait_for() { # wait_for SECONDS CMD...
	local t=$(($1 * 10))
	shift
	while ! "$@"; do
		t=$((t - 1))
		[ "$t" -gt 0 ] || return 1
		sleep 0.1
	done
}

[ -x "$CPMD" ] && [ -x "$CPM" ] || die "build first (make build), or pass the build directory"
mkdir -p "$WORK/alice" "$WORK/bob-phone" "$WORK/bob-laptop"

# The message store of act 3: a private Dovecot (tests/lib_dovecot.sh, the tests' own set-up)
MSS_OPTS=()
if command -v dovecot >/dev/null && [ "$(id -u)" = 0 ]; then
	fail() { die "$@"; }
	LOGDIR=$WORK ARTIFACTS=()
	# shellcheck source=../tests/lib_dovecot.sh
	. "$ROOT/tests/lib_dovecot.sh"
	dovecot_start "$WORK/dovecot" "$IMAP_PORT"
	PIDS+=("$DOVECOT_PID")
	MSS_OPTS=(--mss "imap://127.0.0.1:$IMAP_PORT" --mss-master-user "$DOVECOT_MASTER_USER"
		--mss-master-password "$DOVECOT_MASTER_PASSWORD" --user-pref bob@localhost:history=on)
fi

say "1. cpmd starts on its defaults (data in $WORK/data)${MSS_OPTS[*]:+, with a message store for Bob}"
"$CPMD" --sip "$SERVER" --msrp "127.0.0.1:$MSRP_PORT" --data-dir "$WORK/data" \
	--delivery-retry 1:5 "${MSS_OPTS[@]}" >"$WORK/cpmd.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q "cpmd: ready" "$WORK/cpmd.log" || die "cpmd did not start (port $SIP_PORT or $MSRP_PORT taken?)"
grep "cpmd: ready" "$WORK/cpmd.log"

say "2. Alice sends holiday.jpg to Bob, who is offline"
head -c 2500000 /dev/urandom >"$WORK/alice/holiday.jpg"
echo "\$ cpm --server $SERVER --user sip:alice@localhost send bob $WORK/alice/holiday.jpg"
"$CPM" --server "$SERVER" --user sip:alice@localhost send bob "$WORK/alice/holiday.jpg" \
	>"$WORK/send.out" 2>"$WORK/send.err" || die "send failed: $(cat "$WORK/send.out")"
cat "$WORK/send.out"
grep -x stored "$WORK/send.out" >/dev/null || die "expected 'stored'"
FTID=$(sed -n 's/^cpm: file-transfer-id //p' "$WORK/send.err")
echo "(cpmd keeps it durably under $WORK/data/blobs/; the transfer's id is $FTID)"

say "3. Alice's phone comes online (it will hear about the delivery)"
"$CPM" --server "$SERVER" --user sip:alice@localhost --device phone receive --dir "$WORK/alice" \
	--timeout 60 >"$WORK/alice.out" 2>"$WORK/alice.err" &
PIDS+=($!)
wait_for 10 grep -q registered "$WORK/alice.err" || die "alice did not register"
grep registered "$WORK/alice.err"

say "4. Bob comes online on two devices: cpmd pushes the file, one device takes it"
for dev in phone laptop; do
	"$CPM" --server "$SERVER" --user sip:bob@localhost --device "$dev" receive --dir "$WORK/bob-$dev" \
		--count 1 --timeout 60 >"$WORK/bob-$dev.out" 2>"$WORK/bob-$dev.err" &
	PIDS+=($!)
done
got() { grep -h '^received ' "$WORK"/bob-*.out 2>/dev/null | grep -q .; }
wait_for 30 got || die "bob received nothing"
grep -H '^received ' "$WORK"/bob-*.out | sed "s|$WORK/||"
[ "$(grep -h '^received ' "$WORK"/bob-*.out | wc -l)" = 1 ] || die "expected exactly one device to receive it"
want=$(sha1sum <"$WORK/alice/holiday.jpg" | cut -d' ' -f1)
grep -h '^received ' "$WORK"/bob-*.out | grep -q " $want\$" || die "the received file differs"
echo "(byte-identical: sha-1 $want)"

say "5. Alice gets the delivery notification"
wait_for 15 grep -q "^notification delivered $FTID" "$WORK/alice.out" || die "no notification for alice"
grep "^notification" "$WORK/alice.out"

say "6. Act 2: Alice chats with Bob (his phone replies), and sends a file in the middle"
pkill -P $$ -f "user sip:bob@localhost" 2>/dev/null || true
mkdir -p "$WORK/bob-chat"
"$CPM" --server "$SERVER" --user sip:bob@localhost --device phone receive --dir "$WORK/bob-chat" \
	--answer accept --reply "got it" --read --timeout 60 >"$WORK/bob-chat.out" 2>"$WORK/bob-chat.err" &
PIDS+=($!)
wait_for 10 grep -q registered "$WORK/bob-chat.err" || die "bob's phone did not register"
head -c 300000 /dev/urandom >"$WORK/alice/notes.pdf"
{
	echo "hi Bob"
	sleep 1
	echo "/file $WORK/alice/notes.pdf"
	sleep 1
	echo "did the file arrive?"
	sleep 2
	echo "/quit"
} | "$CPM" --server "$SERVER" --user sip:alice@localhost --device laptop chat bob \
	>"$WORK/chat.out" 2>"$WORK/chat.err" || die "chat failed: $(tail -n 5 "$WORK/chat.out" "$WORK/chat.err")"
echo "\$ (lines on stdin) | cpm --server $SERVER --user sip:alice@localhost chat bob"
cat "$WORK/chat.out"
grep -q "^file delivered notes.pdf" "$WORK/chat.out" || die "the file inside the chat was not delivered"
[ "$(grep -c '^chat sip:bob@localhost ' "$WORK/chat.out")" -ge 2 ] || die "expected Bob's replies in the chat"
echo "--- Bob's phone printed:"
cat "$WORK/bob-chat.out"
wait_for 10 grep -q "^session sip:alice@localhost .* ended" "$WORK/bob-chat.out" || die "bob did not see the session end"

say "7. Alice writes to Carol, who is offline; Carol comes back and gets it"
echo "\$ cpm --server $SERVER --user sip:alice@localhost message carol 'dinner at 8?'"
"$CPM" --server "$SERVER" --user sip:alice@localhost message carol "dinner at 8?" \
	>"$WORK/msg.out" 2>"$WORK/msg.err" || die "message failed: $(cat "$WORK/msg.out")"
cat "$WORK/msg.out"
grep -qx stored "$WORK/msg.out" || die "expected 'stored'"
MSGID=$(sed -n 's/^cpm: message-id //p' "$WORK/msg.err")
mkdir -p "$WORK/carol"
"$CPM" --server "$SERVER" --user sip:carol@localhost --device phone receive --dir "$WORK/carol" \
	--timeout 60 >"$WORK/carol.out" 2>"$WORK/carol.err" &
PIDS+=($!)
wait_for 20 grep -q "^message sip:alice@localhost " "$WORK/carol.out" || die "carol did not get the message"
grep "^message" "$WORK/carol.out"
wait_for 15 grep -q "^notification delivered $MSGID" "$WORK/alice.out" || die "no delivery report for alice"
grep "^notification delivered $MSGID" "$WORK/alice.out"

if [ ${#MSS_OPTS[@]} -gt 0 ]; then
	say "8. Act 3: Bob's mailbox on his Message Storage Server (IMAP, Dovecot)"
	hist() { [ "$(find "$WORK/mailbox" -name '*.eml' 2>/dev/null | xargs -r grep -l -i '^X-CPM-Kind: ft-history' | head -n 1)" ]; }
	fetch_all() {
		rm -rf "$WORK/mailbox"
		local f
		while read -r f; do
			case "$f" in CPM/*) dovecot_fetch bob "$f" "$WORK/mailbox/$(echo "$f" | tr / _)" ;; esac
		done < <(dovecot_folders bob)
		hist
	}
	wait_for 20 fetch_all || die "no FT history in Bob's mailbox"
	echo "\$ doveadm mailbox list -u bob"
	dovecot_folders bob
	for eml in $(find "$WORK/mailbox" -name '*.eml' | sort); do
		python3 - "$eml" "$WORK/alice/holiday.jpg" <<'PY'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
kind, name = m["X-CPM-Kind"], m["X-CPM-File-Name"]
line = f"mailbox bob: {kind} from {m['X-CPM-Sender']} ({m['X-CPM-Disposition']})"
if kind == "ft-history":
    data = next(p.get_payload(decode=True) for p in m.walk() if p.get("Content-ID") == "<file@cpm.mss>")
    same = data == open(sys.argv[2], "rb").read() if name == "holiday.jpg" else None
    line += f": {name}, {len(data)} bytes" + (", byte-identical to what Alice sent" if same else "")
elif kind == "session-history":
    line += f": {sum(1 for p in m.walk() if p.get('X-CPM-Record'))} records"
print(line)
PY
	done
	grep -q . "$WORK/mailbox" -r || true
else
	say "8. Act 3 skipped: no Dovecot here (scripts/setup.sh installs it), or not root"
fi

say "What cpmd said"
grep -E "deferred|stored for|pushing|accepted item|cancelled|delivered \(push\)|notification .* (sent|accepted)|session|message" \
	"$WORK/cpmd.log" | cut -c1-185 | head -n 40
echo
echo "demo: OK. The story: a file stored while Bob was away, pushed when he came back, one device took it, Alice was told;"
echo "      then a chat with a file in the middle, and a message kept for Carol until she came back;"
echo "      and Bob's histories in his message store."
