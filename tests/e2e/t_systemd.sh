#!/usr/bin/env bash
# cpmd under systemd (issue 13 §5), without systemd as PID 1:
#  1. `systemd-analyze verify` accepts deploy/systemd/cpmd.service as `make install` writes it
#     (ExecStart pointed at this build's cpmd: verify checks the binary exists; MANPATH at the
#     generated pages: verify runs `man` for each Documentation= page);
#  2. Type=notify: with NOTIFY_SOCKET set to a socket the test listens on, READY=1 arrives once
#     the SIP and MSRP ports accept connections; a SIGHUP sends RELOADING=1 with
#     MONOTONIC_USEC and READY=1 again; SIGTERM sends STOPPING=1;
#  3. journald logs: with JOURNAL_STREAM set, lines carry "<N>" priorities and no time stamp
#     of cpmd's own; --log-format text overrides.
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (scripts/setup.sh installs systemd)"
# 1
unit="$T_DIR/cpmd.service"
sed -e "s|@CPMD_SBINDIR@|$(dirname "$CPMD")|" -e "s|@CPMD_CONFDIR@|$T_DIR|" "$CPM_SRC/deploy/systemd/cpmd.service" >"$unit"
sed -i "s|/cpmd --config|/$(basename "$CPMD") --config|" "$unit"
[ -f "$CPM_BUILD/man/man8/cpmd.8" ] || fail "no generated man pages in $CPM_BUILD/man (build first)"
MANPATH="$CPM_BUILD/man" SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$unit" >"$LOGDIR/verify.out" 2>&1 ||
	fail "systemd-analyze verify: $(cat "$LOGDIR/verify.out")"
[ ! -s "$LOGDIR/verify.out" ] || fail "systemd-analyze verify warns: $(cat "$LOGDIR/verify.out")"
for want in '^Type=notify$' '^DynamicUser=yes$' '^ProtectSystem=strict$' '^StateDirectory=cpmd$' \
	'^NoNewPrivileges=yes$' '^PrivateTmp=yes$' '^ProtectHome=yes$' '^RestrictAddressFamilies=' \
	'^SystemCallFilter=@system-service$' '^ExecReload=/bin/kill -HUP \$MAINPID$'; do
	assert_grep "$unit" "$want" "the unit has no /$want/"
done
exposure=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
log "systemd-analyze security: exposure $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e + 0 <= 2.0) }' || fail "exposure level '$exposure' (at most 2.0 expected)"

# 2
sock="$T_DIR/notify.sock"
SIP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$SIP_PORT "
MSRP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$MSRP_PORT "
python3 "$E2E_DIR/notify_listen.py" "$sock" "$LOGDIR/notify" "$HOST:$SIP_PORT" "$HOST:$MSRP_PORT" &
PIDS+=($!)
bound() { grep -q '^bound$' "$LOGDIR/notify" 2>/dev/null; }
wait_for 10 "the notify socket" bound
printf 'max-file-size = 0\n' >"$T_DIR/cpmd.conf"
CPMD_LOG="$LOGDIR/cpmd.log"
NOTIFY_SOCKET="$sock" JOURNAL_STREAM=8:12345 "$CPMD" --domain "$DOMAIN" --sip "$HOST:$SIP_PORT" \
	--msrp "$HOST:$MSRP_PORT" --data-dir "$T_DIR/data" --config "$T_DIR/cpmd.conf" </dev/null 2>"$CPMD_LOG" &
CPMD_PID=$!
PIDS+=("$CPMD_PID")
notified() { cpmd_alive; [ "$(grep -c "$1" "$LOGDIR/notify")" -ge "$2" ]; }
wait_for 15 "READY=1 on the notify socket" notified 'READY=1' 1
ready=$(grep -m1 'READY=1' "$LOGDIR/notify")
log "first message: $ready"
[[ "$ready" == "$HOST:$SIP_PORT=listening $HOST:$MSRP_PORT=listening "* ]] ||
	fail "READY=1 came before the listeners accepted connections: $ready"
[[ "$ready" == *"MAINPID=$CPMD_PID"* ]] || fail "READY=1 without MAINPID=$CPMD_PID: $ready"
[ "$(grep -c -v '^bound$' "$LOGDIR/notify")" = 1 ] || fail "messages before READY=1: $(cat "$LOGDIR/notify")"
printf 'max-file-size = 1000\n' >"$T_DIR/cpmd.conf"
kill -HUP "$CPMD_PID"
wait_for 10 "READY=1 after the reload" notified 'READY=1' 2
grep -q -E '(^| )RELOADING=1\|MONOTONIC_USEC=[0-9]+$' "$LOGDIR/notify" ||
	fail "no RELOADING=1 with MONOTONIC_USEC: $(cat "$LOGDIR/notify")"
[ "$(grep -n 'RELOADING=1' "$LOGDIR/notify" | cut -d: -f1)" -lt "$(grep -n 'READY=1$' "$LOGDIR/notify" | tail -1 | cut -d: -f1)" ] ||
	fail "READY=1 did not follow RELOADING=1: $(cat "$LOGDIR/notify")"
kill -TERM "$CPMD_PID"
wait_exit "$CPMD_PID" 10
[ "$WAIT_RC" = 0 ] || fail "cpmd exit status $WAIT_RC after SIGTERM"
CPMD_PID=""
grep -q 'STOPPING=1' "$LOGDIR/notify" || fail "no STOPPING=1: $(cat "$LOGDIR/notify")"

# 3: the journal format of the run above
assert_grep "$CPMD_LOG" '^<6>cpmd: info: reload: max-file-size: 0 -> 1000$' "no '<6>' info line in journal format"
assert_no_grep "$CPMD_LOG" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "a time stamp of cpmd's own under JOURNAL_STREAM"
assert_no_grep "$CPMD_LOG" '^<[0-9]>.*[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z cpmd' "a double time stamp"
JOURNAL_STREAM=8:12345 "$CPMD" --log-format text --data-dir "$T_DIR/nodir/x" --sip "$HOST:$(pick_port)" \
	--msrp "$HOST:$(pick_port)" </dev/null 2>"$LOGDIR/text.log" &
p=$!
PIDS+=("$p")
text_ready() { grep -q 'cpmd: ready' "$LOGDIR/text.log"; }
wait_for 15 "cpmd --log-format text" text_ready
stop_pid "$p" 5
assert_grep "$LOGDIR/text.log" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z cpmd: info: ' "--log-format text: no time-stamped line"
assert_no_grep "$LOGDIR/text.log" '^<[0-9]>' "--log-format text still wrote journal prefixes"
"$CPMD" --log-format journal --log-level debug --data-dir /proc/no/such </dev/null 2>"$LOGDIR/err.log" || true
assert_grep "$LOGDIR/err.log" '^<3>cpmd: error: ' "an error is not '<3>' in journal format"
