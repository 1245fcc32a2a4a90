#!/usr/bin/env bash
# Never lost, never twice: the same object stored twice is one message (UID
# SEARCH on its Message-ID first); with Dovecot stopped a store is transient
# (-1), and once Dovecot is back the retry stores it exactly once. Also the
# API from 8 threads at once, the start-up check (master login) and a wrong master password (transient: the
# operator fixes the configuration, the item waits).
source "$(dirname "$0")/../e2e/lib.sh"
source "$CPM_SRC/tests/mss/lib_mss.sh"

dovecot_start "$MSS_DIR" "$MSS_PORT"
head -c 5000 /dev/urandom >"$T_DIR/f"
args=(--kind ft --id dup-1 --file "$T_DIR/f" --name f.bin --conv conv-D)

"$MSS_STORE" check --url "imap://127.0.0.1:$MSS_PORT" --master admin --password adminpass --check-user bob >"$T_DIR/chk" ||
	fail "check: $(cat "$T_DIR/chk")"

mss_expect 0 "first store" "${args[@]}"
mss_expect 1 "second store of the same object" "${args[@]}"
[ "$(dovecot_count bob CPM/Conversations/conv-D)" = 1 ] || fail "dedup: $(dovecot_count bob CPM/Conversations/conv-D) messages"

dovecot_stop
args2=(--kind ft --id dup-2 --file "$T_DIR/f" --name g.bin --conv conv-D)
mss_expect 2 "store with Dovecot stopped" "${args2[@]}"
grep -q '^why=.*[Cc]ouldn' <<<"$MSS_OUT" || fail "transient reason: $MSS_OUT"
dovecot_start "$MSS_DIR" "$MSS_PORT"
mss_expect 0 "retry after restart" "${args2[@]}"
mss_expect 1 "retry again" "${args2[@]}"
[ "$(dovecot_count bob CPM/Conversations/conv-D)" = 2 ] || fail "after restart: $(dovecot_count bob CPM/Conversations/conv-D) messages, want 2"

# nothing listens: transient within the connect timeout
rc=0; "$MSS_STORE" store --url "imap://127.0.0.1:$(pick_port)" --master admin --password adminpass \
	--user bob "${args2[@]}" >"$T_DIR/o" || rc=$?
[ $rc = 2 ] || fail "no server: exit $rc"
# an invalid user name (would need quoting): permanent, nothing sent
rc=0; "$MSS_STORE" store --url "imap://127.0.0.1:$MSS_PORT" --master admin --password adminpass \
	--user 'bob" x' "${args2[@]}" >"$T_DIR/o" || rc=$?
[ $rc = 3 ] || fail "invalid user: exit $rc"
# the API from 8 threads at once (one connection each): 8 objects, each once
mss_expect 0 "8 threads" --kind ft --id par --file "$T_DIR/f" --name p.bin --conv conv-P --threads 8
mss_expect 1 "8 threads again" --kind ft --id par --file "$T_DIR/f" --name p.bin --conv conv-P --threads 8
[ "$(dovecot_count bob CPM/Conversations/conv-P)" = 8 ] || fail "threads: $(dovecot_count bob CPM/Conversations/conv-P) messages, want 8"

# last: Dovecot delays logins from an address after a failed one (auth penalty)
rc=0; "$MSS_STORE" check --url "imap://127.0.0.1:$MSS_PORT" --master admin --password wrong --check-user bob >"$T_DIR/chk" || rc=$?
[ $rc = 2 ] || fail "check with a wrong password: exit $rc, want 2 (transient)"
exit 0
