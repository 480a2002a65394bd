#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run.sh: `make bench`. Starts a private walld on a temporary directory on
# the repository's disk (var/bench/), measures the disk's limits, runs the
# standard matrix with walbench, Redis's numbers when Redis is installed
# (`make bench-peers` installs it), the same client processes against
# `walbench null` (the ceiling of figures 2 and 3), counts fsyncs with
# strace, times start-up and replay over 4 GiB, and writes one markdown
# report:
# var/bench/results.md (and a dated copy). About 6 minutes on an idle
# machine; each run first waits for the machine to be quiet and is done
# again when other work disturbed it, but neither past 4 minutes, so the
# whole stays under 10.
#
#   sh bench/run.sh [BUILD_DIR]
#   BENCH_SECONDS=N       measured seconds per run (8)
#   BENCH_QUIET_WAIT=N    seconds a run waits for a quiet machine (20)
#   BENCH_MAX_OTHER=X     other work (CPUs) that makes a run go again (0.3)
#   BENCH_BUDGET=N        seconds of waiting and re-running at most (240)
#   WALLD=, WALCTL=       other binaries to measure
set -u
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
SECS=${BENCH_SECONDS:-8}
WB=$top/$B/walbench
WALLD=${WALLD:-$top/$B/walld}	# WALLD=... benchmarks another build
WALCTL=${WALCTL:-$top/$B/walctl}
BATCH_MIB=8			# group_commit.max_batch_bytes given to walld
for f in "$WB" "$WALLD" "$WALCTL"; do
	[ -x "$f" ] || { echo "run.sh: $f is missing: make bench" >&2; exit 1; }
done
# walld refuses to run as root without --allow-root (docs/OPERATIONS.md).
ALLOW_ROOT=
[ "$(id -u)" != 0 ] || ALLOW_ROOT=--allow-root

mkdir -p var/bench
T=$(mktemp -d "$top/var/bench/run.XXXXXX")
J=$T/results.json
REPORT=$T/report.md
SOCK=$T/walld.sock
LOG=$T/walld.log
WALLD_PID=
ENC_PID=
NULL_PID=
export WALLD_SOCKET=$SOCK

REDIS_SH_LIB=1
. "$top/bench/lib.sh"
. "$top/bench/redis.sh"
BENCH_WAIT=${BENCH_QUIET_WAIT:-20}	# per run: wait this long for quiet
# No more waiting or running again after 4 minutes: the whole stays
# under 10.
BENCH_DEADLINE=$(( $(date +%s) + ${BENCH_BUDGET:-240} ))

stop_walld() {
	[ -n "$WALLD_PID" ] || return 0
	kill -TERM "$WALLD_PID" 2>/dev/null
	i=0
	while kill -0 "$WALLD_PID" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 400 ]; then
			echo "run.sh: walld $WALLD_PID did not stop in 20 s;" \
			    "killing it" >&2
			kill -KILL "$WALLD_PID"
			break
		fi
		sleep 0.05
	done
	WALLD_PID=
}

cleanup() {
	if [ -n "$NULL_PID" ]; then
		kill -TERM "$NULL_PID" 2>/dev/null
		wait "$NULL_PID" 2>/dev/null
	fi
	stop_walld
	WALLD_PID=${ENC_PID:-}
	stop_walld
	redis_stop
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# walld_yaml DATA_DIR [KEYRING]: writes walld's configuration.
walld_yaml() {
	cat >"$T/walld.yaml" <<EOF
socket:
  path: $SOCK
storage:
  data_dir: $1
group_commit:
  max_batch_bytes: ${BATCH_MIB}MiB
EOF
	[ -z "${2:-}" ] || printf 'encryption:\n  keyring: %s\n' "$2" \
	    >>"$T/walld.yaml"
}

# start_walld DATA_DIR [KEYRING]: starts walld on DATA_DIR (encrypting with
# KEYRING); sets WALLD_PID and STARTUP_MS (time until it answered a ping).
start_walld() {
	walld_yaml "$@"
	out=$("$WB" startup -s "$SOCK" -- nice -n "$SERVER_NICE" "$WALLD" $ALLOW_ROOT \
	    --config "$T/walld.yaml" \
	    2>>"$LOG") || { echo "run.sh: walld did not start:" >&2;
	    tail -n 20 "$LOG" >&2; exit 1; }
	WALLD_PID=$(echo "$out" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
	STARTUP_MS=$(echo "$out" | sed -n 's/.*ms=\([0-9.]*\).*/\1/p')
}

# jget LABEL KEY: a value from the JSON lines of this run.
jget() {
	awk -v l="\"label\":\"$1\"" -v k="\"$2\":" '
	    index($0, l) { i = index($0, k); if (i == 0) next
		s = substr($0, i + length(k)); sub(/[,}].*/, "", s)
		gsub(/"/, "", s); print s; exit }' "$J"
}

# ratio A B: A / B with two decimals, or n/a.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0)
	    print "n/a"; else printf "%.2f", a / b }'
}

# verdict RATIO OP LIMIT: met / not met.
verdict() {
	awk -v r="$1" -v op="$2" -v l="$3" 'BEGIN { if (r == "n/a")
	    print "not measured"; else if ((op == "<=" && r + 0 <= l + 0) ||
	    (op == ">=" && r + 0 >= l + 0)) print "**met**";
	    else print "**not met**" }'
}

now_ns() { date +%s%N; }

say() { echo "$@" | tee -a "$REPORT"; }

# bench LABEL WALBENCH-ARGS...: one matrix row, timed on a quiet machine
# and done again (twice at most) when other work took more than
# BENCH_MAX_OTHER CPUs meanwhile.
bench() {
	label=$1
	shift
	tries=0
	while :; do
		wait_quiet "$BENCH_WAIT" || :
		rm -f "$T/row.json"
		row=$("$WB" run -s "$SOCK" -t "$SECS" -l "$label" \
		    --json "$T/row.json" "$@")
		other=$(sed -n 's/.*"other_cpu_cores":\([0-9.]*\).*/\1/p' \
		    "$T/row.json" 2>/dev/null)
		tries=$((tries + 1))
		too_busy "$other" && [ $tries -lt 3 ] || break
		echo "run.sh: $label: other work took $other CPUs; again" >&2
	done
	echo "$row" | tee -a "$REPORT"
	cat "$T/row.json" >>"$J" 2>/dev/null
}

# trim: drops the segments of $SOCK's log that runs so far filled (walctl
# truncate): the consumer of figure 5's second row, and before each run of
# figure 6, so that its repeated runs do not fill the disk.
trim() {
	lsn=$("$WALCTL" -s "$SOCK" stats 2>>"$LOG" |
	    awk '$1 == "durable_lsn" { print $2 }')
	[ -z "$lsn" ] ||
	    "$WALCTL" -s "$SOCK" truncate --before "$lsn" >/dev/null 2>>"$LOG" ||
	    echo "run.sh: walctl truncate failed; see $LOG" >&2
}

wait_quiet 60 || :
start=$(now_ns)
load=$(cut -d' ' -f1-3 /proc/loadavg)
say "# walld benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
say
say "## Machine"
say
say "- CPU: $(nproc) × $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
say "- memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
say "- kernel: $(uname -sr)"
say "- disk: $(df -T "$T" | awk 'NR == 2 { print $2 " on " $1 " (" $7 ")" }'), rotational=$(cat /sys/block/$(basename "$(df "$T" | awk 'NR == 2 { print $1 }')")/queue/rotational 2>/dev/null || echo '?')"
say "- before the run: $QUIET CPUs busy (2 s sample), load average $load; each run waits for a quiet machine and is done again (twice at most) when \"other CPU\" (busy CPU that was neither the server's, the load generator's nor the kernel threads') passed ${BENCH_MAX_OTHER:-0.3} CPUs: what remains there skews that row"
dirty=$(git status --porcelain -- daemon client proto 2>/dev/null | wc -l)
[ "$dirty" = 0 ] && dirty="" || dirty=" with $dirty uncommitted files in daemon/ client/ proto/"
say "- walld: $("$WALLD" --version 2>&1 | head -n 1), built from commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$dirty; max_batch_bytes ${BATCH_MIB} MiB, other settings default; walld and Redis run at nice $SERVER_NICE (BENCH_NICE)"
say "- each run: ${SECS} s measured after 1 s of warm-up; data directory $T"
say

say "## Disk limits (\`walbench disk --dir DIR\`)"
say
"$WB" disk --dir "$T" --header --json "$J" | tee -a "$REPORT"
say

start_walld "$T/data"
# Figure 8: what an idle connection costs, on a fresh walld (later, the
# heap freed by the matrix would hide it).
say "## Idle connections (\`walbench idle -n 2000\`)"
say
"$WB" idle -s "$SOCK" -n 2000 --header --json "$J" | tee -a "$REPORT"
say
say "## walld (\`walbench run -p P -c C -d D -S SIZE -t $SECS\`)"
say
"$WB" header | tee -a "$REPORT"
bench f1-1x1 -p 1
bench f2-64proc -p 64
bench f2-1proc-64conn -p 1 -c 64
bench f3-256proc -p 256
bench f3-1proc-256conn -p 1 -c 256
bench f4-64x16 -p 1 -c 64 -d 16 --reset-peak
bench f5-4k-64x16 -S 4k -p 1 -c 64 -d 16
# The same with the log truncated up to its durable LSN every 100 ms, as a
# consumer that keeps up would: walld makes new segments from the files of
# truncated ones (storage.recycle_segments), whose blocks the disk has.
trim
( while :; do trim; sleep 0.1; done ) &
TRIMMER=$!
bench f5-4k-64x16-trunc -S 4k -p 1 -c 64 -d 16
kill "$TRIMMER"
wait "$TRIMMER" 2>/dev/null || :
bench f5-4k-1x1 -S 4k -p 1
bench mixed -S 64-4k -p 8 -c 4 -d 4 --tenants 16 --vshards 64
say

# strace over a run of 64 concurrent clients: appends per fsync call.
say "## Appends vs fsyncs, 64 concurrent clients (\`strace -f -c -e trace=fdatasync,fsync -p PID\`)"
say
if command -v strace >/dev/null 2>&1; then
	a0=$("$WALCTL" stats | awk '$1 == "appends_total" { print $2 }')
	strace -f -c -e trace=fdatasync,fsync -p "$WALLD_PID" \
	    -o "$T/strace.txt" 2>/dev/null &
	spid=$!
	sleep 1
	"$WB" run -s "$SOCK" -p 64 -t "$SECS" -w 0 -l strace-64proc \
	    --json "$J" >/dev/null
	kill -INT "$spid"
	wait "$spid"
	a1=$("$WALCTL" stats | awk '$1 == "appends_total" { print $2 }')
	calls=$(awk '$NF == "fdatasync" || $NF == "fsync" { n += $4 }
	    END { print n + 0 }' "$T/strace.txt")
	say "appends acknowledged while traced: $((a1 - a0)); fdatasync+fsync" \
	    "calls: $calls; appends per call: $(ratio $((a1 - a0)) "$calls")" \
	    "(throughput under strace is not representative)."
	say
	say '```'
	sed -n '/calls/,$p' "$T/strace.txt" | tee -a "$REPORT"
	say '```'
else
	say "strace is not installed."
fi
say

# Figure 6: encryption off (this walld) and on (a second walld with a key
# ring, on its own socket and data directory), the same loads in
# alternating runs, F6_PAIRS pairs of each (the order swapped from one
# pair to the next); the figure is the median of the pairs' ratios, so
# that drift in the machine between two runs weighs on one pair only.
F6_PAIRS=${BENCH_F6_PAIRS:-3}
say "## Encryption off and on, alternating (figure 6)"
say
"$WB" header | tee -a "$REPORT"
KEYRING=$T/keyring
( umask 077; printf '1 %s active\n' "$(od -An -tx1 -N32 /dev/urandom |
    tr -d ' \n')" >"$KEYRING" )
PLAIN_SOCK=$SOCK PLAIN_PID=$WALLD_PID
SOCK=$T/enc.sock
walld_yaml "$T/enc" "$KEYRING"
if "$WALLD" --check-config --config "$T/walld.yaml" >/dev/null 2>&1; then
	start_walld "$T/enc" "$KEYRING"
	ENC_PID=$WALLD_PID
	for size in 128 4k; do
		i=1
		while [ $i -le "$F6_PAIRS" ]; do
			for mode in $( [ $((i % 2)) = 1 ] && echo off on ||
			    echo on off); do
				if [ $mode = off ]; then
					SOCK=$PLAIN_SOCK
				else
					SOCK=$T/enc.sock
				fi
				trim
				bench "f6-$mode-$size-$i" -S $size -p 1 -c 64 \
				    -d 16 --encrypt $mode
			done
			i=$((i + 1))
		done
	done
	WALLD_PID=$ENC_PID
	stop_walld
	ENC_PID=
else
	say "| f6-on | walld has no \`encryption.keyring\` setting: n/a |"
fi
SOCK=$PLAIN_SOCK WALLD_PID=$PLAIN_PID
stop_walld
say

# Redis, same machine, same run.
have_redis=0
if redis_have; then
	say "## Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'):" \
	    "appendonly yes, appendfsync always, unix socket, XADD via" \
	    "redis-benchmark (\`redis-benchmark -s SOCK -c C -P P -n N --csv" \
	    "XADD mystream '*' f <SIZE bytes>\`)"
	say
	if redis_start "$T/redis"; then
		REDIS_SECONDS=$SECS
		redis_matrix "$J" | tee -a "$REPORT"
		redis_stop
		have_redis=1
	else
		say "Redis did not start."
	fi
else
	say "## Redis"
	say
	say "Redis is not installed: \`make bench-peers\` installs it."
fi
say

# The ceiling of figures 2 and 3: the same client processes against
# `walbench null`, a server that acknowledges every append as soon as it
# has read it and writes nothing (bench/null.c). What it cannot reach with
# these clients on this machine, no server can.
say "## The ceiling of the clients (\`walbench null\`: every append acknowledged at once, nothing written)"
say
"$WB" header | tee -a "$REPORT"
NULL_SOCK=$T/null.sock
nice -n "$SERVER_NICE" "$WB" null -s "$NULL_SOCK" >"$T/null.out" 2>>"$LOG" &
NULL_PID=$!
i=0
while ! grep -q ready "$T/null.out" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
if grep -q ready "$T/null.out"; then
	bench null-64proc -s "$NULL_SOCK" -p 64
	bench null-256proc -s "$NULL_SOCK" -p 256
else
	say "| null-64proc, null-256proc | walbench null did not start: n/a (see $LOG) |"
fi
kill -TERM "$NULL_PID" 2>/dev/null
wait "$NULL_PID" 2>/dev/null || :
NULL_PID=
say

# Figure 7: start-up over 4 GiB of sealed segments vs an active segment
# alone, and offline replay speed from the page cache.
say "## Start-up and replay (4 GiB of sealed segments)"
say
ACTIVE=768	# 64 KiB records: 48 MiB in the active segment
start_walld "$T/start-a"
"$WB" run -s "$SOCK" -n $ACTIVE -S 64k -c 4 -d 4 -l fill-a >/dev/null
stop_walld
start_walld "$T/start-b"
"$WB" run -s "$SOCK" -n 65536 -S 64k -c 8 -d 8 -l fill-4g --json "$J" \
    >/dev/null
"$WALCTL" rotate >/dev/null
"$WB" run -s "$SOCK" -n $ACTIVE -S 64k -c 4 -d 4 -l fill-b >/dev/null
stop_walld
cat "$T"/start-a/* "$T"/start-b/* >/dev/null 2>&1	# into the page cache
# rchar PID: bytes walld read with read/pread so far (/proc/PID/io).
rchar() { awk '$1 == "rchar:" { print $2 }' "/proc/$1/io" 2>/dev/null; }
sa="" sb="" ra="" rb=""
wait_quiet "$BENCH_WAIT" || :
for i in 1 2 3 4 5; do
	start_walld "$T/start-a"; sa="$sa $STARTUP_MS"; ra=$(rchar "$WALLD_PID")
	stop_walld
	start_walld "$T/start-b"; sb="$sb $STARTUP_MS"; rb=$(rchar "$WALLD_PID")
	stop_walld
done
nth() { n=$1; shift; echo "$@" | tr ' ' '\n' | sed '/^$/d' | sort -n | sed -n "${n}p"; }
ma=$(nth 3 $sa) mb=$(nth 3 $sb) mina=$(nth 1 $sa) minb=$(nth 1 $sb)
sizeb=$(du -sb "$T/start-b" | cut -f1)
say "| data directory | size | start-up to first ping, ms (5 runs) | min ms | median ms | bytes read at start-up |"
say "|---|---:|---|---:|---:|---:|"
say "| active segment only (48 MiB of records) | $(du -sh "$T/start-a" | cut -f1) |$sa | $mina | $ma | $ra |"
say "| 4 GiB sealed + the same active segment | $(du -sh "$T/start-b" | cut -f1) |$sb | $minb | $mb | $rb |"
say
say "Bytes read: rchar of /proc/PID/io once walld answered its first ping."
say

payload=$((65536 * 65536 + ACTIVE * 65536))
wait_quiet "$BENCH_WAIT" || :
t0=$(now_ns)
"$WALCTL" read --dir "$T/start-b" --json >/dev/null
t1=$(now_ns)
"$WALCTL" read --dir "$T/start-b" --tenant 4294967295 >/dev/null
t2=$(now_ns)
"$WALCTL" read --dir "$T/start-b" --to 1024 >/dev/null
t3=$(now_ns)
gbs() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.2f", b / t }'; }
replay=$(gbs "$payload" $((t1 - t0)))
scan=$(gbs "$payload" $((t2 - t1)))
text=$(gbs $((1024 * 65536)) $((t3 - t2)))
say "\`walctl read --dir\` from the page cache, output to /dev/null, over" \
    "$payload payload bytes of random 64 KiB records ($sizeb bytes on disk):"
say
say "| mode | GB/s of payload | ms |"
say "|---|---:|---:|"
say "| \`--json\` (every record, base64) | $replay | $(( (t1 - t0) / 1000000 )) |"
say "| text (the default; first 1024 records, 64 MiB) | $text | $(( (t3 - t2) / 1000000 )) |"
say "| \`--tenant\` filter matching nothing (read and check only) | $scan | $(( (t2 - t1) / 1000000 )) |"
say

# The disk's limits once more: others' I/O only makes them look worse, so
# the figures take the better of the two measurements.
wait_quiet "$BENCH_WAIT" || :
say "## Disk limits again, after the runs"
say
"$WB" disk --dir "$T" --header --json "$T/disk.json" | tee -a "$REPORT"
sed 's/"label":"disk"/"label":"disk-end"/' "$T/disk.json" >>"$J"
say
best() {	# min|max A B: the better of two values, either may be empty
	# or negative (not measured)
	awk -v m="$1" -v a="$2" -v b="$3" 'BEGIN { if (a + 0 < 0) a = "";
	    if (b + 0 < 0) b = ""; if (a == "") print b;
	    else if (b == "") print a; else if (m == "min") print (a + 0 < b + 0 ? a : b);
	    else print (a + 0 > b + 0 ? a : b) }'
}
disk_p50=$(best min "$(jget disk sync_p50_us)" "$(jget disk-end sync_p50_us)")
disk_mbs=$(best max "$(jget disk direct_mb_per_s)" "$(jget disk-end direct_mb_per_s)")
disk_new=$(best max "$(jget disk direct_new_mb_per_s)" "$(jget disk-end direct_new_mb_per_s)")

# The figures of issue 8.
f1=$(ratio "$(jget f1-1x1 p50_us)" "$disk_p50")
f5=$(ratio "$(jget f5-4k-64x16 mb_per_s)" "$disk_mbs")
f5t=$(ratio "$(jget f5-4k-64x16-trunc mb_per_s)" "$disk_mbs")
f7=$(ratio "$minb" "$mina")
v7=$(verdict "$f7" "<=" 1.1)
[ "$(verdict "$(ratio "$rb" "$ra")" "<=" 1.01)" = "**met**" ] || v7="**not met**"
idle=$(jget idle bytes_per_conn)
rss=$(jget f4-64x16 walld_peak_rss_kib)
rss_mib=$(awk -v r="$rss" 'BEGIN { if (r != "" && r >= 0) printf "%.1f", r / 1024 }')
rss_limit=$((64 + 2 * BATCH_MIB))
if [ $have_redis = 1 ]; then
	f2=$(ratio "$(jget f2-64proc appends_per_s)" "$(jget redis-64x1 appends_per_s)")
	f2p=$(ratio "$(jget f2-64proc p99_us)" "$(jget redis-64x1 p99_us)")
	f3=$(ratio "$(jget f3-256proc appends_per_s)" "$(jget redis-256x1 appends_per_s)")
	f4=$(ratio "$(jget f4-64x16 appends_per_s)" "$(jget redis-64x16 appends_per_s)")
	f2c=$(ratio "$(jget f2-1proc-64conn appends_per_s)" "$(jget redis-64x1 appends_per_s)")
	f3c=$(ratio "$(jget f3-1proc-256conn appends_per_s)" "$(jget redis-256x1 appends_per_s)")
	f2n=$(ratio "$(jget null-64proc appends_per_s)" "$(jget redis-64x1 appends_per_s)")
	f3n=$(ratio "$(jget null-256proc appends_per_s)" "$(jget redis-256x1 appends_per_s)")
else
	f2=n/a f2p=n/a f3=n/a f4=n/a f2c=n/a f3c=n/a f2n=n/a f3n=n/a
fi
v2=$(verdict "$f2" ">=" 1.5)
[ "$(verdict "$f2p" "<=" 1)" = "**met**" ] || v2="**not met**"
[ "$f2" = n/a ] && v2="not measured"
# f6 SIZE: the pairs' on/off ratios, then their median: "r1, r2, r3 | m".
f6() {
	i=1 rs=
	while [ $i -le "$F6_PAIRS" ]; do
		rs="$rs $(ratio "$(jget "f6-on-$1-$i" appends_per_s)" \
		    "$(jget "f6-off-$1-$i" appends_per_s)")"
		i=$((i + 1))
	done
	echo "$rs" | tr ' ' '\n' | sed '/^$/d' | awk '
	    { r[NR] = $1; if ($1 == "n/a") bad = 1 }
	    END { printf "%s", r[1]; for (i = 2; i <= NR; i++) printf ", %s", r[i]
		if (bad || NR == 0) { print " | n/a"; exit }
		for (i = 2; i <= NR; i++)	# sorted by insertion
			for (j = i; j > 1 && r[j - 1] + 0 > r[j] + 0; j--) {
				t = r[j]; r[j] = r[j - 1]; r[j - 1] = t }
		m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
		printf " | %.2f\n", m }'
}
f6a_all=$(f6 128) f6b_all=$(f6 4k)
f6a=${f6a_all##*| } f6b=${f6b_all##*| }
v6=$(verdict "$f6a" ">=" 0.9)
[ "$(verdict "$f6b" ">=" 0.9)" = "**met**" ] || v6="**not met**"
[ "$f6a" != n/a ] && [ "$f6b" != n/a ] || v6="not measured"
say "## The figures of issue 8"
say
say "| # | figure | measured | ratio | target | verdict |"
say "|---|---|---|---:|---|---|"
say "| 1 | 1 client × 1 in flight, median latency vs disk 4 KiB write+fdatasync median | $(jget f1-1x1 p50_us) µs vs $disk_p50 µs (the better disk test) | $f1 | ≤ 1.2 | $(verdict "$f1" "<=" 1.2) |"
say "| 2 | 64 processes × 1: throughput vs Redis; p99 vs Redis | $(jget f2-64proc appends_per_s)/s vs $(jget redis-64x1 appends_per_s)/s; p99 $(jget f2-64proc p99_us) µs vs $(jget redis-64x1 p99_us) µs (1 process × 64 connections, as redis-benchmark: $(jget f2-1proc-64conn appends_per_s)/s, ratio $f2c; the same 64 processes against \`walbench null\`: $(jget null-64proc appends_per_s)/s, ratio $f2n) | $f2 (p99 $f2p) | ≥ 1.5 (p99 ≤ 1) | $v2 |"
say "| 3 | 256 processes × 1 vs Redis | $(jget f3-256proc appends_per_s)/s vs $(jget redis-256x1 appends_per_s)/s (1 process × 256 connections: $(jget f3-1proc-256conn appends_per_s)/s, ratio $f3c; the same 256 processes against \`walbench null\`: $(jget null-256proc appends_per_s)/s, ratio $f3n) | $f3 | ≥ 1.5 | $(verdict "$f3" ">=" 1.5) |"
say "| 4 | 64 connections × 16 vs Redis | $(jget f4-64x16 appends_per_s)/s vs $(jget redis-64x16 appends_per_s)/s | $f4 | ≥ 2 | $(verdict "$f4" ">=" 2) |"
say "| 5 | 4 KiB pipelined vs disk O_DIRECT 1 MiB bandwidth (the better disk test: $disk_mbs MB/s; into new blocks: $disk_new MB/s), the log truncated as it is consumed (f5-4k-64x16-trunc); and never truncated (f5-4k-64x16), every segment in new blocks | truncated: $(jget f5-4k-64x16-trunc mb_per_s) MB/s; never truncated: $(jget f5-4k-64x16 mb_per_s) MB/s ($f5; $(ratio "$(jget f5-4k-64x16 mb_per_s)" "$disk_new") of new blocks) | $f5t ($f5) | ≥ 0.6 | $(verdict "$f5t" ">=" 0.6) (never truncated: $(verdict "$f5" ">=" 0.6)) |"
say "| 6 | encryption on vs off, 64 connections × 16, 128 B and 4 KiB: median of $F6_PAIRS alternating pairs | on/off in each pair: 128 B ${f6a_all% |*}; 4 KiB ${f6b_all% |*} | $f6a, $f6b | ≥ 0.9 | $v6 |"
say "| 7a | start-up, 4 GiB sealed + active vs active only: time (fastest of 5) and bytes read | $minb ms vs $mina ms (median $mb vs $ma); $rb vs $ra bytes read | $f7 (bytes $(ratio "$rb" "$ra")) | ≤ 1 (time within 10 %: the noise; bytes ≤ 1.01) | $v7 |"
say "| 7b | \`walctl read --dir\` replay from the page cache | --json $replay GB/s (text $text GB/s, scan only $scan GB/s) | $replay | ≥ 1 GB/s | $(verdict "$replay" ">=" 1) |"
say "| 8a | idle connection cost | $idle B | $(ratio "$idle" 16384) | ≤ 16 KiB | $(verdict "$(ratio "$idle" 16384)" "<=" 1) |"
say "| 8b | peak RSS under the load of figure 4 vs 64 MiB + 2 × ${BATCH_MIB} MiB batch buffers | $rss_mib MiB vs $rss_limit MiB | $(ratio "$rss_mib" $rss_limit) | ≤ 1 | $(verdict "$(ratio "$rss_mib" $rss_limit)" "<=" 1) |"
say
say "Run took $(( ($(now_ns) - start) / 1000000000 )) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)."

stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$REPORT" "$top/var/bench/results-$stamp.md"
cp "$REPORT" "$top/var/bench/results.md"
cp "$J" "$top/var/bench/results-$stamp.json"
echo
echo "report: var/bench/results.md (and results-$stamp.md, .json)"
