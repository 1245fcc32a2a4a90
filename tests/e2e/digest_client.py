#!/usr/bin/env python3
"""A minimal SIP digest client for t_auth_sha256.sh: speaks raw SIP over UDP or TCP to cpmd,
prefers SHA-256 (RFC 8760), and checks what a raw client can do that cpm never does: replay
the same credentials, register another user's To, skip credentials on INVITE.
usage: digest_client.py HOST PORT udp|tcp DOMAIN USER PASSWORD"""
import hashlib, re, socket, sys, uuid

host, port, transport, domain, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
tcp = transport == "tcp"
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
sock.settimeout(5)
sock.connect((host, port))
lip, lport = sock.getsockname()
cseq = 0
buf = b""


def recv():
    global buf
    if not tcp:
        return sock.recv(65535).decode()
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65535)
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        rest += sock.recv(65535)
    buf = rest[n:]
    return head.decode()


def request(method, to_user, extra="", call_id=None, from_user=None, ctype="text/plain", body="hi"):
    """sends one request; returns (status, headers text) of its final response"""
    global cseq
    cseq += 1
    body = body if method == "MESSAGE" else ""
    ruri = f"sip:{domain}" if method == "REGISTER" else f"sip:{to_user}@{domain}"
    msg = (f"{method} {ruri} SIP/2.0\r\n"
           f"Via: SIP/2.0/{transport.upper()} {lip}:{lport};rport;branch=z9hG4bK{uuid.uuid4().hex}\r\n"
           f"From: <sip:{from_user or user}@{domain}>;tag={uuid.uuid4().hex[:8]}\r\n"
           f"To: <sip:{to_user}@{domain}>\r\n"
           f"Call-ID: {call_id or uuid.uuid4().hex}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n"
           f"Contact: <sip:{user}@{lip}:{lport};transport={transport}>\r\n"
           + ("Expires: 60\r\n" if method == "REGISTER" else "")
           + (f"Content-Type: {ctype}\r\n" if method == "MESSAGE" else "")
           + extra + f"Content-Length: {len(body.encode())}\r\n\r\n" + body)
    sock.send(msg.encode())
    while True:
        r = recv()
        st = int(r.split(" ", 2)[1])
        if st >= 200:
            return st, r


def challenges(resp):
    out = []
    for m in re.finditer(r"(?im)^(?:WWW|Proxy)-Authenticate:\s*Digest\s+(.*)$", resp):
        p = dict((k.lower(), v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', m.group(1)))
        out.append(p)
    return out


def credentials(ch, method, uri, alg, pw=None, nc=1):
    H = (lambda s: hashlib.sha256(s.encode()).hexdigest()) if alg == "SHA-256" else (lambda s: hashlib.md5(s.encode()).hexdigest())
    ha1 = H(f"{user}:{ch['realm']}:{pw or password}")
    cnonce, ncs = uuid.uuid4().hex[:16], f"{nc:08x}"
    resp = H(f"{ha1}:{ch['nonce']}:{ncs}:{cnonce}:auth:{H(method + ':' + uri)}")
    return (f'Digest username="{user}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", uri="{uri}", '
            f'response="{resp}", algorithm={alg}, cnonce="{cnonce}", qop=auth, nc={ncs}')


def expect(what, got, want):
    print(f"{what}: {got}")
    if got != want:
        sys.exit(f"FAIL {what}: got {got}, expected {want}")


ruri = f"sip:{domain}"
st, r = request("REGISTER", user)
expect("REGISTER without credentials", st, 401)
chs = challenges(r)
algs = [c.get("algorithm") for c in chs]
expect("algorithms offered, preferred first", algs, ["SHA-256", "MD5"])
sha = chs[0]
auth = credentials(sha, "REGISTER", ruri, "SHA-256")
st, r = request("REGISTER", user, f"Authorization: {auth}\r\n")
expect("REGISTER with SHA-256 credentials", st, 200)
st, r = request("REGISTER", user, f"Authorization: {auth}\r\n")
expect("the same credentials replayed", st, 401)
expect("replay answered stale=true", challenges(r)[0].get("stale"), "true")
# the same nonce, next nonce-count: fine (RFC 7616 §3.4.5)
st, r = request("REGISTER", user, f"Authorization: {credentials(sha, 'REGISTER', ruri, 'SHA-256', nc=2)}\r\n")
expect("the same nonce with the next nc", st, 200)
st, r = request("REGISTER", user)
fresh = challenges(r)[0]
st, r = request("REGISTER", user, f"Authorization: {credentials(fresh, 'REGISTER', ruri, 'SHA-256', pw='wrong')}\r\n")
expect("REGISTER with a wrong password", st, 403)
st, r = request("REGISTER", "bob")
bobch = challenges(r)[0]
st, r = request("REGISTER", "bob", f"Authorization: {credentials(bobch, 'REGISTER', ruri, 'SHA-256')}\r\n")
expect("REGISTER of bob's To with alice's login", st, 403)
st, r = request("MESSAGE", "bob")
expect("MESSAGE without credentials", st, 407)
mch = challenges(r)[1]
st, r = request("MESSAGE", "bob", f"Proxy-Authorization: {credentials(mch, 'MESSAGE', 'sip:bob@' + domain, 'MD5')}\r\n")
print(f"MESSAGE with MD5 credentials: {st}")
if st in (401, 403, 407):
    sys.exit(f"FAIL MESSAGE with MD5 credentials: {st}")
st, r = request("INVITE", "bob")
expect("INVITE without credentials", st, 407)


def cpim(frm, to, text):
    return (f"From: <sip:{frm}@{domain}>\r\nTo: <sip:{to}@{domain}>\r\nDateTime: 2026-12-03T10:00:00Z\r\n"
            f"NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: {uuid.uuid4().hex}\r\n\r\n"
            f"Content-Type: text/plain\r\n\r\n{text}")


# The authenticated identity, never From, is the sender (issue 10): alice logs in but writes
# bob in the SIP From. A CPIM From of bob is refused; with her own CPIM From the message is
# stored for offline carol as alice's (t_auth_sha256.sh checks carol's list).
for cpim_from, want in (("bob", 403), (user, 202)):
    st, r = request("MESSAGE", "carol", from_user="bob", ctype="message/cpim",
                    body=cpim(cpim_from, "carol", f"forged from bob, cpim from {cpim_from}"))
    ch = challenges(r)[-1]
    st, r = request("MESSAGE", "carol", f"Proxy-Authorization: {credentials(ch, 'MESSAGE', 'sip:carol@' + domain, 'SHA-256')}\r\n",
                    from_user="bob", ctype="message/cpim", body=cpim(cpim_from, "carol", f"forged from bob, cpim from {cpim_from}"))
    expect(f"MESSAGE logged in as {user}, SIP From bob, CPIM From {cpim_from}", st, want)
print("OK")
