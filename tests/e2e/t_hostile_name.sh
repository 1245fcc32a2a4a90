#!/usr/bin/env bash
# Hostile file names (quotes, spaces, shell metacharacters, UTF-8, leading
# dots and dashes, percent sequences that decode to "../", backslashes, a tab,
# a 200-byte name) travel in the SDP file-selector. Each file must be saved
# inside the receiver's --dir, byte-identical, and nothing may be written
# anywhere else. (The "../../etc/evil" selector, which `cpm send` cannot
# produce, is sent by SIPp in tests/interop/t_sipp_hostile_name.sh.)
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_DIR/cwd" "$T_DIR/src"
cd "$T_DIR/cwd"
names=(
	'.hidden "q"%.txt'
	"spa ce's & \$(touch pwned);|<x>.bin"
	'ünïcødé ✓ файл 文件.txt'
	'%2e%2e%2f%2e%2e%2fevil'
	'..%2F..%2Fevil'
	'back\slash..\..\evil'
	'-leading-dash'
	'...'
	$'tab\tinside.txt'
	'%00nul%0d%0a.txt'
	"$(printf 'L%.0s' {1..200})"
)
i=0
for n in "${names[@]}"; do
	i=$((i + 1))
	mkdir -p "$T_DIR/src/$i"
	gen_file "$T_DIR/src/$i/$n" $((100 + i))
done
start_cpmd
touch "$T_DIR/marker"
sleep 0.01
start_receiver bob bob phone --count ${#names[@]} --timeout 120
i=0
for n in "${names[@]}"; do
	i=$((i + 1))
	send_file "n$i" alice bob "$T_DIR/src/$i/$n"
	expect_delivered
done
wait_exit "${RECV_PID[bob]}" 30
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC after ${#names[@]} files"
i=0
for n in "${names[@]}"; do
	i=$((i + 1))
	assert_received bob "$T_DIR/src/$i/$n"
	log "$(printf '%q' "$n") saved as $(printf '%q' "${GOT_PATH#"${RECV_DIR[bob]}"/}")"
done
# Nothing new outside the receiver's dir, cpmd's data dir and our logs.
outside=$(find "$T_DIR" -newer "$T_DIR/marker" \( -type f -o -type l \) \
	-not -path "${RECV_DIR[bob]}/*" -not -path "$CPMD_DATA/*" -not -path "$LOGDIR/*" -print)
[ -z "$outside" ] || fail "files written outside --dir: $outside"
[ ! -e "$T_DIR/evil" ] && [ ! -e "$T_DIR/cwd/pwned" ] && [ ! -e /tmp/evil ] || fail "'evil' or 'pwned' file created"
inside=$(find "$CPMD_DATA" \( -name '*evil*' -o -name '*pwned*' -o -name '*hidden*' \) -print)
[ -z "$inside" ] || fail "cpmd's data dir has files named after the peer's file names: $inside"
n=$(files_in "${RECV_DIR[bob]}" | wc -l)
[ "$n" -eq ${#names[@]} ] || fail "$n files in --dir, ${#names[@]} expected"
