# SPDX-License-Identifier: Apache-2.0
# lib.sh: what the bench scripts share: how busy the machine is, waiting
# until it is quiet, and a walld's stats. On 2 cores, anything else
# running skews every figure, so each run is timed when the machine is
# idle, and its "other CPU" (busy CPU that was neither the server's nor
# the load generator's) is reported beside it.

# walld_stat SOCKET NAME: one of a walld's stats ($WALCTL), empty when
# walctl cannot fetch them (its error goes to $LOG when set).
walld_stat() {
	"$WALCTL" -s "$1" stats 2>>"${LOG:-/dev/stderr}" |
	    awk -v n="$2" '$1 == n { print $2 }'
}

# busy_jiffies: the machine's busy CPU time so far, in clock ticks (user,
# system, irq, softirq of /proc/stat). Niced work (a fuzzer, a background
# build) is left out: it yields the CPU to the benchmark.
busy_jiffies() {
	awk '/^cpu / { print $2 + $4 + $7 + $8 }' /proc/stat
}

# proc_jiffies PID: utime + stime of a process, in clock ticks.
proc_jiffies() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null
}

# kthread_jiffies: the CPU time of every kernel thread (journal, block
# I/O, workqueues: work done for the server's I/O, outside its threads).
kthread_jiffies() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk '{ sub(/^.*\) /, "")
	    if (int($7 / 2097152) % 2) s += $12 + $13 } END { print s + 0 }'
}

# busy_cores: CPUs kept busy over the next 2 s.
busy_cores() {
	b0=$(busy_jiffies)
	sleep 2
	b1=$(busy_jiffies)
	awk -v d=$((b1 - b0)) -v hz="$(getconf CLK_TCK)" \
	    'BEGIN { printf "%.2f", d / hz / 2 }'
}

# in_time: 0 while there is time left to wait and run again (until
# BENCH_DEADLINE, seconds since the epoch; none when unset).
in_time() {
	[ -z "${BENCH_DEADLINE:-}" ] || [ "$(date +%s)" -lt "$BENCH_DEADLINE" ]
}

# wait_quiet SECONDS: waits up to SECONDS (none past BENCH_DEADLINE) until
# less than a quarter of a CPU is busy; sets QUIET to the last sample. 1
# when it never was.
wait_quiet() {
	in_time || { QUIET=$(busy_cores); return 1; }
	limit=$(( $(date +%s) + $1 ))
	while :; do
		QUIET=$(busy_cores)
		awk -v b="$QUIET" 'BEGIN { exit !(b < 0.25) }' && return 0
		if [ "$(date +%s)" -ge $limit ]; then
			echo "bench: the machine stays busy ($QUIET CPUs);" \
			    "measuring anyway" >&2
			return 1
		fi
		echo "bench: waiting for a quiet machine ($QUIET CPUs busy)" >&2
		sleep 3
	done
}

# too_busy OTHER: 0 when a run's other CPU (cores) is above the limit
# (BENCH_MAX_OTHER, default 0.3) and the run should be done again (and
# there is time for it).
too_busy() {
	in_time && awk -v o="${1:-0}" -v m="${BENCH_MAX_OTHER:-0.3}" \
	    'BEGIN { exit !(o + 0 > m + 0) }'
}

# The niceness the servers (walld and Redis alike) run at: 0, as
# walld.service leaves it. BENCH_NICE=-10 measures the trade DESIGN.md
# ("Under systemd") describes. Lowering niceness needs root
# (CAP_SYS_NICE): otherwise 0, and the report says so.
SERVER_NICE=${BENCH_NICE:-0}
if [ "$(nice -n "$SERVER_NICE" nice 2>/dev/null)" != "$SERVER_NICE" ]; then
	SERVER_NICE=0
fi
