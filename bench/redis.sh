#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# redis.sh: the peer most users would pick instead of walld, measured on
# the same machine: Redis with appendonly yes, appendfsync always, on a
# Unix socket in a temporary directory on the repository's disk, driven by
# redis-benchmark with XADD of the same payload at the same concurrency
# and pipelining.
#
#   sh bench/redis.sh          (make bench-peers) installs redis-server and
#                              redis-tools when missing (apt-get, as root),
#                              runs the peer matrix, prints a table
#   . bench/redis.sh           (with REDIS_SH_LIB=1) defines the functions
#                              for bench/run.sh
#
# redis-benchmark 7.0 does not expand __data__ in a custom command, so the
# field value is a literal string of the payload size.

. "$(dirname "$0")/lib.sh"

REDIS_SECONDS=${REDIS_SECONDS:-${BENCH_SECONDS:-8}}
REDIS_DIR=
REDIS_SOCK=

# redis_have: 0 when redis-server and redis-benchmark are installed.
redis_have() {
	command -v redis-server >/dev/null 2>&1 &&
	    command -v redis-benchmark >/dev/null 2>&1
}

# redis_install: installs Debian's redis-server and redis-tools if missing.
redis_install() {
	redis_have && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "redis.sh: Redis is missing; run:" >&2
		echo "  sudo apt-get install -y redis-server redis-tools" >&2
		return 1
	fi
	echo "redis.sh: installing redis-server redis-tools" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq redis-server redis-tools \
	    >/dev/null || { echo "redis.sh: apt-get install failed" >&2; return 1; }
	redis_have
}

# redis_start DIR: a private, fsync-always Redis on DIR/redis.sock.
redis_start() {
	REDIS_DIR=$1
	REDIS_SOCK=$REDIS_DIR/redis.sock
	mkdir -p "$REDIS_DIR"
	nice -n "$SERVER_NICE" redis-server --port 0 \
	    --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
	    --dir "$REDIS_DIR" --appendonly yes --appendfsync always \
	    --save '' --daemonize yes --pidfile "$REDIS_DIR/redis.pid" \
	    --logfile "$REDIS_DIR/redis.log" || return 1
	i=0
	until redis-cli -s "$REDIS_SOCK" ping >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "redis.sh: Redis did not start; see" \
			    "$REDIS_DIR/redis.log" >&2
			return 1
		fi
		sleep 0.05
	done
}

# redis_stop: shuts the private Redis down (by its pid file's pid).
redis_stop() {
	[ -n "$REDIS_DIR" ] || return 0
	redis-cli -s "$REDIS_SOCK" shutdown nosave >/dev/null 2>&1
	if [ -f "$REDIS_DIR/redis.pid" ]; then
		pid=$(cat "$REDIS_DIR/redis.pid")
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.05
			i=$((i + 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	fi
	REDIS_DIR=
}

# redis_header: the header of redis_bench's rows.
redis_header() {
	echo "| run | clients × pipeline | payload B | XADD/s | MB/s | p50 µs | p99 µs | max µs | kernel threads, cores | other CPU, cores |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
}

# redis_row CSV: the numbers of redis-benchmark --csv's last line:
# "rps p50_ms p99_ms max_ms".
redis_csv() {
	tail -n 1 | awk -F'","' '{ gsub(/"/, "", $NF);
	    print $2, $5, $7, $NF }'
}

# redis_run CLIENTS PIPELINE N DATA: one redis-benchmark run; prints
# "rps p50_ms p99_ms max_ms kthread_cores other_cores": the kernel
# threads' CPU, and the busy CPU that was neither theirs, nor Redis's nor
# redis-benchmark's.
redis_run() {
	hz=$(getconf CLK_TCK)
	rpid=$(cat "$REDIS_DIR/redis.pid")
	k0=$(kthread_jiffies)
	b0=$(busy_jiffies) r0=$(proc_jiffies "$rpid") t0=$(date +%s%N)
	# The inner shell's cutime+cstime: redis-benchmark's CPU once waited.
	bc=$(sh -c 'f=$1; shift; "$@" >"$f"; awk "{ sub(/^.*\) /, \"\");
	    print \$14 + \$15 }" /proc/$$/stat' sh "$REDIS_DIR/out.csv" \
	    redis-benchmark -s "$REDIS_SOCK" -c "$1" -P "$2" -n "$3" --csv \
	    XADD mystream '*' f "$4")
	t1=$(date +%s%N) b1=$(busy_jiffies) r1=$(proc_jiffies "$rpid")
	k1=$(kthread_jiffies)
	set -- $(redis_csv <"$REDIS_DIR/out.csv")
	[ $# -eq 4 ] || return 1
	other=$(awk -v b=$((b1 - b0)) -v r=$((r1 - r0)) -v c="$bc" -v hz="$hz" \
	    -v k=$((k1 - k0)) -v t=$((t1 - t0)) 'BEGIN { s = hz * t / 1e9
	    o = (b - r - c - k) / s; printf "%.2f %.2f", k / s, o < 0 ? 0 : o }')
	echo "$1 $2 $3 $4 $other"
}

# redis_bench LABEL CLIENTS PIPELINE SIZE [JSON]: one timed XADD run of
# about REDIS_SECONDS, sized from a short pilot run, done again (twice at
# most) when other work took more than BENCH_MAX_OTHER cores; prints a
# table row and appends a JSON line to JSON when given.
redis_bench() {
	label=$1 clients=$2 pipe=$3 size=$4 json=${5:-}
	data=$(head -c "$size" /dev/zero | tr '\0' 'x')
	redis-cli -s "$REDIS_SOCK" del mystream >/dev/null
	n=$((clients * pipe * 40))
	[ $n -ge 3000 ] || n=3000
	set -- $(redis_run "$clients" "$pipe" "$n" "$data")
	[ $# -eq 6 ] || { echo "redis.sh: redis-benchmark failed" >&2; return 1; }
	n=$(awk -v r="$1" -v s="$REDIS_SECONDS" 'BEGIN { printf "%d", r * s }')
	[ "$n" -ge $((clients * pipe)) ] || n=$((clients * pipe))
	tries=0
	while :; do
		[ -z "${BENCH_WAIT:-}" ] || wait_quiet "$BENCH_WAIT" || :
		redis-cli -s "$REDIS_SOCK" del mystream >/dev/null
		set -- $(redis_run "$clients" "$pipe" "$n" "$data")
		[ $# -eq 6 ] || { echo "redis.sh: redis-benchmark failed" >&2;
		    return 1; }
		tries=$((tries + 1))
		too_busy "$6" && [ $tries -lt 3 ] || break
		echo "redis.sh: $label: other work took $6 CPUs; again" >&2
	done
	awk -v l="$label" -v c="$clients" -v p="$pipe" -v s="$size" \
	    -v rps="$1" -v p50="$2" -v p99="$3" -v mx="$4" -v k="$5" -v o="$6" \
	    'BEGIN {
		printf "| %s | %d×%d | %d | %.0f | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f |\n",
		    l, c, p, s, rps, rps * s / 1e6, p50 * 1000, p99 * 1000,
		    mx * 1000, k, o }'
	if [ -n "$json" ]; then
		awk -v l="$label" -v c="$clients" -v p="$pipe" -v s="$size" \
		    -v rps="$1" -v p50="$2" -v p99="$3" -v mx="$4" -v k="$5" \
		    -v o="$6" 'BEGIN {
			printf "{\"label\":\"%s\",\"clients\":%d,\"pipeline\":%d,", l, c, p
			printf "\"size\":%d,\"appends_per_s\":%.1f,\"mb_per_s\":%.2f,", s, rps, rps * s / 1e6
			printf "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,", p50 * 1000, p99 * 1000, mx * 1000
			printf "\"kthread_cpu_cores\":%.2f,\"other_cpu_cores\":%.2f}\n", k, o
		}' >>"$json"
	fi
}

# redis_matrix JSON: the peer runs of the standard matrix.
redis_matrix() {
	redis_header
	redis_bench redis-1x1 1 1 128 "$1"
	redis_bench redis-64x1 64 1 128 "$1"
	redis_bench redis-256x1 256 1 128 "$1"
	redis_bench redis-64x16 64 16 128 "$1"
	redis_bench redis-4k-64x16 64 16 4096 "$1"
}

if [ -z "${REDIS_SH_LIB:-}" ]; then
	set -u
	top=$(cd "$(dirname "$0")/.." && pwd)
	redis_install || exit 1
	mkdir -p "$top/var/bench"
	d=$(mktemp -d "$top/var/bench/redis.XXXXXX")
	trap 'redis_stop; rm -rf "$d"' EXIT
	trap 'exit 130' INT TERM
	redis_start "$d" || exit 1
	BENCH_WAIT=${BENCH_QUIET_WAIT:-60}
	echo "Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'):" \
	    "appendonly yes, appendfsync always, unix socket, nice" \
	    "$SERVER_NICE, in $d" \
	    "($(df -T "$d" | awk 'NR == 2 { print $2 " on " $1 }'))"
	echo
	redis_matrix ""
fi
