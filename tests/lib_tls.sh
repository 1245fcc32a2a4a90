# shellcheck shell=bash
# What every TLS test shares (source it after tests/e2e/lib.sh; never run it):
#  - sofia-sip 1.12.11's own TLS leaks (tests/lsan-sofia-tls.supp: one SSL per connection, and
#    the names it reads from certificates) are suppressed under LeakSanitizer, for these tests
#    only; the full unwind lets the suppression see sofia's frame under OpenSSL's;
#  - tls_setup DIR [capture]: the test certificates in DIR (scripts/mk-test-certs.sh: a CA, a
#    server certificate for 127.0.0.1, client certificates, and an unrelated "rogue" CA); with
#    "capture", tshark must be able to capture on lo (the tests that prove nothing is in clear).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$CPM_SRC/tests/lsan-sofia-tls.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

tls_setup() {
	local dir=$1 what=${2:-}
	command -v openssl >/dev/null || fail "openssl not installed (scripts/setup.sh)"
	if [ "$what" = capture ]; then
		command -v tshark >/dev/null || fail "tshark not installed (scripts/setup.sh)"
		dumpcap -D 2>/dev/null | grep -qw lo || fail "dumpcap -D does not list the lo interface (capture privileges?)"
	fi
	bash "$CPM_SRC/scripts/mk-test-certs.sh" "$dir" || fail "could not make the test certificates"
}

# tls_capture_start FILTER: tshark captures FILTER on lo into $T_DIR/tls.pcapng (kept as an
# artifact of a failed test) and is capturing when this returns; CAP is its pid.
tls_capture_start() {
	ARTIFACTS+=("$T_DIR/tls.pcapng")
	tshark -i lo -B 128 -f "$1" -w "$T_DIR/tls.pcapng" -q </dev/null >"$LOGDIR/tshark.capture" 2>&1 &
	CAP=$!
	PIDS+=("$CAP")
	wait_for 20 "tshark to start capturing" grep -q 'Capture started' "$LOGDIR/tshark.capture"
	sleep 0.3
}
