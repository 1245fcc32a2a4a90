#!/usr/bin/env bash
# A 100 MiB file's history written to the recipient's message store (real Dovecot) with cpmd's
# memory bounded (issue 11): bob keeps histories; alice sends him a 100 MiB file live; cpmd
# keeps the relay's tee as the history's blob and streams it, base64, into an IMAP APPEND from a
# worker thread. The object in bob's mailbox decodes (Python's email package) to the very file,
# and cpmd's peak resident memory (VmHWM) over the whole run stays under 64 MiB: neither the
# relay nor the writer holds the file.
. "$(dirname "$0")/lib.sh"
. "$CPM_SRC/tests/lib_dovecot.sh"
MSS_CHECK="$CPM_SRC/tests/mss/mss_check.py"
RSS_MAX_KB=$((64 * 1024))

MSS_PORT=$(pick_port)
USED_PORTS="$USED_PORTS$MSS_PORT "
dovecot_start "$T_DIR/dovecot" "$MSS_PORT"
start_cpmd --mss "imap://127.0.0.1:$MSS_PORT" --mss-master-user admin --mss-master-password adminpass \
	--user-pref "bob@$DOMAIN:history=on"
start_receiver bob bob phone --timeout 300
size=$((100 * 1024 * 1024))
gen_file "$T_DIR/big.bin" "$size"
SEND_TIMEOUT=240 send_file big alice bob "$T_DIR/big.bin"
expect_delivered
rm -f "${RECV_DIR[bob]}"/* # the received copy: room on the disk, it was checked by cpm
stored() { grep -q 'ft-history stored in bob@' "$CPMD_LOG"; }
wait_for 120 "bob's 100 MiB FT history in his message store" stored
hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$CPMD_PID/status")
log "cpmd peak resident memory: $hwm kB (limit $RSS_MAX_KB kB)"
[ -n "$hwm" ] && [ "$hwm" -lt "$RSS_MAX_KB" ] || fail "cpmd's peak RSS $hwm kB is not under $RSS_MAX_KB kB"
folder=$(dovecot_folders bob | grep '^CPM/Conversations/' | head -n 1)
[ -n "$folder" ] || fail "no conversation folder in bob's mailbox"
dovecot_fetch bob "$folder" "$T_DIR/mss"
python3 "$MSS_CHECK" "$T_DIR/mss/1.eml" --part "file@cpm.mss=$T_DIR/big.bin" --hdr "X-CPM-Kind=ft-history" \
	--hdr "X-CPM-File-Size=$size" || fail "the history's file part is not the file"
exit 0
