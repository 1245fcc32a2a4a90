# shellcheck shell=bash
# Helpers of the Large Message Mode tests (t_largemsg_*.sh), sourced after lib.sh.

# gen_text PATH BYTES: printable UTF-8 text of exactly BYTES bytes with newlines,
# backslashes and multi-byte characters (what the `message` line escapes).
gen_text() {
	python3 - "$1" "$2" <<'PY'
import random, sys
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random()
words = ["large", "message", "\\", "back\\slash", "\u00e9t\u00e9", "\u20ac", "CPIM", "-------", "\r\n"]
out = bytearray()
while len(out) < n:
    w = rnd.choice(words) if rnd.random() < 0.3 else "".join(rnd.choice("abcdefghij klmnop") for _ in range(rnd.randint(1, 12)))
    out += (w + ("\n" if rnd.random() < 0.05 else " ")).encode()
out = out[:n]
while True:  # a cut UTF-8 sequence at the end goes (at most 3 bytes), ASCII fills up to n
    try:
        out.decode(); break
    except UnicodeDecodeError:
        out = out[:-1]
out += b"x" * (n - len(out))
open(path, "wb").write(bytes(out))
PY
	[ "$(stat -c %s "$1")" -eq "$2" ] || fail "could not create $1 ($2 bytes)"
}

# send_message NAME FROM TO TEXTFILE [message options...]: `cpm message TO - ...` with
# TEXTFILE on standard input (TEXT "-"). Sets MSG_RC, MSG_LAST, MSG_OUT, MSG_ERR, MSG_ID
# (the message-id cpm printed on stderr).
send_message() {
	local name=$1 from=$2 to=$3 file=$4 base
	shift 4
	MSG_OUT="$LOGDIR/message.$name.out" MSG_ERR="$LOGDIR/message.$name.err"
	mapfile -t base < <(_cpm_base "$from")
	MSG_RC=0
	timeout -k 10 120 "$CPM" "${base[@]}" message "sip:$to@$DOMAIN" - "$@" <"$file" >"$MSG_OUT" 2>"$MSG_ERR" || MSG_RC=$?
	MSG_LAST=$(tail -n 1 "$MSG_OUT" 2>/dev/null || true)
	MSG_ID=$(sed -n 's/^cpm: message-id \(.*\)$/\1/p' "$MSG_ERR" | head -n 1)
	log "message $name: rc=$MSG_RC last line: $MSG_LAST id: $MSG_ID"
	cpmd_alive
}

# assert_message NAME SENDER ID TEXTFILE: receiver NAME printed exactly one
# `message SENDER ID TEXT` line for ID, and TEXT un-escaped (\n, \\, \r, \xNN:
# docs/internals/cpm.md) is byte-identical to TEXTFILE.
assert_message() {
	local name=$1 sender=$2 id=$3 file=$4 n
	n=$(grep -a -c "^message [^ ]* $id " "${RECV_OUT[$name]}" || true)
	[ "$n" -eq 1 ] || fail "receiver $name printed $n 'message ... $id ...' lines, 1 expected"
	python3 - "${RECV_OUT[$name]}" "$sender" "$id" "$file" <<'PY' || fail "receiver $name: the message text differs from $(basename "$file")"
import re, sys
out, sender, mid, path = sys.argv[1:]
want = open(path, "rb").read()
for line in open(out, "rb").read().split(b"\n"):
    parts = line.split(b" ", 3)
    if len(parts) == 4 and parts[0] == b"message" and parts[2] == mid.encode():
        if parts[1] != sender.encode():
            sys.exit("sender %r, %r expected" % (parts[1], sender))
        text = re.sub(rb"\\(x[0-9a-f]{2}|.)", lambda m: {b"n": b"\n", b"r": b"\r", b"\\": b"\\"}.get(m.group(1)) or bytes([int(m.group(1)[1:], 16)]), parts[3])
        if text != want:
            sys.exit("text of %d bytes, %d expected" % (len(text), len(want)))
        sys.exit(0)
sys.exit("no line")
PY
}
