#!/usr/bin/env bash
# The README's walk-through runs as written. Every command below is taken
# from README.md itself (its ```sh blocks, continuation lines joined), found
# by how it starts, and run with only these substitutions: build/ -> the
# binaries under test, ports 5060/2855 -> free ports, /tmp/ -> this test's
# directory, tests/data -> the source tree's. What the README says comes out
# (the `cpmd: ready` line, `received`/`thumbnail` lines, the cancelled
# laptop's message, `stored`, the notification, `deferred`, the fetch, a message,
# its reports, a stored message listed and fetched) is
# checked against what the binaries print. (The config file example is
# t_config_comments, `make demo` is t_demo.)
. "$(dirname "$0")/lib.sh"

README="$CPM_SRC/README.md"
python3 - "$README" >"$T_DIR/readme.cmds" <<'EOF'
import sys
block, cur = False, ""
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    if line.startswith("```"):
        block = line.strip() == "```sh" if not block else False
        continue
    if not block:
        continue
    if cur:
        line = cur + " " + line.strip()
        cur = ""
    if line.endswith("\\"):
        cur = line[:-1].rstrip()
        continue
    print(line)
EOF
mapfile -t CMDS <"$T_DIR/readme.cmds"
ARTIFACTS+=("$T_DIR/readme.cmds")

SIP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$SIP_PORT "
MSRP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$MSRP_PORT "
BIN=$(dirname "$CPM")
# The README's own /tmp/ paths first: the paths put in afterwards (the build and source
# trees) may themselves be under /tmp (a clone there), and must not be rewritten.
sub() {
	sed -e "s|/tmp/|$T_DIR/|g" -e "s|^build/|$BIN/|" -e "s|127\\.0\\.0\\.1:5060|$HOST:$SIP_PORT|g" \
		-e "s|127\\.0\\.0\\.1:2855|$HOST:$MSRP_PORT|g" -e "s|tests/data/|$CPM_SRC/tests/data/|g" <<<"$1"
}
# readme_cmd N PREFIX: the Nth README command starting with PREFIX, substituted (in CMD).
readme_cmd() {
	local n=$1 prefix=$2 c i=0
	for c in "${CMDS[@]}"; do
		[[ "$c" == "$prefix"* ]] || continue
		i=$((i + 1))
		if [ $i -eq "$n" ]; then
			CMD=$(sub "$c")
			return 0
		fi
	done
	fail "README.md has no command #$n starting with: $prefix"
}
# readme_out PREFIX: the README's "# OUTPUT" comment line starting with PREFIX, substituted.
readme_out() {
	local l
	l=$(grep -m1 -F -e "# $1" "$README" | sed 's/^# //') || true
	[ -n "$l" ] || fail "README.md shows no output line starting with: $1"
	sub "$l"
}
# bg NAME: run $CMD in the background (out/err in logs), pid in BG[NAME].
declare -A BG=()
bg() {
	log "$1: $CMD"
	(cd "$T_DIR" && eval "exec $CMD") </dev/null >"$LOGDIR/$1.out" 2>"$LOGDIR/$1.err" &
	BG[$1]=$!
	PIDS+=("${BG[$1]}")
}
# fg NAME: run $CMD, bounded; RC, LAST.
fg() {
	log "$1: $CMD"
	RC=0
	(cd "$T_DIR" && eval "exec timeout -k 2 60 $CMD") </dev/null >"$LOGDIR/$1.out" 2>"$LOGDIR/$1.err" || RC=$?
	LAST=$(tail -n 1 "$LOGDIR/$1.out")
}
registered() { # NAME USER
	kill -0 "${BG[$1]}" 2>/dev/null || fail "$1 exited: $(cat "$LOGDIR/$1.out" "$LOGDIR/$1.err" | tail -n 3)"
	grep -q "^cpm: registered sip:$2" "$LOGDIR/$1.err"
}
start_readme_cpmd() { # N
	readme_cmd "$1" "build/cpmd --domain example.com"
	bg "cpmd$1"
	CPMD_PID=${BG[cpmd$1]}
	CPMD_LOG="$LOGDIR/cpmd$1.err"
	wait_for 15 "cpmd: ready (README cpmd command #$1)" grep -q 'cpmd: ready' "$CPMD_LOG"
}

# --- Five-minute walk-through
start_readme_cpmd 1
want=$(readme_out "cpmd: ready")
got=$(grep 'cpmd: ready' "$CPMD_LOG")
[ "$got" = "$want" ] || fail "cpmd printed '$got', the README shows '$want'"
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:bob@example.com --device phone"
bg phone
wait_for 15 "bob's phone registered" registered phone bob@example.com
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:bob@example.com --device laptop"
bg laptop
wait_for 15 "bob's laptop registered" registered laptop bob@example.com
readme_cmd 1 "head -c 5000000 /dev/urandom"
fg mkfile
readme_cmd 1 "cp tests/data/thumb.png"
fg mkthumb
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:alice@example.com send sip:bob@example.com"
fg send1
[ $RC -eq 0 ] && [ "$LAST" = delivered ] || fail "send with thumbnail: exit $RC, last line '$LAST'"
h=$(sha1 "$T_DIR/holiday.jpg")
assert_grep "$LOGDIR/phone.out" "^received $T_DIR/bob-phone/holiday\\.jpg 5000000 $h\$"
grep -q -x -F "thumbnail /tmp/bob-phone/holiday.jpg.thumbnail.png 513" "$README" ||
	fail "README.md no longer shows the thumbnail line this test checks"
assert_grep "$LOGDIR/phone.out" "^thumbnail $T_DIR/bob-phone/holiday\\.jpg\\.thumbnail\\.png 513\$"
msg="cpm: incoming transfer of holiday.jpg cancelled by the caller (CANCEL)"
tr '\n' ' ' <"$README" | sed 's/  */ /g' | grep -q -F "\`$msg\`" || fail "README.md does not quote '$msg'"
wait_for 15 "the laptop's cancelled message" grep -q -x -F "$msg" "$LOGDIR/laptop.err"

# --- Store-and-forward: Bob's devices stopped with Ctrl-C
for d in phone laptop; do
	kill -INT "${BG[$d]}"
	wait_exit "${BG[$d]}" 10
	[ "$WAIT_RC" = 0 ] || fail "$d: exit '$WAIT_RC' after Ctrl-C"
done
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:alice@example.com send bob /tmp/holiday.jpg --expires"
fg send2
[ $RC -eq 0 ] && [ "$LAST" = stored ] || fail "send to offline bob: exit $RC, last line '$LAST'"
ftid=$(sed -n 's/^cpm: file-transfer-id //p' "$LOGDIR/send2.err")
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:alice@example.com --device phone receive"
bg alice
wait_for 15 "alice's phone registered" registered alice alice@example.com
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:bob@example.com --device phone"
bg phone2
wait_for 30 "the stored file pushed to bob's phone" grep -q -F "received $T_DIR/bob-phone/holiday (1).jpg 5000000 $h" \
	"$LOGDIR/phone2.out"
wait_for 30 "alice's notification" grep -q -x -F "notification delivered $ftid" "$LOGDIR/alice.out"
for d in phone2 alice; do kill -INT "${BG[$d]}"; wait_exit "${BG[$d]}" 10; done

# --- Pull: cpmd again, with the user preference
stop_cpmd
start_readme_cpmd 2
readme_cmd 2 "build/cpm --server 127.0.0.1:5060 --user sip:alice@example.com send bob /tmp/holiday.jpg"
fg send3
[ $RC -eq 0 ] && [ "$LAST" = stored ] || fail "send for pull: exit $RC, last line '$LAST'"
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:bob@example.com list"
fg list
[ $RC -eq 0 ] || fail "list: exit $RC"
item=$(sed -n 's/^deferred \([^ ]*\) sip:alice@example.com holiday.jpg 5000000$/\1/p' "$LOGDIR/list.out" | tail -n 1)
[ -n "$item" ] || fail "list printed no 'deferred ID sip:alice@example.com holiday.jpg 5000000': $(cat "$LOGDIR/list.out")"
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:bob@example.com fetch"
CMD=$(sed -E "s/ fetch [^ ]+ / fetch $item /" <<<"$CMD")
fg fetch
[ $RC -eq 0 ] || fail "fetch: exit $RC, last line '$LAST'"
[ "$LAST" = "received $T_DIR/bob/holiday.jpg 5000000 $h" ] || fail "fetch printed '$LAST'"

# --- Standalone messages (the second cpmd still runs: Bob is a pull user)
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:carol@example.com --device phone receive"
bg carol
wait_for 15 "carol's phone registered" registered carol carol@example.com
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:alice@example.com --device phone receive"
bg alice2
wait_for 15 "alice's phone registered" registered alice2 alice@example.com
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:alice@example.com message carol"
fg msg1
[ $RC -eq 0 ] && [ "$LAST" = sent ] || fail "message to carol: exit $RC, last line '$LAST'"
mid=$(sed -n 's/^cpm: message-id //p' "$LOGDIR/msg1.err")
[ -n "$mid" ] || fail "cpm message printed no 'cpm: message-id ID'"
wait_for 10 "carol's message line" grep -q -x -F "message sip:alice@example.com $mid Dinner at 8?" "$LOGDIR/carol.out"
wait_for 10 "alice's delivered report" grep -q -x -F "notification delivered $mid" "$LOGDIR/alice2.out"
wait_for 10 "alice's displayed report" grep -q -x -F "notification displayed $mid" "$LOGDIR/alice2.out"
readme_cmd 1 "build/cpm --server 127.0.0.1:5060 --user sip:alice@example.com message bob"
fg msg2
[ $RC -eq 0 ] && [ "$LAST" = stored ] || fail "message to bob (pull): exit $RC, last line '$LAST'"
mid2=$(sed -n 's/^cpm: message-id //p' "$LOGDIR/msg2.err")
readme_cmd 2 "build/cpm --server 127.0.0.1:5060 --user sip:bob@example.com list"
fg list2
item=$(sed -n 's/^deferred \([^ ]*\) sip:alice@example.com message [0-9]*$/\1/p' "$LOGDIR/list2.out" | tail -n 1)
[ -n "$item" ] || fail "list printed no 'deferred ID sip:alice@example.com message SIZE': $(cat "$LOGDIR/list2.out")"
readme_cmd 2 "build/cpm --server 127.0.0.1:5060 --user sip:bob@example.com fetch"
CMD=$(sed -E "s/ fetch [^ ]+ / fetch $item /" <<<"$CMD")
fg fetch2
[ $RC -eq 0 ] && [ "$LAST" = "message sip:alice@example.com $mid2 Got the photo?" ] ||
	fail "fetch of the message: exit $RC, last line '$LAST'"
for d in carol alice2; do kill -INT "${BG[$d]}"; wait_exit "${BG[$d]}" 10; done
stop_cpmd
