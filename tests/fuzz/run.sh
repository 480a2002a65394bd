#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run.sh BUILD_DIR SECONDS [TARGET...]: replays every regression input of
# each fuzz target (tests/fuzz/regress/TARGET/), then fuzzes it for SECONDS
# over its corpus: BUILD_DIR/corpus/TARGET (kept between runs; new inputs go
# there) and the seeds in tests/fuzz/corpus/TARGET. A crash leaves its
# input in BUILD_DIR/artifacts/TARGET/; once fixed, copy it into
# tests/fuzz/regress/TARGET/ so that every later run replays it.
set -u
FZ=$1
SECS=$2
shift 2
top=$(cd "$(dirname "$0")/../.." && pwd)
targets=${*:-fuzz_frame fuzz_segment fuzz_config fuzz_keyring fuzz_server}
tmp=$(mktemp -d /tmp/walld-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# fuzz_segment writes its data directories under TMPDIR.
export TMPDIR=$tmp
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-}:print_stacktrace=1:halt_on_error=1
bad=0

for t in $targets; do
	bin=$FZ/$t
	[ -x "$bin" ] || { echo "fuzz: $bin is not built"; exit 1; }
	regress=$(find "$top/tests/fuzz/regress/$t" -type f 2>/dev/null | sort)
	if [ -n "$regress" ]; then
		# shellcheck disable=SC2086
		if "$bin" -runs=1 $regress >"$tmp/$t.replay" 2>&1; then
			echo "fuzz: $t: $(echo "$regress" | wc -l) regression inputs replayed: ok"
		else
			echo "fuzz: $t: a regression input fails again:"
			tail -n 40 "$tmp/$t.replay"
			bad=1
			continue
		fi
	fi
	mkdir -p "$FZ/corpus/$t" "$FZ/artifacts/$t"
	if "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$FZ/artifacts/$t/" \
	    "$FZ/corpus/$t" "$top/tests/fuzz/corpus/$t" >"$tmp/$t.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$t.log")
		cov=$(grep -o 'cov: [0-9]*' "$tmp/$t.log" | tail -n 1)
		echo "fuzz: $t: ${SECS}s, $runs runs, $cov: ok"
	else
		echo "fuzz: $t: FAILED; the input is in $FZ/artifacts/$t/:"
		grep -v '^#' "$tmp/$t.log" | tail -n 60
		bad=1
	fi
done
exit $bad
