#!/usr/bin/env bash
# Inter-domain routing by DNS (RFC 3263, --dns-routes on): example.com has no --route to
# example.net; a DNS server (dnsmasq, on a random port, named by --resolv-conf) holds the
# NAPTR (SIP+D2T) -> SRV (_sip._tcp) -> A records of example.net's cpmd. A file and a message
# from alice@example.com reach bob@example.net live; sofia-sip's resolver finds the hop (the
# INVITE goes over TCP to the SRV target's port). A domain with no record gets 404 at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_domains.sh"
command -v dnsmasq >/dev/null || fail "dnsmasq missing (scripts/setup.sh installs dnsmasq-base)"

DNS_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$DNS_PORT "
D_NOROUTE[com]=1
domains_pick_ports # first: the records name example.net's SIP port
dnsmasq --keep-in-foreground --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces \
	--no-resolv --no-hosts --conf-file=/dev/null --pid-file="$T_DIR/dnsmasq.pid" --user=root \
	--log-queries --log-facility="$LOGDIR/dnsmasq.log" \
	--naptr-record=example.net,10,10,S,SIP+D2T,,_sip._tcp.example.net \
	--srv-host="_sip._tcp.example.net,sipnet.example.net,${D_SIP[net]},0,0" \
	--host-record=sipnet.example.net,127.0.0.1 &
PIDS+=($!)
printf 'nameserver 127.0.0.1\nport %s\n' "$DNS_PORT" >"$T_DIR/resolv.conf"
wait_for 5 "dnsmasq to listen" bash -c "ss -Hlun '( sport = :$DNS_PORT )' | grep -q ."

D_OPTS[com]="--dns-routes on --resolv-conf $T_DIR/resolv.conf"
D_OPTS[net]=""
domain_start com
domain_start net

use_domain net
start_receiver bob bob phone --timeout 60
use_domain com
gen_file "$T_DIR/a.bin" 100000
send_file dns alice bob@example.net "$T_DIR/a.bin"
expect_delivered
assert_received bob "$T_DIR/a.bin"
assert_grep "${D_LOG[com]}" 'branch [0-9]+ -> sip:bob@example.net via DNS' "example.com did not route by DNS"
assert_grep "${D_LOG[net]}" 'ft [^ ]+: sip:alice@example.com -> bob@example.net' "example.net did not get the INVITE"
assert_grep "$LOGDIR/dnsmasq.log" 'query\[NAPTR\] example.net' "no NAPTR query was made"

send_message dnsmsg alice bob@example.net "found by DNS"
expect_message_result dnsmsg 0 sent
wait_for 10 "bob to print the message" grep -q -x -F "message sip:alice@example.com $MSG_ID found by DNS" "${RECV_OUT[bob]}"
domains_alive
