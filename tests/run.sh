#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs the test suites against the build in $1: the Check unit suites, then
# every integration script in tests/integ/. Prints one line per suite as it
# ends, then the log of every failed one and a closing "N passed, N failed"
# line; exits non-zero on any failure. A script that cannot run here (it
# needs root) exits 77: it is counted as skipped, never as passed, and
# named in the summary.
#
# WALD_TEST_JOBS (default 2) suites run at once: most of a suite's time is
# spent waiting (for walld, fdatasync, a timeout), so two at a time on
# two cores take about half the time of one at a time. Every suite has its
# own directory, socket, data and ports, so they do not meet. A script with
# a line starting "# run alone:" (and why) runs after the others, by
# itself: those install into the system or the build under test.
B=${1:-build}
what=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
export WALD_BUILD="$top/$B" WALD_TOP="$top"
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}
jobs=${WALD_TEST_JOBS:-2}

# One suite, by its name (unit/check_x or integ/x): runs it, prints its
# line and leaves its exit status in $logdir/<name>.rc.
run_one() {	# logdir name
	log=$1/$(echo "$2" | tr / _)
	case $2 in
	unit/*)  set -- "$2" "$top/$B/tests/${2#unit/}" ;;
	integ/*) set -- "$2" sh "$top/tests/integ/${2#integ/}.sh" ;;
	esac
	name=$1; shift
	start=$(date +%s)
	rc=0
	"$@" >"$log.log" 2>&1 </dev/null || rc=$?
	case $rc in
	0)  res=ok ;;
	77) res=SKIPPED ;;
	*)  res=FAIL ;;
	esac
	echo $rc >"$log.rc"
	printf '%-40s %s (%ss)\n' "$name" "$res" $(( $(date +%s) - start ))
}
if [ "$what" = --one ]; then
	run_one "$3" "$4"
	exit 0
fi

logdir=$(mktemp -d /tmp/walld-tests.XXXXXX)
# The longest suites start first, so that the last ones to end are short.
first="unit/check_powerloss integ/cross_arm64 integ/fuzz_short"
first="$first integ/powerloss_daemon unit/check_wal integ/hostile_frames"
all= alone=
if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$top/$B"/tests/check_*; do
		[ -x "$t" ] || continue
		all="$all unit/$(basename "$t")"
	done
fi
if [ "$what" = all ] || [ "$what" = integ ]; then
	for t in "$top"/tests/integ/*.sh; do
		[ -f "$t" ] || continue
		case $(basename "$t") in lib.sh) continue;; esac
		if grep -q '^# run alone:' "$t"; then
			alone="$alone integ/$(basename "$t" .sh)"
		else
			all="$all integ/$(basename "$t" .sh)"
		fi
	done
fi
together=
for n in $first; do
	case " $all " in *" $n "*) together="$together $n" ;; esac
done
for n in $all; do
	case " $first " in *" $n "*) ;; *) together="$together $n" ;; esac
done

printf '%s\n' $together | xargs -r -n 1 -P "$jobs" sh "$0" "$B" --one "$logdir"
for n in $alone; do
	run_one "$logdir" "$n"
done

pass=0 fail=0 skip=0 failed="" skipped=""
for n in $together $alone; do
	log=$logdir/$(echo "$n" | tr / _)
	rc=$(cat "$log.rc" 2>/dev/null) || rc=missing
	case $rc in
	0)  pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)); skipped="$skipped $n"
	    grep '^skip:' "$log.log" | sed "s|^|    $n: |" ;;
	*)  fail=$((fail + 1)); failed="$failed $n"
	    echo "--- $n: exit status $rc; the end of its output:"
	    tail -n 40 "$log.log" | sed 's/^/    | /' ;;
	esac
done
echo "logs: $logdir"
[ -n "$failed" ] && echo "failed:$failed"
[ -n "$skipped" ] && echo "skipped (not run here, not counted as passed):$skipped"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
