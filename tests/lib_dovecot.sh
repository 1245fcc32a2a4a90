# shellcheck shell=bash
# A real Dovecot IMAP server for the MSS tests (source it after tests/e2e/lib.sh;
# never run it). Set-up and traps verified in ../shared/dovecot.md:
#   - its own config, base_dir, state and mail under DIR (nothing of /etc/dovecot
#     is read, and a system dovecot on 143/993 does not clash);
#   - `dovecot -F` (foreground: we are its parent, so `wait` reaps it; a
#     daemonised master would be re-parented and could stay a zombie);
#   - ready when the "* OK" greeting is read, not at a bare TCP connect (a
#     connect-only probe makes imap-login wait 5 s before stopping);
#   - mail runs as the package's `dovecot` user (not uid 0), so DIR and its
#     parent must be traversable by it.
# Users bob and alice (passwords bobpass, alicepass) and the master user
# admin/adminpass: "bob*admin" with adminpass acts as bob.
#
#   dovecot_start DIR PORT   start (or restart, same DIR) on 127.0.0.1:PORT;
#                            sets DOVECOT_PID (also in PIDS: the EXIT trap stops it)
#   dovecot_stop             SIGTERM and wait (about 1 s)
#   dovecot_count USER FOLDER          messages in FOLDER (0 if it does not exist)
#   dovecot_fetch USER FOLDER OUTDIR   every message of FOLDER as OUTDIR/<uid>.eml
#                                      (exact bytes: BODY[] through doveadm)
#   dovecot_folders USER               the folder list
# DOVECOT_MASTER_USER / DOVECOT_MASTER_PASSWORD: for the clients under test.
# DOVECOT_TLS_DIR=DIR (set before the first dovecot_start): imaps only on PORT
# with DIR/server.pem and DIR/server.key (scripts/mk-test-certs.sh DIR).
# DOVECOT_MAX_MAIL_SIZE=1M (set before the first dovecot_start): quota plugin
# with that quota_max_mail_size (the permanent-error case).

DOVECOT_PID=""
DOVECOT_CONF=""
DOVECOT_MASTER_USER=admin
DOVECOT_MASTER_PASSWORD=adminpass

_dovecot_config() {
	local dir=$1 port=$2
	cat >"$dir/etc/dovecot.conf" <<CONF
# test instance of tests/lib_dovecot.sh (see ../shared/dovecot.md)
instance_name = mss-test-$port
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/log/dovecot.log
info_log_path = $dir/log/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
# no stats writer: its handshake delays imap-login's stop by 5 s
stats_writer_socket_path =
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_master_user_separator = *
# mail cannot run as uid 0: the package's dovecot user
first_valid_uid = 100
mail_uid = dovecot
mail_gid = dovecot
mail_location = maildir:$dir/mail/%n/Maildir
mail_home = $dir/mail/%n
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $dir/etc/master-users
  master = yes
  result_success = continue
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $dir/etc/users
}
userdb {
  driver = static
  args = allow_all_users=yes
}
namespace inbox {
  inbox = yes
  separator = /
}
protocol imap {
  mail_max_userip_connections = 100
}
CONF
	if [ -n "${DOVECOT_TLS_DIR:-}" ]; then
		# imaps only, on the same port: server.pem/server.key of scripts/mk-test-certs.sh
		sed -i -e 's/^ssl = no$/ssl = required/' -e "s/^    port = $port\$/    port = 0/" \
			-e "/inet_listener imaps {/,/}/s/port = 0/port = $port\n    address = 127.0.0.1/" "$dir/etc/dovecot.conf"
		printf 'ssl_cert = <%s/server.pem\nssl_key = <%s/server.key\n' "$DOVECOT_TLS_DIR" "$DOVECOT_TLS_DIR" >>"$dir/etc/dovecot.conf"
	fi
	if [ -n "${DOVECOT_MAX_MAIL_SIZE:-}" ]; then
		# the quota plugin refuses a larger APPEND before its literal:
		# "NO [LIMIT] Mail size is larger than the maximum size allowed"
		cat >>"$dir/etc/dovecot.conf" <<CONF
mail_plugins = \$mail_plugins quota
plugin {
  quota = maildir:User quota
  quota_max_mail_size = $DOVECOT_MAX_MAIL_SIZE
}
CONF
	fi
}

# _dovecot_greeting PORT: true once "* OK" is read from the server
_dovecot_greeting() {
	local line
	if [ -n "${DOVECOT_TLS_DIR:-}" ]; then
		python3 - "$1" <<'PY' 2>/dev/null
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=None)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
    with ctx.wrap_socket(s) as t:
        sys.exit(0 if t.recv(100).startswith(b"* OK") else 1)
PY
		return
	fi
	{ exec 9<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	IFS= read -r -t 2 line <&9 || line=""
	exec 9<&- 9>&-
	[[ $line == "* OK"* ]]
}

dovecot_start() {
	local dir=$1 port=$2 i
	command -v dovecot >/dev/null || fail "dovecot not installed (scripts/setup.sh: dovecot-imapd)"
	mkdir -p "$dir/etc" "$dir/run" "$dir/state" "$dir/log" "$dir/mail"
	chmod o+x "$dir" "$(dirname "$dir")"
	if [ ! -f "$dir/etc/dovecot.conf" ]; then
		_dovecot_config "$dir" "$port"
		printf 'bob:{PLAIN}bobpass\nalice:{PLAIN}alicepass\n' >"$dir/etc/users"
		printf 'admin:{PLAIN}adminpass\n' >"$dir/etc/master-users"
		chgrp dovecot "$dir/etc/users" "$dir/etc/master-users"
		chmod 640 "$dir/etc/users" "$dir/etc/master-users"
		chown dovecot:dovecot "$dir/mail"
	fi
	DOVECOT_CONF="$dir/etc/dovecot.conf"
	dovecot -F -c "$DOVECOT_CONF" >>"$LOGDIR/dovecot.stdout" 2>&1 &
	DOVECOT_PID=$!
	PIDS+=("$DOVECOT_PID")
	ARTIFACTS+=("$dir/log")
	for ((i = 0; i < 500; i++)); do # 10 s in 20 ms steps
		_dovecot_greeting "$port" && return 0
		kill -0 "$DOVECOT_PID" 2>/dev/null || { cat "$dir/log/dovecot.log" >&2 2>/dev/null; fail "dovecot exited at start"; }
		sleep 0.02
	done
	fail "dovecot gave no greeting on port $port within 10 s"
}

dovecot_stop() {
	[ -n "$DOVECOT_PID" ] || return 0
	# the master's children too: an imap process already logged in keeps serving its
	# connection after the master is gone (a client reusing it would not see the outage)
	local kids k i
	kids=$(pgrep -P "$DOVECOT_PID" || true)
	stop_pid "$DOVECOT_PID" 5
	for k in $kids; do kill -TERM "$k" 2>/dev/null || true; done
	for ((i = 0; i < 50; i++)); do
		for k in $kids; do kill -0 "$k" 2>/dev/null && break; k=""; done
		[ -z "$k" ] && break
		sleep 0.1
	done
	DOVECOT_PID=""
}

dovecot_count() {
	local n
	n=$(doveadm -c "$DOVECOT_CONF" mailbox status -u "$1" messages "$2" 2>/dev/null) || { echo 0; return 0; }
	echo "${n##*messages=}" # "FOLDER messages=N"
}

dovecot_folders() {
	doveadm -c "$DOVECOT_CONF" mailbox list -u "$1"
}

dovecot_fetch() {
	local user=$1 folder=$2 out=$3 uid
	mkdir -p "$out"
	for uid in $(doveadm -c "$DOVECOT_CONF" fetch -u "$user" uid mailbox "$folder" all | sed -n 's/^uid: //p'); do
		# -f pager: "text:" then the message, ended by a form feed line
		doveadm -c "$DOVECOT_CONF" -f pager fetch -u "$user" text mailbox "$folder" uid "$uid" |
			python3 -c 'import sys; d=sys.stdin.buffer.read(); d=d[d.index(b"\n")+1:]; d=d[:d.rindex(b"\f")] if b"\f" in d else d; sys.stdout.buffer.write(d)' >"$out/$uid.eml"
	done
}
