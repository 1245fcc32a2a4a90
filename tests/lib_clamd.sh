# shellcheck shell=bash
# A real clamd (ClamAV's daemon) for the tests, as a child of the test (source it after
# tests/e2e/lib.sh, which gives pick_port, fail, log, stop_pid, T_DIR, LOGDIR, PIDS and the
# EXIT trap that stops every PID in PIDS; never run it).
#
#   clamd_start DIR   config, signature database and sockets under DIR; clamd in the foreground
#                     (Foreground yes) on a unix socket and on 127.0.0.1:<pick_port>; returns
#                     once it answers PING with PONG (~60 ms with the one-signature database).
#                     Sets CLAMD_PID, CLAMD_SOCK, CLAMD_PORT, CLAMD_UNIX (unix:PATH),
#                     CLAMD_TCP (127.0.0.1:PORT), CLAMD_CONF, CLAMD_LOG.
#   clamd_stop        SIGCONT (in case a test froze it), SIGTERM, wait; the sockets are gone after.
#   clamd_ping ADDR   0 if ADDR (unix:PATH or HOST:PORT) answers PONG (socat, not the code under test)
#   eicar_write FILE  writes the 68-byte EICAR test string into FILE
#   CLAMD_SIG         the name clamd reports for it (clamd appends .UNOFFICIAL to any signature
#                     that is not in a signed database)
#   CLAMD_STREAM_MAX  clamd's StreamMaxLength (bytes); set it before clamd_start to change it
#
# The CI machine has no Internet, so freshclam cannot fetch main.cvd, and ClamAV 1.4 has no
# built-in EICAR detection (clamd refuses to start on an empty DatabaseDirectory, and with an
# unrelated signature it says OK to EICAR). The database is one body signature (.ndb: name,
# target type 0 = any file, offset * = anywhere, the bytes in hex) of the EICAR string, written
# here at run time: it matches EICAR anywhere inside a larger file or stream. The string itself
# is only ever assembled from two halves, so the repository carries no file that scanners flag.

CLAMD_PID="" CLAMD_SOCK="" CLAMD_PORT="" CLAMD_UNIX="" CLAMD_TCP="" CLAMD_CONF="" CLAMD_LOG=""
# shellcheck disable=SC2034 # read by the tests that source this file
CLAMD_SIG="Cpmd-Test-Eicar.UNOFFICIAL"
CLAMD_STREAM_MAX=${CLAMD_STREAM_MAX:-16777216}

eicar_write() {
	# shellcheck disable=SC2016 # the '$' are the string's own bytes
	local a='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR' b='-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
	printf '%s%s' "$a" "$b" >"$1"
}

clamd_ping() {
	local addr=$1 reply
	case "$addr" in
	unix:*) reply=$(printf 'zPING\0' | timeout 2 socat -t 2 - "UNIX-CONNECT:${addr#unix:}" 2>/dev/null | tr -d '\0') || return 1 ;;
	*) reply=$(printf 'zPING\0' | timeout 2 socat -t 2 - "TCP:$addr" 2>/dev/null | tr -d '\0') || return 1 ;;
	esac
	[ "$reply" = PONG ]
}

clamd_start() {
	local dir=$1 try i t0
	command -v clamd >/dev/null || fail "clamd not installed (scripts/setup.sh: clamav-daemon)"
	mkdir -p "$dir/db" "$dir/tmp"
	eicar_write "$dir/eicar.tmp"
	printf 'Cpmd-Test-Eicar:0:*:%s\n' "$(od -An -tx1 -v "$dir/eicar.tmp" | tr -d ' \n')" >"$dir/db/cpmd-test.ndb"
	rm -f "$dir/eicar.tmp"
	CLAMD_SOCK="$dir/clamd.sock"
	CLAMD_CONF="$dir/clamd.conf"
	CLAMD_LOG="$LOGDIR/clamd.log"
	# A bind race with another test on the port: another port, like start_cpmd.
	for try in 1 2 3; do
		CLAMD_PORT=$(pick_port)
		USED_PORTS="$USED_PORTS$CLAMD_PORT "
		# No User line: clamd keeps our uid (root on CI) and reads its own files.
		# TemporaryDirectory: INSTREAM spools the stream to a file there.
		cat >"$CLAMD_CONF" <<-CONF
			Foreground yes
			LocalSocket $CLAMD_SOCK
			TCPSocket $CLAMD_PORT
			TCPAddr 127.0.0.1
			DatabaseDirectory $dir/db
			TemporaryDirectory $dir/tmp
			LogFile $CLAMD_LOG
			LogTime yes
			StreamMaxLength $CLAMD_STREAM_MAX
			MaxScanSize 256M
			MaxFileSize 256M
			SelfCheck 3600
		CONF
		t0=$(date +%s%N)
		clamd -c "$CLAMD_CONF" </dev/null >>"$LOGDIR/clamd.stderr" 2>&1 &
		CLAMD_PID=$!
		PIDS+=("$CLAMD_PID")
		CLAMD_UNIX="unix:$CLAMD_SOCK"
		CLAMD_TCP="127.0.0.1:$CLAMD_PORT"
		for ((i = 0; i < 150; i++)); do
			if clamd_ping "$CLAMD_UNIX" && clamd_ping "$CLAMD_TCP"; then
				log "clamd pid $CLAMD_PID ready in $((($(date +%s%N) - t0) / 1000000)) ms: $CLAMD_UNIX $CLAMD_TCP"
				return 0
			fi
			kill -0 "$CLAMD_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$CLAMD_PID" 2>/dev/null; then
			fail "clamd (pid $CLAMD_PID) did not answer PONG within 15 s"
		fi
		wait "$CLAMD_PID" 2>/dev/null || true
		log "clamd exited at start (try $try; port $CLAMD_PORT taken?)"
	done
	fail "clamd did not start (see $LOGDIR/clamd.stderr)"
}

clamd_stop() {
	[ -n "$CLAMD_PID" ] || return 0
	kill -CONT "$CLAMD_PID" 2>/dev/null || true
	stop_pid "$CLAMD_PID" 10
	[ "$STOP_RC" = killed ] && fail "clamd did not exit within 10 s of SIGTERM"
	CLAMD_PID=""
}
