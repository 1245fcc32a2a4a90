# shellcheck shell=bash
# Reading a capture with tshark, in as few tshark runs as the checks allow (source it after
# tests/e2e/lib.sh). A tshark start loads every dissector: ~0.7 s of CPU on the 2-vCPU test VM,
# where the suite is CPU-bound; the tests that ran one tshark per display filter or per TCP
# stream spent most of their time starting tshark (docs/TESTING.md, "Durations").

# tshark_counts CAPTURE [tshark read options...] -- FILTER...: sets COUNTS to the number of
# frames each display FILTER matches, in the filters' order, from one pass over CAPTURE (the
# io,stat table with a single interval: the same dissection as `-Y FILTER`, counted for every
# filter at once). With TSHARK_SUMMARY=FILE, FILE gets the one-line summary of every frame (what
# `tshark -r CAPTURE` prints) from the same pass. A filter must not hold a comma: io,stat
# separates its filters with commas.
tshark_counts() {
	local cap=$1 z=io,stat,0 f out
	shift
	local -a opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	[ $# -gt 0 ] || fail "tshark_counts: no display filter"
	for f in "$@"; do
		case $f in *,*) fail "tshark_counts: a comma in the display filter '$f' (io,stat separates filters with commas)" ;; esac
		z="$z,$f"
	done
	out="$T_DIR/tshark_counts.out"
	if [ -n "${TSHARK_SUMMARY:-}" ]; then
		tshark -r "$cap" "${opts[@]}" -z "$z" >"$out" 2>>"$LOGDIR/tshark.decode.err" ||
			fail "tshark -r $cap failed (see tshark.decode.err)"
		# the frames' lines come first; then an empty line and the statistics, from a line of '='
		awk '/^=+$/ { exit } { if (held) print prev; prev = $0; held = 1 }
			END { if (held && prev != "") print prev }' "$out" >"$TSHARK_SUMMARY"
	else
		tshark -r "$cap" "${opts[@]}" -q -z "$z" >"$out" 2>>"$LOGDIR/tshark.decode.err" ||
			fail "tshark -r $cap failed (see tshark.decode.err)"
	fi
	# the one row of the table: "| 0.000 <> 1.234 | Frames | Bytes | Frames | Bytes | ..."
	mapfile -t COUNTS < <(awk -F'|' -v n=$# '/<>/ && !done {
		for (i = 0; i < n; i++) { v = $(3 + 2 * i); gsub(/ /, "", v); print v }
		done = 1 }' "$out")
	[ "${#COUNTS[@]}" -eq $# ] || fail "tshark_counts: ${#COUNTS[@]} counts for $# filters in tshark's io,stat table ($out)"
	for f in "${COUNTS[@]}"; do
		[[ $f =~ ^[0-9]+$ ]] || fail "tshark_counts: '$f' is not a frame count ($out)"
	done
}

# tshark_follow CAPTURE PREFIX STREAM...: PREFIX.STREAM gets `tshark -q -z follow,tcp,raw,STREAM`
# of each TCP STREAM (tshark's tcp.stream index), byte for byte, from one tshark run.
tshark_follow() {
	local cap=$1 prefix=$2 s
	shift 2
	local -a z=()
	for s in "$@"; do z+=(-z "follow,tcp,raw,$s"); done
	tshark -r "$cap" -q "${z[@]}" >"$prefix.all" 2>>"$LOGDIR/tshark.decode.err" ||
		fail "tshark -r $cap (follow) failed (see tshark.decode.err)"
	# Each stream's block is what one follow prints: an empty line, a line of '=', "Follow:
	# tcp,raw", "Filter: tcp.stream eq N", ..., a closing line of '='.
	awk -v prefix="$prefix" '{ line[NR] = $0 }
		END {
			nb = 0
			for (i = 3; i <= NR; i++)
				if (line[i] == "Follow: tcp,raw" && line[i - 2] == "" && line[i - 1] ~ /^=+$/) start[++nb] = i - 2
			start[nb + 1] = NR + 1
			for (b = 1; b <= nb; b++) {
				if (line[start[b] + 3] !~ /^Filter: tcp.stream eq [0-9]+$/) { print "no Filter line" > "/dev/stderr"; exit 1 }
				split(line[start[b] + 3], w, " ")
				f = prefix "." w[4]
				for (i = start[b]; i < start[b + 1]; i++) print line[i] > f
				close(f)
			}
		}' "$prefix.all" || fail "tshark_follow: cannot split $prefix.all"
	for s in "$@"; do
		[ -s "$prefix.$s" ] || fail "tshark_follow: no stream $s in $prefix.all"
	done
	rm -f "$prefix.all"
}
