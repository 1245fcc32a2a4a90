#!/usr/bin/env bash
# The operator console (web/console, docs/internals/console.md) in headless Chromium, against a
# real cpmd with --admin and a token: alice (registered) sends a file whose name is HTML markup
# to offline bob, so cpmd stores it; the page (tests/e2e/console_drive.py, Selenium over
# Debian's chromium-driver) refuses a wrong token, shows the item with its name as plain text,
# renders the transfers, users and metrics views, accepts a Retry, keeps the item on Cancel and purges it on
# confirm. Then alice's device gets exactly one `notification failed FTID`, cpmd removed the
# blob, and the API no longer lists the item. Last, a 40 MiB transfer held mid-way (its device
# stopped) shows in the live view with a progress bar, and leaves it once the device resumes
# and the file is delivered. Screenshots: $T_DIR/shots, copied to
# $CPM_BUILD/test-artifacts/t_console/ (docs/TESTING.md, "Artifacts").
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3 # Debian's, which has python3-selenium (not a pyenv or venv python)
for t in /usr/bin/chromium /usr/bin/chromedriver "$PY"; do
	[ -x "$t" ] || fail "$t missing (scripts/setup.sh installs chromium, chromium-driver, python3-selenium)"
done
"$PY" -c 'import selenium' 2>/dev/null || fail "python3-selenium missing (scripts/setup.sh)"

TOKEN=console-test-$RANDOM$RANDOM
APORT=$(pick_port)
USED_PORTS="$USED_PORTS$APORT "
API="http://$HOST:$APORT"
start_cpmd --admin "$HOST:$APORT" --admin-token "$TOKEN"
assert_grep "$CPMD_LOG" 'admin console: serving .*/web/console at /' "cpmd does not serve the console from the source tree"
start_receiver alice alice laptop --timeout 120

# A name a remote sender chose: markup that must stay text in the page.
name='a<img src=x onerror=alert(1)>.bin'
gen_file "$T_DIR/$name" 5000
send_file s alice bob "$T_DIR/$name"
[ "$SEND_RC" -eq 0 ] && [ "$SEND_LAST" = stored ] ||
	fail "expected exit 0 and last line 'stored'; got exit $SEND_RC, last line '$SEND_LAST'"
ftid=$(sed -n 's/^cpm: file-transfer-id //p' "$SEND_ERR" | head -n 1)
item=$(sed -n 's/^cpm: stored by the server as item //p' "$SEND_ERR" | head -n 1)
[ -n "$ftid" ] && [ -n "$item" ] || fail "no file-transfer-id or item id on cpm send's stderr"
[ -n "$(files_in "$CPMD_DATA/blobs")" ] || fail "nothing stored in blobs/"
curl -sf -H "Authorization: Bearer $TOKEN" "$API/api/v1/deferred/$item" >/dev/null || fail "the API does not know item $item"

SHOTS="$T_DIR/shots"
ARTIFACTS+=("$SHOTS")
rc=0
timeout -k 5 120 "$PY" "$E2E_DIR/console_drive.py" --url "$API/" --token "$TOKEN" --item "$item" --name "$name" \
	--sender "alice@$DOMAIN" --user "alice@$DOMAIN" --shots "$SHOTS" --profile "$T_DIR/chromium" \
	>"$LOGDIR/console_drive.out" 2>"$LOGDIR/console_drive.err" || rc=$?
# Screenshots are kept whatever happened (the page is best judged by looking at it).
keep="$CPM_BUILD/test-artifacts/$T_NAME"
rm -rf "$keep" && mkdir -p "$keep" && cp "$SHOTS"/*.png "$keep"/ 2>/dev/null && log "screenshots in $keep"
cat "$LOGDIR/console_drive.out" >&2
[ $rc -eq 0 ] || fail "the console run failed (exit $rc): $(grep FAIL "$LOGDIR/console_drive.out" | head -n 1)"
[ "$(grep -c '^ok ' "$LOGDIR/console_drive.out")" -eq 9 ] || fail "console_drive.py did not pass its 9 steps"
n=$(find "$SHOTS" -name '*.png' -size +1k | wc -l)
[ "$n" -ge 7 ] || fail "expected 7 screenshots, got $n"

# The purge is an early expiry: the sender hears `failed`, once; the blob and the row go.
wait_for 15 "alice's 'notification failed $ftid'" grep -q -x -F "notification failed $ftid" "${RECV_OUT[alice]}"
wait_for 10 "the purged blob to be removed" bash -c '[ -z "$(find "$1" -type f)" ]' _ "$CPMD_DATA/blobs"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$API/api/v1/deferred/$item")
[ "$code" = 404 ] || fail "GET /api/v1/deferred/$item after the purge: $code, 404 expected"
sleep 1 # a second notification would come right after the first
n=$(grep -c -x -F "notification failed $ftid" "${RECV_OUT[alice]}" || true)
[ "$n" -eq 1 ] || fail "alice got $n 'failed' notifications, 1 expected"
assert_no_grep "${RECV_OUT[alice]}" "^notification delivered $ftid" "alice was told the purged file was delivered"

# --- a transfer in progress: its progress bar, then gone from the polled view -----------------
# carol's device is stopped once it has bytes (throttle_until), so the relay holds the transfer
# mid-way (back-pressure); the page shows it, then resumes the device itself (SIGCONT).
gen_file "$T_DIR/big.bin" $((40 * 1048576))
start_receiver carol carol phone --timeout 120
send_file_bg big alice carol "$T_DIR/big.bin"
big_pid=$SEND_PID
# the data file, not its .meta (written before the first byte)
carol_has_bytes() { [ -n "$(find "${RECV_DIR[carol]}" -type f -name '*.cpm-part' -size +0 2>/dev/null)" ]; }
throttle_until "${RECV_PID[carol]}" 30 carol_has_bytes || fail "carol's device never got bytes of big.bin"
rc=0
timeout -k 5 120 "$PY" "$E2E_DIR/console_drive.py" --mode progress --url "$API/" --token "$TOKEN" --name big.bin \
	--resume-pid "${RECV_PID[carol]}" --shots "$SHOTS" --profile "$T_DIR/chromium" \
	>"$LOGDIR/console_progress.out" 2>"$LOGDIR/console_progress.err" || rc=$?
kill -CONT "${RECV_PID[carol]}" 2>/dev/null || true
cp "$SHOTS"/*.png "$keep"/ 2>/dev/null || true
cat "$LOGDIR/console_progress.out" >&2
[ $rc -eq 0 ] || fail "the progress run failed (exit $rc): $(grep FAIL "$LOGDIR/console_progress.out" | head -n 1)"
[ "$(grep -c '^ok ' "$LOGDIR/console_progress.out")" -eq 2 ] || fail "console_drive.py --mode progress did not pass its 2 steps"
wait_exit "$big_pid" 60
[ "$WAIT_RC" = 0 ] && [ "$(tail -n 1 "$SEND_OUT")" = delivered ] ||
	fail "big.bin: sender exit $WAIT_RC, last line '$(tail -n 1 "$SEND_OUT")', expected 0 and delivered"
assert_received carol "$T_DIR/big.bin"
cpmd_alive
stop_pid "${RECV_PID[alice]}" 3
stop_cpmd
