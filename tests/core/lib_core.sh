# shellcheck shell=bash
# Helpers for the tests behind a SIP core (source it; never run it): cpmd in AS mode
# (`--mode as`) behind Kamailio running the project's own deploy/kamailio/cpmd-core.cfg.
# Everything of tests/e2e/lib.sh applies (ports, temp dir, EXIT trap, logs); on top:
#
#   start_core_pair [cpmd options...]
#       picks the core's two ports (user-facing UA_PORT, ISC_PORT facing cpmd), starts cpmd
#       with --mode as --core sip:127.0.0.1:ISC_PORT --core-trust 127.0.0.1, then Kamailio
#       with AS_URI = cpmd. Kamailio runs with -DD -E (the main process stays attached, so
#       its pid is $!) and is in PIDS: the EXIT trap stops it (TERM, then KILL) in every
#       case. Its ctl socket, pid file and log are in the test's temp dir.
#   KAM_REGEVENT=1 (set before start_core_pair / start_kamailio): Kamailio also runs the
#       RFC 3680 reg event notifier (-A WITH_REGEVENT): a db_text directory of its own in the
#       temp dir (presence insists on one), pua_reginfo publishing to the UA port picked here.
#   every cpm started through lib.sh's helpers (start_receiver, send_file, send_message,
#       cpm_cmd) talks to Kamailio's UA port (--server 127.0.0.1:KAM_UA_PORT), never to cpmd.
#   start_receiver waits until the device's REGISTER reached cpmd as a third-party REGISTER
#       and cpmd answered it 2xx (Kamailio's log), so a test can send right after it.
#
# The domain of these tests is example.com (Kamailio's alias and cpmd's --domain).

DOMAIN=${DOMAIN:-example.com}
# shellcheck source=../e2e/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../e2e" && pwd)/lib.sh"

CORE_CFG="$CPM_SRC/deploy/kamailio/cpmd-core.cfg"
KAM_PID="" KAM_UA_PORT="" KAM_ISC_PORT="" KAM_LOG="" KAM_DIR="$T_DIR/kamailio"
KAM_N=0
KAM_REGEVENT=${KAM_REGEVENT:-0}

need_kamailio() {
	command -v kamailio >/dev/null || fail "kamailio not installed (scripts/setup.sh installs it)"
}

# start_kamailio [-A define...]: Kamailio on KAM_UA_PORT (picked here) and KAM_ISC_PORT
# (picked by the caller), in front of cpmd at $SIP_PORT. Waits until both its sockets listen
# (UDP and TCP) and its ctl socket exists.
start_kamailio() {
	need_kamailio
	local attempt i t regevent=()
	mkdir -p "$KAM_DIR"
	if [ "$KAM_REGEVENT" = 1 ]; then
		[ -n "$(find /usr/lib -name presence_reginfo.so -print -quit 2>/dev/null)" ] ||
			fail "kamailio-presence-modules not installed (scripts/setup.sh installs it)"
		# the tables presence and pua open even in memory-only mode (README of the config)
		mkdir -p "$KAM_DIR/dbtext"
		for t in version presentity active_watchers watchers pua; do
			cp "/usr/share/kamailio/dbtext/kamailio/$t" "$KAM_DIR/dbtext/"
		done
	fi
	for attempt in 1 2 3; do
		KAM_N=$((KAM_N + 1))
		KAM_UA_PORT=$(pick_port)
		USED_PORTS="$USED_PORTS$KAM_UA_PORT "
		KAM_LOG="$LOGDIR/kamailio.$KAM_N.log"
		[ "$KAM_REGEVENT" = 1 ] && regevent=(-A WITH_REGEVENT -A "DBURL=\"text://$KAM_DIR/dbtext\""
			-A "REGINFO_SERVER=\"sip:reginfo@$HOST:$KAM_UA_PORT\"")
		kamailio -f "$CORE_CFG" -DD -E -m 32 -M 8 -P "$KAM_DIR/kamailio.pid" -Y "$KAM_DIR" \
			-A "UA_IP=$HOST" -A "UA_PORT=$KAM_UA_PORT" \
			-A "ISC_IP=$HOST" -A "ISC_PORT=$KAM_ISC_PORT" \
			-A "ISC_URI=\"sip:$HOST:$KAM_ISC_PORT\"" -A "ISC_SOCK=\"udp:$HOST:$KAM_ISC_PORT\"" \
			-A "AS_URI=\"sip:$HOST:$SIP_PORT\"" -A "DOMAIN=$DOMAIN" \
			-A "CTL_SOCK=\"unix:$KAM_DIR/ctl\"" -A "UL_TIMER=1" -A "MIN_EXPIRES=1" \
			"${regevent[@]}" "$@" </dev/null >"$LOGDIR/kamailio.$KAM_N.stdout" 2>"$KAM_LOG" &
		KAM_PID=$!
		PIDS+=("$KAM_PID")
		for ((i = 0; i < 100; i++)); do
			if [ -S "$KAM_DIR/ctl" ] &&
				[ -n "$(ss -Hlnt "( sport = :$KAM_UA_PORT )" 2>/dev/null)" ] &&
				[ -n "$(ss -Hlnt "( sport = :$KAM_ISC_PORT )" 2>/dev/null)" ]; then
				log "kamailio pid $KAM_PID ready: ua $KAM_UA_PORT isc $KAM_ISC_PORT -> cpmd $SIP_PORT"
				return 0
			fi
			kill -0 "$KAM_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$KAM_PID" 2>/dev/null; then
			fail "kamailio (pid $KAM_PID) not listening within 10 s"
		fi
		local rc=0
		wait "$KAM_PID" || rc=$?
		grep -qiE 'bind|in use' "$KAM_LOG" && grep -q -F ":$KAM_UA_PORT" "$KAM_LOG" && {
			log "kamailio could not bind its UA port (attempt $attempt), retrying"
			continue
		}
		fail "kamailio exited with status $rc before listening"
	done
	fail "kamailio could not bind after 3 attempts"
}

# stop_kamailio: TERM, wait (the main process stops its children).
stop_kamailio() {
	[ -n "$KAM_PID" ] || return 0
	stop_pid "$KAM_PID" 5
	log "kamailio stopped ($STOP_RC)"
	KAM_PID=""
}

# kam_alive: fail if Kamailio died.
kam_alive() {
	[ -n "$KAM_PID" ] || return 0
	kill -0 "$KAM_PID" 2>/dev/null || fail "kamailio is not running any more"
}

# start_core_pair [cpmd options...]: cpmd (AS mode, trusting the core) + Kamailio.
start_core_pair() {
	KAM_ISC_PORT=$(pick_port)
	USED_PORTS="$USED_PORTS$KAM_ISC_PORT "
	start_cpmd --mode as --core "sip:$HOST:$KAM_ISC_PORT" --core-trust "$HOST" "$@"
	start_kamailio
}

# Every cpm goes to the core's user-facing port (lib.sh's _cpm_base prints these too).
_cpm_args() { # USER [DEVICE]
	CPM_ARGS=(--server "$HOST:${KAM_UA_PORT:?start_core_pair first}" --user "sip:$1@$DOMAIN")
	[ -z "${2:-}" ] || CPM_ARGS+=(--device "$2")
	[ -z "$CPM_TRANSPORT" ] || CPM_ARGS+=(--transport "$CPM_TRANSPORT")
	# shellcheck disable=SC2206 # CPM_GLOBAL_OPTS: extra global options, space-separated
	[ -z "$CPM_GLOBAL_OPTS" ] || CPM_ARGS+=($CPM_GLOBAL_OPTS)
	return 0
}

# Third-party REGISTERs for USER that cpmd answered 2xx (Kamailio logs each answer with the
# user: route THIRD_PARTY_REG / event_route[uac:reply] of cpmd-core.cfg).
tpr_ok_count() { # USER
	grep -a -c -E "cpmd answered a third-party REGISTER for sip:$1@$DOMAIN: 2[0-9][0-9]" "$KAM_LOG" 2>/dev/null ||
		true
}
# ... with Expires 0 (de-registration or expiry) sent for USER
tpr_zero_count() { # USER
	grep -a -c -E "third-party REGISTER sip:$1@$DOMAIN expires=0 " "$KAM_LOG" 2>/dev/null || true
}

# The e2e helper waits for cpmd's own registrar; behind a core, registered = cpmd accepted
# the third-party REGISTER the core sent for this device.
reg_count() { tpr_ok_count "$1"; }
# start_receiver's mark and poll (lib.sh), by that count
_reg_mark() { REG_MARK=n:$(reg_count "$1"); }
_reg_new() { [ "$(reg_count "$1")" -gt "${REG_MARK#n:}" ]; }

# cpm_cmd NAME USER [global+command args...]: runs cpm through the core in the foreground
# (at most 60 s); sets CMD_RC, CMD_OUT, CMD_ERR, CMD_LAST.
cpm_cmd() {
	local name=$1 user=$2 base
	shift 2
	CMD_OUT="$LOGDIR/cmd.$name.out" CMD_ERR="$LOGDIR/cmd.$name.err"
	mapfile -t base < <(_cpm_base "$user")
	CMD_RC=0
	timeout -k 5 60 "$CPM" "${base[@]}" "$@" </dev/null >"$CMD_OUT" 2>"$CMD_ERR" || CMD_RC=$?
	CMD_LAST=$(tail -n 1 "$CMD_OUT" 2>/dev/null || true)
	log "cpm $name: rc=$CMD_RC last line: $CMD_LAST"
}

# wait_unregistered USER N: Kamailio sent at least N Expires-0 third-party REGISTERs for USER
# and cpmd answered every REGISTER so far (the de-registration is done on both sides).
wait_tpr_zero() { # USER N TIMEOUT
	wait_for "${3:-15}" "an Expires 0 third-party REGISTER for $1 (#$2)" _tpr_zero_ge "$1" "$2"
}
_tpr_zero_ge() { [ "$(tpr_zero_count "$1")" -ge "$2" ] && sleep 0.3; }
_tpr_ok_ge() { [ "$(tpr_ok_count "$1")" -ge "$2" ]; }
# cpmd answered every third-party REGISTER the core sent for USER (sent = answered 2xx)
_tpr_answered() {
	local sent
	sent=$(grep -a -c -E "third-party REGISTER sip:$1@$DOMAIN expires=" "$KAM_LOG" 2>/dev/null || true)
	[ "$(tpr_ok_count "$1")" -ge "$sent" ]
}
