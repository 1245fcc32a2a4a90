#!/usr/bin/env bash
# The layer rules of docs/ARCHITECTURE.md §2, checked on the tree (run by scripts/test.sh).
#   1. lib/ and include/cpm/ include nothing of src/ (codecs know nothing of the server).
#   2. No sofia-sip header reaches src/pf/ or src/store/, directly or through another header
#      (checked with the compiler's -H include trace, so a header that drags sofia in fails).
#   3. Nothing outside src/cpmd/ includes cpmd/ (modules get configuration structs).
#   4. No "blobs/" (the store's on-disk layout) outside src/store/: only the store names paths
#      under --data-dir.
#   5. No .c file in src/ or lib/ over 800 lines (small files with one purpose).
#   6. The admin API (src/admin, issue 13) is reached only from src/cpmd, includes no sofia-sip
#      header, and sees pf only through pf/pf_admin.h and the store only through
#      store/store_reader.h and store/store.h (its HTTP thread must not reach loop-side objects
#      any other way; docs/internals/admin.md).
#   7. The operator console (web/console) has no inline script, event handler or style attribute
#      and names no other origin: cpmd serves it with a same-origin-only Content-Security-Policy
#      (src/admin/admin_static.c), under which such a page would silently break.
# Prints one line per violation and "layers: ok" or "layers: N violation(s)"; exit 0 only if ok.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
CC=${CC:-cc}
bad=0
fail() { echo "layer violation: $*"; bad=$((bad + 1)); }

# 1
while IFS= read -r hit; do
	fail "lib/ must not include src/: $hit"
done < <(grep -rnE '^\s*#\s*include\s+"(pf|sipua|net|relay|store|cpmd|client|common|push)/' lib include/cpm 2>/dev/null)

# 2a: direct includes
while IFS= read -r hit; do
	fail "no sofia-sip in src/pf or src/store: $hit"
done < <(grep -rnE '^\s*#\s*include\s+<sofia-sip/' src/pf src/store 2>/dev/null)
# 2b: through headers (the compiler's include trace)
SOFIA_CFLAGS=$(pkg-config --cflags sofia-sip-ua 2>/dev/null)
for f in src/pf/*.c src/store/*.c; do
	[ -f "$f" ] || continue
	trace=$($CC -std=c11 -D_GNU_SOURCE -fsyntax-only -H -Iinclude -Isrc $SOFIA_CFLAGS "$f" 2>&1 >/dev/null) || {
		fail "$f does not compile for the include check"
		continue
	}
	via=$(printf '%s\n' "$trace" | grep -E '^\.+ ' | awk '
		{ depth = length($1); file = $2; path[depth] = file
		  if (file ~ /sofia-sip/) { chain = ""; for (i = 1; i < depth; i++) chain = chain path[i] " -> "; print chain file; exit } }')
	[ -n "$via" ] && fail "$f reaches sofia-sip: $via"
done

# 3
while IFS= read -r hit; do
	fail "only src/cpmd includes cpmd/: $hit"
done < <(grep -rnE '^\s*#\s*include\s+"cpmd/' src lib include bench fuzz tests 2>/dev/null | grep -v '^src/cpmd/')

# 4
while IFS= read -r hit; do
	fail "only src/store names the data layout (blobs/): $hit"
done < <(grep -rn 'blobs/' src lib include --include='*.c' --include='*.h' 2>/dev/null | grep -v '^src/store/')

# 5
while read -r n f; do
	[ "$f" = total ] && continue
	[ "$n" -gt 800 ] && fail "$f has $n lines (> 800)"
done < <(find src lib -name '*.c' -print0 | xargs -0 wc -l)

# 6
while IFS= read -r hit; do
	fail "only src/cpmd includes admin/: $hit"
done < <(grep -rnE '^\s*#\s*include\s+"admin/' src lib include 2>/dev/null | grep -vE '^src/(cpmd|admin)/')
while IFS= read -r hit; do
	fail "src/admin reaches pf or the store only through pf_admin.h, store_reader.h, store.h: $hit"
done < <(grep -rnE '^\s*#\s*include\s+("(pf|store|sipua|relay)/|<sofia-sip/)' src/admin 2>/dev/null |
	grep -vE '"(pf/pf_admin|store/store_reader|store/store)\.h"')
for f in src/admin/*.c; do
	[ -f "$f" ] || continue
	trace=$($CC -std=c11 -D_GNU_SOURCE -fsyntax-only -H -Iinclude -Isrc $SOFIA_CFLAGS "$f" 2>&1 >/dev/null) || {
		fail "$f does not compile for the include check"
		continue
	}
	printf '%s\n' "$trace" | grep -qE '^\.+ .*sofia-sip' && fail "$f reaches sofia-sip"
done

# 7
while IFS= read -r hit; do
	fail "web/console must stay same-origin, no inline script/style: $hit"
done < <(grep -nE '<script>|<script [^>]*>[^<]|<style|\son[a-z]+=|\sstyle=|(src|href)="(https?:)?//' web/console/*.html 2>/dev/null;
	grep -nE "https?://" web/console/*.js web/console/*.css 2>/dev/null | grep -v 'http://www.w3.org/2000/svg')

if [ "$bad" -eq 0 ]; then
	echo "layers: ok"
else
	echo "layers: $bad violation(s)"
fi
[ "$bad" -eq 0 ]
