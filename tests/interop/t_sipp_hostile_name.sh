#!/usr/bin/env bash
# A sender we did not write (SIPp + a raw MSRP client) offers a file whose
# file-selector name is "../../etc/evil" (which our own client can't produce).
# cpm's receiver, behind cpmd, must save it inside --dir, byte-identical, and
# nothing may appear outside it.
. "$(dirname "$0")/../e2e/lib.sh"

start_cpmd
start_receiver bob bob phone --count 1 --timeout 60
f="$T_DIR/payload.bin"
gen_file "$f" 3000
hash=$(sha1 "$f" | tr a-f A-F | sed 's/../&:/g; s/:$//')
msrpid="sipp$RANDOM$RANDOM"
touch "$T_DIR/marker"
# Where "../../etc/evil" would land if it were used as a path.
evils=("$T_DIR/etc/evil" "$(dirname "$T_DIR")/etc/evil" /etc/evil)
for e in "${evils[@]}"; do [ ! -e "$e" ] || fail "$e exists before the test"; done
start_sipp snd -sf "$SIPP_DIR/sender_file.xml" -t u1 -m 1 -timeout 60s -timeout_error \
	-s bob -key domain "$DOMAIN" -key from alice -key msrpid "$msrpid" \
	-key fname "../../etc/evil" -key size 3000 -key ftype application/octet-stream -key hash "$hash" \
	"$HOST:$SIP_PORT"
got_path() { grep -q 'ANSWER-PATH msrp' "$LOGDIR/sipp.snd.log" 2>/dev/null; }
wait_for 20 "cpmd's 200 with a=path to the SIPp sender" got_path
path=$(sed -n 's/.*ANSWER-PATH \(msrp:[^ ]*\).*/\1/p' "$LOGDIR/sipp.snd.log" | head -n1 | tr -d '\r')
hp=${path#msrp://}
hp=${hp%%/*}
log "MSRP to $path"
python3 "$E2E_DIR/wire.py" msrp-send "${hp%:*}" "${hp##*:}" --to-path "$path" \
	--from-path "msrp://$HOST:9/$msrpid;tcp" --file "$f" >"$LOGDIR/msrp-send.out" 2>&1 ||
	fail "MSRP SEND of the file to cpmd failed: $(tail -n3 "$LOGDIR/msrp-send.out")"
wait_exit "${RECV_PID[bob]}" 30
[ "$WAIT_RC" = 0 ] || fail "receiver exit status $WAIT_RC"
assert_received bob "$f"
log "'../../etc/evil' saved as '${GOT_PATH#"${RECV_DIR[bob]}"/}'"
wait_exit "${SIPP_PID[snd]}" 30
[ "$WAIT_RC" = 0 ] || fail "SIPp sender scenario failed (exit $WAIT_RC)"
sipp_clean snd
outside=$(find "$T_DIR" -newer "$T_DIR/marker" \( -type f -o -type l \) -not -path "${RECV_DIR[bob]}/*" \
	-not -path "$CPMD_DATA/*" -not -path "$LOGDIR/*" -print)
[ -z "$outside" ] || fail "files written outside --dir: $outside"
for e in "${evils[@]}"; do [ ! -e "$e" ] || fail "$e was created"; done
# cpmd stores blobs under its own ids, never under the peer's name.
inside=$(find "$CPMD_DATA" -name '*evil*' -print)
[ -z "$inside" ] || fail "cpmd's data dir has a file named after the peer's file name: $inside"
