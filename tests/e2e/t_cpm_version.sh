#!/usr/bin/env bash
# `cpm --version` exists (it was an unknown option), prints "cpm X.Y.Z" and
# matches `cpmd --version`; `cpm --help` mentions it.
. "$(dirname "$0")/lib.sh"

rc=0
"$CPM" --version >"$LOGDIR/cpm.version" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "cpm --version exited $rc: $(head -n 2 "$LOGDIR/cpm.version")"
"$CPMD" --version >"$LOGDIR/cpmd.version" 2>&1 || fail "cpmd --version failed"
cv=$(cat "$LOGDIR/cpm.version")
dv=$(cat "$LOGDIR/cpmd.version")
[[ "$cv" =~ ^cpm\ [0-9]+\.[0-9]+(\.[0-9]+)?$ ]] || fail "cpm --version printed '$cv' (expected 'cpm X.Y.Z')"
[ "${cv#cpm }" = "${dv#cpmd }" ] || fail "cpm --version says '$cv', cpmd --version says '$dv'"
"$CPM" --help | grep -q -e '--version' || fail "cpm --help does not mention --version"
log "$cv / $dv"

