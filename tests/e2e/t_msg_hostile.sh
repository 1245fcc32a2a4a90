#!/usr/bin/env bash
# Hostile standalone messages and reports (docs/internals/messaging.md §1, §4), sent by
# a scripted peer as raw SIP over UDP:
#  to cpmd:   a body over --max-pager-size → 413; CPIM without From, To,
#             imdn.Message-ID or DateTime → 400 naming the header; the same header
#             twice → 400 "Duplicate CPIM Header NAME"; not CPIM at all → 400; a
#             Message-ID with a space → 400; a CPIM From that is not the SIP sender
#             → 403; a body that is not message/cpim → 415; a recipient of another
#             domain → 404 "No Route ..."; then reports: an IMDN about an unknown
#             Message-ID, one by mallory about alice's message to bob, bob's
#             `displayed` for a message that asked for no report and for one that
#             asked for `delivered` only, an IMDN that does not parse — each answered
#             200 and dropped: alice (the would-be victim) receives no notification.
#  to a `cpm receive`: the same standalone message twice → 200 both times, printed
#             once; a message without imdn.Message-ID → 400; control characters
#             and an escape sequence in the text are printed escaped.
#  cpm's own usage errors for `message`.
. "$(dirname "$0")/lib.sh"

start_cpmd --max-pager-size 4000
CPM_TRANSPORT=udp start_receiver alice alice laptop --timeout 60
CPM_TRANSPORT=udp start_receiver carol carol phone --timeout 60
cport=$(ss -Hunap | grep -E "pid=${RECV_PID[carol]}," | awk '{print $4}' | sed 's/.*://' | head -n1)
[ -n "$cport" ] || fail "cannot find carol's cpm UDP port"

# A real message from alice to bob (offline: stored) for mallory to report on, and one
# that asked for no report for bob to report on all the same.
send_message real alice bob "for bob only"
expect_message_result real 0 stored
real_id=$MSG_ID
send_message quiet alice bob "no reports please" --no-report
expect_message_result quiet 0 stored
quiet_id=$MSG_ID

python3 - "$SIP_PORT" "$cport" "$DOMAIN" "$real_id" "$quiet_id" <<'PY' || fail "a hostile MESSAGE got the wrong answer (see above)"
import socket, sys, secrets
cpmd, carol, dom, real_id, quiet_id = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(10)
me = s.getsockname()[1]

def message(port, ruri, frm, ctype, body):
    b = body.encode() if isinstance(body, str) else body
    head = ("MESSAGE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:%s>;tag=%s\r\nTo: <%s>\r\nCall-ID: %s\r\nCSeq: 1 MESSAGE\r\n"
            "Content-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (ruri, me, secrets.token_hex(8), frm, secrets.token_hex(4), ruri, secrets.token_hex(8), ctype, len(b)))
    s.sendto(head.encode() + b, ("127.0.0.1", port))
    while True:
        data, _ = s.recvfrom(65535)
        line = data.split(b"\r\n", 1)[0].decode()
        code = int(line.split()[1])
        if code >= 200:
            return code, line.split(" ", 2)[2] if line.count(" ") >= 2 else ""

def cpim(frm, to, headers, content, ctype="text/plain;charset=UTF-8"):
    return ("From: <sip:%s>\r\nTo: <sip:%s>\r\nNS: imdn <urn:ietf:params:imdn>\r\n%s\r\n"
            "Content-Type: %s\r\n\r\n%s" % (frm, to, headers, ctype, content))

def mid():
    return "imdn.Message-ID: h%s\r\n" % secrets.token_hex(8)

DT = "DateTime: 2026-12-03T10:00:00Z\r\n"
A, B = "alice@" + dom, "bob@" + dom
ok = "imdn.Disposition-Notification: positive-delivery, display\r\n"
def imdn(msgid, status="delivered", kind="delivery"):
    return ('<?xml version="1.0" encoding="UTF-8"?><imdn xmlns="urn:ietf:params:xml:ns:imdn">'
            "<message-id>%s</message-id><datetime>2026-12-03T10:00:00Z</datetime>"
            "<%s-notification><status><%s/></status></%s-notification></imdn>" % (msgid, kind, status, kind))

bob = "sip:" + B
alice = "sip:" + A
cases = [
    # (name, port, ruri, from, ctype, body, want code, want phrase part)
    ("too big", cpmd, bob, A, "message/cpim", cpim(A, B, mid() + DT, "x" * 5000), 413, "Too Large"),
    ("no From", cpmd, bob, A, "message/cpim",
     "To: <sip:%s>\r\nNS: imdn <urn:ietf:params:imdn>\r\n%s%s\r\nContent-Type: text/plain\r\n\r\nhi" % (B, mid(), DT),
     400, "Missing CPIM Header From"),
    ("no To", cpmd, bob, A, "message/cpim",
     "From: <sip:%s>\r\nNS: imdn <urn:ietf:params:imdn>\r\n%s%s\r\nContent-Type: text/plain\r\n\r\nhi" % (A, mid(), DT),
     400, "Missing CPIM Header To"),
    ("no Message-ID", cpmd, bob, A, "message/cpim", cpim(A, B, DT, "hi"), 400, "Missing CPIM Header imdn.Message-ID"),
    ("no DateTime", cpmd, bob, A, "message/cpim", cpim(A, B, mid(), "hi"), 400, "Missing CPIM Header DateTime"),
    ("two Message-IDs", cpmd, bob, A, "message/cpim", cpim(A, B, mid() + mid() + DT, "hi"), 400,
     "Duplicate CPIM Header imdn.Message-ID"),
    ("two DateTimes", cpmd, bob, A, "message/cpim", cpim(A, B, mid() + DT + DT, "hi"), 400,
     "Duplicate CPIM Header DateTime"),
    ("two Froms", cpmd, bob, A, "message/cpim", "From: <sip:%s>\r\n" % A + cpim(A, B, mid() + DT, "hi"), 400,
     "Duplicate CPIM Header From"),
    ("two Tos", cpmd, bob, A, "message/cpim", cpim(A, B, "To: <sip:carol@%s>\r\n" % dom + mid() + DT, "hi"), 400,
     "Duplicate CPIM Header To"),
    ("not CPIM", cpmd, bob, A, "message/cpim", "hello there", 400, "CPIM"),
    ("id with a space", cpmd, bob, A, "message/cpim", cpim(A, B, "imdn.Message-ID: a b\r\n" + DT, "hi"), 400,
     "Bad CPIM Header imdn.Message-ID"),
    ("forged CPIM From", cpmd, bob, "mallory@" + dom, "message/cpim", cpim(A, B, mid() + DT, "hi"), 403, "From"),
    ("not message/cpim", cpmd, bob, A, "text/plain", "hello", 415, ""),
    ("other domain", cpmd, "sip:bob@elsewhere.example", A, "message/cpim",
     cpim(A, "bob@elsewhere.example", mid() + DT, "hi"), 404, "No Route"),
    # reports: all answered 200, none forwarded
    ("unknown id", cpmd, alice, B, "message/cpim", cpim(B, A, mid() + DT, imdn("h" + secrets.token_hex(8)), "message/imdn+xml"),
     200, ""),
    ("someone else's", cpmd, alice, "mallory@" + dom, "message/cpim",
     cpim("mallory@" + dom, A, mid() + DT, imdn(real_id), "message/imdn+xml"), 200, ""),
    ("no report asked", cpmd, alice, B, "message/cpim",
     cpim(B, A, mid() + DT, imdn(quiet_id, "displayed", "display"), "message/imdn+xml"), 200, ""),
    # alice asks bob for delivered only (stored: bob is offline); his `displayed` is not wanted
    ("delivered only", cpmd, bob, A, "message/cpim",
     cpim(A, B, "imdn.Message-ID: only-delivered-1\r\n" + DT + "imdn.Disposition-Notification: positive-delivery\r\n",
          "hi"), 202, "Accepted"),
    ("displayed unasked", cpmd, alice, B, "message/cpim",
     cpim(B, A, mid() + DT, imdn("only-delivered-1", "displayed", "display"), "message/imdn+xml"), 200, ""),
    ("bad IMDN", cpmd, alice, B, "message/cpim", cpim(B, A, mid() + DT, "<imdn", "message/imdn+xml"), 200, ""),
]
rep = "imdn.Message-ID: rep%s\r\n" % secrets.token_hex(8)
cases += [
    # to a cpm receive: a repeat is acknowledged and not printed again
    ("first", carol, "sip:carol@" + dom, A, "message/cpim", cpim(A, "carol@" + dom, rep + DT, "only once"), 200, ""),
    ("repeat", carol, "sip:carol@" + dom, A, "message/cpim", cpim(A, "carol@" + dom, rep + DT, "only once"), 200, ""),
    ("cpm: no id", carol, "sip:carol@" + dom, A, "message/cpim", cpim(A, "carol@" + dom, DT, "x"), 400, ""),
    ("cpm: controls", carol, "sip:carol@" + dom, A, "message/cpim",
     cpim(A, "carol@" + dom, "imdn.Message-ID: ctl1\r\n" + DT, "a\x1b[31mred\x07\tb\x01"), 200, ""),
]
bad = 0
for name, port, ruri, frm, ctype, body, want, part in cases:
    code, phrase = message(port, ruri, frm, ctype, body)
    good = code == want and part in phrase
    print("%-18s -> %d %s%s" % (name, code, phrase, "" if good else "   (want %d ...%s...)" % (want, part)))
    bad += not good
sys.exit(1 if bad else 0)
PY
sleep 2 # anything forwarded by mistake would reach alice by now
assert_no_grep "${RECV_OUT[alice]}" '^notification ' "a hostile report reached alice"
assert_grep "$CPMD_LOG" "not a message routed from alice@$DOMAIN to mallory@$DOMAIN: dropped"
assert_grep "$CPMD_LOG" "not a message routed from alice@$DOMAIN to bob@$DOMAIN: dropped" # --no-report: no record
assert_grep "$CPMD_LOG" "display displayed was not asked for: dropped"
n=$(grep -c ' only once$' "${RECV_OUT[carol]}" || true)
[ "$n" -eq 1 ] || fail "carol's cpm printed the repeated message $n times"
assert_grep "${RECV_OUT[carol]}" "^message sip:alice@$DOMAIN ctl1 a\\\\x1b\\[31mred\\\\x07\\\\tb\\\\x01\$" \
	"control characters were not escaped"
assert_no_grep "${RECV_OUT[carol]}" $'\x1b' "an escape sequence reached the terminal"
assert_dir_empty "${RECV_DIR[carol]}" "a message was written as a file"

# cpm's own usage errors: exit 2, a message naming the problem, nothing sent
usage() { # usage WORD ARGS...
	local word=$1 rc=0
	shift
	mapfile -t base < <(_cpm_base alice)
	"$CPM" "${base[@]}" "$@" >"$LOGDIR/usage.out" 2>"$LOGDIR/usage.err" || rc=$?
	[ $rc -eq 2 ] || fail "cpm $*: exit $rc, 2 expected"
	grep -q -F -- "$word" "$LOGDIR/usage.err" || fail "cpm $*: no '$word' in: $(cat "$LOGDIR/usage.err")"
}
usage 'message needs TARGET and TEXT' message
usage 'message needs TARGET and TEXT' message bob
usage 'message needs TARGET and TEXT' message bob hi there
usage '--expires must be' message bob hi --expires 0
usage 'bad TARGET' message 'bob <x>' hi
usage 'unknown option --large-ish' message bob hi --large-ish
cpmd_alive
