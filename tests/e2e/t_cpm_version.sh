#!/usr/bin/env bash
# `cpm --version` exists (it was an unknown option), prints "cpm X.Y.Z" (plus " (git
# DESCRIBE)" when built from a git checkout) and matches `cpmd --version`; X.Y.Z is the one
# in CMakeLists.txt's project(); `cpm --help` mentions it.
. "$(dirname "$0")/lib.sh"

rc=0
"$CPM" --version >"$LOGDIR/cpm.version" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "cpm --version exited $rc: $(head -n 2 "$LOGDIR/cpm.version")"
"$CPMD" --version >"$LOGDIR/cpmd.version" 2>&1 || fail "cpmd --version failed"
cv=$(cat "$LOGDIR/cpm.version")
dv=$(cat "$LOGDIR/cpmd.version")
[[ "$cv" =~ ^cpm\ ([0-9]+\.[0-9]+(\.[0-9]+)?)(\ \(git\ [0-9A-Za-z._-]+\))?$ ]] ||
	fail "cpm --version printed '$cv' (expected 'cpm X.Y.Z [(git DESCRIBE)]')"
proj=$(sed -n -E 's/^project\(cpmd VERSION ([0-9.]+) .*/\1/p' "$CPM_SRC/CMakeLists.txt")
[ "${BASH_REMATCH[1]}" = "$proj" ] || fail "cpm --version says ${BASH_REMATCH[1]}, CMakeLists.txt project() $proj"
if git -C "$CPM_SRC" rev-parse --git-dir >/dev/null 2>&1; then
	[ -n "${BASH_REMATCH[3]}" ] || fail "built from a git checkout, but '$cv' has no git describe"
fi
[ "${cv#cpm }" = "${dv#cpmd }" ] || fail "cpm --version says '$cv', cpmd --version says '$dv'"
"$CPM" --help | grep -q -e '--version' || fail "cpm --help does not mention --version"
log "$cv / $dv"

