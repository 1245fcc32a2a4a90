# shellcheck shell=bash
# A real XCAP server (RFC 4825) for the tests of the XDM preferences (source it after
# tests/e2e/lib.sh; never run it): Kamailio's xcap_server module behind its embedded HTTP
# server, with tests/xdm/kamailio-xcap.cfg and a db_text directory of the test's own.
# Kamailio runs in the foreground (-DD -E: its pid is $!), is in PIDS (lib.sh's EXIT trap
# stops it in every case) and logs to $LOGDIR/xcap.N.log.
#
#   xcap_start DIR PORT   start it on 127.0.0.1:PORT with its files in DIR; waits until it
#                         answers HTTP (a GET of an absent document gives 404, or 401 with
#                         XCAP_AUTH=1). Sets XCAP_PID, XCAP_PORT and XCAP_ROOT
#                         (http://127.0.0.1:PORT/xcap-root).
#   XCAP_AUTH=1           (before xcap_start) digest authentication on: every request needs
#                         a subscriber's credentials, and only reaches its own XUI's documents.
#   xcap_user DIR USER PASS  add a subscriber (before xcap_start: db_text reads it at start).
#   XCAP_CRED=USER:PASS   the credentials xcap_put and xcap_del send (curl --digest).
#   xcap_put AOR FILE     PUT FILE as AOR's preferences document; prints the new ETag.
#   xcap_del AOR          DELETE AOR's document.
#   xcap_stop             stop it (TERM, then KILL); the documents stay in DIR for a restart.
#
# Kamailio 5.6's xcap_server accepts only its fixed list of AUIDs (it answers 500 and logs
# "unsupported auid" for any other), so the tests store the preferences document under
# XCAP_AUID=org.openmobilealliance.user-profile (OMA's user profile usage, the nearest
# meaning; the module does not look inside the document) and the client is configured with
# that AUID (docs/internals/xdm.md). XCAP_DOC_FILE is the document's name in the user's tree.

XCAP_AUID=${XCAP_AUID:-org.openmobilealliance.user-profile}
XCAP_DOC_FILE=${XCAP_DOC_FILE:-cpm-prefs.xml}
XCAP_CFG="$CPM_SRC/tests/xdm/kamailio-xcap.cfg"
XCAP_PID="" XCAP_PORT="" XCAP_ROOT="" XCAP_N=0
XCAP_AUTH=${XCAP_AUTH:-0} XCAP_CRED=${XCAP_CRED:-}

need_xcap() {
	command -v kamailio >/dev/null || fail "kamailio not installed (scripts/setup.sh installs it)"
	[ -n "$(find /usr/lib -name xcap_server.so -print -quit 2>/dev/null)" ] ||
		fail "kamailio-presence-modules not installed (scripts/setup.sh installs it)"
	command -v curl >/dev/null || fail "curl not installed (scripts/setup.sh installs it)"
}

xcap_url() { # AOR
	printf '%s/%s/users/%s/%s' "$XCAP_ROOT" "$XCAP_AUID" "$1" "$XCAP_DOC_FILE"
}

xcap_tables() { # DIR: the db_text tables, from the schema files Kamailio ships; kept
	local t
	mkdir -p "$1/db"
	for t in version xcap subscriber; do
		[ -f "$1/db/$t" ] || cp "/usr/share/kamailio/dbtext/kamailio/$t" "$1/db/"
	done
}

xcap_user() { # DIR USER PASS (db_text row id:username:domain:password:ha1:ha1b; no ":" in
	# them; no column may be empty; the domain is not checked: auth_db use_domain 0)
	xcap_tables "$1"
	printf '%s:%s:example.com:%s:-:-\n' "$(($(wc -l <"$1/db/subscriber")))" "$2" "$3" >>"$1/db/subscriber"
}

xcap_start() { # DIR PORT
	local dir=$1 port=$2 i code ready=404 auth=()
	need_xcap
	xcap_tables "$dir"
	if [ "$XCAP_AUTH" = 1 ]; then
		auth=(-A WITH_AUTH)
		ready=401
	fi
	XCAP_N=$((XCAP_N + 1))
	# shellcheck disable=SC2034 # read by the tests
	XCAP_PORT=$port
	XCAP_ROOT="http://127.0.0.1:$port/xcap-root"
	kamailio -f "$XCAP_CFG" -DD -E -m 64 -M 8 -P "$dir/kamailio.pid" -Y "$dir" \
		-A "XCAP_PORT=$port" -A "DBURL=\"text://$dir/db\"" "${auth[@]}" \
		</dev/null >"$LOGDIR/xcap.$XCAP_N.stdout" 2>"$LOGDIR/xcap.$XCAP_N.log" &
	XCAP_PID=$!
	PIDS+=("$XCAP_PID")
	for ((i = 0; i < 100; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
			"$(xcap_url sip:readiness@invalid)" 2>/dev/null) || true
		if [ "$code" = "$ready" ]; then
			log "xcap server pid $XCAP_PID ready on $port"
			return 0
		fi
		kill -0 "$XCAP_PID" 2>/dev/null || fail "kamailio (xcap) exited at start: $(tail -n 5 "$LOGDIR/xcap.$XCAP_N.log")"
		sleep 0.1
	done
	fail "kamailio (xcap) not answering on $port within 10 s"
}

xcap_put() { # AOR FILE -> prints the ETag
	local hdr=$T_DIR/xcap_put.hdr code
	local cred=()
	[ -n "$XCAP_CRED" ] && cred=(--digest -u "$XCAP_CRED")
	code=$(curl -sS -o /dev/null -D "$hdr" -w '%{http_code}' --max-time 5 -X PUT "${cred[@]}" \
		-H "Content-Type: application/vnd.oma.user-profile+xml" --data-binary "@$2" \
		"$(xcap_url "$1")") || fail "xcap_put $1: curl failed"
	case $code in 200 | 201) ;; *) fail "xcap_put $1: HTTP $code" ;; esac
	tr -d '\r' <"$hdr" | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p'
}

xcap_del() { # AOR
	local code cred=()
	[ -n "$XCAP_CRED" ] && cred=(--digest -u "$XCAP_CRED")
	code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X DELETE "${cred[@]}" "$(xcap_url "$1")") ||
		fail "xcap_del $1: curl failed"
	case $code in 200 | 204) ;; *) fail "xcap_del $1: HTTP $code" ;; esac
}

xcap_stop() {
	[ -n "$XCAP_PID" ] || return 0
	stop_pid "$XCAP_PID" 5
	XCAP_PID=""
}
