#!/usr/bin/env bash
# A 100 MiB file stored as an FT history with the client's memory bounded: the
# object is streamed (base64 on the fly from the descriptor), so the driver's
# peak RSS (VmHWM) stays under 40 MiB; Dovecot's own base64 decoder (FETCH
# BINARY[1] through doveadm) gives back the file's exact SHA-256.
# CPM_SMALL_FILES=1: 10 MiB.
source "$(dirname "$0")/../e2e/lib.sh"
source "$CPM_SRC/tests/mss/lib_mss.sh"

mib=100
[ "${CPM_SMALL_FILES:-0}" = 1 ] && mib=10
dovecot_start "$MSS_DIR" "$MSS_PORT"
# the last byte is fixed: the pager's value ends in "\n\f\n", or in "\f\n" when the value ends
# with a newline itself, which the parse below cannot tell apart from a file ending in "\n" (a
# random file does, once in 256 runs: it failed so on 2026-12-04)
head -c $((mib * 1024 * 1024 - 1)) /dev/urandom >"$T_DIR/big"
printf 'Z' >>"$T_DIR/big"
want=$(sha256sum "$T_DIR/big" | cut -d' ' -f1)

mss_expect 0 "$mib MiB FT history" --kind ft --id big-1 --file "$T_DIR/big" --name big.bin --conv conv-L
hwm=$(sed -n 's/^vmhwm-kib=//p' <<<"$MSS_OUT")
log "stored $mib MiB, driver peak RSS ${hwm} KiB"
[ -n "$hwm" ] && [ "$hwm" -lt $((40 * 1024)) ] || fail "peak RSS ${hwm} KiB >= 40 MiB"
rm -f "$T_DIR/big"

# -f pager: "binary.1:" line, the value, a form feed line
got=$(doveadm -c "$DOVECOT_CONF" -f pager fetch -u bob binary.1 mailbox CPM/Conversations/conv-L uid 1 |
	python3 -c '
import hashlib, sys
f = sys.stdin.buffer
f.readline()
h, prev = hashlib.sha256(), b""
for chunk in iter(lambda: f.read(1 << 20), b""):
    data = prev + chunk
    h.update(data[:-4]); prev = data[-4:]
# the value ends before "\n\f\n" (or "\f\n")
prev = prev[:prev.rfind(b"\f")] if b"\f" in prev else prev
prev = prev[:-1] if prev.endswith(b"\n") else prev
h.update(prev); print(h.hexdigest())')
[ "$got" = "$want" ] || fail "BINARY[1] sha256 $got != $want"
exit 0
