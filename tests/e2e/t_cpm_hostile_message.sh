#!/usr/bin/env bash
# A receiving `cpm` against hostile SIP MESSAGEs sent straight to its UDP
# port by a scripted peer (cpmd never sends these): a CPIM body that does not
# parse → 400; an IMDN with a DOCTYPE (billion laughs) → 400, never expanded;
# an unknown body type → 415; a deferred list that does not parse → 400; then
# a valid IMDN → 200 and `notification delivered ID`. cpm stays up and still
# receives a file through cpmd afterwards.
. "$(dirname "$0")/lib.sh"

start_cpmd
CPM_TRANSPORT=udp start_receiver alice alice phone --count 1 --timeout 40
port=$(ss -Hunap | grep -E "pid=${RECV_PID[alice]}," | awk '{print $4}' | sed 's/.*://' | head -n1)
[ -n "$port" ] || fail "cannot find the receiving cpm's UDP port"
log "cpm listens on udp $port"

python3 - "$port" <<'PY' || fail "cpm answered a hostile MESSAGE wrongly (see above)"
import socket, sys, secrets
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(5)
me = s.getsockname()[1]

def message(ctype, body):
    b = body.encode()
    branch = "z9hG4bK" + secrets.token_hex(8)
    head = ("MESSAGE sip:alice@cpm.test SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:mallory@cpm.test>;tag=%s\r\nTo: <sip:alice@cpm.test>\r\n"
            "Call-ID: %s\r\nCSeq: 1 MESSAGE\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (me, branch, secrets.token_hex(4), secrets.token_hex(8), ctype, len(b)))
    s.sendto(head.encode() + b, ("127.0.0.1", port))
    while True:
        data, _ = s.recvfrom(65535)
        line = data.split(b"\r\n", 1)[0].decode()
        code = int(line.split()[1])
        if code >= 200:
            return code

cpim = lambda content, ctype="message/imdn+xml": (
    "From: <sip:bob@cpm.test>\r\nTo: <sip:alice@cpm.test>\r\nNS: imdn <urn:ietf:params:imdn>\r\n"
    "imdn.Message-ID: w%s\r\nDateTime: 2026-11-25T12:00:00Z\r\n\r\nContent-Type: %s\r\n"
    "Content-Disposition: notification\r\n\r\n%s" % (secrets.token_hex(4), ctype, content))
laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
          '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><imdn xmlns="urn:ietf:params:xml:ns:imdn">'
          '<message-id>&lol3;</message-id><datetime>x</datetime>'
          '<delivery-notification><status><delivered/></status></delivery-notification></imdn>')
good = ('<?xml version="1.0" encoding="UTF-8"?><imdn xmlns="urn:ietf:params:xml:ns:imdn">'
        '<message-id>hostile-test-ok-1</message-id><datetime>2026-11-25T12:00:00Z</datetime>'
        '<delivery-notification><status><delivered/></status></delivery-notification></imdn>')
cases = [
    ("message/cpim", "this is not CPIM at all", 400),
    ("message/cpim", cpim(laughs), 400),
    ("message/cpim", cpim("<imdn"), 400),
    ("text/plain", "hello", 415),
    ("application/vnd.cpmd.deferred+text", "CPMD-Deferred/1\n\nId: ../../etc\nSize: -1\n", 400),
    ("message/cpim", cpim(good), 200),
]
bad = 0
for ctype, body, want in cases:
    got = message(ctype, body)
    print("MESSAGE %-38s -> %d (want %d)" % (ctype, got, want))
    bad += got != want
sys.exit(1 if bad else 0)
PY
wait_for 10 "the valid notification to be printed" grep -q '^notification delivered hostile-test-ok-1$' "${RECV_OUT[alice]}"
n=$(grep -c '^notification ' "${RECV_OUT[alice]}" || true)
[ "$n" = 1 ] || fail "$n notification lines printed, 1 expected: $(cat "${RECV_OUT[alice]}")"
kill -0 "${RECV_PID[alice]}" 2>/dev/null || fail "cpm receive died after the hostile MESSAGEs"
gen_file "$T_DIR/after.bin" 50000
send_file after bob alice "$T_DIR/after.bin"
expect_delivered
wait_exit "${RECV_PID[alice]}" 20
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received alice "$T_DIR/after.bin"
cpmd_alive
