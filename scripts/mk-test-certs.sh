#!/usr/bin/env bash
# Test certificates for the TLS tests (openssl CLI): a CA and a server certificate it signed
# for 127.0.0.1 (and localhost), plus a second, unrelated CA with its own server certificate
# (the "untrusted" side of the tests), and a client certificate from each CA for mutual TLS
# (client.pem from the server's CA, rogue-client.pem from the other one). Usage:
# mk-test-certs.sh DIR. Short-lived keys (EC P-256), made fresh by each test: nothing secret is
# ever committed.
set -euo pipefail
d=${1:?usage: mk-test-certs.sh DIR}
mkdir -p "$d"
cd "$d"
mk() { # mk NAME: NAME-ca.pem/NAME-ca.key, NAME.pem/NAME.key signed by it
  local n=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=cpmd test CA $n" -keyout "$n-ca.key" -out "$n-ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$n.key" -out "$n.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$n.ext"
  openssl x509 -req -in "$n.csr" -CA "$n-ca.pem" -CAkey "$n-ca.key" -CAcreateserial -days 2 \
    -extfile "$n.ext" -out "$n.pem" 2>/dev/null
  rm -f "$n.csr" "$n.ext"
}
mk server   # server.pem/server.key, trusted through server-ca.pem
mk rogue    # rogue.pem/rogue.key: a certificate no test trusts
client() { # client NAME CA: NAME.pem/NAME.key, a client certificate (TLS client auth) CA signed
  local n=$1 ca=$2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=cpm test client $n" \
    -keyout "$n.key" -out "$n.csr" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >"$n.ext"
  openssl x509 -req -in "$n.csr" -CA "$ca-ca.pem" -CAkey "$ca-ca.key" -CAcreateserial -days 2 \
    -extfile "$n.ext" -out "$n.pem" 2>/dev/null
  rm -f "$n.csr" "$n.ext"
}
client client server        # client.pem/client.key: chained to server-ca.pem
client rogue-client rogue   # rogue-client.pem/rogue-client.key: chained to rogue-ca.pem only
