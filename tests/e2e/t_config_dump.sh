#!/usr/bin/env bash
# The config file covers the whole command line (issue 13 §5):
#  1. every option `cpmd --help` lists is a key the config loader knows (a file holding only
#     that key is never "unknown setting"), and --dump-config writes every one of them;
#  2. the round trip: `cpmd ... --dump-config > f; cpmd --config f --dump-config` prints the
#     same text, defaults and repeatable keys included;
#  3. cpmd started from that file alone (no other option) serves: a file transfer.
. "$(dirname "$0")/lib.sh"

"$CPMD" --help >"$LOGDIR/help" || fail "cpmd --help failed"
"$CPMD" --dump-config >"$LOGDIR/defaults.conf" || fail "cpmd --dump-config failed"
mapfile -t opts < <(sed -n -E 's/^  --([a-z0-9-]+).*/\1/p' "$LOGDIR/help")
[ "${#opts[@]}" -gt 60 ] || fail "only ${#opts[@]} options found in cpmd --help"
# the keys --dump-config writes (set or commented out), and whether a comment line is right
# above a key's first line (read once, in bash: ~100 options, a handful of greps each before)
declare -A key_seen=() key_commented=()
prev=""
while IFS= read -r line; do
	if [[ $line =~ ^(#\ )?([a-z0-9-]+)\ = ]] && [ -z "${key_seen[${BASH_REMATCH[2]}]:-}" ]; then
		k=${BASH_REMATCH[2]}
		key_seen[$k]=1
		[[ $prev =~ ^#\ . ]] && key_commented[$k]=1
	fi
	prev=$line
done <"$LOGDIR/defaults.conf"
n=0
for o in "${opts[@]}"; do
	case $o in help | version | config | dump-config) continue ;; esac
	[ -n "${key_seen[$o]:-}" ] || fail "--dump-config does not write the key '$o'"
	[ -n "${key_commented[$o]:-}" ] || fail "--dump-config writes no comment above '$o'"
	printf '%s = @not-a-value@\n' "$o" >"$T_DIR/one.conf"
	"$CPMD" --config "$T_DIR/one.conf" --dump-config >/dev/null 2>"$T_DIR/one.err" || true
	! grep -q 'unknown setting' "$T_DIR/one.err" || fail "the config loader does not know --$o: $(cat "$T_DIR/one.err")"
	n=$((n + 1))
done
log "$n options: each has a config key and a commented line in --dump-config"
for o in help version config dump-config; do
	printf '%s = x\n' "$o" >"$T_DIR/one.conf"
	"$CPMD" --config "$T_DIR/one.conf" --dump-config >/dev/null 2>"$T_DIR/one.err" && fail "'$o' accepted in a config file"
	assert_grep "$T_DIR/one.err" "\"$o\" is not allowed in a config file"
done

# 2. the round trip, with values that need care: a list, repeatable keys, a '#' in a path,
# a non-default of each kind
SIP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$SIP_PORT "
MSRP_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$MSRP_PORT "
data="$T_DIR/data #1"
"$CPMD" --domain "$DOMAIN, other.test" --sip "$HOST:$SIP_PORT" --msrp "$HOST:$MSRP_PORT" --data-dir "$data" \
	--max-file-size 5000000 --defer off --delivery-retry 5:50 --route 'far.test=127.0.0.1:9;transport=tcp' \
	--user-pref "carol@$DOMAIN:method=pull" --user-pref "carol@$DOMAIN:block=eve@far.test" \
	--screen-allow-types 'image/*,application/octet-stream' --log-level debug \
	--dump-config >"$T_DIR/cpmd.conf" || fail "--dump-config with options failed"
ARTIFACTS+=("$T_DIR/cpmd.conf")
"$CPMD" --config "$T_DIR/cpmd.conf" --dump-config >"$T_DIR/again.conf" 2>"$LOGDIR/again.err" ||
	fail "cpmd refused its own dump: $(cat "$LOGDIR/again.err")"
diff -u "$T_DIR/cpmd.conf" "$T_DIR/again.conf" >"$LOGDIR/roundtrip.diff" ||
	fail "the dump read back differs: $(head -20 "$LOGDIR/roundtrip.diff")"
for want in "^domain = $DOMAIN,other.test\$" '^data-dir = ".*/data #1"$' '^defer = off$' \
	"^user-pref = carol@$DOMAIN:block=eve@far.test\$" '^route = far.test=127.0.0.1:9;transport=tcp$' \
	'^max-file-size = 5000000$' '^invite-timeout = 30$' '^# tls-cert =$'; do
	assert_grep "$T_DIR/cpmd.conf" "$want" "the dump has no line /$want/"
done

# 3. cpmd from the file alone
CPMD_LOG="$LOGDIR/cpmd.conf.log"
"$CPMD" --config "$T_DIR/cpmd.conf" </dev/null >"$LOGDIR/cpmd.conf.stdout" 2>"$CPMD_LOG" &
CPMD_PID=$!
PIDS+=("$CPMD_PID")
ready() { cpmd_alive; grep -q 'cpmd: ready' "$CPMD_LOG"; }
wait_for 15 "cpmd started from its dump to be ready" ready
assert_grep "$CPMD_LOG" "cpmd: ready domain=$DOMAIN sip=udp\\+tcp:$HOST:$SIP_PORT msrp=tcp:$HOST:$MSRP_PORT data-dir=$data\$"
[ -f "$data/cpmd.db" ] || fail "no store in '$data'"
gen_file "$T_DIR/a.bin" 300000
start_receiver bob bob phone --count 1 --timeout 60
send_file a alice bob "$T_DIR/a.bin"
expect_delivered
assert_received bob "$T_DIR/a.bin"
assert_grep "$CPMD_LOG" 'cpmd: debug: ' "log-level = debug from the file not applied"
