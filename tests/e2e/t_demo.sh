#!/usr/bin/env bash
# `make demo` (scripts/demo.sh) runs the whole store-and-forward story and
# checks each step itself; here it runs on random ports so it can never rot.
. "$(dirname "$0")/lib.sh"

sp=$(pick_port)
USED_PORTS="$USED_PORTS$sp "
mp=$(pick_port)
DEMO_SIP_PORT=$sp DEMO_MSRP_PORT=$mp TMPDIR="$T_DIR" bash "$CPM_SRC/scripts/demo.sh" "$(dirname "$CPMD")" \
	>"$LOGDIR/demo.out" 2>&1 || fail "demo failed: $(tail -n 20 "$LOGDIR/demo.out")"
grep -q "^demo: OK" "$LOGDIR/demo.out" || fail "demo did not finish"
grep -q "^stored$" "$LOGDIR/demo.out" || fail "no 'stored' step"
grep -q "^notification delivered " "$LOGDIR/demo.out" || fail "no notification step"
log "demo OK"
