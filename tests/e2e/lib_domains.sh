# shellcheck shell=bash
# Two home domains, one cpmd each (docs/deployment.md §3): source after lib.sh.
#   domains_start OPTS_COM OPTS_NET   start example.com and example.net, each with a static
#                                      --route to the other over TCP (a refused connection is
#                                      an immediate 503: the originating side stores at once)
#   use_domain com|net                 make lib.sh's helpers (start_receiver, send_file,
#                                      send_message, cpmd_alive...) talk to that cpmd
#   domain_stop net / domain_start net restart one of them on the same ports and data dir
#   D_NOROUTE[KEY]=1 before domains_start: that cpmd gets no --route (e.g. it finds the other
#                                      domain by DNS, t_domains_dns.sh)
#   D_CERTS=DIR before domains_start    TLS (docs/security.md): DIR made by scripts/mk-test-certs.sh;
#                                      both cpmd also get --sip-tls/--msrp-tls, trust server-ca.pem
#                                      (--tls-ca), route to each other with ;transport=tls, and
#                                      use_domain makes the clients use TLS (--ca server-ca.pem).
#                                      D_CERT[KEY]=NAME: that cpmd shows DIR/NAME.pem (default
#                                      server); D_MSRPS_HOST[KEY]: its --msrp-tls address
declare -A D_SIP=() D_MSRP=() D_PID=() D_LOG=() D_DATA=() D_NAME=() D_OPTS=() D_RUN=() D_NOROUTE=()
declare -A D_SIPS=() D_MSRPS=() D_CERT=() D_MSRPS_HOST=()
D_CERTS=${D_CERTS:-}
D_NAME[com]=example.com
D_NAME[net]=example.net

domain_start() { # KEY
	local k=$1 other i route=() tls=() cert
	[ "$k" = com ] && other=net || other=com
	[ -n "${D_NOROUTE[$k]:-}" ] || route=(--route "${D_NAME[$other]}=$HOST:${D_SIP[$other]};transport=tcp")
	if [ -n "$D_CERTS" ]; then
		cert="$D_CERTS/${D_CERT[$k]:-server}"
		tls=(--sip-tls "$HOST:${D_SIPS[$k]}" --msrp-tls "${D_MSRPS_HOST[$k]:-$HOST}:${D_MSRPS[$k]}"
			--tls-cert "$cert.pem" --tls-key "$cert.key" --tls-ca "$D_CERTS/server-ca.pem")
		[ -n "${D_NOROUTE[$k]:-}" ] || route=(--route "${D_NAME[$other]}=$HOST:${D_SIPS[$other]};transport=tls")
	fi
	D_RUN[$k]=$((${D_RUN[$k]:-0} + 1))
	D_LOG[$k]="$LOGDIR/cpmd.$k.${D_RUN[$k]}.log"
	mkdir -p "${D_DATA[$k]}"
	# shellcheck disable=SC2086 # D_OPTS: extra options, space-separated
	"$CPMD" --domain "${D_NAME[$k]}" --sip "$HOST:${D_SIP[$k]}" --msrp "$HOST:${D_MSRP[$k]}" \
		--data-dir "${D_DATA[$k]}" "${route[@]}" "${tls[@]}" \
		${D_OPTS[$k]} </dev/null >/dev/null 2>"${D_LOG[$k]}" &
	D_PID[$k]=$!
	PIDS+=("${D_PID[$k]}")
	for ((i = 0; i < 150; i++)); do
		grep -q 'cpmd: ready' "${D_LOG[$k]}" && { log "cpmd ${D_NAME[$k]} ready (pid ${D_PID[$k]})"; return 0; }
		kill -0 "${D_PID[$k]}" 2>/dev/null || fail "cpmd ${D_NAME[$k]} exited before 'cpmd: ready'"
		sleep 0.1
	done
	fail "cpmd ${D_NAME[$k]} not ready within 15 s"
}

domain_stop() { # KEY
	stop_pid "${D_PID[$1]}" 10
	case "$STOP_RC" in 0 | 143) ;; *) fail "cpmd ${D_NAME[$1]} exit status '$STOP_RC' after SIGTERM" ;; esac
	D_PID[$1]=""
	[ "$CPMD_PID" = "" ] || { [ "$DOMAIN" = "${D_NAME[$1]}" ] && CPMD_PID=""; }
	return 0
}

# The ports and data dirs of both, before either starts (each names the other's port).
domains_pick_ports() {
	local k
	for k in com net; do
		D_SIP[$k]=$(pick_port)
		USED_PORTS="$USED_PORTS${D_SIP[$k]} "
		D_MSRP[$k]=$(pick_port)
		USED_PORTS="$USED_PORTS${D_MSRP[$k]} "
		D_DATA[$k]="$T_DIR/cpmd-data.$k"
		[ -n "$D_CERTS" ] || continue
		D_SIPS[$k]=$(pick_port)
		USED_PORTS="$USED_PORTS${D_SIPS[$k]} "
		D_MSRPS[$k]=$(pick_port)
		USED_PORTS="$USED_PORTS${D_MSRPS[$k]} "
	done
}

domains_start() { # OPTS_COM OPTS_NET
	D_OPTS[com]=$1 D_OPTS[net]=$2
	domains_pick_ports
	domain_start com
	domain_start net
}

use_domain() { # KEY
	DOMAIN=${D_NAME[$1]} SIP_PORT=${D_SIP[$1]} MSRP_PORT=${D_MSRP[$1]}
	CPMD_LOG=${D_LOG[$1]} CPMD_PID=${D_PID[$1]} CPMD_DATA=${D_DATA[$1]}
	if [ -n "$D_CERTS" ]; then
		SIP_PORT=${D_SIPS[$1]} CPM_TRANSPORT=tls CPM_GLOBAL_OPTS="--ca $D_CERTS/server-ca.pem"
	fi
}

# Both cpmd still run (the ones that should).
domains_alive() {
	local k
	for k in com net; do
		[ -z "${D_PID[$k]}" ] || kill -0 "${D_PID[$k]}" 2>/dev/null || fail "cpmd ${D_NAME[$k]} died"
	done
}
