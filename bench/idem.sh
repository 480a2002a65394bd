#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# idem.sh: what idempotent appends cost against plain ones (issue 21).
# Each configuration runs as a pair in every round: `walbench run` plain,
# and `walbench run --idempotent` (every connection a producer of its own,
# numbering its appends 1, 2, 3, ...), everything else the same, each on a
# fresh walld with a fresh data directory under var/bench/ (the
# repository's disk), in an order that swaps from round to round. The
# figure is the ratio idempotent/plain of appends/s taken within each
# round; its median over the rounds is the verdict (target: >= 0.90 at
# 1 process x 64 connections x 16 in flight).
#
#   sh bench/idem.sh [BUILD_DIR]
#   IDEM_ROUNDS=N        rounds (4)
#   IDEM_SECONDS=N       measured seconds per run (5), after 1 s of warm-up
#   IDEM_CONFIGS="..."   the configurations (c1x64x16 c64x1; see cfg_args)
#   BENCH_QUIET_WAIT=N   seconds a pair waits for a quiet machine (20)
#   BENCH_MAX_OTHER=X    other work (CPUs) that marks a run disturbed (0.3)
#   BENCH_BUDGET=N       seconds for waiting and for running disturbed
#                        pairs again after the rounds (1200)
#
# A pair is disturbed when either of its runs had more than
# BENCH_MAX_OTHER CPUs of other work (walbench's "other CPU", as in
# bench/peers.sh). After the rounds, disturbed pairs run again while the
# budget lasts, each after waiting for a quiet machine; a round's figure
# is then the pair with the least other work. Every run is in the report.
# The report goes to stdout and to var/bench/idem-TIME.md, the JSON lines
# (with the load average and the pair's attempt) to var/bench/idem-TIME.json.
set -u
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
WB=$top/$B/walbench
WALLD=${WALLD:-$top/$B/walld}
ROUNDS=${IDEM_ROUNDS:-4}
SECS=${IDEM_SECONDS:-5}
CONFIGS=${IDEM_CONFIGS:-"c1x64x16 c64x1"}
for f in "$WB" "$WALLD"; do
	[ -x "$f" ] || { echo "idem.sh: $f is missing: make" >&2; exit 1; }
done
# walld refuses to run as root without --allow-root (docs/OPERATIONS.md).
ALLOW_ROOT=
[ "$(id -u)" != 0 ] || ALLOW_ROOT=--allow-root

. "$top/bench/lib.sh"
BENCH_WAIT=${BENCH_QUIET_WAIT:-20}
# shellcheck disable=SC2034 # lib.sh reads it
BENCH_DEADLINE=$(( $(date +%s) + ${BENCH_BUDGET:-1200} ))
MAX_OTHER=${BENCH_MAX_OTHER:-0.3}

cfg_args() {
	case $1 in
	c1x64x16)	echo "-p 1 -c 64 -d 16" ;;
	c64x1)		echo "-p 64" ;;
	c1x1)		echo "-p 1" ;;
	c4k)		echo "-p 1 -c 64 -d 16 -S 4k" ;;
	*)		echo "idem.sh: no configuration $1" >&2; exit 1 ;;
	esac
}
cfg_text() {
	case $1 in
	c1x64x16)	echo "1 process × 64 connections × 16, 128 B" ;;
	c64x1)		echo "64 processes × 1 × 1, 128 B" ;;
	c1x1)		echo "1 process × 1 × 1, 128 B" ;;
	c4k)		echo "1 process × 64 connections × 16, 4 KiB" ;;
	esac
}
for c in $CONFIGS; do cfg_args "$c" >/dev/null || exit 1; done

mkdir -p var/bench
stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$top/var/bench/idem-$stamp.md
J=$top/var/bench/idem-$stamp.json
T=$(mktemp -d "$top/var/bench/idem.XXXXXX")
SOCK=$T/walld.sock
PID=

# stop_walld: stops the walld this script started, by its pid (20 s,
# then SIGKILL), and removes its data.
stop_walld() {
	[ -n "$PID" ] || return 0
	kill -TERM "$PID" 2>/dev/null
	i=0
	while kill -0 "$PID" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 400 ]; then
			echo "idem.sh: walld ($PID) did not stop in 20 s;" \
			    "killing it" >&2
			kill -KILL "$PID" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	PID=
	rm -rf "$T/data"
}
trap 'stop_walld; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

say() { echo "$@" | tee -a "$OUT"; }

# run CONFIG MODE ROUND ATTEMPT: one run on a fresh walld; its row to the
# report, its JSON line (with the load average and the attempt) to $J.
# MODE is plain or idem.
run() {
	rm -rf "$T/data"
	printf 'socket:\n  path: %s\nstorage:\n  data_dir: %s\n' "$SOCK" \
	    "$T/data" >"$T/walld.yaml"
	printf 'group_commit:\n  max_batch_bytes: 8MiB\n' >>"$T/walld.yaml"
	printf 'producers:\n  max: 4096\n  window: 32\n' >>"$T/walld.yaml"
	out=$("$WB" startup -s "$SOCK" -- nice -n "$SERVER_NICE" "$WALLD" $ALLOW_ROOT \
	    --config "$T/walld.yaml" 2>>"$T/walld.log") || {
		echo "idem.sh: walld did not start:" >&2
		tail -n 5 "$T/walld.log" >&2
		exit 1
	}
	PID=$(echo "$out" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
	flag=
	[ "$2" = plain ] || flag=--idempotent
	rm -f "$T/row.json"
	tag=
	[ "${4:-0}" = 0 ] || tag=" again"
	load=$(cut -d' ' -f1 /proc/loadavg)
	# shellcheck disable=SC2046
	row=$("$WB" run -s "$SOCK" $(cfg_args "$1") -t "$SECS" -w 1 $flag \
	    -l "$1 $2 r$3$tag" --json "$T/row.json" 2>>"$T/walbench.err")
	rc=$?
	stop_walld
	if [ $rc != 0 ] || [ ! -s "$T/row.json" ]; then
		say "| $1 $2 r$3 | failed: $(tail -n 1 "$T/walbench.err") |"
		echo "idem.sh: $1 $2 r$3 failed" >&2
		return 1
	fi
	say "$row"
	sed "s/}\$/,\"config\":\"$1\",\"mode\":\"$2\",\"round\":$3,\"attempt\":${4:-0},\"load1\":$load}/" \
	    "$T/row.json" >>"$J"
}

# other_of CONFIG ROUND ATTEMPT: the larger other CPU of a pair's runs.
other_of() {
	awk -v c="$1" -v r="$2" -v a="$3" '
	    function get(s, k,   i) { i = index(s, "\"" k "\":"); if (!i) return "";
		s = substr(s, i + length(k) + 3); sub(/[,}].*/, "", s);
		gsub(/"/, "", s); return s }
	    get($0, "config") == c && get($0, "round") == r &&
	    get($0, "attempt") == a { o = get($0, "other_cpu_cores") + 0
		if (o > m) m = o }
	    END { printf "%.2f", m }' "$J"
}

# pair CONFIG ROUND ATTEMPT: plain and idempotent, in an order that swaps
# from round to round, after waiting for a quiet machine.
pair() {
	wait_quiet "$BENCH_WAIT" || :
	if [ $(( $2 % 2 )) = 1 ]; then
		run "$1" plain "$2" "$3" && run "$1" idem "$2" "$3"
	else
		run "$1" idem "$2" "$3" && run "$1" plain "$2" "$3"
	fi
}

machine() {
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	fs=$(df -T "$top/var/bench" | awk 'NR == 2 { print $2 " on " $1 }')
	echo "$(nproc) × $cpu, $mem, kernel $(uname -r), $fs"
}

: >"$OUT"
say "## idem.sh: plain against idempotent appends, $(date -u '+%Y-%m-%d %H:%M') UTC"
say
say "- machine: $(machine)"
say "- walld: $WALLD ($(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$top" diff --quiet HEAD 2>/dev/null || echo ', with changes'))"
say "- $ROUNDS rounds, each run 1 s of warm-up and $SECS s measured, a fresh walld"
say "  (max_batch_bytes 8MiB, producers.window 32) on a fresh directory"
say "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
say
"$WB" header | tee -a "$OUT"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for c in $CONFIGS; do
		pair "$c" "$r" 0
	done
	r=$((r + 1))
done

# Disturbed pairs again, while the budget lasts: each waits for a quiet
# machine first (wait_quiet gives up at the deadline).
attempt=1
while in_time && [ $attempt -le 3 ]; do
	again=0
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		for c in $CONFIGS; do
			best=$(awk -v c="$c" -v r="$r" '
			    function get(s, k,   i) { i = index(s, "\"" k "\":"); if (!i) return "";
				s = substr(s, i + length(k) + 3); sub(/[,}].*/, "", s);
				gsub(/"/, "", s); return s }
			    get($0, "config") == c && get($0, "round") == r {
				a = get($0, "attempt"); o = get($0, "other_cpu_cores") + 0
				if (!(a in m) || o > m[a]) m[a] = o }
			    END { b = 99; for (a in m) if (m[a] < b) b = m[a]
				printf "%.2f", b }' "$J")
			if awk -v o="$best" -v m="$MAX_OTHER" \
			    'BEGIN { exit !(o > m) }' && in_time; then
				echo "idem.sh: $c r$r: other work took $best CPUs; again" >&2
				pair "$c" "$r" "$attempt"
				again=1
			fi
		done
		r=$((r + 1))
	done
	[ $again = 1 ] || break
	attempt=$((attempt + 1))
done
say
say "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
say

# The summary: per configuration and round, the pair with the least other
# work; the ratio idempotent/plain of appends/s within it; the medians.
for c in $CONFIGS; do
	say "### $(cfg_text "$c")"
	say
	say "| round | plain appends/s | idempotent appends/s | ratio | plain p50 µs | idem p50 µs | plain walld CPU µs/append | idem walld CPU µs/append | plain client CPU µs/append | idem client CPU µs/append | other CPU, cores (plain; idem) | load average | disturbed |"
	say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"
	awk -v c="$c" -v m="$MAX_OTHER" '
	    function get(s, k,   i) { i = index(s, "\"" k "\":"); if (!i) return "";
		s = substr(s, i + length(k) + 3); sub(/[,}].*/, "", s);
		gsub(/"/, "", s); return s }
	    function med(a, n,   i, j, t, b) { for (i = 1; i <= n; i++) b[i] = a[i]
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		    if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
		return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2 }
	    function lo(a, n,   i, x) { x = a[1]; for (i = 2; i <= n; i++) if (a[i] < x) x = a[i]; return x }
	    function hi(a, n,   i, x) { x = a[1]; for (i = 2; i <= n; i++) if (a[i] > x) x = a[i]; return x }
	    get($0, "config") == c {
		k = get($0, "round") SUBSEP get($0, "attempt")
		md = get($0, "mode"); rounds[get($0, "round")] = 1
		aps[k, md] = get($0, "appends_per_s"); p50[k, md] = get($0, "p50_us")
		wc[k, md] = get($0, "walld_cpu_us_per_append")
		cc[k, md] = get($0, "client_cpu_us_per_append")
		oth[k, md] = get($0, "other_cpu_cores") + 0; ld[k] = get($0, "load1")
		if (md == "idem" && get($0, "producers") + 0 == 0) noprod = 1
		att[k] = 1 }
	    END {
		for (r = 1; (r in rounds); r++) {
		    best = ""; bo = 99
		    for (k in att) { split(k, w, SUBSEP); if (w[1] != r) continue
			if (!((k, "plain") in aps) || !((k, "idem") in aps)) continue
			o = oth[k, "plain"] > oth[k, "idem"] ? oth[k, "plain"] : oth[k, "idem"]
			if (o < bo) { bo = o; best = k } }
		    if (best == "") { printf "| %d | failed | | | | | | | | | | | |\n", r; continue }
		    n++; pl[n] = aps[best, "plain"]; id[n] = aps[best, "idem"]
		    ra[n] = id[n] / pl[n]; d = bo > m
		    if (!d) { q++; qra[q] = ra[n] }
		    split(best, w, SUBSEP)
		    printf "| %d%s | %.0f | %.0f | %.3f | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f; %.2f | %.1f | %s |\n",
			r, (w[2] > 0 ? " (again)" : ""), pl[n], id[n], ra[n],
			p50[best, "plain"], p50[best, "idem"], wc[best, "plain"],
			wc[best, "idem"], cc[best, "plain"], cc[best, "idem"],
			oth[best, "plain"], oth[best, "idem"], ld[best], d ? "yes" : "no" }
		if (n == 0) exit
		printf "| median (min-max) | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.3f (%.3f-%.3f) | | | | | | | | | %d of %d |\n",
		    med(pl, n), lo(pl, n), hi(pl, n), med(id, n), lo(id, n), hi(id, n),
		    med(ra, n), lo(ra, n), hi(ra, n), n - q, n
		printf "\nidempotent/plain: median %.3f over %d rounds (%d disturbed)", med(ra, n), n, n - q
		if (q > 0) printf "; over the %d quiet rounds alone: %.3f (%.3f-%.3f)", q, med(qra, q), lo(qra, q), hi(qra, q)
		printf ".\n"
		if (noprod) printf "\nWARNING: an idempotent run left walld with no producers.\n"
	    }' "$J" | tee -a "$OUT"
	say
done
say "Rows and JSON lines: $OUT, $J"
