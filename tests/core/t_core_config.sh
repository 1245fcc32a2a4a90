#!/usr/bin/env bash
# deploy/kamailio/cpmd-core.cfg is accepted by `kamailio -c` as shipped (its defaults), with
# the defines the tests use, with the optional reg event notifier (WITH_REGEVENT, needs
# kamailio-presence-modules) and with peering (PEER_DOMAIN / PEER_URI); an undefined
# route or a typo in the file would fail here before any other core test runs.
. "$(dirname "$0")/lib_core.sh"

need_kamailio
check() { # NAME [-A define...]
	local name=$1 rc=0
	shift
	kamailio -c -f "$CORE_CFG" -A "CTL_SOCK=\"unix:$T_DIR/ctl\"" "$@" >"$LOGDIR/check.$name.log" 2>&1 || rc=$?
	[ $rc -eq 0 ] || fail "kamailio -c rejects cpmd-core.cfg ($name): $(grep -a -m3 -E 'ERROR|CRITICAL' "$LOGDIR/check.$name.log")"
	assert_no_grep "$LOGDIR/check.$name.log" '(ERROR|CRITICAL):' "kamailio -c reports errors ($name)"
	log "kamailio -c: $name ok"
}
check defaults
check tests -A UA_PORT=40000 -A ISC_PORT=40001 -A 'ISC_URI="sip:127.0.0.1:40001"' \
	-A 'ISC_SOCK="udp:127.0.0.1:40001"' -A 'AS_URI="sip:127.0.0.1:40002"' -A DOMAIN=example.org \
	-A UL_TIMER=1 -A MIN_EXPIRES=1 -A DOMAIN2=example.net
check tcp-as -A 'AS_URI="sip:127.0.0.1:5070;transport=tcp"' -A 'ISC_SOCK="tcp:127.0.0.1:5064"'
check peering -A 'PEER_DOMAIN="example.net"' -A 'PEER_URI="sip:127.0.0.1:6060"'
if [ -n "$(find /usr/lib -name presence_reginfo.so -print -quit 2>/dev/null)" ]; then
	check regevent -A WITH_REGEVENT -A "DBURL=\"text://$T_DIR/dbtext\""
else
	fail "kamailio-presence-modules not installed (scripts/setup.sh installs it)"
fi
