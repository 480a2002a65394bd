#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# repl.sh: `make bench-repl` (issue 20). Replicated against local
# acknowledgements in the same run, with a three-node NATS JetStream
# cluster on this machine (tests/helpers/nats-cluster.sh, 127.0.0.1 only)
# and walld replicating into it (replicas 3, ack local by default,
# timeout 5s). Each round measures, one after the other:
#
#   pub   one R3 publish round trip alone: `jsdump pubbench`, one message
#         at a time, each waiting for its ack (js_PublishMsg), into a
#         stream of its own (WALLDBENCH_RTT), 128 B
#   apub  the same, but published the way walld's replicator does
#         (js_PublishMsgAsync, the ack handler ending the round trip):
#         what libnats's asynchronous path adds (a diagnostic)
#   wpub  the same stream's throughput with 1024 publishes in flight, as
#         many as walbench keeps at 64 x 16: JetStream's own ceiling here
#         (a diagnostic)
#   l1    walbench -p 1 -c 1 -d 1, --ack local, 128 B
#   r1    the same, --ack replicated
#   l64   walbench -p 1 -c 64 -d 16, --ack local, 128 B, a fixed count
#         of appends (BENCH_L64_COUNT) rather than a duration: every one
#         must be replicated before the next run, and walld refuses
#         appends once 1000000 wait (replication.backlog_records)
#   r64   the same, --ack replicated, for BENCH_SECONDS_64
#
# in that order in odd rounds and in the reverse order in even ones, so
# that drift of the machine weighs on both sides alike. The two targets
# are checked within each round, from that round's figures, and over the
# rounds by the median of the per-round ratios:
#
#   1. r1's median latency <= l1's median + 1.2 x pub's median
#   2. r64's appends/s >= 0.5 x l64's
#
# The streams keep at most 768 MiB (WALLD) and 128 MiB (WALLDBENCH_RTT),
# the oldest messages discarded: the test cluster gives each server 1 GB
# of JetStream file store, which a stream's limit reserves, and the local
# runs alone put hundreds of thousands of records into WALLD. walld
# finds its stream made (by jsdump create, before it starts) with its
# subjects, as it would make it, less those limits.
#
# Before each run the machine must be quiet (lib.sh's wait_quiet: under a
# quarter of a CPU busy, waited for at most BENCH_QUIET_WAIT s); a run
# whose other CPU passed BENCH_MAX_OTHER is done again once; a run that
# stays disturbed is marked so. "Other CPU" here is the machine's busy CPU
# less walld's, the three NATS servers', the load generator's (this
# script's children: walbench and its clients, or jsdump) and the kernel
# threads', over the whole run (walbench's 1 s of warm-up included).
# After each run the script waits until walld has replicated everything
# (backlog 0), so that no run pays for the one before it.
#
#   sh bench/repl.sh [BUILD_DIR]      (default build)
#   BENCH_ROUNDS=N        rounds (3)
#   BENCH_SECONDS=N       measured seconds of the one-at-a-time runs (5)
#   BENCH_SECONDS_64=N    measured seconds of wpub and r64 (3)
#   BENCH_L64_COUNT=N     appends of l64 (300000)
#   BENCH_PUBLISH_WINDOW=N  walld's replication.publish_window (unset:
#                         walld's default)
#   BENCH_QUIET_WAIT=N    seconds a run waits for a quiet machine (20)
#   BENCH_MAX_OTHER=X     other CPU (cores) that makes a run go again (0.3)
#   BENCH_BUDGET=N        seconds after which nothing waits or goes again
#                         (200). On a quiet machine the whole takes about
#                         4 to 5 minutes, half a minute of each round
#                         walld replicating what l64 left behind
#
# The report: var/bench/repl-results.md (and a dated copy).
set -u
b=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
B=$top/$b
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-5}
SECS64=${BENCH_SECONDS_64:-3}
L64_COUNT=${BENCH_L64_COUNT:-300000}
PWINDOW=${BENCH_PUBLISH_WINDOW:-}
WINDOW=1024
WALLD_MAX=805306368	# 768 MiB
RTT_MAX=134217728	# 128 MiB
SIZE=128
WB=$B/walbench
WALLD=$B/walld
WALCTL=$B/walctl
JSDUMP=$B/tests/jsdump
RTT_STREAM=WALLDBENCH_RTT
RTT_SUBJECT=walldbench.rtt
for f in "$WB" "$WALLD" "$WALCTL" "$JSDUMP"; do
	[ -x "$f" ] || { echo "repl.sh: $f is missing: make -j2 all" >&2; exit 1; }
done
case $ROUNDS in ''|*[!0-9]*|0) echo "repl.sh: BENCH_ROUNDS: a count" >&2; exit 64;; esac
case $SECS in ''|*[!0-9]*|0) echo "repl.sh: BENCH_SECONDS: whole seconds" >&2; exit 64;; esac
case $SECS64 in ''|*[!0-9]*|0) echo "repl.sh: BENCH_SECONDS_64: whole seconds" >&2; exit 64;; esac
case $L64_COUNT in ''|*[!0-9]*|0) echo "repl.sh: BENCH_L64_COUNT: a count" >&2; exit 64;; esac
case $PWINDOW in *[!0-9]*) echo "repl.sh: BENCH_PUBLISH_WINDOW: a count" >&2; exit 64;; esac
# walld refuses to run as root without --allow-root (docs/OPERATIONS.md).
ALLOW_ROOT=
[ "$(id -u)" != 0 ] || ALLOW_ROOT=--allow-root

mkdir -p var/bench || exit 1
T=$(mktemp -d "$top/var/bench/repl.XXXXXX") || exit 1
SOCK=$T/walld.sock
LOG=$T/walld.log
REPORT=$T/report.md
WALLD_PID=

. "$top/bench/lib.sh"
. "$top/tests/helpers/nats-cluster.sh"
BENCH_WAIT=${BENCH_QUIET_WAIT:-20}
MAX_OTHER=${BENCH_MAX_OTHER:-0.3}
HZ=$(getconf CLK_TCK)

stop_walld() {
	[ -n "$WALLD_PID" ] || return 0
	kill -TERM "$WALLD_PID" 2>/dev/null
	i=0
	while kill -0 "$WALLD_PID" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 400 ]; then
			echo "repl.sh: walld $WALLD_PID did not stop in 20 s;" \
			    "killing it" >&2
			kill -KILL "$WALLD_PID" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	WALLD_PID=
}

cleanup() {
	stop_walld
	nats_cluster_stop
	left=$(nats_left)
	[ -z "$left" ] || echo "repl.sh: NATS servers left running: $left" >&2
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ns() { date +%s%N; }

say() { echo "$@" | tee -a "$REPORT"; }

die() {
	echo "repl.sh: $*" >&2
	[ ! -f "$LOG" ] || { echo "--- walld log (last 20 lines):" >&2;
	    tail -n 20 "$LOG" >&2; }
	nats_logs 10 >&2
	exit 1
}

# wstat KEY [FILE]: one value of walld's stats (from FILE, else asked now).
wstat() {
	if [ $# -gt 1 ]; then
		awk -v k="$1" '$1 == k { print $2; exit }' "$2"
	else
		"$WALCTL" -s "$SOCK" stats 2>>"$LOG" |
		    awk -v k="$1" '$1 == k { print $2; exit }'
	fi
}

# jfield FILE KEY: a number from walbench's JSON line in FILE.
jfield() {
	awk -v k="\"$2\":" '{ i = index($0, k); if (i == 0) next
	    s = substr($0, i + length(k)); sub(/[,}].*/, "", s)
	    gsub(/"/, "", s); print s; exit }' "$1"
}

# kv FILE KEY: a value of jsdump's "key value" lines in FILE.
kv() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

# The CPU of the processes this benchmark runs, in clock ticks: walld and
# the NATS servers (running), and this shell's reaped children (walbench
# with its clients, jsdump, and the little tools of the script itself).
walld_jiffies() { proc_jiffies "$WALLD_PID" || echo 0; }
nats_jiffies() {
	s=0
	for p in ${NATS_PID_1:-} ${NATS_PID_2:-} ${NATS_PID_3:-}; do
		j=$(proc_jiffies "$p")
		s=$((s + ${j:-0}))
	done
	echo $s
}
children_jiffies() {
	awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"
}

# cpu_begin / cpu_end: around one run. cpu_end sets OTHER, WALLD_CORES,
# NATS_CORES and GEN_CORES (CPUs kept busy, on average over the run).
cpu_begin() {
	c_busy=$(busy_jiffies) c_kt=$(kthread_jiffies) c_w=$(walld_jiffies)
	c_n=$(nats_jiffies) c_ch=$(children_jiffies) c_t=$(now_ns)
}
cpu_end() {
	d_t=$(( $(now_ns) - c_t ))
	d_ch=$(( $(children_jiffies) - c_ch ))
	d_busy=$(( $(busy_jiffies) - c_busy ))
	d_kt=$(( $(kthread_jiffies) - c_kt ))
	d_w=$(( $(walld_jiffies) - c_w ))
	d_n=$(( $(nats_jiffies) - c_n ))
	set -- $(awk -v t="$d_t" -v hz="$HZ" -v busy="$d_busy" -v kt="$d_kt" \
	    -v w="$d_w" -v n="$d_n" -v ch="$d_ch" 'BEGIN {
		s = t / 1e9 * hz
		o = (busy - kt - w - n - ch) / s
		printf "%.2f %.2f %.2f %.2f\n", (o < 0 ? 0 : o), w / s, n / s,
		    ch / s }')
	OTHER=$1 WALLD_CORES=$2 NATS_CORES=$3 GEN_CORES=$4
}

# pubstats BEFORE AFTER: walld's own publish-to-acknowledgement times over
# a run (its replication_publish_usec histogram, one count per bucket):
# "mean_us bucket" where bucket is the one holding the median ("≤500"), or
# "- -" when nothing was acknowledged.
pubstats() {
	awk 'NR == FNR { a[$1] = $2; next }
	    $1 ~ /^replication_publish_usec_le_/ {
		k = $1; sub(/^replication_publish_usec_le_/, "", k)
		nb++; name[nb] = k; cnt[nb] = $2 - a[$1] }
	    $1 == "replication_acked_total" { n = $2 - a[$1] }
	    $1 == "replication_publish_usec_total" { us = $2 - a[$1] }
	    END { if (n <= 0) { print "- -"; exit }
		for (i = 1; i <= nb; i++) { c += cnt[i]
		    if (2 * c >= n) break }
		printf "%.0f ≤%s\n", us / n, name[i] }' "$1" "$2"
}

# drain: waits (120 s at most) until walld has replicated every durable
# record; sets DRAIN_MS. Then drops the log's replicated segments.
drain() {
	d0=$(now_ns)
	i=0
	while :; do
		kill -0 "$WALLD_PID" 2>/dev/null || die "walld exited"
		bl=$(wstat replication_backlog_records)
		[ "$bl" = 0 ] && break
		i=$((i + 1))
		if [ $i -gt 1200 ]; then
			echo "repl.sh: walld's backlog is still $bl records" \
			    "after 120 s" >&2
			break
		fi
		sleep 0.1
	done
	DRAIN_MS=$(( ($(now_ns) - d0) / 1000000 ))
	lsn=$(wstat durable_lsn)
	[ -z "$lsn" ] || "$WALCTL" -s "$SOCK" truncate --before "$lsn" \
	    >/dev/null 2>>"$LOG" || :
}

# node_of_port PORT: n1..n3 for one of the cluster's client ports.
node_of_port() {
	for n in 1 2 3; do
		eval p=\$NATS_CPORT_$n
		[ "$p" = "$1" ] && { echo "n$n"; return 0; }
	done
	echo "?"
}

# walld_node: the server walld's NATS connection is on (ss), or "?".
walld_node() {
	command -v ss >/dev/null 2>&1 || { echo "?"; return 0; }
	port=$(ss -Htnp state established 2>/dev/null |
	    awk -v pid="pid=$WALLD_PID," 'index($0, pid) { n = split($4, a, ":")
		print a[n] }' | while read -r p; do
		    [ "$(node_of_port "$p")" = "?" ] || { echo "$p"; break; }
		done)
	[ -n "$port" ] && node_of_port "$port" || echo "?"
}

# leader_of STREAM: its leader's server name, or "?".
leader_of() {
	l=$("$JSDUMP" --urls "$NATS_URLS" --stream "$1" --timeout 2000 info \
	    2>/dev/null | awk '$1 == "leader" { print $2 }')
	echo "${l:-?}"
}

# verdict RATIO OP LIMIT: met / not met.
verdict() {
	awk -v r="$1" -v op="$2" -v l="$3" 'BEGIN { if (r !~ /^-?[0-9.]+$/)
	    print "not measured"; else if ((op == "<=" && r + 0 <= l + 0) ||
	    (op == ">=" && r + 0 >= l + 0)) print "**met**";
	    else print "**not met**" }'
}

# median V...: the median of the numbers given ("-" for none).
median() {
	echo "$@" | tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR == 0) print "-"
		else if (NR % 2) print v[(NR + 1) / 2]
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# spread V...: (max - min) / median, in %, or "-".
spread() {
	m=$(median "$@")
	echo "$@" | tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g |
	    awk -v m="$m" '{ v[NR] = $1 } END { if (NR < 2 || m + 0 == 0)
		print "-"; else printf "%.0f %%\n", (v[NR] - v[1]) / m * 100 }'
}

# get ROUND KIND FIELD / put ROUND KIND FIELD VALUE: the figures of a run.
put() { eval "V_$1_$2_$3=\$4"; }
get() { eval "echo \${V_$1_$2_$3:--}"; }

# all KIND FIELD: that figure of every round.
all() {
	r=1
	while [ $r -le "$ROUNDS" ]; do
		printf '%s ' "$(get $r "$1" "$2")"
		r=$((r + 1))
	done
}

# run_one ROUND KIND: one measured run, waiting for a quiet machine first
# and done again once when other work disturbed it. Prints its row.
run_one() {
	round=$1 kind=$2
	tries=0
	while :; do
		kill -0 "$WALLD_PID" 2>/dev/null || die "walld exited"
		for n in 1 2 3; do
			eval p=\${NATS_PID_$n:-}
			kill -0 "$p" 2>/dev/null || die "NATS server n$n exited"
		done
		# Quiet or not by the last sample: past the deadline,
		# wait_quiet only samples, and fails whatever it finds.
		wait_quiet "$BENCH_WAIT" || :
		q_before=$QUIET
		quiet=yes
		awk -v b="$QUIET" 'BEGIN { exit !(b < 0.25) }' || quiet=no
		"$WALCTL" -s "$SOCK" stats >"$T/s0" 2>>"$LOG"
		rm -f "$T/row.json"
		cpu_begin
		case $kind in
		pub|apub|wpub)
			case $kind in
			pub) set -- --time "$SECS";;
			apub) set -- --time "$SECS" --async;;
			wpub) set -- --time "$SECS64" --window $WINDOW;;
			esac
			"$JSDUMP" --urls "$PUB_URLS" --stream "$RTT_STREAM" \
			    $PUB_LEADER pubbench --subject "$RTT_SUBJECT" \
			    --size $SIZE --count 1000000 "$@" \
			    >"$T/out" 2>"$T/err"
			rc=$?;;
		l1|r1|l64|r64)
			case $kind in
			l1) set -- -t "$SECS" -p 1 -c 1 -d 1 --ack local;;
			r1) set -- -t "$SECS" -p 1 -c 1 -d 1 --ack replicated;;
			l64) set -- -n "$L64_COUNT" -p 1 -c 64 -d 16 \
			    --ack local;;
			r64) set -- -t "$SECS64" -p 1 -c 64 -d 16 \
			    --ack replicated;;
			esac
			"$WB" run -s "$SOCK" -S $SIZE -l "$kind-$round" \
			    --json "$T/row.json" "$@" >"$T/out" 2>"$T/err"
			rc=$?;;
		esac
		cpu_end
		"$WALCTL" -s "$SOCK" stats >"$T/s1" 2>>"$LOG"
		tries=$((tries + 1))
		[ $rc = 0 ] || break
		too_busy "$OTHER" && [ $tries -lt 2 ] || break
		echo "repl.sh: round $round, $kind: other work took $OTHER" \
		    "CPUs; again" >&2
		drain
	done
	backlog=$(wstat replication_backlog_records "$T/s1")
	set -- $(pubstats "$T/s0" "$T/s1")
	wpub_mean=$1 wpub_p50=$2
	drain
	note=
	if [ $rc != 0 ]; then
		note="FAILED (exit $rc): $(tr '\n' ' ' <"$T/err" | cut -c1-200)"
		p50=- p99=- mean=- rate=- errors=-
	elif [ $kind = pub ] || [ $kind = apub ] || [ $kind = wpub ]; then
		p50=$(kv "$T/out" p50_us) p99=$(kv "$T/out" p99_us)
		mean=$(kv "$T/out" mean_us) rate=$(kv "$T/out" per_s)
		errors=0
	else
		p50=$(jfield "$T/row.json" p50_us)
		p99=$(jfield "$T/row.json" p99_us)
		mean=- rate=$(jfield "$T/row.json" appends_per_s)
		errors=$(jfield "$T/row.json" errors)
		[ "$errors" = 0 ] || note="$errors errors; "
	fi
	dist=
	[ $quiet = yes ] || dist="busy before ($q_before CPUs)"
	if awk -v o="$OTHER" -v m="$MAX_OTHER" 'BEGIN { exit !(o > m) }'; then
		dist="${dist:+$dist, }other CPU $OTHER"
	fi
	[ -z "$dist" ] || { note="${note}**disturbed**: $dist; ";
	    put "$round" "$kind" dist 1; }
	[ $tries -lt 2 ] || note="${note}run twice; "
	put "$round" "$kind" p50 "$p50"
	put "$round" "$kind" p99 "$p99"
	put "$round" "$kind" rate "$rate"
	put "$round" "$kind" other "$OTHER"
	# How fast walld replicated what the run left behind.
	drate=-
	[ "${backlog:-0}" -lt 1000 ] || [ "$DRAIN_MS" = 0 ] ||
	    drate=$((backlog * 1000 / DRAIN_MS))
	say "| $round | $kind | $p50 | $p99 | $mean | $rate | $WALLD_CORES |" \
	    "$NATS_CORES | $GEN_CORES | $OTHER | $q_before | $wpub_mean |" \
	    "$wpub_p50 | $backlog | $DRAIN_MS | $drate | ${note%; } |"
}

# --- The cluster and walld.
BUDGET_START=$(date +%s)
wait_quiet $((BENCH_WAIT * 3)) || :
QUIET0=$QUIET
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(now_ns)
nats_cluster_start "$T/nats" || die "the NATS cluster did not start"
for st in "WALLD walld.log.> $WALLD_MAX" "$RTT_STREAM $RTT_SUBJECT $RTT_MAX"; do
	set -- $st
	"$JSDUMP" --urls "$NATS_URLS" --stream "$1" create --subjects "$2" \
	    --replicas 3 --max-bytes "$3" >/dev/null ||
		die "could not create stream $1"
	nats_stream_current "$1" 30 || die "stream $1 is not current"
done
cat >"$T/walld.yaml" <<EOF
socket:
  path: $SOCK
storage:
  data_dir: $T/data
group_commit:
  max_batch_bytes: 8MiB
replication:
  servers: [$(echo "$NATS_URLS" | sed 's/,/, /g')]
  stream: WALLD
  subject_prefix: walld.log
  replicas: 3
  ack: local
  timeout: 5s
EOF
[ -z "$PWINDOW" ] || echo "  publish_window: $PWINDOW" >>"$T/walld.yaml"
out=$("$WB" startup -s "$SOCK" -- nice -n "$SERVER_NICE" "$WALLD" $ALLOW_ROOT \
    --config "$T/walld.yaml" 2>>"$LOG") || die "walld did not start"
WALLD_PID=$(echo "$out" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
[ -n "$WALLD_PID" ] || die "walld's pid: $out"
i=0
while [ "$(wstat replication_state)" != running ]; do
	i=$((i + 1))
	[ $i -le 300 ] || die "walld's replication_state is" \
	    "$(wstat replication_state), not running, after 30 s"
	sleep 0.1
done

# The round trip alone takes walld's path: the same server for the client
# and, by step-downs, the same leader for its stream as walld's stream has.
WNODE=$(walld_node)
WLEADER=$(leader_of WALLD)
PUB_URLS=$NATS_URLS
case $WNODE in n[123]) eval PUB_URLS=nats://127.0.0.1:\$NATS_CPORT_${WNODE#n};; esac
PUB_LEADER=
case $WLEADER in n[123]) PUB_LEADER="--leader $WLEADER";; esac
ORDER1="pub apub wpub l1 r1 l64 r64"
BENCH_DEADLINE=$(( BUDGET_START + ${BENCH_BUDGET:-200} ))
export BENCH_DEADLINE

say "# walld replication benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
say
say "- CPU: $(nproc) × $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1); kernel $(uname -sr)"
say "- before the run: $QUIET0 CPUs busy (2 s sample), load average $LOAD0"
dirty=$(git status --porcelain -- daemon client proto repl engine 2>/dev/null | wc -l)
[ "$dirty" = 0 ] && dirty="" || dirty=" with $dirty uncommitted files"
say "- walld: $("$WALLD" --version 2>&1 | head -n 1), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$dirty; group_commit.max_batch_bytes 8MiB; replication: replicas 3, ack local (walbench --ack sets each run's), timeout 5s, publish_window ${PWINDOW:-4096 (default)}; nice $SERVER_NICE"
say "- NATS: $("$NATS_SERVER" --version 2>&1 | head -n 1), three nodes on 127.0.0.1 (tests/helpers/nats-cluster.sh: GOMAXPROCS=1 each, file store), on the same $(nproc) CPUs as walld and the clients; streams WALLD and $RTT_STREAM R3, at most 768 and 128 MiB (oldest discarded)"
say "- walld's NATS connection is on $WNODE; stream WALLD's leader: $WLEADER. jsdump pubbench connects to ${WNODE} and moves $RTT_STREAM's leader to $WLEADER: the same path as walld's publishes"
say "- $ROUNDS rounds, each: $ORDER1 (odd rounds), the reverse (even rounds); ${SECS} s measured per one-at-a-time run (pub, apub, l1, r1), ${SECS64} s for wpub and r64, l64 $L64_COUNT appends (timed from the first to the last; no warm-up); walbench's timed runs after 1 s of warm-up, pubbench after 10 publishes; ${SIZE}-byte records"
say "- other CPU: busy CPU that was not walld's, the NATS servers', the load generator's or kernel threads', over the whole run; a run waits up to ${BENCH_WAIT} s for a quiet machine (< 0.25 CPU) and goes again once when its other CPU passes $MAX_OTHER; none of that after ${BENCH_BUDGET:-200} s"
say
say "## Runs"
say
say "pub: one R3 publish at a time, js_PublishMsg (µs: its round trip; per s: publishes). apub: the same through js_PublishMsgAsync, as walld publishes. wpub: $WINDOW in flight. l1/r1: walbench 1×1×1, --ack local/replicated. l64/r64: 1×64×16. walld publish→ack: walld's own replication_publish_usec over the run (mean, and the histogram bucket holding the median). backlog: replication_backlog_records at the end of the run; drain: ms until it was 0, and the rate that makes (walld replicating flat out)."
say
say "| round | run | p50 µs | p99 µs | mean µs | per s | walld cores | NATS cores | generator cores | other CPU | busy before | walld publish→ack mean µs | its median | backlog at end | drain ms | drain /s | notes |"
say "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
r=1
while [ $r -le "$ROUNDS" ]; do
	if [ $((r % 2)) = 1 ]; then order=$ORDER1
	else order=$(echo "$ORDER1" | tr ' ' '\n' | sed -n '1!G;h;$p' | tr '\n' ' '); fi
	for k in $order; do
		run_one $r $k
	done
	n=$(walld_node)
	[ "$n" = "$WNODE" ] || say "| $r | | | | | | | | | | | | | | | | walld's connection moved: $WNODE → $n |"
	r=$((r + 1))
done
WLEADER_END=$(leader_of WALLD)
RLEADER_END=$(leader_of "$RTT_STREAM")
say

# --- Per round: the targets from that round's own figures.
say "## Targets, round by round"
say
say "check 1: (r1 p50 − l1 p50) / pub p50, target ≤ 1.2. check 2: r64 / l64 appends/s, target ≥ 0.5. Beside them (diagnostics, no target): apub, the round trip the way walld publishes; r1 − l1 − apub, what walld's own path adds beyond it; wpub, JetStream's throughput alone with $WINDOW in flight, and r64 / wpub."
say
say "| round | pub p50 µs | l1 p50 µs | r1 p50 µs | limit l1 + 1.2 × pub µs | check 1 | apub p50 µs | r1 − l1 − apub µs | l64 appends/s | r64 appends/s | check 2 | wpub msgs/s | r64 / wpub | disturbed |"
say "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
C1= C2= C1U= C2U= ND1=0 ND2=0
r=1
while [ $r -le "$ROUNDS" ]; do
	pub=$(get $r pub p50) l1=$(get $r l1 p50) r1=$(get $r r1 p50)
	l64=$(get $r l64 rate) r64=$(get $r r64 rate)
	apub=$(get $r apub p50) wpub=$(get $r wpub rate)
	set -- $(awk -v p="$pub" -v l="$l1" -v r="$r1" -v a="$l64" -v b="$r64" \
	    -v ap="$apub" -v w="$wpub" \
	    'function num(x) { return x ~ /^[0-9.]+$/ }
	    BEGIN {
		if (num(p) && num(l) && num(r) && p + 0 > 0)
			printf "%.0f %.2f ", l + 1.2 * p, (r - l) / p
		else printf "- - "
		if (num(a) && num(b) && a + 0 > 0) printf "%.2f ", b / a
		else printf "- "
		if (num(l) && num(r) && num(ap)) printf "%.0f ", r - l - ap
		else printf "- "
		if (num(w) && num(b) && w + 0 > 0) printf "%.2f\n", b / w
		else print "-" }')
	limit=$1 c1=$2 c2=$3 own=$4 ofw=$5
	d1= d2=
	for k in pub l1 r1; do
		[ "$(get $r $k dist)" = - ] || d1="$d1 $k"
	done
	for k in l64 r64; do
		[ "$(get $r $k dist)" = - ] || d2="$d2 $k"
	done
	C1="$C1 $c1" C2="$C2 $c2"
	[ -n "$d1" ] || { C1U="$C1U $c1"; ND1=$((ND1 + 1)); }
	[ -n "$d2" ] || { C2U="$C2U $c2"; ND2=$((ND2 + 1)); }
	dist=$(echo $d1 $d2)
	say "| $r | $pub | $l1 | $r1 | $limit | $c1: $(verdict "$c1" "<=" 1.2) | $apub | $own | $l64 | $r64 | $c2: $(verdict "$c2" ">=" 0.5) | $wpub | $ofw | ${dist:-no} |"
	r=$((r + 1))
done
say
# --- Over the rounds.
say "## Over the rounds (median, and spread: (max − min) / median)"
say
say "| figure | rounds | median | spread |"
say "|---|---|---:|---:|"
for f in "pub p50 R3 publish round trip p50 µs" "pub p99 R3 publish round trip p99 µs" \
    "apub p50 the same, asynchronous (walld's way), p50 µs" \
    "wpub rate R3 publishes/s, $WINDOW in flight" \
    "l1 p50 local 1×1 p50 µs" "r1 p50 replicated 1×1 p50 µs" \
    "l1 p99 local 1×1 p99 µs" "r1 p99 replicated 1×1 p99 µs" \
    "l64 rate local 64×16 appends/s" "r64 rate replicated 64×16 appends/s" \
    "l64 p50 local 64×16 p50 µs" "r64 p50 replicated 64×16 p50 µs"; do
	set -- $f
	k=$1 fld=$2
	shift 2
	v=$(all $k $fld)
	say "| $* | $(echo $v | sed 's/ /, /g') | $(median $v) | $(spread $v) |"
done
say

# The verdicts: the median of the per-round ratios, over the rounds that
# no other work disturbed when there is one, else over all (and said).
pick() {	# pick ALL UNDISTURBED COUNT
	if [ "$3" -gt 0 ]; then
		echo "$(median $2) $3"
	else
		echo "$(median $1) 0"
	fi
}
set -- $(pick "$C1" "$C1U" $ND1)
m1=$1 n1=$2
set -- $(pick "$C2" "$C2U" $ND2)
m2=$1 n2=$2
from() {
	if [ "$1" -gt 0 ]; then echo "median over the $1 undisturbed rounds"
	else echo "median over all $ROUNDS rounds, **every one disturbed**"; fi
}
say "## Targets (issue 20)"
say
say "| target | per round | ratio | limit | verdict |"
say "|---|---|---:|---:|---|"
say "| 1: replicated 1×1 median ≤ local median + 1.2 × one R3 publish round trip: (r1 − l1) / pub | $(echo $C1 | sed 's/ /, /g') | $m1 ($(from $n1)) | ≤ 1.2 | $(verdict "$m1" "<=" 1.2) |"
say "| 2: replicated 64×16 throughput ≥ half of local: r64 / l64 | $(echo $C2 | sed 's/ /, /g') | $m2 ($(from $n2)) | ≥ 0.5 | $(verdict "$m2" ">=" 0.5) |"
say
[ "$WLEADER_END" = "$WLEADER" ] && [ "$RLEADER_END" = "$WLEADER" ] ||
    say "Leaders at the end: WALLD $WLEADER_END, $RTT_STREAM $RLEADER_END (at the start: $WLEADER)."
say "walld's replication at the end: $(wstat replication_state), published $(wstat replication_published_total), acknowledged $(wstat replication_acked_total), errors $(wstat replication_errors_total), resyncs $(wstat replication_resyncs_total), timeouts $(wstat replication_timeouts_total)."
say "Run took $(( ($(now_ns) - start) / 1000000000 )) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)."

stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$REPORT" "$top/var/bench/repl-results-$stamp.md"
cp "$REPORT" "$top/var/bench/repl-results.md"
echo
echo "report: var/bench/repl-results.md (and repl-results-$stamp.md)"
