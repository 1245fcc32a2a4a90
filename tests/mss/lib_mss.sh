# shellcheck shell=bash
# Shared by tests/mss/t_mss_*.sh (source after tests/e2e/lib.sh): a Dovecot of
# tests/lib_dovecot.sh on a fresh port, and mss_store (the test driver) aimed at it.
source "$CPM_SRC/tests/lib_dovecot.sh"
MSS_STORE=${MSS_STORE:-$CPM_BUILD/mss_store}
MSS_CHECK="$CPM_SRC/tests/mss/mss_check.py"
need_bin "$MSS_STORE"
MSS_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$MSS_PORT "
MSS_DIR="$T_DIR/dovecot"

# mss STORE-OPTIONS...: run the driver against our Dovecot as user bob; sets
# MSS_RC (0 stored, 1 already, 2 transient, 3 permanent) and MSS_OUT.
mss() {
	MSS_RC=0
	MSS_OUT=$("$MSS_STORE" store --url "imap://127.0.0.1:$MSS_PORT" --master "$DOVECOT_MASTER_USER" \
		--password "$DOVECOT_MASTER_PASSWORD" --user bob "$@" 2>>"$LOGDIR/mss_store.err") || MSS_RC=$?
	echo "$MSS_OUT" >>"$LOGDIR/mss_store.out"
}
# mss_expect RC WHAT STORE-OPTIONS...
mss_expect() {
	local want=$1 what=$2
	shift 2
	mss "$@"
	[ "$MSS_RC" = "$want" ] || fail "$what: driver exit $MSS_RC, want $want: $MSS_OUT"
}
