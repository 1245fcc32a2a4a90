#!/usr/bin/env bash
# A permanent refusal: an object larger than the server's quota_max_mail_size
# is answered "NO [LIMIT]" and reported as permanent (-2: retrying cannot
# help), with the server's reason; a smaller one is still stored.
source "$(dirname "$0")/../e2e/lib.sh"
source "$CPM_SRC/tests/mss/lib_mss.sh"

DOVECOT_MAX_MAIL_SIZE=1M dovecot_start "$MSS_DIR" "$MSS_PORT"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$T_DIR/big"
head -c 1000 /dev/urandom >"$T_DIR/small"
mss_expect 3 "object over the size limit" --kind ft --id lim-1 --file "$T_DIR/big" --name big.bin
grep -q '^why=APPEND: .*\[LIMIT\]' <<<"$MSS_OUT" || fail "reason: $MSS_OUT"
mss_expect 0 "small object" --kind ft --id lim-2 --file "$T_DIR/small" --name small.bin
[ "$(dovecot_count bob CPM/History)" = 1 ] || fail "CPM/History: $(dovecot_count bob CPM/History)"
exit 0
