#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs the test suites against the build in $1: the Check unit suites, then
# every integration script in tests/integ/. Prints one line per suite and
# a closing "N passed, N failed" line; exits non-zero on any failure. A
# script that cannot run here (it needs root) exits 77: it is counted as
# skipped, never as passed, and named in the summary.
B=${1:-build}
what=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
export WALD_BUILD="$top/$B" WALD_TOP="$top"
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}
pass=0 fail=0 skip=0 failed="" skipped=""
logdir=$(mktemp -d /tmp/walld-tests.XXXXXX)

run_one() {	# name command...
	name=$1; shift
	start=$(date +%s)
	rc=0
	"$@" >"$logdir/$(echo $name | tr / _).log" 2>&1 || rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); res=ok
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); res=SKIPPED; skipped="$skipped $name"
	else
		fail=$((fail + 1)); res=FAIL; failed="$failed $name"
	fi
	printf '%-40s %s (%ss)\n' "$name" "$res" $(( $(date +%s) - start ))
	[ $res = SKIPPED ] && grep '^skip:' "$logdir/$(echo $name | tr / _).log" |
	    sed 's/^/    | /'
	[ $res = ok ] || [ $res = SKIPPED ] || sed 's/^/    | /' "$logdir/$(echo $name | tr / _).log" | tail -n 40
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$top/$B"/tests/check_*; do
		[ -x "$t" ] || continue
		run_one "unit/$(basename "$t")" "$t"
	done
fi
if [ "$what" = all ] || [ "$what" = integ ]; then
	for t in "$top"/tests/integ/*.sh; do
		[ -f "$t" ] || continue
		case $(basename "$t") in lib.sh) continue;; esac
		run_one "integ/$(basename "$t" .sh)" sh "$t"
	done
fi
echo "logs: $logdir"
[ -n "$failed" ] && echo "failed:$failed"
[ -n "$skipped" ] && echo "skipped (not run here, not counted as passed):$skipped"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
