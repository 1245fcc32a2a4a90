# shellcheck shell=bash
# Helpers for the chat session tests (t_chat_*.sh; source lib.sh first). Not a test.
#
# A `cpm chat` runs in the background with its standard input on a FIFO that the test
# holds open for writing: chat_say writes a line (a chat message, or /file PATH, /quit),
# chat_eof closes it (EOF ends the session).

declare -A CHAT_PID=() CHAT_FD=() CHAT_OUT=() CHAT_ERR=()

# start_chat NAME USER TARGET [chat options...]: starts `cpm chat` and returns at once
# (the session is not necessarily up: chat_wait_up).
start_chat() {
	local name=$1 user=$2 target=$3 base fifo fd
	shift 3
	fifo="$T_DIR/chat.$name.in"
	CHAT_OUT[$name]="$LOGDIR/chat.$name.out"
	CHAT_ERR[$name]="$LOGDIR/chat.$name.err"
	mkfifo "$fifo"
	mapfile -t base < <(_cpm_base "$user")
	"$CPM" "${base[@]}" chat "$(_to_uri "$target")" "$@" <"$fifo" >"${CHAT_OUT[$name]}" 2>"${CHAT_ERR[$name]}" &
	CHAT_PID[$name]=$!
	PIDS+=("${CHAT_PID[$name]}")
	exec {fd}>"$fifo" # the reader above opens it at the same time
	CHAT_FD[$name]=$fd
	log "chat $name ($user -> $target, pid ${CHAT_PID[$name]}) started"
}

# chat_wait_up NAME: the session is established (stderr says so).
chat_wait_up() {
	local name=$1
	wait_for 30 "chat $name: session established" grep -q 'session with .* established' "${CHAT_ERR[$name]}"
}

chat_say() { # chat_say NAME LINE (in a subshell: a chat that is gone means EPIPE there, not here)
	(printf '%s\n' "$2" >&"${CHAT_FD[$1]}") 2>/dev/null || log "chat $1: could not write '$2' (it exited?)"
}

chat_eof() { # chat_eof NAME: EOF on its standard input
	local fd=${CHAT_FD[$1]}
	[ -n "$fd" ] || return 0
	exec {fd}>&-
	CHAT_FD[$1]=""
}

# chat_conv NAME: the Conversation-ID it printed on stderr.
chat_conv() {
	sed -n 's/^cpm: conversation-id //p' "${CHAT_ERR[$1]}" | head -n 1
}

# chat_ids NAME: the message-ids of the lines it sent, one per line, in order.
chat_ids() {
	sed -n 's/^cpm: message-id //p' "${CHAT_ERR[$1]}"
}

# count_lines FILE EREGEX: how many lines match.
count_lines() {
	grep -a -c -E -- "$2" "$1" 2>/dev/null || true
}

# wait_lines TIMEOUT FILE EREGEX N: at least N lines of FILE match.
wait_lines() {
	local t=$1 f=$2 re=$3 n=$4
	_enough() { [ "$(count_lines "$f" "$re")" -ge "$n" ]; }
	wait_for "$t" "$n line(s) /$re/ in $(basename "$f") (now $(count_lines "$f" "$re"))" _enough
}

# chat_exit NAME TIMEOUT: waits for the chat to exit; sets WAIT_RC.
chat_exit() {
	wait_exit "${CHAT_PID[$1]}" "$2"
	log "chat $1 exited: $WAIT_RC (last line: $(tail -n 1 "${CHAT_OUT[$1]}" 2>/dev/null))"
}

# chat_round_trip CHAT RECV FROM_URI TO_URI CONV REPLY: chat CHAT (an established session of
# FROM_URI to TO_URI, conversation CONV) says two lines; receiver RECV (running with
# --reply REPLY) prints both, CHAT prints both replies and a `delivered` for each of its two
# message-ids; EOF on CHAT ends it (exit 0) and RECV prints the session's end.
chat_round_trip() {
	local c=$1 r=$2 from=$3 to=$4 conv=$5 reply=$6 i id ids
	for i in 1 2; do chat_say "$c" "hello $i"; done
	wait_lines 20 "${RECV_OUT[$r]}" "^chat $from $conv hello [12]\$" 2
	wait_lines 20 "${CHAT_OUT[$c]}" "^chat $to $conv $reply\$" 2
	mapfile -t ids < <(chat_ids "$c")
	[ "${#ids[@]}" -eq 2 ] || fail "cpm chat printed ${#ids[@]} message-ids, 2 expected"
	for id in "${ids[@]}"; do
		wait_lines 20 "${CHAT_OUT[$c]}" "^notification delivered $id\$" 1
	done
	chat_eof "$c"
	chat_exit "$c" 20
	[ "$WAIT_RC" = 0 ] || fail "cpm chat exit status $WAIT_RC after EOF (0 expected)"
	wait_lines 20 "${RECV_OUT[$r]}" "^session $from $conv ended\$" 1
}
