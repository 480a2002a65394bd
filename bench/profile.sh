#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# profile.sh: what a batch costs walld beyond the null server (issue 26,
# figure 2). Loads a private walld, then `walbench null`, with the same
# P processes × 1 append in flight, and while each runs takes, per thread,
# its CPU time, context switches and system calls (perf stat --per-thread)
# over PROFILE_SECONDS, then a sampled profile (perf record -g) of the
# same. Prints per append and, for walld, per batch (fsync).
#
#   sh bench/profile.sh [BUILD_DIR]
#   PROFILE_PROCS=P       client processes (64)
#   PROFILE_SECONDS=N     seconds measured by each perf (5)
#
# Needs perf (Debian: linux-perf). perf's output and the reports stay in
# var/bench/profile-STAMP/.
set -u
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
WB=$top/$B/walbench
WALLD=$top/$B/walld
WALCTL=$top/$B/walctl
P=${PROFILE_PROCS:-64}
S=${PROFILE_SECONDS:-5}
command -v perf >/dev/null 2>&1 || {
	echo "profile.sh: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
for f in "$WB" "$WALLD" "$WALCTL"; do
	[ -x "$f" ] || { echo "profile.sh: $f is missing: make" >&2; exit 1; }
done
. "$top/bench/lib.sh"	# walld_stat
# walld refuses to run as root without --allow-root (docs/OPERATIONS.md).
ALLOW_ROOT=
[ "$(id -u)" != 0 ] || ALLOW_ROOT=--allow-root
mkdir -p var/bench
O=$top/var/bench/profile-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$O"
T=$(mktemp -d "$top/var/bench/prof.XXXXXX")
SPID= LPID=
cleanup() {
	[ -z "$LPID" ] || { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; }
	if [ -n "$SPID" ]; then
		kill -TERM "$SPID" 2>/dev/null
		i=0
		while kill -0 "$SPID" 2>/dev/null && [ $i -lt 200 ]; do
			sleep 0.1; i=$((i + 1)); done
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ctxt PID: "tid voluntary nonvoluntary" context switches of each thread.
ctxt() {
	for t in /proc/"$1"/task/*; do
		awk -v t="${t##*/}" '/^voluntary_ctxt/ { v = $2 }
		    /^nonvoluntary_ctxt/ { n = $2 } END { print t, v, n }' \
		    "$t/status" 2>/dev/null
	done
}

# measure NAME SOCK: loads the server on SOCK (pid $SPID) for 1 + 2 S + 4
# seconds; perf stat over S seconds, perf record over the next S.
measure() {
	name=$1 sock=$2
	"$WB" run -s "$sock" -p "$P" -t $((2 * S + 3)) -w 1 -l "$name" \
	    >"$O/$name.row" 2>"$O/$name.err" &
	LPID=$!
	sleep 2
	a0=$(walld_stat "$sock" appends_total) f0=$(walld_stat "$sock" fsyncs_total)
	u0=$(walld_stat "$sock" fsync_usec_total)
	h0=$(walld_stat "$sock" batch_handoff_usec_total)
	r0=$(walld_stat "$sock" batch_return_usec_total)
	i0=$(walld_stat "$sock" fsyncs_inline_total)
	ctxt "$SPID" >"$O/$name.cs0"
	t0=$(date +%s%N)
	perf stat --per-thread -e task-clock,context-switches,raw_syscalls:sys_enter \
	    -p "$SPID" -o "$O/$name.stat" -- sleep "$S" 2>/dev/null
	a1=$(walld_stat "$sock" appends_total) f1=$(walld_stat "$sock" fsyncs_total)
	t1=$(date +%s%N)
	u1=$(walld_stat "$sock" fsync_usec_total)
	h1=$(walld_stat "$sock" batch_handoff_usec_total)
	r1=$(walld_stat "$sock" batch_return_usec_total)
	i1=$(walld_stat "$sock" fsyncs_inline_total)
	ctxt "$SPID" >"$O/$name.cs1"
	perf record -F 1999 -g -p "$SPID" -o "$O/$name.data" -- sleep "$S" \
	    >/dev/null 2>&1
	wait "$LPID"
	LPID=
	appends=$((a1 - a0)) fsyncs=$((f1 - f0))
	echo "### $name: $P processes × 1, $S s under perf stat"
	echo
	line="appends $appends, fsyncs $fsyncs"
	[ "$fsyncs" -gt 0 ] && [ -n "$u0" ] && line="$line$(awk -v a=$appends \
	    -v f=$fsyncs -v u=$(( ${u1:-0} - ${u0:-0} )) -v t=$(( (t1 - t0) / 1000 )) \
	    'BEGIN { printf ", %.1f appends a batch, a batch every %.0f µs, of which fdatasync %.0f µs (%.0f %%)",
		a / f, t / f, u / f, 100 * u / t }')"
	echo "$line"
	# The hand-offs are the flusher's batches' only, not the loop's own.
	inl=$(( ${i1:-0} - ${i0:-0} ))
	[ $((fsyncs - inl)) -gt 0 ] && [ -n "$h0" ] && awk -v f=$((fsyncs - inl)) \
	    -v i=$inl -v h=$(( ${h1:-0} - ${h0:-0} )) -v r=$(( ${r1:-0} - ${r0:-0} )) \
	    'BEGIN { printf "\nOf the %d batches the flusher wrote (%d more were written on the loop), one waited %.0f µs for the flusher to start on it and %.0f µs for the loop to take it back (stats batch_handoff_usec_total, batch_return_usec_total).\n", f, i, h / f, r / f }'
	echo
	echo "Context switches per thread (/proc/PID/task/TID/status), voluntary and not, per append$( [ "$fsyncs" -gt 0 ] && echo " and per batch"):"
	echo
	echo "| thread | voluntary | involuntary | voluntary per append | involuntary per append | voluntary per batch | involuntary per batch |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	join "$O/$name.cs0" "$O/$name.cs1" | awk -v a=$appends -v f=$fsyncs '{
	    v = $4 - $2; n = $5 - $3; if (v + n == 0) next
	    printf "| %s | %d | %d | %.3f | %.3f | %s | %s |\n", $1, v, n, v / a, n / a,
		f ? sprintf("%.2f", v / f) : "", f ? sprintf("%.2f", n / f) : "" }'
	echo
	echo "| thread | CPU ms | µs per append | µs per batch | switches per batch | system calls per append | per batch |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	awk -v a=$appends -v f=$fsyncs '
	    /task-clock/ { cpu[$1] += $2; gsub(/,/, "", cpu[$1]) }
	    /context-switches/ { cs[$1] += $2 }
	    /raw_syscalls:sys_enter/ { sc[$1] += $2 }
	    END { for (t in cpu) { tc += cpu[t]; tcs += cs[t]; tsc += sc[t]
		printf "| %s | %.0f | %.2f | %s | %s | %.2f | %s |\n", t, cpu[t],
		    cpu[t] * 1000 / a, f ? sprintf("%.1f", cpu[t] * 1000 / f) : "",
		    f ? sprintf("%.2f", cs[t] / f) : "", sc[t] / a,
		    f ? sprintf("%.1f", sc[t] / f) : "" }
		printf "| all | %.0f | %.2f | %s | %s | %.2f | %s |\n", tc, tc * 1000 / a,
		    f ? sprintf("%.1f", tc * 1000 / f) : "",
		    f ? sprintf("%.2f", tcs / f) : "", tsc / a,
		    f ? sprintf("%.1f", tsc / f) : "" }' \
	    "$(sed 's/\([0-9]\),\([0-9]\)/\1\2/g' "$O/$name.stat" >"$O/$name.stat2"; echo "$O/$name.stat2")"
	echo
	echo "The row of the run: $(cat "$O/$name.row")"
	echo
	echo "Where the CPU goes (perf report --no-children, symbols over 1 %):"
	echo
	echo '```'
	perf report -i "$O/$name.data" --no-children --sort comm,sym \
	    --percent-limit 1 --stdio -g none 2>/dev/null | grep -v '^#' |
	    sed '/^$/d' | head -n 40
	echo '```'
	echo
}

printf 'socket:\n  path: %s\nstorage:\n  data_dir: %s\n' "$T/w.sock" "$T/data" \
    >"$T/w.yaml"
out=$("$WB" startup -s "$T/w.sock" -- "$WALLD" $ALLOW_ROOT --config "$T/w.yaml" \
    2>"$T/walld.log") || { echo "profile.sh: walld did not start" >&2; exit 1; }
SPID=$(echo "$out" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
measure walld "$T/w.sock" | tee "$O/report.md"
kill -TERM "$SPID"
while kill -0 "$SPID" 2>/dev/null; do sleep 0.1; done
"$WB" null -s "$T/null.sock" >"$T/null.out" 2>/dev/null &
SPID=$!
i=0
until grep -q ready "$T/null.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.05; done
measure null "$T/null.sock" | tee -a "$O/report.md"
echo "perf data and the report: $O"
