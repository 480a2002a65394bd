#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# peers.sh: every system from one driver (issue 26). walld, walld with
# encryption, the null server, Redis (appendonly yes, appendfsync always),
# PostgreSQL (synchronous_commit=on), SQLite (WAL, synchronous=FULL) and a
# shared O_APPEND file with an fdatasync per record, all loaded by
# `walbench run` with the same processes × connections × appends in
# flight, payload, window, histogram and CPU accounting; and the durable
# yardstick (`walbench null --dir`: the null server with one write and one
# fdatasync a loop turn), beside which walld's figures are also taken to
# show what a server that only makes appends durable reaches here. The
# servers run on private sockets and directories under var/bench/ (the
# repository's disk) and are stopped by their pids. Every configuration runs every
# system once per round, in an order that turns from round to round; a
# figure's ratio is taken within each round, and its median over the
# rounds is the figure. The disk's limits (walbench disk) and the cipher's
# own rate (openssl speed) are measured in the same run, before and after;
# and at 1 × 1 and 4 KiB the disk's own reference (its 4 KiB or its
# O_DIRECT 1 MiB write+fdatasync, for as long as a run) is measured in
# every round right before walld's run (odd rounds) or right after it
# (even rounds): figures 1 and 5 take walld's ratio to it.
#
#   sh bench/peers.sh [BUILD_DIR]
#   BENCH_ROUNDS=N        rounds (3; at least 3 for a median with a spread)
#   BENCH_SECONDS=N       measured seconds per run (5), after 1 s of warm-up
#   BENCH_QUIET_WAIT=N    seconds a run waits for a quiet machine (10)
#   BENCH_MAX_OTHER=X     other work (CPUs) that makes a run go again (0.3)
#   BENCH_BUDGET=N        seconds of waiting and re-running at most (300)
#   BENCH_SYSTEMS="..."   the systems (all that are installed; "disk" is the
#                         disk's reference next to walld's runs)
#   BENCH_CONFIGS="..."   the configurations (see CONFIGS)
#   BENCH_LOG=steady|new  walld's log in its steady state (the default) or
#                         new (see start_walld and warm_log)
#
# A row whose other CPU stays above BENCH_MAX_OTHER after its second try
# is kept and marked "disturbed" in the summary.
set -u
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
WB=$top/$B/walbench
WALLD=${WALLD:-$top/$B/walld}
WALCTL=${WALCTL:-$top/$B/walctl}
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-5}
# walld's log: steady (retention and recycled segment files, after a
# warm-up) or new (retention alone: every new segment's blocks are
# written for the first time).
WALLD_LOG=${BENCH_LOG:-steady}
RETAIN=1GiB RETAIN_EVERY=1s RECYCLE=16
case $WALLD_LOG in
steady)	;;
new)	RECYCLE=0 ;;
*)	echo "peers.sh: BENCH_LOG is steady or new, not $WALLD_LOG" >&2; exit 1 ;;
esac
for f in "$WB" "$WALLD" "$WALCTL"; do
	[ -x "$f" ] || { echo "peers.sh: $f is missing: make bench" >&2; exit 1; }
done
# walld refuses to run as root without --allow-root (docs/OPERATIONS.md).
ALLOW_ROOT=
[ "$(id -u)" != 0 ] || ALLOW_ROOT=--allow-root

. "$top/bench/lib.sh"
BENCH_WAIT=${BENCH_QUIET_WAIT:-10}
BENCH_DEADLINE=$(( $(date +%s) + ${BENCH_BUDGET:-300} ))

# The configurations: name, walbench's shape, and the systems it runs
# (those that take it: one append at a time for PostgreSQL, SQLite and
# the file; the encrypted walld only where figure 6 asks for it).
CONFIGS=${BENCH_CONFIGS:-"c1x1 c64x1 c256x1 c1x64x16 c4k"}
cfg_args() {
	case $1 in
	c1x1)		echo "-p 1" ;;
	c64x1)		echo "-p 64" ;;
	c256x1)		echo "-p 256" ;;
	c1x64x16)	echo "-p 1 -c 64 -d 16" ;;
	c4k)		echo "-p 1 -c 64 -d 16 -S 4k" ;;
	*)		echo "peers.sh: no configuration $1" >&2; exit 1 ;;
	esac
}
cfg_systems() {
	case $1 in
	c1x1|c64x1)	echo "walld null nullsync redis pg sqlite file" ;;
	c256x1)		echo "walld null nullsync redis" ;;
	c1x64x16|c4k)	echo "walld walld-enc null nullsync redis" ;;
	esac
}
cfg_text() {
	case $1 in
	c1x1)		echo "1 process × 1 × 1, 128 B" ;;
	c64x1)		echo "64 processes × 1 × 1, 128 B" ;;
	c256x1)		echo "256 processes × 1 × 1, 128 B" ;;
	c1x64x16)	echo "1 process × 64 connections × 16, 128 B" ;;
	c4k)		echo "1 process × 64 connections × 16, 4 KiB" ;;
	esac
}

mkdir -p var/bench
T=$(mktemp -d "$top/var/bench/peers.XXXXXX")
chmod 755 "$T"		# PostgreSQL runs as its own user
J=$T/runs.json
REPORT=$T/report.md
LOG=$T/servers.log
SOCK=$T/walld.sock
ENC_SOCK=$T/walld-enc.sock
NULL_SOCK=$T/null.sock
SYNC_SOCK=$T/nullsync.sock
REDIS_SOCK=$T/redis/redis.sock
PG_DIR=$T/pg
WALLD_PID= ENC_PID= NULL_PID= SYNC_PID= REDIS_PID= PG_PID=

# stop_pid PID NAME SIGNAL: stops one server we started and waits for it
# (20 s, then SIGKILL).
stop_pid() {
	[ -n "$1" ] || return 0
	kill "-$3" "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 400 ]; then
			echo "peers.sh: $2 ($1) did not stop in 20 s; killing it" >&2
			kill -KILL "$1" 2>/dev/null
			break
		fi
		sleep 0.05
	done
}

cleanup() {
	stop_pid "$WALLD_PID" walld TERM
	stop_pid "$ENC_PID" "walld (encrypted)" TERM
	stop_pid "$NULL_PID" "walbench null" TERM
	stop_pid "$SYNC_PID" "walbench null --dir" TERM
	stop_pid "$REDIS_PID" redis-server TERM
	stop_pid "$PG_PID" postgres INT		# PostgreSQL's fast shutdown
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$@" | tee -a "$REPORT"; }

# start_walld NAME SOCKET DATA [KEYRING]: a private walld; prints its pid.
# It runs as a log in service does, with retention keeping the last GiB
# and the files of removed segments recycled into new ones (see warm_log).
start_walld() {
	y=$T/$1.yaml
	printf 'socket:\n  path: %s\nstorage:\n  data_dir: %s\n  recycle_segments: %s\ngroup_commit:\n  max_batch_bytes: 8MiB\nretention:\n  max_bytes: %s\n  interval: %s\n' \
	    "$2" "$3" "$RECYCLE" "$RETAIN" "$RETAIN_EVERY" >"$y"
	[ -z "${4:-}" ] || printf 'encryption:\n  keyring: %s\n' "$4" >>"$y"
	out=$("$WB" startup -s "$2" -- nice -n "$SERVER_NICE" "$WALLD" $ALLOW_ROOT \
	    --config "$y" 2>>"$LOG") || { echo "peers.sh: $1 did not start:" >&2
	    tail -n 20 "$LOG" >&2; return 1; }
	echo "$out" | sed -n 's/.*pid=\([0-9]*\).*/\1/p'
}

# warm_log SOCKET: brings a walld's log to its steady state before the
# runs: more than the retention window written (4 KiB appends), then one
# retention pass, so that its new segments are made from the files of
# removed ones (written blocks), as in a log that has run for a while. A
# new log writes every block for the first time (BENCHMARKS.md, "a new
# log against one in its steady state").
warm_log() {
	"$WB" run -s "$1" -p 1 -c 64 -d 16 -S 4k -t 5 >/dev/null 2>>"$LOG" ||
	    echo "peers.sh: warming the log at $1 failed; see $LOG" >&2
	i=0
	while [ "$(walld_stat "$1" recycled_segments_held)" = 0 ] && [ $i -lt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
}

# start_redis: Redis 7 with every write fsynced before its reply.
start_redis() {
	mkdir -p "$T/redis"
	nice -n "$SERVER_NICE" redis-server --port 0 \
	    --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --dir "$T/redis" \
	    --appendonly yes --appendfsync always --save '' --daemonize yes \
	    --pidfile "$T/redis/redis.pid" --logfile "$T/redis/redis.log" ||
	    return 1
	i=0
	until redis-cli -s "$REDIS_SOCK" ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "peers.sh: Redis did not start" >&2; return 1; }
		sleep 0.05
	done
	REDIS_PID=$(cat "$T/redis/redis.pid")
}

# pg_bindir: where PostgreSQL's server programs are.
pg_bindir() {
	d=$(pg_config --bindir 2>/dev/null)
	[ -x "$d/postgres" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# as_pg CMD...: PostgreSQL refuses to run as root: as its own user then.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# start_pg: a private cluster, Unix socket only, synchronous_commit=on
# (and fsync on: the defaults, said again), room for 256 backends.
start_pg() {
	pgb=$(pg_bindir)
	[ -n "$pgb" ] || return 1
	mkdir -p "$PG_DIR"
	[ "$(id -u)" != 0 ] || chown postgres "$PG_DIR" || return 1
	as_pg "$pgb/initdb" -D "$PG_DIR/data" -A trust -U postgres \
	    >>"$LOG" 2>&1 || { echo "peers.sh: initdb failed; see $LOG" >&2; return 1; }
	as_pg nice -n "$SERVER_NICE" "$pgb/postgres" -D "$PG_DIR/data" \
	    -k "$PG_DIR" -c listen_addresses= -c max_connections=300 \
	    -c synchronous_commit=on -c fsync=on >>"$LOG" 2>&1 &
	i=0
	until "$pgb/pg_isready" -q -h "$PG_DIR" -U postgres 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 400 ] || { echo "peers.sh: postgres did not start" >&2; return 1; }
		sleep 0.05
	done
	PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
	PG_VERSION=$("$pgb/postgres" --version | awk '{ print $3 }')
}

# sys_args SYSTEM: walbench's arguments for a system.
sys_args() {
	case $1 in
	walld)		echo "-s $SOCK" ;;
	walld-enc)	echo "-s $ENC_SOCK --encrypt on" ;;
	null)		echo "-s $NULL_SOCK" ;;
	nullsync)	echo "-s $SYNC_SOCK" ;;
	redis)		echo "--system redis -s $REDIS_SOCK --pid $REDIS_PID" ;;
	sqlite)		echo "--system sqlite -s $T/sqlite.db" ;;
	file)		echo "--system file -s $T/shared.log" ;;
	esac
}

# prepare SYSTEM: what a run starts from: an empty stream (Redis).
# PostgreSQL's table, SQLite's database and the file are made afresh by
# walbench; walld's log keeps its steady state (warm_log).
prepare() {
	[ "$1" != redis ] || redis-cli -s "$REDIS_SOCK" del walbench >/dev/null
}

# disk_json TAG: walbench disk's JSON line ($T/disk.json) into $J as
# label TAG.
disk_json() {
	sed "s/\"label\":\"disk\"/\"label\":\"$1\"/" "$T/disk.json" >>"$J"
}

# disk_run CONFIG ROUND: the disk's reference for CONFIG in one round
# (nothing for a configuration that has none): 4 KiB pwrite+fdatasync (1
# × 1) or O_DIRECT 1 MiB write+fdatasync (4 KiB) into written blocks, for
# as long as a run; a row in the runs' table, and its JSON line labelled
# "disk CONFIG rROUND".
disk_run() {
	case $1 in
	c1x1)	test=sync what="4 KiB pwrite+fdatasync" ;;
	c4k)	test=direct what="O_DIRECT 1 MiB write+fdatasync" ;;
	*)	return 0 ;;
	esac
	have disk || return 0
	wait_quiet "$BENCH_WAIT" || :
	rm -f "$T/disk.json"
	if ! "$WB" disk --dir "$T" --test "$test" -t "$SECS" \
	    --json "$T/disk.json" >/dev/null 2>>"$T/walbench.err"; then
		echo "peers.sh: disk $1 r$2 failed: $(tail -n 1 "$T/walbench.err")" >&2
		say "| disk $1 r$2 | failed: $(tail -n 1 "$T/walbench.err") |"
		return 0
	fi
	disk_json "disk $1 r$2"
	awk -v l="disk $1 r$2" -v w="$what" -F'[:,}]' '
	    { for (i = 1; i < NF; i++) v[$i] = $(i + 1) }
	    END { if (v["\"sync_ops\""] + 0 > 0)
		printf "| %s | %s | 4096 | %.0f | %.1f | %.1f | | %.1f | | | | | | | | | | |\n",
		    l, w, v["\"sync_ops\""], v["\"sync_ops\""] * 4096 / 1e6,
		    v["\"sync_p50_us\""], v["\"sync_p99_us\""]
	    else
		printf "| %s | %s | 1048576 | %.0f | %.1f | %.1f | | | | | | | | | | | | |\n",
		    l, w, v["\"direct_mb_per_s\""] * 1e6 / 1048576,
		    v["\"direct_mb_per_s\""], v["\"direct_p50_us\""] }' \
	    "$T/disk.json" | tee -a "$REPORT"
	rm -f "$T/disk.json"
}

# one SYSTEM CONFIG ROUND: one run, on a quiet machine if it becomes
# quiet soon, again (once) when other work took more than
# BENCH_MAX_OTHER CPUs; its row goes to the report, its JSON line to $J.
one() {
	label="$1 $2 r$3"
	tries=0
	while :; do
		wait_quiet "$BENCH_WAIT" || :
		prepare "$1"
		rm -f "$T/row.json"
		# shellcheck disable=SC2046
		row=$(if [ "$1" = pg ]; then
			"$WB" run --system pg -s "host=$PG_DIR user=postgres dbname=postgres" \
			    --pid "$PG_PID" $(cfg_args "$2") -t "$SECS" -l "$label" \
			    --json "$T/row.json"
		    else
			"$WB" run $(sys_args "$1") $(cfg_args "$2") -t "$SECS" \
			    -l "$label" --json "$T/row.json"
		    fi 2>>"$T/walbench.err")
		rc=$?
		if [ $rc != 0 ] || [ ! -s "$T/row.json" ]; then
			echo "peers.sh: $label failed: $(tail -n 2 "$T/walbench.err")" >&2
			say "| $label | failed: $(tail -n 1 "$T/walbench.err") |"
			return 0
		fi
		other=$(sed -n 's/.*"other_cpu_cores":\([0-9.]*\).*/\1/p' "$T/row.json")
		tries=$((tries + 1))
		too_busy "$other" && [ $tries -lt 2 ] || break
		echo "peers.sh: $label: other work took $other CPUs; again" >&2
	done
	echo "$row" | tee -a "$REPORT"
	cat "$T/row.json" >>"$J"
}

# rotate N WORDS...: the words turned left N times.
rotate() {
	n=$1
	shift
	i=0
	while [ $i -lt $(( n % $# )) ]; do
		w=$1
		shift
		set -- "$@" "$w"
		i=$((i + 1))
	done
	echo "$@"
}

# disk_row TAG: the disk's limits into $J as label TAG.
disk_row() {
	"$WB" disk --dir "$T" --header --json "$T/disk.json" | tee -a "$REPORT"
	disk_json "$1"
	rm -f "$T/disk.json"
}

# cipher_row TAG: openssl speed's AES-256-GCM rate at 128 B and 4 KiB
# (bytes/s) into $J as label TAG.
cipher_row() {
	r128=$(openssl speed -seconds 2 -bytes 128 -mr -evp aes-256-gcm \
	    2>/dev/null | awk -F: '$1 == "+F" { print $4 }')
	r4k=$(openssl speed -seconds 2 -bytes 4096 -mr -evp aes-256-gcm \
	    2>/dev/null | awk -F: '$1 == "+F" { print $4 }')
	printf '{"label":"%s","aes_gcm_128_bps":%s,"aes_gcm_4096_bps":%s}\n' \
	    "$1" "${r128:-0}" "${r4k:-0}" >>"$J"
	say "| \`openssl speed -seconds 2 -bytes 128 / 4096 -evp aes-256-gcm\` ($1) | $(awk -v r="${r128:-0}" 'BEGIN { printf "%.0f", r / 1e6 }') MB/s | $(awk -v r="${r4k:-0}" 'BEGIN { printf "%.0f", r / 1e6 }') MB/s |"
}

# --- the run ---------------------------------------------------------

start=$(date +%s)
wait_quiet 30 || :
say "# Every peer from one driver (issue 26): $(date -u '+%Y-%m-%d %H:%M UTC')"
say
say "- CPU: $(nproc) × $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1); memory $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r)"
say "- disk: $(df -T "$T" | awk 'NR == 2 { print $2 " on " $1 }')"
say "- before the run: $QUIET CPUs busy (2 s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "- walld $("$WALLD" --version 2>&1 | head -n 1), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $ROUNDS rounds, each run $SECS s measured after 1 s of warm-up; servers at nice $SERVER_NICE; walld's log $WALLD_LOG (BENCH_LOG)"
say

SYSTEMS=${BENCH_SYSTEMS:-"walld walld-enc null nullsync redis pg sqlite file disk"}
have() { case " $SYSTEMS " in *" $1 "*) return 0 ;; esac; return 1; }

WALLD_PID=$(start_walld walld "$SOCK" "$T/data") || exit 1
[ "$WALLD_LOG" = new ] || warm_log "$SOCK"
if have walld-enc; then
	KEYRING=$T/keyring
	( umask 077; printf '1 %s active\n' "$(od -An -tx1 -N32 /dev/urandom |
	    tr -d ' \n')" >"$KEYRING" )
	ENC_PID=$(start_walld walld-enc "$ENC_SOCK" "$T/enc" "$KEYRING") || exit 1
	[ "$WALLD_LOG" = new ] || warm_log "$ENC_SOCK"
fi
RECYCLED0=$(walld_stat "$SOCK" segments_recycled_total)
# start_null SOCKET OUT [--dir DIR]: walbench null; prints its pid once
# it is ready.
start_null() {
	s=$1 out=$2
	shift 2
	nice -n "$SERVER_NICE" "$WB" null -s "$s" "$@" >"$out" 2>>"$LOG" &
	echo $!
	i=0
	until grep -q ready "$out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 400 ] || { echo "peers.sh: walbench null $* did not start" >&2; return 1; }
		sleep 0.05
	done
}
if have null; then
	NULL_PID=$(start_null "$NULL_SOCK" "$T/null.out") || exit 1
fi
if have nullsync; then
	mkdir -p "$T/nullsync"
	SYNC_PID=$(start_null "$SYNC_SOCK" "$T/nullsync.out" --dir "$T/nullsync") || exit 1
fi
REDIS_VERSION=n/a PG_VERSION=n/a
if have redis; then
	if command -v redis-server >/dev/null && command -v redis-cli >/dev/null &&
	    start_redis; then
		REDIS_VERSION=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')
	else
		echo "peers.sh: no Redis (tools/bench-deps.sh installs it); left out" >&2
		SYSTEMS=$(echo " $SYSTEMS " | sed 's/ redis / /')
	fi
fi
if have pg; then
	if ! start_pg; then
		echo "peers.sh: no PostgreSQL (tools/bench-deps.sh installs it); left out" >&2
		SYSTEMS=$(echo " $SYSTEMS " | sed 's/ pg / /')
	fi
fi
# Without libpq or SQLite's library, walbench was built without their
# drivers ($B/bench-peers.flags says what it found).
for s in pg:WALBENCH_PQ sqlite:WALBENCH_SQLITE; do
	if have "${s%%:*}" && ! grep -q -- "-D${s#*:}" "$top/$B/bench-peers.flags" 2>/dev/null; then
		s=${s%%:*}
		echo "peers.sh: walbench was built without $s's library; left out" >&2
		SYSTEMS=$(echo " $SYSTEMS " | sed "s/ $s / /")
	fi
done
say "- systems: $SYSTEMS (Redis $REDIS_VERSION: appendonly yes, appendfsync always, Unix socket, XADD walbench * f <payload>, pipelined; PostgreSQL $PG_VERSION: synchronous_commit=on, Unix socket, libpq, one INSERT a transaction; SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1): WAL, synchronous=FULL, one shared database, one INSERT a transaction; file: O_APPEND, fdatasync per record; null: \`walbench null\`; nullsync: \`walbench null --dir\`, one pwrite and one fdatasync a loop turn into blocks written beforehand, replies after it)"
say

say "## The disk's limits and the cipher's rate, before the runs"
say
disk_row disk-start
say
say "| cipher | 128 B | 4 KiB |"
say "|---|---:|---:|"
cipher_row cipher-start
say

say "## Every run (\`walbench run [--system S] -s TARGET -p P -c C -d D [-S SIZE] -t $SECS\`)"
say
say "Label: system, configuration, round. A \"disk\" row is the disk's own reference in that round (\`walbench disk --test sync|direct -t $SECS\`): its ops/s under appends/s. \"server CPU\" is walld's, Redis's (and its AOF-rewriting child's) or PostgreSQL's (postmaster and backends); SQLite and the file have no server: all their work is in \"client CPU\"."
say
"$WB" header | tee -a "$REPORT"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for c in $CONFIGS; do
		# shellcheck disable=SC2046
		for s in $(rotate $((r - 1)) $(cfg_systems "$c")); do
			have "$s" || continue
			# The disk's reference next to walld's run, before
			# it in odd rounds and after it in even ones.
			[ "$s" != walld ] || [ $((r % 2)) = 0 ] || disk_run "$c" "$r"
			one "$s" "$c" "$r"
			[ "$s" != walld ] || [ $((r % 2)) = 1 ] || disk_run "$c" "$r"
		done
	done
	r=$((r + 1))
done
say
RECYCLED1=$(walld_stat "$SOCK" segments_recycled_total)
say "walld's log: $WALLD_LOG (retention.max_bytes $RETAIN, retention.interval $RETAIN_EVERY, storage.recycle_segments $RECYCLE); $(( ${RECYCLED1:-0} - ${RECYCLED0:-0} )) new segments made from recycled files during the runs, $(walld_stat "$SOCK" retention_removals_total) retention passes removed segments in all."
say

say "## The disk's limits and the cipher's rate, after the runs"
say
disk_row disk-end
say
say "| cipher | 128 B | 4 KiB |"
say "|---|---:|---:|"
cipher_row cipher-end
say

# --- the summary -----------------------------------------------------

# jv LABEL KEY: one value of the JSON lines.
jv() {
	awk -v l="\"label\":\"$1\"" -v k="\"$2\":" '
	    index($0, l ",") || index($0, l "}") { i = index($0, k); if (i == 0) next
		s = substr($0, i + length(k)); sub(/[,}].*/, "", s)
		gsub(/"/, "", s); print s; exit }' "$J"
}

# med: the median of the numbers on stdin (one a line; n/a and empty
# lines left out), then min and max: "med min max", or "n/a".
med() {
	awk '$1 != "" && $1 != "n/a" && $1 + 0 >= 0 { v[++n] = $1 + 0 }
	    END { if (!n) { print "n/a"; exit }
		for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) {
		    t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		printf "%.4f %.4f %.4f\n", m, v[1], v[n] }'
}

# over SYS CFG KEY: the value of each round, one a line.
over() {
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		jv "$1 $2 r$r" "$3"
		r=$((r + 1))
	done
}

# mark ROUND LABEL...: "*" when any of the runs of ROUND was disturbed
# (other CPU above BENCH_MAX_OTHER).
mark() {
	r=$1
	shift
	for l in "$@"; do
		o=$(jv "$l r$r" other_cpu_cores)
		awk -v o="${o:-0}" -v m="${BENCH_MAX_OTHER:-0.3}" \
		    'BEGIN { exit !(o + 0 > m + 0) }' && { echo "*"; return; }
	done
}

# ratios A_SYS A_CFG A_KEY B_SYS B_CFG B_KEY: A/B within each round, "*"
# after one from a disturbed round.
ratios() {
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		a=$(jv "$1 $2 r$r" "$3") b=$(jv "$4 $5 r$r" "$6")
		awk -v a="$a" -v b="$b" -v m="$(mark $r "$1 $2" "$4 $5")" 'BEGIN {
		    if (a == "" || b == "" || b + 0 <= 0 || a + 0 < 0) print "n/a"
		    else printf "%.3f%s\n", a / b, m }'
		r=$((r + 1))
	done
}

# num DECIMALS: the first word of stdin rounded (n/a stays).
num() {
	awk -v d="$1" '{ if ($1 == "n/a" || $1 == "") print "n/a"
	    else printf "%." d "f\n", $1 }'
}

# fmt_med "med min max" DECIMALS: "med (min-max)".
fmt_med() {
	set -- $1 "${2:-0}"
	[ "$1" != n/a ] || { echo "n/a"; return; }
	awk -v m="$1" -v lo="$2" -v hi="$3" -v d="$4" 'BEGIN {
	    f = "%." d "f"; printf f " (" f "-" f ")\n", m, lo, hi }'
}

# spread "med min max": (max - min) / median in %.
spread() {
	set -- $1
	[ "$1" != n/a ] || { echo "n/a"; return; }
	awk -v m="$1" -v lo="$2" -v hi="$3" 'BEGIN {
	    if (m > 0) printf "%.0f %%\n", 100 * (hi - lo) / m; else print "n/a" }'
}

say "## Medians over the rounds (min-max in brackets)"
say
say "| configuration | system | appends/s | spread | MB/s | p50 µs | p99 µs | server CPU µs/append | client CPU µs/append | kernel threads, cores | other CPU, cores (max) | disturbed rounds |"
say "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
lim=${BENCH_MAX_OTHER:-0.3}
for c in $CONFIGS; do
	for s in $(cfg_systems "$c"); do
		have "$s" || continue
		aps=$(over "$s" "$c" appends_per_s | med)
		oth=$(over "$s" "$c" other_cpu_cores | med)
		dist=$(over "$s" "$c" other_cpu_cores | awk -v l="$lim" '$1 + 0 > l + 0 { n++ } END { print n + 0 }')
		say "| $(cfg_text "$c") | $s | $(fmt_med "$aps" 0) | $(spread "$aps") | $(over "$s" "$c" mb_per_s | med | num 1) | $(fmt_med "$(over "$s" "$c" p50_us | med)" 1) | $(fmt_med "$(over "$s" "$c" p99_us | med)" 1) | $(fmt_med "$(over "$s" "$c" walld_cpu_us_per_append | med)" 2) | $(over "$s" "$c" client_cpu_us_per_append | med | num 2) | $(over "$s" "$c" kthread_cpu_cores | med | num 2) | $(echo "$oth" | cut -d' ' -f3 | num 2) | $dist of $ROUNDS |"
	done
done
say

# commas: the first words of stdin's lines, joined by ", ".
commas() {
	awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }'
}

# fig NUM TEXT OP LIMIT RATIOS...: one figure's row: the rounds' ratios,
# their median, the verdict on the median.
fig() {
	n=$1 text=$2 op=$3 lim=$4
	shift 4
	rs=$(echo "$@" | tr ' ' '\n' | sed '/^$/d')
	m=$(echo "$rs" | med | cut -d' ' -f1 | num 2)
	list=$(echo "$rs" | commas)
	v=$(awk -v r="$m" -v op="$op" -v l="$lim" 'BEGIN { if (r == "n/a" || r == "")
	    print "not measured"; else if ((op == "<=" && r + 0 <= l + 0) ||
	    (op == ">=" && r + 0 >= l + 0)) print "**met**"; else {
		if (op == ">=") printf "**not met** (%.0f %% short)\n", 100 * (l - r) / l
		else printf "**not met** (%.0f %% over)\n", 100 * (r - l) / l } }')
	say "| $n | $text | $list | $m | $op $lim | $v |"
}

# The disk's limits: the better of the two measurements (others' I/O
# only makes them look worse).
best() {
	awk -v m="$1" -v a="$2" -v b="$3" 'BEGIN { if (a + 0 <= 0) a = "";
	    if (b + 0 <= 0) b = ""; if (a == "") print b; else if (b == "") print a;
	    else if (m == "min") print (a + 0 < b + 0 ? a : b);
	    else print (a + 0 > b + 0 ? a : b) }'
}
disk_p50=$(best min "$(jv disk-start sync_p50_us)" "$(jv disk-end sync_p50_us)")
disk_mbs=$(best max "$(jv disk-start direct_mb_per_s)" "$(jv disk-end direct_mb_per_s)")
c4k=$(best max "$(jv cipher-start aes_gcm_4096_bps)" "$(jv cipher-end aes_gcm_4096_bps)")

# per_round SYS CFG KEY DISK_KEY FALLBACK: SYS's KEY at CFG over the
# disk's DISK_KEY in the same round ("disk CFG rN"), or over FALLBACK
# (the better of before and after) where the round has no disk row
# (figures 1 and 5: against the disk's limits).
per_round() {
	out=""
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		d=$(jv "disk $2 r$r" "$4")
		awk -v d="${d:-0}" 'BEGIN { exit !(d + 0 <= 0) }' && d=$5
		out="$out $(awk -v a="$(jv "$1 $2 r$r" "$3")" -v d="$d" \
		    -v m="$(mark $r "$1 $2")" 'BEGIN { if (a == "" || d + 0 <= 0)
		    print "n/a"; else printf "%.3f%s", a / d, m }')"
		r=$((r + 1))
	done
	echo "$out"
}
# Figure 6 at 4 KiB: encrypted appends/s against what plain appends/s
# would be with the cipher's own time per record added to each append
# (1 / (1 / plain + 4096 / cipher rate)): 1 when encryption costs the
# cipher and nothing more.
f6b=""
r=1
while [ "$r" -le "$ROUNDS" ]; do
	f6b="$f6b $(awk -v e="$(jv "walld-enc c4k r$r" appends_per_s)" \
	    -v p="$(jv "walld c4k r$r" appends_per_s)" -v c="$c4k" \
	    -v m="$(mark $r "walld c4k" "walld-enc c4k")" 'BEGIN {
	    if (e == "" || p + 0 <= 0 || c + 0 <= 0) print "n/a"
	    else printf "%.3f%s", e * (1 / p + 4096 / c), m }')"
	r=$((r + 1))
done

say "## The figures of issue 26 (ratios within each round; the verdict is on their median)"
say
say "Disk, in each round next to walld's runs: 4 KiB pwrite+fdatasync median $(over disk c1x1 sync_p50_us | awk '$1 + 0 > 0 { printf "%s%.1f", (n++ ? ", " : ""), $1 } END { if (!n) printf "not measured" }') µs; O_DIRECT 1 MiB write+fdatasync $(over disk c4k direct_mb_per_s | awk '$1 + 0 > 0 { printf "%s%.0f", (n++ ? ", " : ""), $1 } END { if (!n) printf "not measured" }') MB/s. Before and after the runs, the better of the two: $disk_p50 µs and $disk_mbs MB/s (what a round without its own disk row is taken against). AES-256-GCM $(awk -v c="$c4k" 'BEGIN { printf "%.0f", c / 1e6 }') MB/s at 4 KiB (openssl speed, the better of the two)."
say
say "A ratio marked * comes from a round where one of its runs was disturbed (other CPU above ${BENCH_MAX_OTHER:-0.3} after its second try)."
say
say "| # | figure | ratio in each round | median | target | verdict |"
say "|---|---|---|---:|---|---|"
# figs SYS: the figures that compare a server with the disk and its
# peers, for SYS (walld, or the durable yardstick in its place).
figs() {
	fig 1 "1 × 1: $1 p50 / disk 4 KiB write+fdatasync p50" "<=" 1.1 $(per_round "$1" c1x1 p50_us sync_p50_us "$disk_p50")
	fig 2a "64 processes × 1: $1 / Redis appends/s" ">=" 1.5 $(ratios "$1" c64x1 appends_per_s redis c64x1 appends_per_s)
	fig 2b "64 processes × 1: $1 p99 / Redis p99" "<=" 1 $(ratios "$1" c64x1 p99_us redis c64x1 p99_us)
	fig 2c "64 processes × 1: $1 / null server appends/s" ">=" 0.8 $(ratios "$1" c64x1 appends_per_s null c64x1 appends_per_s)
	fig 3 "256 processes × 1: $1 / Redis appends/s" ">=" 1.5 $(ratios "$1" c256x1 appends_per_s redis c256x1 appends_per_s)
	fig 4 "1 process × 64 × 16: $1 / Redis appends/s" ">=" 3 $(ratios "$1" c1x64x16 appends_per_s redis c1x64x16 appends_per_s)
	fig 5 "4 KiB, 64 × 16: $1 MB/s / disk O_DIRECT 1 MiB MB/s" ">=" 0.8 $(per_round "$1" c4k mb_per_s direct_mb_per_s "$disk_mbs")
}
figs walld
fig 6a "encryption at 128 B, 64 × 16: encrypted / plain appends/s" ">=" 0.95 $(ratios walld-enc c1x64x16 appends_per_s walld c1x64x16 appends_per_s)
fig 6b "encryption at 4 KiB, 64 × 16: encrypted / (plain with the cipher's time added)" ">=" 0.95 $f6b
fig 7a "64 processes × 1: walld / PostgreSQL appends/s" ">=" 3 $(ratios walld c64x1 appends_per_s pg c64x1 appends_per_s)
fig 7b "64 processes × 1: walld / shared file appends/s" ">=" 3 $(ratios walld c64x1 appends_per_s file c64x1 appends_per_s)
fig 7c "64 processes × 1: walld / SQLite appends/s" ">=" 10 $(ratios walld c64x1 appends_per_s sqlite c64x1 appends_per_s)
for c in $CONFIGS; do
	fig "8 ($c)" "$(cfg_text "$c"): walld / Redis server CPU per append" "<=" 1 $(ratios walld "$c" walld_cpu_us_per_append redis "$c" walld_cpu_us_per_append)
done
say
if have nullsync; then
	say "### The same figures for the durable yardstick in walld's place"
	say
	say "\`walbench null --dir\`: what a durable server that does nothing else reaches on this machine with these clients (one thread; per append a read, a copy and a reply; per loop turn one pwrite and one fdatasync into blocks written beforehand). A figure it misses is out of reach of any server built that way here."
	say
	say "| # | figure | ratio in each round | median | target | verdict |"
	say "|---|---|---|---:|---|---|"
	figs nullsync
	fig 7c "64 processes × 1: nullsync / SQLite appends/s" ">=" 10 $(ratios nullsync c64x1 appends_per_s sqlite c64x1 appends_per_s)
	say
fi

# ask NUM TEXT TARGET PEER CFG: what a throughput figure asks in each
# round, in units of what the null server made there (TARGET × PEER ÷
# null server): above 1, no server reaches it with these clients.
ask() {
	rs=$(ratios "$4" "$5" appends_per_s null "$5" appends_per_s |
	    awk -v t="$3" '$1 == "n/a" { print; next }
		{ v = $1; s = sub(/\*$/, "", v) ? "*" : ""
		  printf "%.3f%s\n", t * v, s }')
	m=$(echo "$rs" | med | cut -d' ' -f1 | num 2)
	list=$(echo "$rs" | commas)
	above=$(echo "$rs" | awk '$1 != "n/a" && $1 + 0 > 1 { n++ }
	    END { print n + 0 }')
	v=$(awk -v m="$m" 'BEGIN { if (m == "n/a") print "not measured";
	    else if (m + 0 > 1) print "**out of reach** here: more than the null server made";
	    else print "within the null server'"'"'s reach" }')
	say "| $1 | $2 | $list | $m | $above of $ROUNDS | $v |"
}
if have null; then
	say "### What the throughput figures ask, in null servers"
	say
	say "Each round's target × peer ÷ the null server's appends/s in that round. The null server answers each append as soon as it has read it and writes nothing: what it makes is what these clients reach on this machine with any server, so a figure that asks more than 1 is out of reach in that round whatever the server."
	say
	say "| # | figure | asks in each round | median | rounds above 1 | verdict |"
	say "|---|---|---|---:|---:|---|"
	ask 2a "64 processes × 1: 1.5 × Redis" 1.5 redis c64x1
	ask 3 "256 processes × 1: 1.5 × Redis" 1.5 redis c256x1
	ask 4 "1 process × 64 × 16: 3 × Redis" 3 redis c1x64x16
	ask 7c "64 processes × 1: 10 × SQLite" 10 sqlite c64x1
	say
fi
say "Run took $(( $(date +%s) - start )) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)."

stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$REPORT" "$top/var/bench/peers-$stamp.md"
cp "$J" "$top/var/bench/peers-$stamp.json"
echo
echo "report: var/bench/peers-$stamp.md (and .json)"
